"""A case timed under load (`run --scenario offline|server`): the engine serves several requests at once through
its own mechanism (``Engine.concurrent``), driven by trtbench.measure.scenarios; the record gets the scenario,
its parameters and every point measured, and the per-request statistics in its usual fields."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from trtbench.backends.base import Engine
from trtbench.errors import TrtbenchError
from trtbench.measure import scenarios
from trtbench.measure.timing import Timed, TimingPolicy
from trtbench.store.records import LatencyRecord

#: the percentile a server's latency bound is judged at (MLPerf's Server scenario)
BOUND_PERCENTILE = 99.0
#: the rate a bound's search starts from, as a share of the offline queries/s at the same requests in flight
START_SHARE = 0.5
#: how long the offline run that sizes the search lasts, at most (seconds)
SIZING_S = 2.0


def default_concurrency(cores: int | None = None) -> tuple[int, ...]:
    """1, 2, 4, ... up to twice the CPU cores: requests in flight an offline sweep tries unless told."""
    most = 2 * (cores or os.cpu_count() or 1)
    counts, n = [], 1
    while n <= most:
        counts.append(n)
        n *= 2
    return tuple(counts)


def time_under_load(engine: Engine, batch: int, policy: TimingPolicy, record: LatencyRecord,
                    progress: Callable[[int, float], None] | None = None) -> Timed:
    """Serve the case's requests as ``policy.scenario`` says; fill ``record.scenario`` and ``record.load``; give
    the per-request latencies of the point the record stands for (offline: the most images/s; server: its rate,
    or the highest rate that held the bound) as a Timed."""
    counts = policy.concurrency or default_concurrency()
    if policy.scenario == "offline":
        return _offline(engine, batch, policy, record, counts, progress)
    if policy.scenario == "server":
        return _server(engine, batch, policy, record, max(counts), progress)
    raise ValueError(f"not a load scenario: {policy.scenario}")


def _offline(engine: Engine, batch: int, policy: TimingPolicy, record: LatencyRecord, counts: tuple[int, ...],
             progress) -> Timed:
    best: tuple[scenarios.ScenarioResult, dict] | None = None
    sweep = []
    for count in counts:
        with engine.concurrent(count) as served:
            result = scenarios.offline(served.runners, batch, policy, progress)
        sweep.append({"concurrency": count, **_point(result), **_facts(served.facts)})
        if best is None or result.throughput_ips > best[0].throughput_ips:
            best = (result, served.facts)
    assert best is not None
    result, facts = best
    record.scenario = "offline"
    record.load = {**result.facts(), **_facts(facts), "percentile": _name(BOUND_PERCENTILE), "sweep": sweep}
    return result.timed()


def _server(engine: Engine, batch: int, policy: TimingPolicy, record: LatencyRecord, count: int, progress) -> Timed:
    with engine.concurrent(count) as served:
        facts = _facts(served.facts)
        if policy.latency_bound_ms is None:
            assert policy.rate_qps is not None
            result = scenarios.server(served.runners, batch, policy.rate_qps, policy, seed=0, progress=progress)
            record.scenario = f"server {policy.rate_qps:g} qps"
            record.load = {**result.facts(), **facts, "held": result.kept_up, "percentile": _name(BOUND_PERCENTILE),
                           "sweep": [{"rate_qps": policy.rate_qps, **_point(result), "held": result.kept_up}]}
            return result.timed()
        bound = policy.latency_bound_ms
        # each probe runs until its p99 has the samples to be judged on (within the maximum duration)
        if BOUND_PERCENTILE not in policy.percentiles:
            policy = dataclasses.replace(policy, percentiles=(*policy.percentiles, BOUND_PERCENTILE))
        # sized by a short offline run: the search starts at half of what the engine serves flat out, and no
        # rate past that is ever asked for
        sizing = dataclasses.replace(policy, duration_s=min(policy.duration_s, SIZING_S), percentiles=(),
                                     stability=None, max_duration_s=None)
        capacity = scenarios.offline(served.runners, batch, sizing).throughput_qps
        seeds = iter(range(1, 1_000))
        low = policy.rate_qps or START_SHARE * capacity
        peak, probes = scenarios.find_peak(
            lambda rate: scenarios.server(served.runners, batch, rate, policy, seed=next(seeds), progress=progress),
            bound, low, max(capacity, low), percentile=BOUND_PERCENTILE)
    shown = next((probe for probe in probes if probe.held and probe.rate_qps == peak), probes[-1])
    record.scenario = f"server {_name(BOUND_PERCENTILE)} <= {bound:g} ms"
    record.load = {**(shown.result.facts() if shown.result is not None else {}), **facts,
                   "latency_bound_ms": bound, "percentile": _name(BOUND_PERCENTILE),
                   "peak_qps": peak, "held": peak is not None, "offline_qps": capacity,
                   "sweep": [{**probe.to_json(), **(_point(probe.result) if probe.result is not None else {})}
                             for probe in probes]}
    if shown.result is None or not shown.result.latencies_ms:
        raise TrtbenchError(f"no rate held p99 <= {bound:g} ms: the lowest tried, "
                                      f"{probes[-1].rate_qps:.3g}/s, gave {probes[-1].why}")
    return shown.result.timed()


def _point(result: scenarios.ScenarioResult) -> dict:
    """A point of the throughput-latency curve: images/s served and the per-request percentiles there."""
    return {"images_per_s": result.throughput_ips,
            **{f"{_name(p)}_ms": result.percentile_ms(p) for p in (50.0, 90.0, BOUND_PERCENTILE)}}


def _facts(facts: dict) -> dict:
    """What the engine says of how it served the requests, in the record's words."""
    return {key: facts[key] for key in ("streams", "threads_per_stream", "how", "requests") if key in facts}


def _name(p: float) -> str:
    return f"p{p:g}"
