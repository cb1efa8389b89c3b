import base64
import math
import random
import statistics
import sys
import tracemalloc
import zlib
from array import array
from fractions import Fraction

import pytest

from trtbench.measure.stats import (
    MAX_SAMPLES,
    SAMPLES_ENCODING,
    decode_samples,
    early_stopping_estimate,
    encode_samples,
    min_samples,
    quantile_interval,
    rank_test,
    welch_test,
    windows_agree,
)

# ---------------------------------------------------------------------------------------------------------
# Oracles written out plainly, to hold the searches in stats.py to the definitions.


def plain_odds(h, t, percentile):
    """LoadGen's odds: the chance of at most t overlatency queries among h + t, summed term by term."""
    p = percentile / 100
    n = h + t
    return math.fsum(math.exp(math.log(math.comb(n, x)) + (n - x) * math.log(p) + x * math.log(1 - p))
                     for x in range(t + 1))


def plain_min_samples(percentile, confidence):
    """h_min + 1, h_min found by counting h up from 0 with the binomial sum of odds(h, t=1) written out."""
    p = percentile / 100
    h = 0
    while sum(math.comb(h + 1, x) * p ** (h + 1 - x) * (1 - p) ** x for x in range(2)) >= 1 - confidence:
        h += 1
    return h + 1


def loadgen_estimate(ordered, percentile, confidence=0.99):
    """LoadGen's single-stream loop: t counted up one at a time until h(t) + t no longer fits in n.

    h(t) is found by counting h up from h(t - 1) (h never falls as t grows, which LoadGen's own cache
    relies on too) with the odds summed term by term."""
    n = len(ordered)
    found = {}

    def h_of(t):
        h = found.get(t - 1, 0)
        while plain_odds(h, t, percentile) >= 1 - confidence:
            h += 1
        found[t] = h
        return h

    if n < h_of(1) + 1:
        return None
    t = 1
    for i in range(2, n + 1):
        if n < h_of(i) + i:
            t = i - 1
            break
    return ordered[n - t], t


def binomial_estimate(ordered, percentile, confidence=0.99):
    """The same estimate read straight off Binomial(n, 1 - p): h(t) <= n - t exactly when
    odds(n - t, t) < 1 - confidence (odds fall as h grows), so t is the largest count of overlatency
    queries among n whose cumulative probability stays below 1 - confidence."""
    n = len(ordered)
    q = 1 - percentile / 100
    cumulative, t = 0.0, 0
    for x in range(n):
        cumulative += math.exp(math.log(math.comb(n, x)) + x * math.log(q) + (n - x) * math.log(1 - q))
        if cumulative >= 1 - confidence:
            break
        t = x
    return None if t < 1 else (ordered[n - t], t)


def plain_interval_ranks(n, q, confidence):
    """The interval's ranks (l, u) by exact binomial sums: each side misses with at most half of
    1 - confidence, and a side pinned at the extreme sample leaves the other what remains."""
    qf = Fraction(q)
    # P[B = k] = weights[k] / scale, in whole numbers so that every comparison is exact
    a, rest, scale = qf.numerator, qf.denominator - qf.numerator, qf.denominator**n
    weights = [math.comb(n, k) * a**k * rest ** (n - k) for k in range(n + 1)]
    alpha = 1 - Fraction(confidence)

    def below(rank):  # P[B < rank]
        return Fraction(sum(weights[:rank]), scale)

    def above(rank):  # P[B >= rank]
        return Fraction(sum(weights[rank:]), scale)

    if n < 2 or below(1) + above(n) > alpha:
        return None
    lower_budget = upper_budget = alpha / 2
    if below(1) > lower_budget:
        upper_budget = alpha - below(1)
    elif above(n) > upper_budget:
        lower_budget = alpha - above(n)
    lower = max(rank for rank in range(1, n + 1) if below(rank) <= lower_budget or rank == 1)
    upper = min(rank for rank in range(1, n + 1) if above(rank) <= upper_budget or rank == n)
    return lower, upper


def pairwise_u(a, b):
    """Mann-Whitney U of a counted pair by pair: a win is 1, a tie 1/2."""
    return sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in a for y in b)


# ---------------------------------------------------------------------------------------------------------
# The binomial tails every search stands on


@pytest.mark.parametrize("n, q", [(30, 0.5), (400, 0.1), (1500, 0.01), (1500, 0.9), (2500, 0.37)])
def test_binomial_tails_are_exact_to_float_precision(n, q):
    from trtbench.measure.stats import _binomial_cdf, _binomial_sf

    qf = Fraction(str(q))  # the decimal: within 1e-16 of the float, which moves the tails by far less than 1e-10
    a, rest, scale = qf.numerator, qf.denominator - qf.numerator, qf.denominator**n
    cumulative, running = [], 0
    for k in range(n + 1):
        running += math.comb(n, k) * a**k * rest ** (n - k)
        cumulative.append(running)
    sd = math.sqrt(n * q * (1 - q))
    for k in sorted({max(0, min(n - 1, round(n * q + z * sd))) for z in (-8, -3, -2, -0.5, 0, 0.5, 2, 3, 8)}):
        below = Fraction(cumulative[k], scale)  # P[B <= k]
        assert _binomial_cdf(k, n, q) == pytest.approx(float(below), rel=1e-10, abs=1e-300)
        assert _binomial_sf(k + 1, n, q) == pytest.approx(float(1 - below), rel=1e-10, abs=1e-300)
    assert _binomial_cdf(-1, n, q) == 0.0 and _binomial_cdf(n, n, q) == 1.0
    assert _binomial_sf(0, n, q) == 1.0 and _binomial_sf(n + 1, n, q) == 0.0


# ---------------------------------------------------------------------------------------------------------
# min_samples


def test_min_samples_are_mlperf_published_minimums():
    assert min_samples(90) == 64
    assert min_samples(99) == 662


@pytest.mark.parametrize("percentile", [50, 95, 97.5])
@pytest.mark.parametrize("confidence", [0.99, 0.95])
def test_min_samples_match_the_binomial_sum(percentile, confidence):
    assert min_samples(percentile, confidence) == plain_min_samples(percentile, confidence)


@pytest.mark.parametrize("percentile", [0, 100, -5, 150])
def test_min_samples_refuse_a_percentile_outside_0_100(percentile):
    with pytest.raises(ValueError, match="percentile"):
        min_samples(percentile)


@pytest.mark.parametrize("confidence", [0, 1, 1.5])
def test_min_samples_refuse_a_confidence_outside_0_1(confidence):
    with pytest.raises(ValueError, match="confidence"):
        min_samples(90, confidence)


# ---------------------------------------------------------------------------------------------------------
# early_stopping_estimate


def seeded_latencies(n, seed):
    rng = random.Random(seed)
    return sorted(5.0 + rng.lognormvariate(0.0, 0.3) for _ in range(n))


@pytest.mark.parametrize("n, percentile", [(64, 50), (100, 50), (500, 50), (64, 90), (100, 90), (500, 90),
                                           (2000, 90), (662, 99), (2000, 99)])
def test_early_stopping_matches_loadgen_loop(n, percentile):
    ordered = seeded_latencies(n, seed=n + percentile)
    expected = loadgen_estimate(ordered, percentile)
    assert expected is not None
    assert early_stopping_estimate(ordered, percentile) == expected


@pytest.mark.parametrize("n", [64, 100, 500, 2000, 5000])
@pytest.mark.parametrize("percentile", [50, 90, 99])
def test_early_stopping_matches_the_binomial_reading(n, percentile):
    ordered = seeded_latencies(n, seed=7 * n + percentile)
    assert early_stopping_estimate(ordered, percentile) == binomial_estimate(ordered, percentile)


def test_early_stopping_at_other_confidences_matches_loadgen_loop():
    ordered = seeded_latencies(300, seed=3)
    for confidence in (0.9, 0.95, 0.999):
        assert early_stopping_estimate(ordered, 90, confidence) == loadgen_estimate(ordered, 90, confidence)


def test_early_stopping_needs_min_samples():
    assert early_stopping_estimate(seeded_latencies(63, 1), 90) is None
    assert early_stopping_estimate(seeded_latencies(64, 1), 90) is not None
    assert early_stopping_estimate(seeded_latencies(661, 1), 99) is None
    assert early_stopping_estimate([], 50) is None
    # At exactly the minimum one overlatency query is allowed: the estimate is the largest sample.
    ordered = seeded_latencies(662, 2)
    assert early_stopping_estimate(ordered, 99) == (ordered[-1], 1)


def test_early_stopping_bounds_the_nearest_rank_percentile_from_above():
    ordered = seeded_latencies(10_000, 4)
    for percentile in (50, 90, 99):
        value, t = early_stopping_estimate(ordered, percentile)
        assert value >= ordered[math.ceil(percentile / 100 * len(ordered)) - 1]
        assert 1 <= t < len(ordered) * (1 - percentile / 100)


# ---------------------------------------------------------------------------------------------------------
# quantile_interval

EXPONENTIAL_MEDIAN = math.log(2.0)  # rate 1
LOGNORMAL_MEDIAN = math.exp(0.5)  # mu 0.5, sigma 0.8


def draw(kind, rng, n):
    if kind == "exponential":
        return sorted(rng.expovariate(1.0) for _ in range(n))
    return sorted(rng.lognormvariate(0.5, 0.8) for _ in range(n))


@pytest.mark.parametrize("kind, true_median", [("exponential", EXPONENTIAL_MEDIAN),
                                               ("lognormal", LOGNORMAL_MEDIAN)])
@pytest.mark.parametrize("n", [50, 200])
def test_median_interval_covers_the_true_median_95_percent_of_the_time(kind, true_median, n):
    rng = random.Random(1000 * n + len(kind))
    covered = 0
    for _ in range(2000):
        ordered = draw(kind, rng, n)
        low, high = quantile_interval(ordered, 0.5)
        covered += low <= true_median <= high
        assert low <= statistics.median(ordered) <= high
    assert 0.93 <= covered / 2000 <= 0.985


def test_p90_interval_covers_the_true_p90():
    rng = random.Random(90)
    true_p90 = math.log(10.0)  # exponential, rate 1
    covered = 0
    for _ in range(2000):
        ordered = draw("exponential", rng, 200)
        low, high = quantile_interval(ordered, 0.9)
        covered += low <= true_p90 <= high
    assert 0.93 <= covered / 2000 <= 0.985


@pytest.mark.parametrize("q", [0.5, 0.9, 0.1, 0.99, 0.25])
def test_interval_ranks_match_exact_binomial_sums(q):
    for n in list(range(1, 70)) + [150, 400]:
        ranks = [float(rank) for rank in range(1, n + 1)]  # each sample is its own rank
        expected = plain_interval_ranks(n, q, 0.95)
        got = quantile_interval(ranks, q)
        assert (None if got is None else (int(got[0]), int(got[1]))) == expected, (n, q)


def test_interval_needs_enough_samples():
    assert quantile_interval([1.0, 2.0, 3.0], 0.5) is None
    assert quantile_interval([], 0.5) is None
    assert quantile_interval([1.0], 0.5) is None
    assert quantile_interval([float(v) for v in range(6)], 0.5) == (0.0, 5.0)  # 1 - 2/64 >= 0.95
    assert quantile_interval([float(v) for v in range(28)], 0.9) is None  # 0.9^28 = 0.052 misses above
    assert quantile_interval([float(v) for v in range(29)], 0.9) is not None


def test_interval_narrows_with_more_samples_and_stays_inside_the_samples():
    rng = random.Random(5)
    ordered = draw("lognormal", rng, 100_000)
    low, high = quantile_interval(ordered, 0.5)
    assert ordered[0] < low < LOGNORMAL_MEDIAN < high < ordered[-1]
    assert (high - low) / LOGNORMAL_MEDIAN < 0.02
    ranks = [float(rank) for rank in range(1, 1_000_001)]
    low, high = quantile_interval(ranks, 0.99)
    assert 990_000 - 4 * 100 < low < 990_000 < high < 990_000 + 4 * 100  # within 4 binomial sd


@pytest.mark.parametrize("q, confidence", [(0, 0.95), (1, 0.95), (0.5, 0), (0.5, 1)])
def test_interval_refuses_arguments_out_of_range(q, confidence):
    with pytest.raises(ValueError):
        quantile_interval([1.0] * 100, q, confidence)


# ---------------------------------------------------------------------------------------------------------
# rank_test


def test_rank_test_rarely_rejects_one_distribution():
    rng = random.Random(11)
    rejected = 0
    for _ in range(200):
        a = [rng.lognormvariate(0.0, 0.3) for _ in range(40)]
        b = [rng.lognormvariate(0.0, 0.3) for _ in range(60)]
        rejected += rank_test(a, b) < 0.01
    assert rejected <= 6


def test_rank_test_sees_a_10_percent_shift():
    rng = random.Random(12)
    a = [rng.lognormvariate(0.0, 0.05) for _ in range(300)]
    b = [1.1 * rng.lognormvariate(0.0, 0.05) for _ in range(300)]
    assert rank_test(a, b) < 0.01


def test_rank_test_by_hand():
    # U = 0, mean 4.5, variance 3 * 3 * 7 / 12 = 5.25: z = (4.5 - 0.5) / sqrt(5.25)
    assert rank_test([1, 2, 3], [4, 5, 6]) == pytest.approx(math.erfc(4 / math.sqrt(5.25) / math.sqrt(2)))


def test_rank_test_handles_ties_and_empty_inputs():
    assert rank_test([2.0] * 10, [2.0] * 12) == 1.0
    assert rank_test([], [1.0, 2.0]) == 1.0
    assert rank_test([1.0, 2.0], []) == 1.0
    assert rank_test([1.0], [1.0]) == 1.0
    assert rank_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == 1.0  # identical: U is exactly its mean


def test_rank_test_is_symmetric_and_agrees_with_pairwise_u():
    rng = random.Random(13)
    for _ in range(50):
        a = [float(rng.randint(0, 6)) for _ in range(rng.randint(8, 15))]  # many ties
        b = [float(rng.randint(2, 8)) for _ in range(rng.randint(8, 15))]
        assert rank_test(a, b) == pytest.approx(rank_test(b, a), rel=1e-12)
        pooled = a + b
        n_a, n_b, total = len(a), len(b), len(pooled)
        ties = sum(pooled.count(v) ** 3 - pooled.count(v) for v in set(pooled))
        variance = n_a * n_b / 12 * ((total + 1) - ties / (total * (total - 1)))
        z = max(0.0, abs(pairwise_u(a, b) - n_a * n_b / 2) - 0.5) / math.sqrt(variance)
        assert rank_test(a, b) == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)


# ---------------------------------------------------------------------------------------------------------
# encode_samples / decode_samples


def encoded(raw_bytes, count, encoding=SAMPLES_ENCODING):
    return {"encoding": encoding, "count": count, "data": base64.b64encode(zlib.compress(raw_bytes)).decode()}


def float32_bytes(values):
    packed = array("f", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def test_samples_round_trip_within_float32_precision():
    rng = random.Random(21)
    values = [rng.lognormvariate(1.5, 0.4) for _ in range(5000)] + [0.0, 1e-6, 12345.678]
    kept = encode_samples(values)
    assert kept["encoding"] == SAMPLES_ENCODING and kept["count"] == len(values)
    assert isinstance(kept["data"], str)
    back = decode_samples(kept)
    assert len(back) == len(values)
    assert all(abs(b - v) <= 6e-8 * v for b, v in zip(back, values, strict=True))  # order kept too
    assert statistics.median(back) == pytest.approx(statistics.median(values), rel=1e-5)
    assert len(kept["data"]) < 4 * 4 / 3 * len(values) + 100  # about 4 bytes a sample before base64


def test_no_samples_round_trip():
    assert decode_samples(encode_samples([])) == []


@pytest.mark.parametrize("bad", [[-1.0], [float("nan")], [float("inf")], [1e39]])
def test_encode_refuses_samples_it_could_not_read_back(bad):
    with pytest.raises(ValueError, match="finite"):
        encode_samples([1.0] + bad)


def zeros_bomb(total, chunk=4 << 20):
    """A valid zlib stream of ``total`` zero bytes (about 1,000 times smaller), made without compressing
    them all: after a full flush the compressor starts afresh, so its output for a chunk repeats."""
    compressor = zlib.compressobj(9)
    zeros = bytes(chunk)
    head = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    piece = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    finish = compressor.flush()[:-4]  # the final block without its checksum, which follows for the whole
    checksum = 1
    for _ in range(total // chunk):
        checksum = zlib.adler32(zeros, checksum)
    return head + piece * (total // chunk - 1) + finish + checksum.to_bytes(4, "big")


def test_a_zlib_bomb_is_refused_without_inflating_it():
    bomb = zeros_bomb(1 << 30)
    assert len(bomb) < 2 << 20
    kept = {"encoding": SAMPLES_ENCODING, "count": 10, "data": base64.b64encode(bomb).decode()}
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="more than the 10 values"):
            decode_samples(kept)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # the base64 text decoded, and 41 bytes inflated


GOOD = encode_samples([1.0, 2.0, 3.0])


@pytest.mark.parametrize("bad, message", [
    (None, "should be an object"),
    ([1.0, 2.0], "should be an object"),
    ("samples", "should be an object"),
    ({**GOOD, "encoding": "float64 raw"}, "unknown encoding 'float64 raw'"),
    ({"count": 3, "data": GOOD["data"]}, "have no encoding"),
    ({**GOOD, "encoding": "x" * 10_000}, "encoding that is not 'float32-le zlib base64'"),
    ({**GOOD, "encoding": 3}, "encoding that is not"),
    ({**GOOD, "count": "3"}, "count should be a whole number"),
    ({**GOOD, "count": 3.0}, "count should be a whole number"),
    ({**GOOD, "count": True}, "count should be a whole number"),
    ({**GOOD, "count": -1}, "count should be a whole number"),
    ({**GOOD, "count": MAX_SAMPLES + 1}, "count should be a whole number from 0 to 10,000,000"),
    ({**GOOD, "data": None}, "data should be a base64 string"),
    ({**GOOD, "data": ["AAAA"]}, "data should be a base64 string"),
    ({**GOOD, "data": "not base64!"}, "not valid base64"),
    ({**GOOD, "data": "é"}, "not valid base64"),
    ({**GOOD, "data": base64.b64encode(b"plain bytes, no zlib").decode()}, "not valid zlib"),
    ({**GOOD, "count": 4}, "holds 3 float32 values, not the 4"),
    ({**GOOD, "count": 2}, "more than the 2 values"),
    (encoded(b"\x00" * 10, 3), "holds 2.5 float32 values, not the 3"),
    ({**GOOD, "data": base64.b64encode(base64.b64decode(GOOD["data"])[:-6]).decode()}, "not one complete zlib"),
    ({**GOOD, "data": base64.b64encode(base64.b64decode(GOOD["data"]) + b"extra").decode()},
     "not one complete zlib"),
    (encoded(float32_bytes([1.0, -2.0]), 2), "negative, infinite or not a number"),
    (encoded(float32_bytes([1.0, float("nan")]), 2), "negative, infinite or not a number"),
    (encoded(float32_bytes([float("inf")]), 1), "negative, infinite or not a number"),
])
def test_decode_refuses_malformed_samples_in_one_sentence(bad, message):
    with pytest.raises(ValueError, match=message) as refused:
        decode_samples(bad)
    text = str(refused.value)
    assert "\n" not in text and len(text) < 200


def test_decode_reads_what_encode_wrote_after_json():
    import json

    assert decode_samples(json.loads(json.dumps(encode_samples([0.5, 0.25])))) == [0.5, 0.25]


# ---------------------------------------------------------------------------------------------------------
# windows_agree


@pytest.mark.parametrize("medians, threshold, count, agree", [
    ([10.0, 11.0, 10.5], 0.1, 3, True),  # 11 - 10 == 0.1 * 10: on the line agrees
    ([10.0, 11.1, 10.5], 0.1, 3, False),
    ([50.0, 10.0, 10.2, 10.1], 0.05, 3, True),  # only the last three count
    ([10.0, 10.2, 10.1, 50.0], 0.05, 3, False),
    ([10.0, 10.1], 0.05, 3, False),  # too few windows
    ([], 0.05, 3, False),
    ([10.0, 10.1], 0.05, 2, True),
    ([0.0, 0.0, 0.0], 0.05, 3, False),  # no positive minimum
    ([-1.0, 1.0, 1.0], 5.0, 3, False),
    ([10.0, float("nan"), 10.0], 0.05, 3, False),
    ([10.0, 10.0, 10.0], 0.0, 3, True),
])
def test_windows_agree(medians, threshold, count, agree):
    assert windows_agree(medians, threshold, count) is agree


@pytest.mark.parametrize(("t", "df", "p"), [(2.776445, 4, 0.05), (4.604095, 4, 0.01), (9.924843, 2, 0.01),
                                          (63.65674, 1, 0.01), (2.570582, 5, 0.05), (1.959964, 1e6, 0.05)])
def test_student_t_tails_match_the_published_table(t, df, p):
    from trtbench.measure.stats import _student_two_sided

    assert _student_two_sided(t, df) == pytest.approx(p, rel=1e-5)
    assert _student_two_sided(-t, df) == pytest.approx(p, rel=1e-5)


def test_welch_test_on_window_medians():
    assert welch_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert welch_test([1.0, 1.0], [2.0, 2.0]) == 0.0 and welch_test([1.0, 1.0], [1.0, 1.0]) == 1.0
    assert welch_test([1.0], [2.0, 3.0]) == 1.0  # one value a side says nothing about its spread
    a, b = [5.59, 5.66, 5.62], [5.82, 6.10, 6.08]  # a run that drifted 5% within itself: not 99% sure
    assert 0.01 < welch_test(a, b) == welch_test(b, a) < 0.1
    assert welch_test([3.0, 3.01, 2.99], [3.6, 3.62, 3.59]) < 1e-4  # a steady 20% shift
    # against the formula written out: t and Welch-Satterthwaite df, then the t tail by numerical integration
    x, y = [10.1, 10.4, 9.8, 10.0, 10.3], [10.9, 11.2, 10.7, 11.5]
    va, vb = statistics.variance(x) / len(x), statistics.variance(y) / len(y)
    t = (statistics.fmean(x) - statistics.fmean(y)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(x) - 1) + vb ** 2 / (len(y) - 1))
    density = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    steps = 200_000
    width = (60 - abs(t)) / steps
    tail = sum(density * (1 + (abs(t) + (k + 0.5) * width) ** 2 / df) ** (-(df + 1) / 2) for k in range(steps)) * width
    assert welch_test(x, y) == pytest.approx(2 * tail, rel=1e-4)
