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
