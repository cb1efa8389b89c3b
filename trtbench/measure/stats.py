"""Statistics of latency samples: MLPerf LoadGen's early-stopping percentile estimate, distribution-free
quantile intervals, a rank test between two sets of samples, window stability, and the compact form in
which a run file keeps samples.

Standard library only, so that reports can import it cheaply. A binomial tail is summed from its edge
away from the mode (the first term in log space, each next one from the last by their ratio) until the
terms no longer count, so that 10^6 trials stay exact to float precision and cost O(sqrt(n)).
"""

from __future__ import annotations

import base64
import binascii
import math
import sys
import zlib
from array import array
from collections.abc import Callable, Sequence
from functools import lru_cache
from statistics import NormalDist, fmean

SUPPORT_CONFIDENCE = 0.99  # MLPerf LoadGen's early-stopping confidence
INTERVAL_CONFIDENCE = 0.95  # the confidence of the intervals records carry

SAMPLES_ENCODING = "float32-le zlib base64"
MAX_SAMPLES = 10_000_000  # the most samples a run file may hold per span

# A binomial term this much smaller than the running sum no longer changes it; the terms left after it
# shrink at least geometrically, so the sum is exact to float precision.
_NEGLIGIBLE = 2.0**-60
_STANDARD_NORMAL = NormalDist()


# Binomial probabilities ----------------------------------------------------------------------------------

def _log_pmf(k: int, n: int, q: float) -> float:
    """log P[B = k] for B ~ Binomial(n, q), 0 <= k <= n, 0 < q < 1."""
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * math.log(q) + (n - k) * math.log1p(-q))


def _mode(n: int, q: float) -> int:
    """The largest k with P[B = k] >= P[B = k - 1]: terms rise up to it and fall after it."""
    return min(n, math.floor((n + 1) * q))


def _sum_down(k: int, n: int, q: float) -> float:
    """P[B <= k], summed from k down; exact when k is at or below the mode (terms fall as they go)."""
    term = math.exp(_log_pmf(k, n, q))
    odds_down = (1.0 - q) / q
    total = 0.0
    for i in range(k, -1, -1):
        total += term
        if term <= total * _NEGLIGIBLE:
            break
        term *= i / (n - i + 1) * odds_down  # P[B = i - 1] / P[B = i]
    return total


def _sum_up(k: int, n: int, q: float) -> float:
    """P[B >= k], summed from k up; exact when k is at or above the mode (terms fall as they go)."""
    term = math.exp(_log_pmf(k, n, q))
    odds_up = q / (1.0 - q)
    total = 0.0
    for i in range(k, n + 1):
        total += term
        if term <= total * _NEGLIGIBLE:
            break
        term *= (n - i) / (i + 1) * odds_up  # P[B = i + 1] / P[B = i]
    return total


def _binomial_cdf(k: int, n: int, q: float) -> float:
    """P[B <= k] for B ~ Binomial(n, q)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if k <= _mode(n, q):
        return _sum_down(k, n, q)
    return 1.0 - _sum_up(k + 1, n, q)


def _binomial_sf(k: int, n: int, q: float) -> float:
    """P[B >= k] for B ~ Binomial(n, q)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if k >= _mode(n, q):
        return _sum_up(k, n, q)
    return 1.0 - _sum_down(k - 1, n, q)


def _first_true(holds: Callable[[int], bool], guess: int, low: int, high: int | None = None) -> int:
    """The smallest x in [low, high] for which ``holds`` (false up to some point, true from it on), searched
    outward from ``guess`` in doubling steps and then by bisection; ``holds(high)`` must be true."""
    x = max(low, guess if high is None else min(guess, high))
    step = 1
    if holds(x):
        true_at = x
        false_at = low - 1  # stands for "false", never evaluated
        while true_at - step >= low:
            if not holds(true_at - step):
                false_at = true_at - step
                break
            true_at -= step
            step *= 2
    else:
        false_at = x
        while True:
            nxt = false_at + step
            if high is not None and nxt >= high:
                true_at = high
                break
            if holds(nxt):
                true_at = nxt
                break
            false_at = nxt
            step *= 2
    while true_at - false_at > 1:
        mid = (true_at + false_at) // 2
        if holds(mid):
            true_at = mid
        else:
            false_at = mid
    return true_at


def _check_percentile(percentile: float) -> None:
    if not 0.0 < percentile < 100.0:
        raise ValueError(f"the percentile must lie between 0 and 100, not {percentile}")


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"the confidence must lie between 0 and 1, not {confidence}")


# MLPerf LoadGen's early stopping -------------------------------------------------------------------------

def _odds(h: int, t: int, p: float) -> float:
    """The chance of at most ``t`` overlatency queries among ``h + t`` when each query is within the
    latency of the ``p`` quantile with probability ``p``: P[Binomial(h + t, 1 - p) <= t]."""
    return _binomial_cdf(t, h + t, 1.0 - p)


@lru_cache(maxsize=65536)
def _min_passing(t: int, percentile: float, confidence: float) -> int:
    """h(t): the fewest passing queries that, beside ``t`` overlatency ones, show with ``confidence`` that
    the true ``percentile`` is within the latency bound (the smallest h with odds(h, t) < 1 - confidence)."""
    p = percentile / 100.0
    q = 1.0 - p
    alpha = 1.0 - confidence
    # Normal approximation of P[Binomial(N, q) <= t] = alpha, solved for sqrt(N): a starting point only.
    spread = _STANDARD_NORMAL.inv_cdf(alpha) * math.sqrt(q * p)
    root = (-spread + math.sqrt(spread * spread + 4.0 * q * (t + 0.5))) / (2.0 * q)
    guess = round(root * root) - t
    return _first_true(lambda h: _odds(h, t, p) < alpha, guess, 1)


def min_samples(percentile: float, confidence: float = SUPPORT_CONFIDENCE) -> int:
    """The fewest samples for which LoadGen's early-stopping estimate of ``percentile`` (0 < percentile < 100)
    exists: h_min + 1 where h_min is the smallest h with odds(h, t=1) < 1 - confidence (LoadGen's
    find_min_passing for t = 1, tolerance 0). p90 -> 64, p99 -> 662 (MLPerf's published minimums)."""
    _check_percentile(percentile)
    _check_confidence(confidence)
    return _min_passing(1, float(percentile), float(confidence)) + 1


def early_stopping_estimate(ordered: Sequence[float], percentile: float,
                            confidence: float = SUPPORT_CONFIDENCE) -> tuple[float, int] | None:
    """LoadGen's single-stream early-stopping estimate on sorted samples: the largest t with
    n >= h(t) + t (h(t): the fewest passing queries for t overlatency ones), and the value ordered[n - t]
    (the t-th largest); with 99% confidence the true percentile is at most that value. None when
    n < min_samples(percentile). Returns (value, t)."""
    n = len(ordered)
    if n < min_samples(percentile, confidence):
        return None
    percentile, confidence = float(percentile), float(confidence)
    p = percentile / 100.0
    # h(t) + t grows with t, so the largest t that fits is one below the first that does not.
    guess = round(n * (1.0 - p) + _STANDARD_NORMAL.inv_cdf(1.0 - confidence) * math.sqrt(n * p * (1.0 - p)))
    t = _first_true(lambda t: _min_passing(t, percentile, confidence) + t > n, guess, 1, n) - 1
    return ordered[n - t], t


# Quantile intervals --------------------------------------------------------------------------------------

def quantile_interval(ordered: Sequence[float], q: float,
                      confidence: float = INTERVAL_CONFIDENCE) -> tuple[float, float] | None:
    """Distribution-free confidence interval of the q-quantile (0 < q < 1) from binomial order statistics:
    ranks l < u (1-based) as close to n*q as possible, symmetric in probability, such that
    P(l <= B < u) >= confidence where B ~ Binomial(n, q); returns (ordered[l-1], ordered[u-1]).
    None when even (min, max) does not reach the confidence (too few samples)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"the quantile must lie between 0 and 1, not {q}")
    _check_confidence(confidence)
    n = len(ordered)
    alpha = 1.0 - confidence
    # B counts the samples at or below the true quantile: the interval misses below when B < l, above
    # when B >= u. Each side may miss with probability alpha / 2; where the extreme sample alone misses
    # more often than that, the other side gets what is left.
    below_min = math.exp(n * math.log1p(-q)) if n else 1.0  # P[B < 1]
    above_max = math.exp(n * math.log(q)) if n else 1.0  # P[B >= n]
    if n < 2 or below_min + above_max > alpha:
        return None
    centre = n * q
    spread = math.sqrt(n * q * (1.0 - q))
    below_budget = above_budget = alpha / 2.0
    lower = upper = 0
    if below_min > below_budget:
        lower, above_budget = 1, alpha - below_min
    elif above_max > above_budget:
        upper, below_budget = n, alpha - above_max
    if not lower:
        # l is the largest rank with P[B <= l - 1] <= budget: the smallest k with P[B <= k] above it.
        z_low = _STANDARD_NORMAL.inv_cdf(max(below_budget, 1e-300))
        lower = _first_true(lambda k: _binomial_cdf(k, n, q) > below_budget,
                            round(centre + z_low * spread + 0.5), 1, n - 1)
    if not upper:
        z_high = _STANDARD_NORMAL.inv_cdf(max(above_budget, 1e-300))
        upper = _first_true(lambda k: _binomial_sf(k, n, q) <= above_budget,
                            round(centre - z_high * spread + 0.5), 1, n)
    return ordered[lower - 1], ordered[upper - 1]


# Comparing two sets of samples ---------------------------------------------------------------------------

def rank_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test that a and b come from one distribution (normal
    approximation with tie correction and continuity correction; exact enough for n >= 8 each).
    1.0 when either is empty or all values are equal."""
    n_a, n_b = len(a), len(b)
    if not n_a or not n_b:
        return 1.0
    pooled = sorted([(value, 0) for value in a] + [(value, 1) for value in b])
    total = n_a + n_b
    rank_sum_a = 0.0
    tie_term = 0  # sum of t^3 - t over groups of t equal values
    start = 0
    while start < total:
        end = start
        while end + 1 < total and pooled[end + 1][0] == pooled[start][0]:
            end += 1
        size = end - start + 1
        mean_rank = (start + end) / 2.0 + 1.0  # ranks are 1-based; ties share their mean
        rank_sum_a += mean_rank * sum(1 for i in range(start, end + 1) if pooled[i][1] == 0)
        tie_term += size**3 - size
        start = end + 1
    u_a = rank_sum_a - n_a * (n_a + 1) / 2.0
    variance = n_a * n_b / 12.0 * ((total + 1) - tie_term / (total * (total - 1))) if total > 1 else 0.0
    if variance <= 0.0:
        return 1.0
    z = max(0.0, abs(u_a - n_a * n_b / 2.0) - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(z / math.sqrt(2.0)))


def welch_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of Welch's t-test that ``a`` and ``b`` (e.g. two runs' window medians, which carry a
    run's slow drift that its samples, taken one after another, understate) have one mean. 1.0 with fewer than
    two values a side or no spread at all; 0.0 for different constants."""
    if len(a) < 2 or len(b) < 2:
        return 1.0
    mean_a, mean_b = fmean(a), fmean(b)
    var_a, var_b = _variance(a, mean_a) / len(a), _variance(b, mean_b) / len(b)
    spread = var_a + var_b
    if spread == 0:
        return 1.0 if mean_a == mean_b else 0.0
    t = (mean_a - mean_b) / math.sqrt(spread)
    # Welch-Satterthwaite degrees of freedom
    df = spread ** 2 / ((var_a ** 2 / (len(a) - 1) if var_a else 0.0) + (var_b ** 2 / (len(b) - 1) if var_b else 0.0))
    return _student_two_sided(t, df)


def _variance(values: Sequence[float], mean: float) -> float:
    return sum((value - mean) ** 2 for value in values) / (len(values) - 1)


def _student_two_sided(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom: I_x(df/2, 1/2) at x = df / (df + t^2)."""
    return _regularized_beta(df / (df + t * t), df / 2, 0.5)


def _regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), by its continued fraction (modified Lentz), on the side where it converges fast."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1) / (a + b + 2):
        return 1.0 - front * _beta_fraction(1.0 - x, b, a) / b
    return front * _beta_fraction(x, a, b) / a


def _beta_fraction(x: float, a: float, b: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return result


def windows_agree(medians: Sequence[float], threshold: float, count: int = 3) -> bool:
    """Whether the last ``count`` window medians agree within ``threshold`` (perf_analyzer's stability rule):
    (max - min) <= threshold * min over them; False with fewer than ``count`` windows or a non-positive min."""
    if count < 1 or len(medians) < count:
        return False
    last = medians[-count:]
    if not all(math.isfinite(value) for value in last):
        return False
    low = min(last)
    if low <= 0.0:
        return False
    return max(last) - low <= threshold * low


# Samples in a run file -----------------------------------------------------------------------------------

def encode_samples(values_ms: Sequence[float]) -> dict:
    """{"encoding": "float32-le zlib base64", "count": n, "data": str}: samples kept in a run file in
    about 4 bytes each (float32 keeps 7 significant digits: every statistic recomputed within 0.001%)."""
    if len(values_ms) > MAX_SAMPLES:
        raise ValueError(f"{len(values_ms):,} samples are more than a run file keeps ({MAX_SAMPLES:,})")
    packed = array("f", values_ms)
    if not all(math.isfinite(value) and value >= 0.0 for value in packed):
        raise ValueError("samples must be finite, non-negative and below 3.4e38 to be kept")
    if sys.byteorder != "little":
        packed.byteswap()
    data = base64.b64encode(zlib.compress(packed.tobytes(), 9)).decode("ascii")
    return {"encoding": SAMPLES_ENCODING, "count": len(packed), "data": data}


def decode_samples(encoded: object) -> list[float]:
    """The samples of encode_samples's dict; ValueError (one sentence naming what is wrong) for anything
    else: not a dict, unknown encoding, data that is not base64 / zlib / float32 of `count` values,
    non-finite or negative values, a count over 10,000,000 (zlib bombs: decompress with a max_length)."""
    if not isinstance(encoded, dict):
        raise ValueError(f"samples should be an object with encoding, count and data, not {type(encoded).__name__}")
    encoding = encoded.get("encoding")
    if encoding is None:
        raise ValueError(f"samples have no encoding (expected {SAMPLES_ENCODING!r})")
    if encoding != SAMPLES_ENCODING:
        if isinstance(encoding, str) and len(encoding) <= 40:
            raise ValueError(f"samples have an unknown encoding {encoding!a} (expected {SAMPLES_ENCODING!r})")
        raise ValueError(f"samples have an encoding that is not {SAMPLES_ENCODING!r}")
    count = encoded.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_SAMPLES:
        raise ValueError(f"the samples' count should be a whole number from 0 to {MAX_SAMPLES:,}")
    data = encoded.get("data")
    if not isinstance(data, str):
        raise ValueError(f"the samples' data should be a base64 string, not {type(data).__name__}")
    try:
        compressed = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the samples' data is not valid base64") from None
    size = count * 4
    inflater = zlib.decompressobj()
    try:
        # One byte past the expected size is enough to know there is too much: a bomb stops here.
        raw = inflater.decompress(compressed, size + 1)
    except zlib.error:
        raise ValueError("the samples' data is not valid zlib data") from None
    if len(raw) > size:
        raise ValueError(f"the samples' data holds more than the {count:,} values its count says")
    if not inflater.eof or inflater.unused_data:
        raise ValueError("the samples' data is not one complete zlib stream")
    if len(raw) != size:
        raise ValueError(f"the samples' data holds {len(raw) / 4:g} float32 values, not the {count:,} its count says")
    values = array("f")
    values.frombytes(raw)
    if sys.byteorder != "little":
        values.byteswap()
    if not all(math.isfinite(value) and value >= 0.0 for value in values):
        raise ValueError("the samples hold a value that is negative, infinite or not a number")
    return values.tolist()
