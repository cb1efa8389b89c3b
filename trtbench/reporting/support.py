"""What a record's numbers can be trusted for: whether its samples support a percentile, the interval
around it, and the marks and caveats a table puts beside it. Files are hostile: a field of the wrong
type counts as absent, never as a crash. Nothing here decodes samples (a fleet report reads 50,000
records)."""

from __future__ import annotations

import functools
import math

from trtbench.measure import timing
from trtbench.store.records import LatencyRecord, Metric

#: the metrics that are percentiles of the timed span, and the percentile each one is
PERCENTILES = {"median": 50, "p90": 90, "p95": 95, "p99": 99}
#: those shown only with their support (the tail percentiles: see trtbench.measure.timing.JUDGED)
JUDGED = frozenset(timing.JUDGED)


@functools.cache
def needed(percentile: int) -> int:
    """The samples a percentile needs to be supported (trtbench.measure.stats.min_samples)."""
    from trtbench.measure.stats import min_samples

    return min_samples(percentile)


def _count(value) -> int | None:
    return value if type(value) is int and value >= 0 else None


_KEYS = {name: f"p{percentile}" for name, percentile in PERCENTILES.items()}


def _entry(record: LatencyRecord, name: str) -> dict | None:
    percentiles = record.percentiles
    entry = percentiles.get(_KEYS[name]) if type(percentiles) is dict and percentiles else None
    return entry if type(entry) is dict else None


def unsupported(record: LatencyRecord, metric: Metric | str) -> str:
    """'needs 662 (has 40)' when the record's samples do not support the tail percentile ``metric``; '' when
    they do, when it is the median or not a percentile, or when the record does not say how many samples it
    has."""
    name = metric if isinstance(metric, str) else metric.name
    if name not in JUDGED:
        return ""
    percentile = PERCENTILES[name]
    entry = _entry(record, name)
    iterations = _count(record.iterations)
    if entry is not None and type(entry.get("supported")) is bool:
        if entry["supported"]:
            return ""
        has, needs = _count(entry.get("has")), _count(entry.get("needs"))
        has = iterations if has is None else has
        needs = needed(percentile) if needs is None else needs
        return f"needs {needs} (has {has})" if has is not None else f"needs {needs}"
    # Older files: judged from the sample count alone; a record without one is not judged.
    if not iterations:
        return ""
    needs = needed(percentile)
    return f"needs {needs} (has {iterations})" if iterations < needs else ""


def interval(record: LatencyRecord, metric: Metric | str) -> tuple[float, float] | None:
    """The record's interval around the percentile ``metric`` ([low, high] in ms), or None."""
    name = metric if isinstance(metric, str) else metric.name
    if name == "median":
        return _pair(record.median_interval_ms)
    if name not in PERCENTILES:
        return None
    entry = _entry(record, name)
    return _pair(entry.get("interval_ms")) if entry is not None else None


def _pair(value) -> tuple[float, float] | None:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    low, high = value
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (low, high))
    return (float(low), float(high)) if numbers and low <= high else None


def half_width(pair: tuple[float, float]) -> float:
    """Half the interval's width: the '±' a table writes."""
    return (pair[1] - pair[0]) / 2


def unstable(record: LatencyRecord) -> bool:
    """The '~' mark: the timing windows' medians disagreed, or, for a record timed without windows (older
    files, --stability off), the coefficient of variation was above 2.5%."""
    return windows_disagree(record) if has_windows(record) else record.cov_warning is True


def has_windows(record: LatencyRecord) -> bool:
    """Whether the record was timed in stability windows (its '~' is their verdict, not the CoV's)."""
    stability = record.stability
    return isinstance(stability, dict) and isinstance(stability.get("stable"), bool)


def windows_disagree(record: LatencyRecord) -> bool:
    """The record's timing windows' medians did not agree within its threshold."""
    stability = record.stability
    return isinstance(stability, dict) and stability.get("stable") is False


def window_medians(record: LatencyRecord) -> list[float] | None:
    """The medians of the record's timing windows, where it kept three or more finite ones; else None."""
    stability = record.stability
    medians = stability.get("windows_ms") if isinstance(stability, dict) else None
    if not isinstance(medians, list) or len(medians) < 3 or not all(
            type(value) in (int, float) and math.isfinite(value) for value in medians):
        return None
    return [float(value) for value in medians]


def caveats(record: LatencyRecord) -> list[str]:
    """Why a record's change may not be the engine's: 'shared device' (other processes used the device
    while it was timed), 'unstable' (its timing windows disagreed)."""
    said = []
    if record.device_shared is True:
        said.append("shared device")
    if windows_disagree(record):
        said.append("unstable")
    return said


def samples(record: LatencyRecord) -> list[float] | None:
    """The record's per-iteration times, decoded; None when it kept none or they are malformed."""
    encoded = record.samples
    if not isinstance(encoded, dict) or not encoded:
        return None
    from trtbench.measure.stats import decode_samples

    try:
        values = decode_samples(encoded)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return values if isinstance(values, list) and values else None
