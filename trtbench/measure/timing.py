"""The timing discipline (warm-up by time, then a duration and a minimum count) and its statistics.

Percentiles are nearest-rank on the sorted samples, as trtexec reports them: the p-th percentile
of n samples is the ceil(p/100 * n)-th smallest. The median is the middle sample (the mean of the
two middle ones for an even count).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

COV_WARNING = 0.025  # coefficient of variation above which a measurement is called unstable
PERCENTILE_DEFINITION = "nearest-rank on sorted samples; median = middle sample (mean of two for even n)"


@dataclass(frozen=True)
class TimingPolicy:
    """How long to warm up and how much to measure."""

    warmup_ms: float = 200.0
    duration_s: float = 3.0
    min_iterations: int = 10

    def describe(self) -> dict:
        """The policy as it goes into every record."""
        return asdict(self)


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile ``p`` (0 < p <= 100) of already sorted values."""
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Latency:
    """Statistics of per-iteration latencies, in milliseconds."""

    mean: float
    median: float
    p90: float
    p95: float
    p99: float
    min: float
    max: float
    stdev: float | None  # None where the tool that timed did not report it (trtexec)
    count: int

    @classmethod
    def from_samples(cls, samples_ms: list[float]) -> Latency:
        """Statistics of ``samples_ms`` (at least one sample)."""
        if not samples_ms:
            raise ValueError("no samples")
        ordered = sorted(samples_ms)
        return cls(
            mean=statistics.fmean(ordered),
            median=statistics.median(ordered),
            p90=percentile(ordered, 90),
            p95=percentile(ordered, 95),
            p99=percentile(ordered, 99),
            min=ordered[0],
            max=ordered[-1],
            stdev=statistics.pstdev(ordered) if len(ordered) > 1 else 0.0,
            count=len(ordered),
        )

    @property
    def cov(self) -> float | None:
        """Coefficient of variation: stdev / mean."""
        if self.stdev is None:
            return None
        return self.stdev / self.mean if self.mean else 0.0

    def as_dict(self) -> dict:
        """The statistics as a plain dict (without the count)."""
        data = asdict(self)
        data.pop("count")
        return data


@dataclass
class Timed:
    """A timed case: statistics for each span, how many iterations, and over what wall time."""

    spans: dict[str, Latency]  # the first span is the one tables show
    iterations: int
    wall_s: float
    throughput_qps: float | None = None  # set where the timing tool reports its own

    @property
    def qps(self) -> float:
        """Queries (batches) per second over the timed loop."""
        if self.throughput_qps is not None:
            return self.throughput_qps
        return self.iterations / self.wall_s if self.wall_s > 0 else 0.0


@dataclass
class Measurement:
    """What one timed loop produced: per-iteration samples of each timed span, and the wall time."""

    samples: dict[str, list[float]]  # span name -> ms per iteration; e.g. {"compute": [...]}
    iterations: int
    wall_s: float

    def latency(self, span: str) -> Latency:
        """Statistics of one span."""
        return Latency.from_samples(self.samples[span])


def measure(iterate: Callable[[], dict[str, float]], policy: TimingPolicy,
            progress: Callable[[int, float], None] | None = None,
            clock: Callable[[], float] = time.perf_counter) -> Measurement:
    """Warm up, then call ``iterate`` until both the duration and the minimum count are reached.

    ``iterate`` does one iteration of the real work and returns the milliseconds of each span it
    timed itself; it must not return before the work is done. ``progress(count, median_ms)`` is
    called about four times a second with the first span's median so far.
    """
    warm_until = clock() + policy.warmup_ms / 1000.0
    while True:
        iterate()
        if clock() >= warm_until:
            break
    samples: dict[str, list[float]] = {}
    start = last_report = clock()
    count = 0
    while True:
        for span, value in iterate().items():
            samples.setdefault(span, []).append(value)
        count += 1
        now = clock()
        if progress is not None and now - last_report >= 0.25:
            first = next(iter(samples.values()))
            progress(count, statistics.median(first))
            last_report = now
        if count >= policy.min_iterations and now - start >= policy.duration_s:
            break
    return Measurement(samples=samples, iterations=count, wall_s=clock() - start)
