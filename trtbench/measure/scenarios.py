"""Load scenarios: requests served by several runners at once, as MLPerf LoadGen's Offline and Server scenarios
drive a system, and the highest arrival rate whose latency percentile holds a bound (LoadGen's
FindPeakPerformance).

A runner is a zero-argument callable that runs one inference (one query: a batch of images) and returns when it
is done. Each runner gets a thread of its own; one runner is never called from two threads at once.

The per-request latencies get the statistics of single-stream timing (trtbench.measure.timing): the same stop
rule (duration, minimum count, LoadGen's early-stopping support of every percentile asked for, stability
windows, maximum duration), and the same percentiles, intervals and window verdicts in the record.
"""

from __future__ import annotations

import math
import random
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from trtbench.errors import TrtbenchError
from trtbench.measure import stats
from trtbench.measure.timing import (
    WINDOW_MIN_SAMPLES,
    Latency,
    Timed,
    TimingPolicy,
    Windows,
    evidence,
    percentile,
    percentile_name,
    without_unsupported,
)

Runner = Callable[[], object]

#: what a server request's latency is: its wait in the queue included
SERVER_LATENCY = "completion - scheduled arrival (the wait in the queue included)"
#: what an offline request's latency is: every request is there from the start, so only the inference's own time
OFFLINE_LATENCY = "the inference's own time, start to end (every request waits from the start: no queue time)"
#: the span name the statistics are kept under, as an engine's single-stream span
SPAN = "latency"
#: how often the driver checks the stop rule and the progress (seconds)
POLL_S = 0.01
#: requests waiting beyond this stop the arrivals: the queue cannot keep up, and memory is not unbounded
MAX_WAITING = 100_000
#: a queue kept up when, as arrivals stop, no more are outstanding than this many per runner ...
KEPT_UP_PER_RUNNER = 2
#: ... or than this share of the arrivals (a queue that only grows holds the excess of arrivals over service)
KEPT_UP_SHARE = 0.05


@dataclass
class ScenarioResult:
    """What one scenario run served: per-request latencies (ms, in completion order) and the rates.

    ``timed()`` gives them as a ``Timed``, so that a record is filled as single-stream timings fill it;
    ``facts()`` the scenario's own figures for the record; ``to_json()`` both, with the samples encoded.
    """

    scenario: str  # "offline" or "server"
    batch: int
    concurrency: int  # runners: requests in flight at most
    latencies_ms: list[float]
    wall_s: float  # the measured part: from its start to the last completion
    policy: TimingPolicy
    stopped: str = "duration"  # as Measurement.stopped, or "queue overflow" (server)
    windows: Windows | None = None
    arrived_s: list[float] = field(default_factory=list)  # server: each request's scheduled arrival, from the start
    rate_qps: float | None = None  # server: the arrival rate asked for
    seed: int | None = None
    arrivals: int = 0  # server: requests that arrived
    arrival_s: float = 0.0  # server: how long requests arrived
    outstanding_at_end: int = 0  # server: arrived and not yet done as arrivals stopped (waiting or in service)
    waiting_at_end: int = 0  # server: of them, still waiting in the queue
    max_waiting: int = 0  # server: the longest the queue got
    unserved: int = 0  # server: requests still waiting when the drain ran out of time (no latency for them)
    issue_late_ms: dict = field(default_factory=dict)  # server: how late requests were queued: {"mean", "max"}

    @property
    def queries(self) -> int:
        """Queries (inferences of one batch) served and timed."""
        return len(self.latencies_ms)

    @property
    def images(self) -> int:
        return self.queries * self.batch

    @property
    def throughput_qps(self) -> float:
        """Queries served per second of the measured part."""
        return self.queries / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def throughput_ips(self) -> float:
        """Images served per second of the measured part."""
        return self.throughput_qps * self.batch

    @property
    def achieved_qps(self) -> float | None:
        """Server: the arrival rate achieved (arrivals over the time they arrived); None offline."""
        if self.scenario != "server":
            return None
        return self.arrivals / self.arrival_s if self.arrival_s > 0 else 0.0

    @property
    def kept_up(self) -> bool | None:
        """Server: whether the runners kept up with the arrivals: none left unserved, and as arrivals stopped no
        more outstanding than KEPT_UP_PER_RUNNER per runner or KEPT_UP_SHARE of the arrivals; None offline."""
        if self.scenario != "server":
            return None
        allowed = max(KEPT_UP_PER_RUNNER * self.concurrency, KEPT_UP_SHARE * self.arrivals)
        return self.unserved == 0 and self.stopped != "queue overflow" and self.outstanding_at_end <= allowed

    def latency(self) -> Latency:
        """The statistics of the per-request latencies."""
        if not self.latencies_ms:
            raise TrtbenchError(f"no request was served within the {self.scenario} scenario's maximum duration "
                                f"({self.wall_s:.3g} s): raise the rate or the maximum duration")
        return Latency.from_samples(self.latencies_ms)

    def timed(self) -> Timed:
        """The run as single-stream timing gives it: one span, ``latency``, of the per-request latencies; the
        throughput is the queries served per second."""
        return Timed(spans={SPAN: self.latency()}, iterations=self.queries, wall_s=self.wall_s,
                     throughput_qps=self.throughput_qps, samples=list(self.latencies_ms), windows=self.windows,
                     stopped=self.stopped)

    def percentile_ms(self, p: float) -> float | None:
        """The nearest-rank percentile ``p`` of the latencies, or None where they do not support it."""
        if not self.latencies_ms or len(self.latencies_ms) < stats.min_samples(p):
            return None
        return percentile(sorted(self.latencies_ms), p)

    def facts(self) -> dict:
        """The scenario and what it served, for the record (its statistics fill the record's usual fields)."""
        facts: dict = {"name": self.scenario, "batch": self.batch, "concurrency": self.concurrency,
                       "latency": SERVER_LATENCY if self.scenario == "server" else OFFLINE_LATENCY,
                       "queries": self.queries, "images": self.images, "wall_s": round(self.wall_s, 4),
                       "throughput_qps": self.throughput_qps, "throughput_ips": self.throughput_ips,
                       "stopped": self.stopped}
        if self.scenario == "server":
            facts.update({"rate_qps": self.rate_qps, "seed": self.seed, "achieved_qps": self.achieved_qps,
                          "arrivals": self.arrivals, "arrival_s": round(self.arrival_s, 4),
                          "kept_up": self.kept_up, "outstanding_at_end": self.outstanding_at_end,
                          "waiting_at_end": self.waiting_at_end, "max_waiting": self.max_waiting,
                          "unserved": self.unserved, "issue_late_ms": dict(self.issue_late_ms)})
        return facts

    def to_json(self) -> dict:
        """The facts, the latency statistics (a percentile its samples do not support is None) and their
        evidence, as a single-stream record keeps them: samples encoded, percentiles with their support, the
        median's interval and the stability windows."""
        if not self.latencies_ms:
            return {**self.facts(), "latency_ms": None}
        timed = self.timed()
        return {**self.facts(), "latency_ms": without_unsupported(self.latency().as_dict(), self.queries),
                **evidence(timed, self.policy)}


# The driver ------------------------------------------------------------------------------------------------

class _Completions:
    """Requests done, as the runners' threads report them: end time, latency and (server) arrival, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ended: list[float] = []
        self.latencies_ms: list[float] = []
        self.arrived: list[float] = []
        self.error: BaseException | None = None

    def add(self, ended: float, latency_ms: float, arrived: float = 0.0) -> None:
        with self.lock:
            self.ended.append(ended)
            self.latencies_ms.append(latency_ms)
            self.arrived.append(arrived)

    def count(self) -> int:
        with self.lock:
            return len(self.ended)


class _StopRule:
    """measure()'s stop rule over completions: the duration and minimum count, then every asked percentile
    supported and (with a stability threshold) the last windows' medians in agreement, or the maximum duration.
    Windows are cut at completion times: a window closes with the first request done ``window_s`` after it opened
    that leaves it WINDOW_MIN_SAMPLES requests."""

    def __init__(self, policy: TimingPolicy, start: float, hard_limit: bool = False):
        self.policy = policy
        self.hard_limit = hard_limit  # stop at the maximum duration even short of the minimum count
        self.start = start
        self.needed = policy.needed_samples
        self.limit_s = max(policy.duration_s, policy.max_duration_s or 0.0)
        self.medians: list[float] = []
        self.stable = policy.stability is None
        self.window_start, self.window_first, self.seen = start, 0, 0

    def verdict(self, now: float, done: _Completions) -> str | None:
        """Why to stop now, or None to go on."""
        count = done.count()
        if self.policy.stability is not None:
            self._windows(done, count)
        at_limit = now - self.start >= self.limit_s
        if count >= max(1, self.policy.min_iterations) and now - self.start >= self.policy.duration_s:
            if count >= self.needed and self.stable:
                return "supported and stable" if self.needed or self.policy.stability is not None else "duration"
            if at_limit:
                return "max duration"
        if self.hard_limit and at_limit:
            return "max duration"
        return None

    def _windows(self, done: _Completions, count: int) -> None:
        assert self.policy.stability is not None
        for index in range(self.seen, count):
            if done.ended[index] - self.window_start >= self.policy.window_s and \
                    index + 1 - self.window_first >= WINDOW_MIN_SAMPLES:
                self.medians.append(statistics.median(done.latencies_ms[self.window_first:index + 1]))
                self.window_start, self.window_first = done.ended[index], index + 1
                self.stable = stats.windows_agree(self.medians, self.policy.stability, self.policy.windows)
        self.seen = count

    def windows(self) -> Windows | None:
        if self.policy.stability is None:
            return None
        return Windows(self.medians, self.policy.window_s, self.policy.stability, self.stable)


class _Progress:
    """Calls ``progress(count, median_ms)`` about four times a second, as measure() does."""

    def __init__(self, progress: Callable[[int, float], None] | None, now: float):
        self.progress, self.last = progress, now

    def __call__(self, now: float, done: _Completions) -> None:
        if self.progress is None or now - self.last < 0.25:
            return
        count = done.count()
        if count:
            self.progress(count, statistics.median(done.latencies_ms[:count]))
        self.last = now


def _check(runners: Sequence[Runner], batch: int) -> None:
    if not runners:
        raise TrtbenchError("no runners to drive: a load scenario needs at least one request in flight "
                            "(ask for a concurrency of 1 or more)")
    if not all(callable(runner) for runner in runners):
        raise TrtbenchError("a load scenario's runners must be callables that each run one inference")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise TrtbenchError(f"the batch must be a positive whole number, not {batch!r} (e.g. batch 1)")


def _warm_then_wait(runner: Runner, warm_until: float, begin: threading.Barrier, clock: Callable[[], float]) -> None:
    """Warm-up by time (at least one inference), then wait for every runner to be warm."""
    while True:
        runner()
        if clock() >= warm_until:
            break
    begin.wait()


class _Threads:
    """One thread per runner; a failing runner stops the run and its exception is raised in the caller."""

    def __init__(self, runners: Sequence[Runner], body: Callable[[Runner], None], done: _Completions,
                 on_error: Callable[[], None]):
        self.done, self.on_error = done, on_error
        self.threads = [threading.Thread(target=self._run, args=(body, runner), daemon=True,
                                         name=f"trtbench-runner-{index}") for index, runner in enumerate(runners)]

    def _run(self, body: Callable[[Runner], None], runner: Runner) -> None:
        try:
            body(runner)
        except threading.BrokenBarrierError:
            pass  # another runner failed during the warm-up
        except BaseException as exc:  # raised again in the caller's thread
            with self.done.lock:
                if self.done.error is None:
                    self.done.error = exc
            self.on_error()

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self.threads)

    def join(self) -> None:
        for thread in self.threads:
            thread.join()
        if self.done.error is not None:
            raise self.done.error


def offline(runners: Sequence[Runner], batch: int, policy: TimingPolicy,
            progress: Callable[[int, float], None] | None = None) -> ScenarioResult:
    """MLPerf's Offline scenario: every runner runs back to back, each in its own thread, all requests there from
    the start. After ``policy.warmup_ms`` of warm-up on every runner, the measured part runs under measure()'s
    stop rule counted in completed requests (see TimingPolicy); runners finish the inference they are in when it
    stops, and it lasts to the last of them. A request's latency is the inference's own time."""
    _check(runners, batch)
    clock = time.perf_counter
    done = _Completions()
    stop = threading.Event()
    start = [0.0]
    begin = threading.Barrier(len(runners) + 1, action=lambda: start.__setitem__(0, clock()))
    warm_until = clock() + policy.warmup_ms / 1000.0

    def serve(runner: Runner) -> None:
        _warm_then_wait(runner, warm_until, begin, clock)
        while not stop.is_set():
            began = clock()
            runner()
            ended = clock()
            done.add(ended, (ended - began) * 1000.0)

    def failed() -> None:
        stop.set()
        begin.abort()

    threads = _Threads(runners, serve, done, failed)
    stopped: str | None = None
    threads.start()
    try:
        begin.wait()
        rule, report = _StopRule(policy, start[0]), _Progress(progress, start[0])
        while stopped is None and not stop.wait(POLL_S):
            now = clock()
            report(now, done)
            stopped = rule.verdict(now, done)
    except threading.BrokenBarrierError:
        pass  # a runner failed: joining raises its exception
    finally:
        stop.set()
        threads.join()
    assert stopped is not None  # the loop ends early only when a runner fails, and joining raised that
    return ScenarioResult(scenario="offline", batch=batch, concurrency=len(runners), latencies_ms=done.latencies_ms,
                          wall_s=max(done.ended) - start[0], policy=policy, stopped=stopped, windows=rule.windows())


def _check_rate(rate_qps: float) -> None:
    if isinstance(rate_qps, bool) or not isinstance(rate_qps, (int, float)) or not math.isfinite(rate_qps) \
            or rate_qps <= 0:
        raise TrtbenchError(f"the arrival rate must be a positive number of queries per second, not {rate_qps!r} "
                            "(e.g. 50)")


def server(runners: Sequence[Runner], batch: int, rate_qps: float, policy: TimingPolicy, seed: int = 0,
           progress: Callable[[int, float], None] | None = None) -> ScenarioResult:
    """MLPerf's Server scenario: requests arrive as a Poisson process at ``rate_qps`` (exponential gaps from a
    generator seeded with ``seed``, on an absolute timeline: a late wake-up queues the requests due with their
    scheduled times, so lateness never lowers the rate), wait in one FIFO queue, and the runners' threads serve
    them. A request's latency runs from its scheduled arrival to its completion: the wait in the queue included.

    After ``policy.warmup_ms`` of warm-up on every runner, requests arrive under measure()'s stop rule counted in
    completed requests (see TimingPolicy); then the requests that arrived are served to the last, for at most
    ``policy.duration_s`` more: those still waiting then are counted ``unserved`` and the queue did not keep up.
    """
    _check(runners, batch)
    _check_rate(rate_qps)
    clock = time.perf_counter
    done = _Completions()
    waiting: deque[float] = deque()
    ready = threading.Condition()
    closed = threading.Event()
    start = [0.0]
    begin = threading.Barrier(len(runners) + 1, action=lambda: start.__setitem__(0, clock()))
    warm_until = clock() + policy.warmup_ms / 1000.0

    def serve(runner: Runner) -> None:
        _warm_then_wait(runner, warm_until, begin, clock)
        while True:
            with ready:
                while not waiting and not closed.is_set():
                    ready.wait()
                if not waiting:
                    return
                arrived = waiting.popleft()
            runner()
            ended = clock()
            done.add(ended, (ended - arrived) * 1000.0, arrived)

    def failed() -> None:
        with ready:
            closed.set()
            waiting.clear()
            ready.notify_all()
        begin.abort()

    threads = _Threads(runners, serve, done, failed)
    gaps = random.Random(seed)
    arrivals, late_s, latest_s, max_waiting, unserved = 0, 0.0, 0.0, 0, 0
    stopped = "failed"
    outstanding = waiting_at_end = 0
    arrival_end = 0.0
    threads.start()
    try:
        begin.wait()
        rule, report = _StopRule(policy, start[0], hard_limit=True), _Progress(progress, start[0])
        due = start[0] + gaps.expovariate(rate_qps)
        check_at = start[0]
        while not closed.is_set():
            now = clock()
            if due <= now:
                with ready:
                    while due <= now and len(waiting) <= MAX_WAITING:
                        waiting.append(due)
                        arrivals += 1
                        late_s += now - due
                        latest_s = max(latest_s, now - due)
                        due += gaps.expovariate(rate_qps)
                    max_waiting = max(max_waiting, len(waiting))
                    ready.notify(len(waiting))
                if max_waiting > MAX_WAITING:
                    stopped = "queue overflow"
                    break
            if now >= check_at:
                report(now, done)
                verdict = rule.verdict(now, done)
                if verdict is not None:
                    stopped = verdict
                    break
                check_at = now + POLL_S
            time.sleep(max(0.0, min(due, check_at) - clock()))
        arrival_end = clock()
        with ready:
            waiting_at_end = len(waiting)
            outstanding = arrivals - done.count()
            closed.set()
            ready.notify_all()
        drain_until = arrival_end + policy.duration_s
        while threads.alive() and clock() < drain_until and done.error is None:
            report(clock(), done)
            time.sleep(POLL_S)
        with ready:
            unserved = len(waiting) if done.error is None else 0
            waiting.clear()
    except threading.BrokenBarrierError:
        pass
    finally:
        with ready:
            closed.set()
            waiting.clear()
            ready.notify_all()
        threads.join()
    order = sorted(range(len(done.ended)), key=done.ended.__getitem__)
    return ScenarioResult(
        scenario="server", batch=batch, concurrency=len(runners),
        latencies_ms=[done.latencies_ms[i] for i in order], arrived_s=[done.arrived[i] - start[0] for i in order],
        wall_s=(max(done.ended) if done.ended else arrival_end) - start[0], policy=policy, stopped=stopped,
        windows=rule.windows(), rate_qps=float(rate_qps), seed=seed, arrivals=arrivals,
        arrival_s=arrival_end - start[0], outstanding_at_end=outstanding, waiting_at_end=waiting_at_end,
        max_waiting=max_waiting, unserved=unserved,
        issue_late_ms={"mean": late_s / arrivals * 1000.0 if arrivals else 0.0, "max": latest_s * 1000.0})


# The peak rate within a latency bound ------------------------------------------------------------------------

def percentile_of(name: str | float) -> float:
    """'p99' (or 99) -> 99.0; anything else a one-line error."""
    text = name[1:] if isinstance(name, str) and name[:1].lower() == "p" else name
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 < value < 100.0:
        raise TrtbenchError(f"the latency bound's percentile must be one such as p90 or p99, not {name!r}")
    return value


@dataclass
class Probe:
    """One rate the search tried: the percentile there, and whether it held the bound."""

    rate_qps: float
    percentile: str  # "p99"
    value_ms: float | None  # None where the samples do not support the percentile
    held: bool
    has: int  # samples
    needs: int  # samples the percentile needs
    why: str  # the verdict in words
    result: ScenarioResult | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        """The probe for the record and the throughput-latency curve."""
        probe = {"rate_qps": self.rate_qps, "percentile": self.percentile, "ms": self.value_ms, "held": self.held,
                 "has": self.has, "needs": self.needs, "why": self.why}
        if self.result is not None and self.result.latencies_ms:
            probe.update({"achieved_qps": self.result.achieved_qps, "throughput_qps": self.result.throughput_qps,
                          "throughput_ips": self.result.throughput_ips, "kept_up": self.result.kept_up,
                          "median_ms": self.result.latency().median})
        return probe


def judge(rate_qps: float, result: ScenarioResult, bound_ms: float, p: float) -> Probe:
    """Whether ``result`` holds ``bound_ms`` at percentile ``p``: as LoadGen's Server check, the percentile at or
    under the bound; and only on samples that support it, with a queue that kept up."""
    name = percentile_name(p)
    has, needs = result.queries, stats.min_samples(p)
    value = result.percentile_ms(p)
    if value is None:
        why = f"{name} not supported: {has} samples, it needs {needs} (raise the maximum duration)"
        return Probe(rate_qps, name, None, False, has, needs, why, result)
    if result.kept_up is False:
        why = (f"the queue did not keep up ({result.outstanding_at_end} outstanding as arrivals stopped, "
               f"{result.unserved} unserved)")
        return Probe(rate_qps, name, value, False, has, needs, why, result)
    held = value <= bound_ms
    why = f"{name} {value:.4g} ms {'<=' if held else '>'} {bound_ms:g} ms"
    return Probe(rate_qps, name, value, held, has, needs, why, result)


def find_peak(measure_at: Callable[[float], ScenarioResult], bound_ms: float, low_qps: float,
              high_qps: float | None = None, percentile: str | float = "p99", tolerance: float = 0.05,
              max_probes: int = 32) -> tuple[float | None, list[Probe]]:
    """The highest arrival rate whose latency ``percentile`` holds ``bound_ms``, as LoadGen's FindPeakPerformance
    searches it, and every rate tried (in order) for the record and the curve.

    ``measure_at(rate)`` runs the server scenario at ``rate`` queries per second. From ``low_qps`` (a rate
    expected to hold, e.g. half the offline throughput; halved while it fails on latency), the rate doubles (never
    past ``high_qps``) until one fails; then the bracket is bisected until it is within ``tolerance`` of its lower
    end. A probe whose samples do not support the percentile, or whose queue did not keep up, fails (the search
    errs low). The peak is the highest rate that held; None where none did. Where every rate up to ``high_qps``
    (or for ``max_probes`` probes) held, the peak is only a floor: no probe failed.
    """
    p = percentile_of(percentile)
    if isinstance(bound_ms, bool) or not isinstance(bound_ms, (int, float)) or not math.isfinite(bound_ms) \
            or bound_ms <= 0:
        raise TrtbenchError(f"the latency bound must be a positive number of milliseconds, not {bound_ms!r} "
                            "(e.g. 50)")
    _check_rate(low_qps)
    if high_qps is not None:
        _check_rate(high_qps)
        if high_qps < low_qps:
            raise TrtbenchError(f"the highest rate to try ({high_qps:g}/s) is below the lowest ({low_qps:g}/s): "
                                "swap them")
    if not 0.0 < tolerance < 1.0:
        raise TrtbenchError(f"the search's tolerance must lie between 0 and 1, not {tolerance!r} (e.g. 0.05: 5%)")
    probes: list[Probe] = []

    def holds(rate: float) -> bool:
        probes.append(judge(rate, measure_at(rate), bound_ms, p))
        return probes[-1].held

    held_at: float | None = None
    failed_at: float | None = None
    rate = float(low_qps)
    while len(probes) < max_probes:
        if holds(rate):
            held_at = rate
            break
        failed_at = rate
        if probes[-1].value_ms is None:  # a lower rate gives fewer samples still
            return None, probes
        rate /= 2.0
    if held_at is None:
        return None, probes
    while failed_at is None and len(probes) < max_probes:
        if high_qps is not None and held_at >= high_qps:
            return held_at, probes
        rate = held_at * 2.0 if high_qps is None else min(held_at * 2.0, float(high_qps))
        if holds(rate):
            held_at = rate
        else:
            failed_at = rate
    while failed_at is not None and failed_at - held_at > tolerance * held_at and len(probes) < max_probes:
        rate = (held_at + failed_at) / 2.0
        if holds(rate):
            held_at = rate
        else:
            failed_at = rate
    return held_at, probes
