import math
import statistics

import pytest

from trtbench.measure.timing import Latency, TimingPolicy, measure, percentile


def test_statistics_of_1_to_100_by_hand():
    lat = Latency.from_samples([float(v) for v in range(100, 0, -1)])
    assert (lat.min, lat.max, lat.mean, lat.median) == (1.0, 100.0, 50.5, 50.5)
    assert (lat.p90, lat.p95, lat.p99) == (90.0, 95.0, 99.0)  # nearest rank: ceil(p/100 * 100)
    assert lat.stdev == pytest.approx(math.sqrt((100**2 - 1) / 12))
    assert lat.cov == pytest.approx(lat.stdev / 50.5)


def test_nearest_rank_on_a_short_list():
    ordered = [1.0, 2.0, 3.0, 10.0]
    assert percentile(ordered, 50) == 2.0  # ceil(2.0) = 2nd
    assert percentile(ordered, 51) == 3.0  # ceil(2.04) = 3rd
    assert percentile(ordered, 90) == 10.0
    lat = Latency.from_samples([3.0, 1.0, 10.0, 2.0])
    assert lat.median == 2.5 and lat.p99 == 10.0
    assert lat.stdev == pytest.approx(statistics.pstdev([1, 2, 3, 10]))


def test_single_sample_has_zero_spread():
    lat = Latency.from_samples([4.0])
    assert lat.stdev == 0.0 and lat.cov == 0.0 and lat.p99 == 4.0


class FakeClock:
    """A clock that each iteration advances by a set amount, so the loop's policy is checkable."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_measure_warms_up_by_time_then_meets_duration_and_count():
    clock = FakeClock()
    calls = []

    def iterate():
        clock.now += 0.05  # 50 ms an iteration
        calls.append(clock.now)
        return {"latency": 50.0 + len(calls) % 3}

    m = measure(iterate, TimingPolicy(warmup_ms=200, duration_s=1.0, min_iterations=10), clock=clock)
    # warm-up: 4 iterations reach 200 ms; then 20 iterations reach 1 s (more than 10)
    assert len(calls) == 4 + 20
    assert m.iterations == 20 and len(m.samples["latency"]) == 20
    assert m.wall_s == pytest.approx(1.0)


def test_measure_honours_the_minimum_count_when_iterations_are_slow():
    clock = FakeClock()

    def iterate():
        clock.now += 2.0
        return {"compute": 2000.0, "h2d": 1.0}

    reports = []
    m = measure(iterate, TimingPolicy(warmup_ms=0, duration_s=3.0, min_iterations=10), clock=clock,
                progress=lambda n, median: reports.append((n, median)))
    assert m.iterations == 10
    assert set(m.samples) == {"compute", "h2d"}
    assert reports and reports[-1] == (10, 2000.0)


def test_timing_goes_on_until_the_percentiles_asked_for_are_supported():
    clock = FakeClock()

    def iterate():
        clock.now += 0.5  # a slow case: 2 iterations a second
        return {"compute": 500.0}

    policy = TimingPolicy(warmup_ms=0, duration_s=3.0, min_iterations=10, percentiles=(50, 90), max_duration_s=60)
    m = measure(iterate, policy, clock=clock)
    assert policy.needed_samples == 64  # LoadGen's minimum for p90
    assert m.iterations == 64 and m.stopped == "supported and stable"
    assert m.wall_s == pytest.approx(32.0)


def test_timing_stops_at_the_maximum_duration_and_says_so():
    clock = FakeClock()

    def iterate():
        clock.now += 1.0
        return {"compute": 1000.0}

    m = measure(iterate, TimingPolicy(warmup_ms=0, duration_s=3.0, min_iterations=1, percentiles=(99,),
                                      max_duration_s=20), clock=clock)
    assert m.iterations == 20 and m.stopped == "max duration"


def test_without_a_maximum_the_duration_is_the_limit():
    clock = FakeClock()

    def iterate():
        clock.now += 0.125
        return {"compute": 125.0}

    m = measure(iterate, TimingPolicy(warmup_ms=0, duration_s=1.0, min_iterations=1, percentiles=(99,)), clock=clock)
    assert m.iterations == 8 and m.stopped == "max duration"


def _drifting(clock, step_s, medians):
    """An engine whose latency follows ``medians`` (ms), one value per second of the timing."""
    start = clock.now

    def iterate():
        clock.now += step_s
        second = int(clock.now - start)
        return {"compute": medians[min(second, len(medians) - 1)]}

    return iterate


def test_timing_goes_on_until_three_windows_agree():
    clock = FakeClock()
    # 10 ms, then 12 ms, then settling at 20 ms from the fourth second on: windows of 1 s
    iterate = _drifting(clock, 0.01, [10.0, 12.0, 15.0, 20.0, 20.0, 20.0, 20.0, 20.0])
    m = measure(iterate, TimingPolicy(warmup_ms=0, duration_s=3.0, min_iterations=1, stability=0.05,
                                      max_duration_s=30), clock=clock)
    assert m.windows is not None and m.windows.stable and m.stopped == "supported and stable"
    assert m.windows.medians_ms[-3:] == [20.0, 20.0, 20.0] and m.windows.window_s == 1.0
    assert 6.0 <= m.wall_s <= 7.1


def test_windows_that_never_agree_stop_at_the_maximum_and_are_unstable():
    clock = FakeClock()
    iterate = _drifting(clock, 0.01, [10.0 * 1.1 ** k for k in range(40)])
    m = measure(iterate, TimingPolicy(warmup_ms=0, duration_s=3.0, min_iterations=1, stability=0.05,
                                      max_duration_s=12), clock=clock)
    assert m.windows is not None and not m.windows.stable and m.stopped == "max duration"
    assert m.wall_s == pytest.approx(12.0, abs=0.02)
    assert m.windows.as_dict()["stable"] is False


def test_a_window_holds_a_few_samples_however_slow_the_iterations():
    clock = FakeClock()

    def iterate():
        clock.now += 2.0
        return {"compute": 2000.0}

    m = measure(iterate, TimingPolicy(warmup_ms=0, duration_s=3.0, min_iterations=1, stability=0.05,
                                      max_duration_s=100), clock=clock)
    assert m.iterations == 15  # three windows of five samples each
    assert m.windows is not None and m.windows.stable


def test_a_policy_from_a_plan_reads_back_the_same():
    policy = TimingPolicy(warmup_ms=10, duration_s=2, min_iterations=3, percentiles=(50, 99), stability=0.05,
                          max_duration_s=20)
    described = policy.describe()
    assert described["percentiles"] == [50.0, 99.0]
    assert TimingPolicy(**described) == policy
    assert TimingPolicy(**{"warmup_ms": 10, "duration_s": 2, "min_iterations": 3}).needed_samples == 0
