"""The load scenarios driven by a simulated backend: runners that sleep a known service time, in one or two
parallel slots. Queueing theory says what they must give: M/D/1 by Pollaczek-Khinchine, M/D/2 by Cosmetatos's
approximation, the M/D/1 waiting-time distribution by Erlang's formula. Each server run is also replayed exactly
(the same arrivals through a FIFO queue with c servers), which pins the driver's own mechanics far tighter than
theory can on a few seconds of arrivals.

The sleeps make these real-time tests: those over about two seconds are marked slow.
"""

from __future__ import annotations

import math
import statistics
import threading
import time

import pytest

from trtbench.errors import TrtbenchError
from trtbench.measure import stats
from trtbench.measure.scenarios import ScenarioResult, find_peak, judge, offline, percentile_of, server
from trtbench.measure.timing import TimingPolicy


class Slots:
    """A simulated backend: ``slots`` runners, each sleeping ``service_s`` per inference (a sleep frees the
    interpreter as a real engine's inference does); every inference's own duration is kept."""

    def __init__(self, service_s: float, slots: int, fail_at: int | None = None):
        self.service_s = service_s
        self.durations: list[float] = []
        self.calls = 0
        self.fail_at = fail_at
        self.lock = threading.Lock()
        self.runners = [self._run for _ in range(slots)]

    def _run(self) -> None:
        with self.lock:
            self.calls += 1
            if self.fail_at is not None and self.calls >= self.fail_at:
                raise RuntimeError("device lost")
        began = time.perf_counter()
        time.sleep(self.service_s)
        with self.lock:
            self.durations.append(time.perf_counter() - began)

    @property
    def mean_s(self) -> float:
        return statistics.fmean(self.durations)

    @property
    def second_moment_s2(self) -> float:
        return statistics.fmean(d * d for d in self.durations)


def quick(**changes) -> TimingPolicy:
    """A short policy: 50 ms of warm-up, then the given duration."""
    return TimingPolicy(**{"warmup_ms": 50, "duration_s": 0.5, "min_iterations": 10, **changes})


# Theory ------------------------------------------------------------------------------------------------------

def md1_wait_s(rate: float, service_s: float, second_moment_s2: float) -> float:
    """Pollaczek-Khinchine mean wait in an M/G/1 queue: rate E[S^2] / (2 (1 - rho)); for constant S it is
    rho / (2 mu (1 - rho)). The measured moments carry the sleeps' small overshoot and jitter."""
    rho = rate * service_s
    return rate * second_moment_s2 / (2.0 * (1.0 - rho))


def erlang_c(c: int, offered: float) -> float:
    """The chance an arrival waits in an M/M/c queue offered ``offered`` = rate / mu erlangs."""
    rho = offered / c
    top = offered**c / math.factorial(c) / (1.0 - rho)
    return top / (sum(offered**k / math.factorial(k) for k in range(c)) + top)


def mdc_wait_s(rate: float, service_s: float, c: int) -> float:
    """Cosmetatos's approximation of the M/D/c mean wait: half the M/M/c one (Erlang C) times
    1 + (1 - rho)(c - 1)(sqrt(4 + 5c) - 2) / (16 rho c). For c = 2 at rho 0.6 it is within 1% of a simulation of
    3,000 s of arrivals (1.166 ms against 1.168 ms at 4 ms service, 300/s)."""
    mu, offered = 1.0 / service_s, rate * service_s
    rho = offered / c
    mmc = erlang_c(c, offered) / (c * mu - rate)
    correction = (1.0 - rho) * (c - 1) * (math.sqrt(4.0 + 5.0 * c) - 2.0) / (16.0 * rho * c)
    return 0.5 * (1.0 + correction) * mmc


def md1_wait_cdf(t: float, rate: float, service_s: float) -> float:
    """Erlang's M/D/1 waiting-time distribution: P(W <= t) = (1 - rho) sum_{k=0}^{floor(t/D)}
    (rate (kD - t))^k / k! exp(-rate (kD - t)). Exact; fine in floats for t within a few D."""
    rho = rate * service_s
    terms = (rate * (k * service_s - t) for k in range(math.floor(t / service_s) + 1))
    return (1.0 - rho) * sum(x**k / math.factorial(k) * math.exp(-x) for k, x in enumerate(terms))


def md1_latency_quantile_s(q: float, rate: float, service_s: float) -> float:
    """The q-quantile of an M/D/1 request's latency (its wait plus its service)."""
    low, high = 0.0, 6.0 * service_s
    for _ in range(60):
        mid = (low + high) / 2.0
        low, high = (low, mid) if md1_wait_cdf(mid, rate, service_s) >= q else (mid, high)
    return high + service_s


def md1_peak_rate(q: float, bound_s: float, service_s: float) -> float:
    """The highest M/D/1 arrival rate whose latency q-quantile is within ``bound_s``."""
    low, high = 0.0, 0.999 / service_s
    for _ in range(60):
        mid = (low + high) / 2.0
        low, high = (mid, high) if md1_latency_quantile_s(q, mid, service_s) <= bound_s else (low, mid)
    return low


def test_the_theory_helpers_on_hand_worked_numbers():
    # M/D/1, mu = 200/s, rho = 0.6: Wq = 0.6 / (2 * 200 * 0.4) = 3.75 ms
    assert md1_wait_s(120.0, 0.005, 0.005**2) == pytest.approx(0.00375)
    # M/M/2 offered 1.2 erlangs: C = (0.72 / 0.4) / (1 + 1.2 + 1.8) = 0.45
    assert erlang_c(2, 1.2) == pytest.approx(0.45)
    # Cosmetatos, c = 2, rho = 0.6: 0.5 * (1 + 0.4 * 1.7417 / 19.2) * 0.45 / 80 s
    assert mdc_wait_s(120.0, 0.010, 2) == pytest.approx(0.5 * (1 + 0.4 * (math.sqrt(14) - 2) / 19.2) * 0.45 / 80)
    # Erlang's formula: no wait with probability 1 - rho; the p90 of M/D/1 at rho 0.5 (100/s, 5 ms) is 12.58 ms
    # (a simulation of 400,000 arrivals gave 12.59 ms)
    assert md1_wait_cdf(0.0, 100.0, 0.005) == pytest.approx(0.5)
    assert md1_latency_quantile_s(0.9, 100.0, 0.005) == pytest.approx(0.012579, abs=2e-6)


def replay(arrived_s: list[float], service_s: float, c: int) -> list[float]:
    """Each request's latency (ms) through a FIFO queue served by ``c`` servers of constant service time, for
    arrivals sorted in time."""
    free = [0.0] * c
    latencies = []
    for arrived in arrived_s:
        slot = min(range(c), key=free.__getitem__)
        free[slot] = max(arrived, free[slot]) + service_s
        latencies.append((free[slot] - arrived) * 1000.0)
    return latencies


def check_against_replay(result: ScenarioResult, backend: Slots, c: int) -> None:
    """The run's latencies are the ones its own arrivals give through a FIFO queue of ``c`` servers: request by
    request within a little thread hand-off and sleep jitter (a LIFO queue, a latency from the moment served
    instead of the scheduled arrival, or another number of servers is off by milliseconds)."""
    pairs = sorted(zip(result.arrived_s, result.latencies_ms, strict=True))
    expected = replay([arrived for arrived, _ in pairs], backend.mean_s, c)
    differences = sorted(abs(measured - want) for (_, measured), want in zip(pairs, expected, strict=True))
    assert differences[len(differences) // 2] <= 0.5, differences[len(differences) // 2]
    assert differences[int(0.9 * len(differences))] <= 1.5, differences[int(0.9 * len(differences))]
    assert statistics.fmean(result.latencies_ms) == pytest.approx(statistics.fmean(expected), rel=0.1, abs=0.5)


def check_arrivals(result: ScenarioResult, rate: float) -> None:
    """A Poisson process at ``rate``: its count within three standard deviations of rate x time, and its gaps
    exponential (their coefficient of variation 1: 0.5 for a less random process, 0 for a regular one)."""
    expected = rate * result.arrival_s
    assert abs(result.arrivals - expected) <= 3.0 * math.sqrt(expected), (result.arrivals, expected)
    arrived = sorted(result.arrived_s)
    gaps = [later - earlier for earlier, later in zip(arrived, arrived[1:], strict=False)]
    assert statistics.pstdev(gaps) / statistics.fmean(gaps) == pytest.approx(1.0, abs=0.15)


# Offline -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("slots", [1, 2])
def test_offline_serves_slots_over_service_time(slots):
    backend = Slots(0.005, slots)
    counts = []
    result = offline(backend.runners, 4, quick(duration_s=0.6), progress=lambda count, median: counts.append(count))
    # c slots of 5 ms serve c / 5 ms = 200c queries a second (the sleeps' overshoot measured, not assumed)
    assert result.throughput_qps == pytest.approx(slots / backend.mean_s, rel=0.05)
    assert result.throughput_qps == pytest.approx(slots / 0.005, rel=0.12)
    assert result.throughput_ips == pytest.approx(4 * result.throughput_qps)
    assert result.images == 4 * result.queries and result.concurrency == slots
    # a request's latency is its inference's own time: no queue in front of it
    assert statistics.median(result.latencies_ms) == pytest.approx(backend.mean_s * 1000.0, rel=0.1)
    assert 0.6 <= result.wall_s < 0.7 and result.stopped == "duration"
    assert counts and counts == sorted(counts)


def test_offline_runs_on_until_the_percentile_is_supported_and_the_windows_agree():
    backend = Slots(0.002, 2)
    policy = quick(duration_s=0.1, percentiles=(90.0,), stability=0.5, max_duration_s=5.0)
    result = offline(backend.runners, 1, policy)
    assert result.queries >= stats.min_samples(90) and result.stopped == "supported and stable"
    assert result.windows is not None and result.windows.stable and len(result.windows.medians_ms) >= 3
    assert result.wall_s >= 3 * policy.window_s


def test_offline_stops_at_the_maximum_duration_short_of_support():
    backend = Slots(0.005, 1)
    result = offline(backend.runners, 1, quick(duration_s=0.2, percentiles=(99.0,), max_duration_s=0.4))
    assert result.stopped == "max duration" and result.queries < stats.min_samples(99)
    assert result.percentile_ms(99) is None
    assert result.to_json()["percentiles"]["p99"]["ms"] is None and result.to_json()["latency_ms"]["p99"] is None


@pytest.mark.parametrize("scenario", ["offline", "server"])
@pytest.mark.parametrize("fail_at", [5, 150])  # in the warm-up, and in the measured part
def test_a_failing_runner_ends_the_run_with_its_own_error(scenario, fail_at):
    backend = Slots(0.002, 2, fail_at=fail_at)
    started = time.perf_counter()
    with pytest.raises(RuntimeError, match="device lost"):
        if scenario == "offline":
            offline(backend.runners, 1, quick(duration_s=5.0))
        else:
            server(backend.runners, 1, 200.0, quick(duration_s=5.0))
    assert time.perf_counter() - started < 2.0  # not the whole duration, never a hang


# Server ------------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_server_one_slot_gives_the_md1_queue():
    """M/D/1: 2 ms service, 300 requests a second (utilisation 0.6), 3 s of arrivals (about 900)."""
    backend, rate = Slots(0.002, 1), 300.0
    result = server(backend.runners, 1, rate, TimingPolicy(warmup_ms=50, duration_s=3.0), seed=11)
    check_arrivals(result, rate)
    check_against_replay(result, backend, 1)
    assert result.kept_up and result.unserved == 0 and result.stopped == "duration"
    assert result.achieved_qps == pytest.approx(rate, rel=0.1)
    assert result.throughput_qps == pytest.approx(result.achieved_qps, rel=0.05)
    # The mean wait against Pollaczek-Khinchine: over 3 s of arrivals the sample mean wait itself spreads around
    # the theory; 99.8% of simulated 3-s runs lie within 0.66x-1.63x of it, and the hand-off between threads adds
    # about 0.1 ms to every request.
    waited_s = statistics.fmean(result.latencies_ms) / 1000.0 - backend.mean_s
    theory_s = md1_wait_s(rate, backend.mean_s, backend.second_moment_s2)
    assert 0.6 <= waited_s / theory_s <= 1.8, (waited_s * 1000, theory_s * 1000)


@pytest.mark.slow
def test_server_two_slots_give_the_md2_queue():
    """M/D/2: 4 ms service on each of two slots, 300 requests a second (utilisation 0.6), 3 s of arrivals."""
    backend, rate = Slots(0.004, 2), 300.0
    result = server(backend.runners, 1, rate, TimingPolicy(warmup_ms=50, duration_s=3.0), seed=5)
    check_arrivals(result, rate)
    check_against_replay(result, backend, 2)
    assert result.kept_up and result.concurrency == 2
    # Against Cosmetatos's M/D/2 (Erlang C): 99.8% of simulated 3-s runs lie within 0.61x-1.71x of it.
    waited_s = statistics.fmean(result.latencies_ms) / 1000.0 - backend.mean_s
    theory_s = mdc_wait_s(rate, backend.mean_s, 2)
    assert 0.55 <= waited_s / theory_s <= 1.9, (waited_s * 1000, theory_s * 1000)
    # one slot at this rate would be overloaded (utilisation 1.2): the second slot is what keeps it near 1 ms
    assert waited_s < 0.004


def test_server_overloaded_says_the_queue_did_not_keep_up():
    backend, rate = Slots(0.005, 1), 400.0  # twice what one 5-ms slot serves
    result = server(backend.runners, 1, rate, quick(duration_s=0.5), seed=3)
    assert result.kept_up is False
    assert result.outstanding_at_end > 0.3 * result.arrivals  # half of them pile up
    assert result.throughput_qps == pytest.approx(1.0 / backend.mean_s, rel=0.1)  # served at capacity
    assert result.achieved_qps == pytest.approx(rate, rel=0.2)  # while they kept arriving at the rate
    # the queue grows: later requests wait longer
    half = len(result.latencies_ms) // 2
    assert statistics.median(result.latencies_ms[half:]) > 2 * statistics.median(result.latencies_ms[:half])
    probe = judge(rate, result, 1e9, 50.0)  # however loose the bound, it did not hold
    assert not probe.held and "did not keep up" in probe.why


def test_server_runs_on_until_the_percentile_is_supported():
    backend = Slots(0.002, 1)
    policy = quick(duration_s=0.1, percentiles=(90.0,), max_duration_s=5.0)
    result = server(backend.runners, 1, 200.0, policy, seed=1)
    assert result.stopped == "supported and stable" and result.queries >= stats.min_samples(90)
    assert result.percentile_ms(90) is not None and result.kept_up


def test_server_is_the_same_schedule_for_a_seed():
    first = server(Slots(0.001, 1).runners, 1, 100.0, quick(duration_s=0.3), seed=7)
    second = server(Slots(0.001, 1).runners, 1, 100.0, quick(duration_s=0.3), seed=7)
    other = server(Slots(0.001, 1).runners, 1, 100.0, quick(duration_s=0.3), seed=8)
    common = min(len(first.arrived_s), len(second.arrived_s), len(other.arrived_s)) - 1
    assert sorted(first.arrived_s)[:common] == pytest.approx(sorted(second.arrived_s)[:common], abs=1e-9)
    assert sorted(first.arrived_s)[:common] != pytest.approx(sorted(other.arrived_s)[:common], abs=1e-3)


# The record --------------------------------------------------------------------------------------------------

def test_a_result_fills_a_record_as_single_stream_timing_does():
    from trtbench.executors.case import _fill
    from trtbench.store.records import LatencyRecord

    backend = Slots(0.002, 2)
    policy = quick(duration_s=0.3, percentiles=(90.0,), max_duration_s=3.0)
    result = server(backend.runners, 8, 300.0, policy, seed=2)
    record = LatencyRecord(model="ResNet18", backend="simulated", device="Test CPU", precision="fp32", batch=8)
    _fill(record, result.timed(), 8, policy)
    assert record.iterations == result.queries
    assert record.throughput_qps == pytest.approx(result.throughput_qps)
    assert record.throughput_ips == pytest.approx(8 * result.throughput_qps)
    assert stats.decode_samples(record.samples) == pytest.approx(result.latencies_ms, rel=1e-6)
    assert record.percentiles["p90"]["supported"] and record.percentiles["p90"]["ms"] == result.percentile_ms(90)
    assert record.percentiles["p99"]["ms"] is None and record.latency_ms["p99"] is None  # 662 samples needed
    saved = result.to_json()
    assert saved["samples"] == record.samples and saved["percentiles"] == record.percentiles
    assert saved["name"] == "server" and saved["rate_qps"] == 300.0 and saved["seed"] == 2
    assert saved["kept_up"] is True and saved["images"] == 8 * result.queries
    assert "queue" in saved["latency"]


# The peak rate within a bound --------------------------------------------------------------------------------

def fake_server(capacity_qps: float, service_ms: float, samples: int = 1000, calls: list | None = None):
    """A deterministic server scenario: at rate r its latencies reach, at the 99th percentile (nearest rank),
    service / (1 - r / capacity), and at the 90th 0.9 times that; beyond capacity it does not keep up."""

    def measure_at(rate: float) -> ScenarioResult:
        if calls is not None:
            calls.append(rate)
        top = service_ms / (1.0 - rate / capacity_qps) if rate < capacity_qps else 1e6
        latencies = [top * rank / 990.0 for rank in range(1, samples + 1)]  # rank 990 is the p99
        outstanding = 0 if rate < capacity_qps else samples
        return ScenarioResult(scenario="server", batch=1, concurrency=1, latencies_ms=latencies, wall_s=10.0,
                              policy=TimingPolicy(), rate_qps=rate, arrivals=samples + outstanding, arrival_s=10.0,
                              outstanding_at_end=outstanding)

    return measure_at


def test_find_peak_finds_the_known_capacity_within_the_tolerance():
    # p99 = 5 ms / (1 - r / 200) <= 20 ms exactly while r <= 150/s
    calls: list[float] = []
    peak, probes = find_peak(fake_server(200.0, 5.0, calls=calls), 20.0, low_qps=10.0, tolerance=0.02)
    assert peak is not None and 150.0 * (1 - 0.02) <= peak <= 150.0
    # doubling from 10/s until a rate fails (160/s), then bisection of [80, 160]
    assert calls[:5] == [10.0, 20.0, 40.0, 80.0, 160.0]
    assert [probe.rate_qps for probe in probes] == calls
    assert all(probe.held == (probe.rate_qps <= 150.0) for probe in probes)
    failed_above = min(probe.rate_qps for probe in probes if not probe.held)
    assert failed_above - peak <= 0.02 * peak
    assert probes[0].to_json()["percentile"] == "p99" and probes[0].to_json()["throughput_qps"] == 100.0


def test_find_peak_judges_the_percentile_asked_for():
    # p90 (rank 900 of 1000) = 900/990 of the p99: p90 <= 20 ms while 1 - r/200 >= 5 * 900/990 / 20
    peak, _ = find_peak(fake_server(200.0, 5.0), 20.0, low_qps=10.0, percentile="p90", tolerance=0.01)
    exact = 200.0 * (1 - 5.0 * 900 / 990 / 20.0)
    assert peak is not None and exact * 0.99 <= peak <= exact


def test_find_peak_halves_a_start_that_fails_and_stops_at_the_highest_rate_asked():
    peak, probes = find_peak(fake_server(200.0, 5.0), 20.0, low_qps=190.0, tolerance=0.05)
    assert probes[0].rate_qps == 190.0 and not probes[0].held and probes[1].rate_qps == 95.0
    assert peak is not None and 150.0 * 0.95 <= peak <= 150.0
    # every rate up to the cap holds: the peak is the cap, and no probe failed
    peak, probes = find_peak(fake_server(200.0, 5.0), 1e5, low_qps=10.0, high_qps=120.0)
    assert peak == 120.0 and all(probe.held for probe in probes) and probes[-1].rate_qps == 120.0


def test_an_unsupported_percentile_never_holds_the_bound():
    # 500 samples do not support a p99 (662 needed): no rate holds, and halving would give fewer samples still
    peak, probes = find_peak(fake_server(200.0, 1.0, samples=500), 1e5, low_qps=10.0)
    assert peak is None and len(probes) == 1
    assert probes[0].value_ms is None and "p99 not supported: 500 samples, it needs 662" in probes[0].why


@pytest.mark.slow
def test_find_peak_on_the_simulated_backend_meets_erlangs_md1_rate():
    """The highest rate one 2-ms slot serves with p90 <= 6 ms: Erlang's M/D/1 distribution gives ~290/s
    (utilisation 0.6). Each probe lasts 1.5 s with the same seed (the same arrival pattern, scaled), so latency
    rises with the rate; 99% of simulated searches of 1.5-s probes end within 0.74x-1.18x of the theory."""
    backend = Slots(0.002, 1)
    throughput = offline(backend.runners, 1, quick(duration_s=0.3)).throughput_qps
    policy = TimingPolicy(warmup_ms=50, duration_s=1.5, percentiles=(90.0,), max_duration_s=3.0)
    peak, probes = find_peak(lambda rate: server(backend.runners, 1, rate, policy, seed=4), 6.0,
                             low_qps=throughput / 2, percentile="p90", tolerance=0.05)
    theory = md1_peak_rate(0.9, 0.006, backend.mean_s)
    assert peak is not None and 0.7 <= peak / theory <= 1.25, (peak, theory, [p.why for p in probes])
    assert any(not probe.held for probe in probes)  # a rate that failed bounds the peak from above


# Hostile inputs ----------------------------------------------------------------------------------------------

def one_line_error(call) -> str:
    with pytest.raises(TrtbenchError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("rate", [0, -5.0, math.nan, math.inf, True, "fast"])
def test_a_rate_that_is_not_a_positive_number_is_one_line(rate):
    message = one_line_error(lambda: server(Slots(0.001, 1).runners, 1, rate, quick()))
    assert "positive number of queries per second" in message and "e.g. 50" in message
    assert "positive number of queries per second" in one_line_error(
        lambda: find_peak(fake_server(200.0, 5.0), 20.0, low_qps=rate))


@pytest.mark.parametrize("bound", [0, -1.0, math.nan, math.inf, None])
def test_a_bound_that_is_not_a_positive_number_is_one_line(bound):
    calls: list[float] = []
    message = one_line_error(lambda: find_peak(fake_server(200.0, 5.0, calls=calls), bound, low_qps=10.0))
    assert "positive number of milliseconds" in message and not calls


def test_no_runners_no_batch_and_bad_search_settings_are_one_line():
    for scenario in (lambda: offline([], 1, quick()), lambda: server([], 1, 10.0, quick())):
        assert "at least one request in flight" in one_line_error(scenario)
    assert "callables" in one_line_error(lambda: offline([None], 1, quick()))
    assert "batch must be a positive whole number" in one_line_error(lambda: offline(Slots(0.001, 1).runners, 0,
                                                                                     quick()))
    measure_at = fake_server(200.0, 5.0)
    assert "such as p90 or p99" in one_line_error(lambda: find_peak(measure_at, 20.0, 10.0, percentile="p100"))
    assert "such as p90 or p99" in one_line_error(lambda: find_peak(measure_at, 20.0, 10.0, percentile="median"))
    assert "swap them" in one_line_error(lambda: find_peak(measure_at, 20.0, 10.0, high_qps=5.0))
    assert "tolerance" in one_line_error(lambda: find_peak(measure_at, 20.0, 10.0, tolerance=0.0))
    assert percentile_of("p99.9") == 99.9 and percentile_of(90) == 90.0


def test_a_rate_no_runner_can_meet_stops_the_arrivals_without_exhausting_memory():
    result = server(Slots(0.002, 1).runners, 1, 1e12, quick(duration_s=0.2), seed=1)
    assert result.stopped == "queue overflow" and result.kept_up is False and result.unserved > 0


def test_a_rate_too_low_to_bring_a_request_ends_at_the_maximum_duration():
    result = server(Slots(0.001, 1).runners, 1, 1e-6, quick(duration_s=0.2), seed=1)
    assert result.stopped == "max duration" and result.queries == 0 and result.to_json()["latency_ms"] is None
    assert not judge(1e-6, result, 50.0, 99.0).held
    assert "no request was served" in one_line_error(result.timed)
