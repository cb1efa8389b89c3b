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

from trtbench.measure import stats

COV_WARNING = 0.025  # coefficient of variation above which a measurement is called unstable
PERCENTILE_DEFINITION = "nearest-rank on sorted samples; median = middle sample (mean of two for even n)"
#: how a record's intervals and percentile support are worked out (in every record's method)
STATISTICS = {"confidence": stats.INTERVAL_CONFIDENCE, "interval": "distribution-free, binomial order statistics",
              "support_confidence": stats.SUPPORT_CONFIDENCE, "support": "MLPerf LoadGen's early-stopping minimum"}


@dataclass(frozen=True)
class TimingPolicy:
    """How long to warm up and how much to measure.

    The timing runs at least ``duration_s`` and ``min_iterations``; then, within ``max_duration_s``, on
    until the samples support every percentile of ``percentiles`` (LoadGen's early-stopping minimum, see
    trtbench.measure.stats) and, with ``stability``, until the last ``windows`` timing windows' medians agree
    within that share (perf_analyzer's rule). Without them (the defaults) it stops at the duration and count.
    """

    warmup_ms: float = 200.0
    duration_s: float = 3.0
    min_iterations: int = 10
    percentiles: tuple[float, ...] = ()
    stability: float | None = None  # e.g. 0.05: windows' medians within 5% of each other
    max_duration_s: float | None = None  # None: no longer than duration_s and min_iterations need
    windows: int = 3
    profile_iterations: int = 0  # after the timing, a profiled run of this many inferences (0: none)
    # The load (`run --scenario`, trtbench.measure.scenarios): "single-stream" (one inference at a time), "offline"
    # (every request available at once, over ``concurrency``: requests in flight) or "server" (Poisson arrivals at
    # ``rate_qps``, or with ``latency_bound_ms`` the highest rate whose p99 holds it)
    scenario: str = "single-stream"
    concurrency: tuple[int, ...] = ()  # () : the engine's own choice (e.g. OpenVINO's optimal number of requests)
    rate_qps: float | None = None
    latency_bound_ms: float | None = None

    def __post_init__(self):
        object.__setattr__(self, "percentiles", tuple(float(p) for p in self.percentiles))  # a plan's JSON list
        object.__setattr__(self, "concurrency", tuple(int(n) for n in self.concurrency))

    def describe(self) -> dict:
        """The policy as it goes into every record (a single-stream one without the load's settings)."""
        described = asdict(self)
        described["percentiles"] = list(self.percentiles)
        described["concurrency"] = list(self.concurrency)
        if self.scenario == "single-stream":
            for name in ("scenario", "concurrency", "rate_qps", "latency_bound_ms"):
                del described[name]
        return described

    @property
    def needed_samples(self) -> int:
        """The samples every percentile asked for needs (0 when none is asked for)."""
        return max((stats.min_samples(p) for p in self.percentiles), default=0)

    @property
    def window_s(self) -> float:
        """How long one stability window lasts: the duration split in ``windows``."""
        return self.duration_s / max(self.windows, 1)


#: the fewest samples a stability window holds, however long its iterations take: a median needs a few
WINDOW_MIN_SAMPLES = 5


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
    """A timed case: statistics for each span, how many iterations, and over what wall time; the first
    span's samples and the stability windows where the timing kept them."""

    spans: dict[str, Latency]  # the first span is the one tables show
    iterations: int
    wall_s: float
    throughput_qps: float | None = None  # set where the timing tool reports its own
    samples: list[float] | None = None  # the first span's ms per iteration, in order (None: the tool kept none)
    windows: Windows | None = None  # None where the policy asked for no stability
    stopped: str = "duration"  # why the timing stopped (Measurement.stopped)

    @property
    def qps(self) -> float:
        """Queries (batches) per second over the timed loop."""
        if self.throughput_qps is not None:
            return self.throughput_qps
        return self.iterations / self.wall_s if self.wall_s > 0 else 0.0


@dataclass
class Windows:
    """The stability windows of a timing: each window's median of the first span, and the verdict."""

    medians_ms: list[float]
    window_s: float
    threshold: float
    stable: bool

    def as_dict(self) -> dict:
        return {"stable": self.stable, "threshold": self.threshold, "windows_ms": self.medians_ms,
                "window_s": self.window_s}


@dataclass
class Measurement:
    """What one timed loop produced: per-iteration samples of each timed span, the wall time, the stability
    windows (with ``policy.stability``) and why the loop stopped."""

    samples: dict[str, list[float]]  # span name -> ms per iteration; e.g. {"compute": [...]}
    iterations: int
    wall_s: float
    windows: Windows | None = None
    stopped: str = "duration"  # "duration", "supported and stable", or "max duration"

    def latency(self, span: str) -> Latency:
        """Statistics of one span."""
        return Latency.from_samples(self.samples[span])


def measure(iterate: Callable[[], dict[str, float]], policy: TimingPolicy,
            progress: Callable[[int, float], None] | None = None,
            clock: Callable[[], float] = time.perf_counter) -> Measurement:
    """Warm up, then call ``iterate`` until the policy is met (see TimingPolicy).

    ``iterate`` does one iteration of the real work and returns the milliseconds of each span it
    timed itself; it must not return before the work is done. ``progress(count, median_ms)`` is
    called about four times a second with the first span's median so far.
    """
    warm_until = clock() + policy.warmup_ms / 1000.0
    while True:
        iterate()
        if clock() >= warm_until:
            break
    needed = policy.needed_samples
    limit_s = max(policy.duration_s, policy.max_duration_s or 0.0)
    samples: dict[str, list[float]] = {}
    first: list[float] = []
    medians: list[float] = []
    start = last_report = window_start = clock()
    window_first = count = 0
    stable = policy.stability is None
    while True:
        for span, value in iterate().items():
            samples.setdefault(span, []).append(value)
        if not first:
            first = next(iter(samples.values()))
        count += 1
        now = clock()
        if progress is not None and now - last_report >= 0.25:
            progress(count, statistics.median(first))
            last_report = now
        if policy.stability is not None and now - window_start >= policy.window_s and \
                count - window_first >= WINDOW_MIN_SAMPLES:
            medians.append(statistics.median(first[window_first:count]))
            window_start, window_first = now, count
            stable = stats.windows_agree(medians, policy.stability, policy.windows)
        if count >= policy.min_iterations and now - start >= policy.duration_s:
            if count >= needed and stable:
                stopped = "supported and stable" if needed or policy.stability is not None else "duration"
                break
            if now - start >= limit_s:
                stopped = "max duration"
                break
    windows = None if policy.stability is None else Windows(medians, policy.window_s, policy.stability, stable)
    return Measurement(samples=samples, iterations=count, wall_s=clock() - start, windows=windows, stopped=stopped)


def windows_of(samples: list[float], policy: TimingPolicy) -> Windows:
    """Stability windows worked out after a timing a tool ran by itself (trtexec): the samples cut where their
    summed times reach each window's length (at least WINDOW_MIN_SAMPLES each), and the verdict on them."""
    assert policy.stability is not None
    medians, window, spent = [], [], 0.0
    for value in samples:
        window.append(value)
        spent += value / 1000
        if spent >= policy.window_s and len(window) >= WINDOW_MIN_SAMPLES:
            medians.append(statistics.median(window))
            window, spent = [], 0.0
    return Windows(medians, policy.window_s, policy.stability,
                   stats.windows_agree(medians, policy.stability, policy.windows))


#: the percentiles every record says something about, beside those a run asks for
SHOWN_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
#: the statistics given only where the samples support them: the tail percentiles. The median is every
#: table's number and what compare gates on: given from any count, as the best estimate there is (its
#: interval, where the record keeps one, says how sure it is).
JUDGED = ("p90", "p95", "p99")


def percentile_name(p: float) -> str:
    """'p90', 'p99.9'."""
    return f"p{p:g}"


def evidence(timed: Timed, policy: TimingPolicy) -> dict:
    """What a record keeps to defend its numbers: the first span's samples (encoded), each percentile with
    its support, early-stopping bound and interval, the median's interval, and the stability windows."""
    first = next(iter(timed.spans.values()))
    ordered = sorted(timed.samples) if timed.samples else None
    has = len(ordered) if ordered is not None else timed.iterations
    percentiles = {}
    for p in sorted(set(SHOWN_PERCENTILES) | set(policy.percentiles)):
        name = percentile_name(p)
        needs = stats.min_samples(p)
        if ordered is not None:
            value: float | None = first.median if p == 50 else percentile(ordered, p)
        else:  # a tool that reports its own statistics (trtexec): the ones it printed
            value = first.median if p == 50 else getattr(first, name, None)
        bound = stats.early_stopping_estimate(ordered, p) if ordered is not None else None
        interval = stats.quantile_interval(ordered, p / 100) if ordered is not None else None
        supported = has >= needs
        shown = value if supported or p == 50 else None  # the median whatever its support (see JUDGED)
        percentiles[name] = {"ms": shown, "supported": supported, "has": has,
                             "needs": needs, "bound_ms": bound[0] if bound else None,
                             "interval_ms": list(interval) if interval else None}
    median_interval = stats.quantile_interval(ordered, 0.5) if ordered is not None else None
    return {"samples": stats.encode_samples(timed.samples) if timed.samples else {},
            "percentiles": percentiles,
            "median_interval_ms": list(median_interval) if median_interval else None,
            "stability": timed.windows.as_dict() if timed.windows is not None else {}}


def without_unsupported(statistics_ms: dict, has: int) -> dict:
    """A span's statistics with each percentile its ``has`` samples do not support set to None."""
    return {name: None if name in JUDGED and has < stats.min_samples(float(name[1:])) else value
            for name, value in statistics_ms.items()}
