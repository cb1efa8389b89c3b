"""The regression gate's rules, on records built by hand: what counts as a regression, what is never compared."""

import dataclasses
import math

import pytest

from trtbench.errors import TrtbenchError
from trtbench.reporting import compare
from trtbench.store.records import AccuracyRecord, LatencyRecord


def _rec(model="ResNet18", batch=1, median=1.0, device="GPU A", backend="tensorrt", precision="fp16",
         status="ok", **fields):
    stats = {"mean": median, "median": median, "p90": median, "p95": median, "p99": median, "min": median}
    return LatencyRecord(model=model, backend=backend, device=device, precision=precision, batch=batch,
                         status=status, error=None if status == "ok" else "out of memory",
                         latency_ms=stats if status == "ok" else None,
                         throughput_ips=batch * 1000 / median if status == "ok" and median else None,
                         finished_at="2026-01-01T00:00:00Z", **fields)


def _only_row(comparison):
    (row,) = comparison.rows
    return row


@pytest.mark.parametrize("text,percent", [
    ("5%", 5.0), ("5", 5.0), (" 7.5 % ", 7.5), ("0", 0.0), ("0.05", 0.05), (".5", 0.5), ("1000", 1000.0),
    ("12.", 12.0),
])
def test_a_threshold_is_a_percentage(text, percent):
    assert compare.parse_threshold(text) == percent


@pytest.mark.parametrize("text", ["", "%", "five", "-5", "1001", "nan", "inf", "1e3", "5%%", "0x10", "٥", "5 5"])
def test_a_bad_threshold_is_one_line(text):
    with pytest.raises(TrtbenchError, match=r"bad --threshold .*: give a percentage from 0 to 1000, e\.g\. 5% or 5$"):
        compare.parse_threshold(text)


@pytest.mark.parametrize("new,result,status", [
    (1.06, compare.REGRESSED, 1),   # +6% > 5%
    (1.05, compare.UNCHANGED, 0),   # exactly the threshold is not past it
    (1.04, compare.UNCHANGED, 0),
    (0.94, compare.IMPROVED, 0),
])
def test_latency_regresses_when_it_grows_past_the_threshold(new, result, status):
    comparison = compare.compare([_rec(median=1.0)], [_rec(median=new)], "median", 5.0)
    row = _only_row(comparison)
    assert (row.result, comparison.exit_status) == (result, status)
    assert row.change_pct == pytest.approx((new - 1.0) * 100)
    assert (row.base_value, row.new_value) == (1.0, new)


def test_throughput_regresses_when_it_shrinks():
    comparison = compare.compare([_rec(median=1.0)], [_rec(median=1.25)], "throughput", 10.0)
    row = _only_row(comparison)
    assert (row.base_value, row.new_value) == (1000.0, 800.0)
    assert row.change_pct == pytest.approx(-20.0) and row.result == compare.REGRESSED
    faster = compare.compare([_rec(median=1.25)], [_rec(median=1.0)], "throughput", 10.0)
    assert _only_row(faster).result == compare.IMPROVED and faster.exit_status == 0


@pytest.mark.parametrize("metric", ["mean", "p90", "p95", "p99", "min"])
def test_each_latency_statistic_is_read_from_its_own_field(metric):
    base, new = _rec(median=1.0), _rec(median=1.0)
    new.latency_ms = {**new.latency_ms, metric: 2.0}
    assert compare.compare([base], [new], "median").exit_status == 0
    comparison = compare.compare([base], [new], metric)
    assert _only_row(comparison).result == compare.REGRESSED and comparison.metric.unit == "ms"


def test_a_threshold_of_zero_flags_any_slowdown():
    assert compare.compare([_rec(median=1.0)], [_rec(median=1.001)], "median", 0.0).exit_status == 1
    assert compare.compare([_rec(median=1.0)], [_rec(median=1.0)], "median", 0.0).exit_status == 0


def test_cases_of_other_devices_are_never_compared():
    comparison = compare.compare([_rec(device="GPU A", median=1.0)], [_rec(device="GPU B", median=9.0)])
    assert [row.result for row in comparison.rows] == [compare.ONLY_BASE, compare.ONLY_NEW]
    assert comparison.exit_status == 2
    assert comparison.nothing_compared == ("no case is in both: BASE ran on GPU A, NEW on GPU B: "
                                           "compare runs of the same device")


@pytest.mark.parametrize("change,why", [
    ({"backend": "onnxruntime-cuda"}, "BASE used tensorrt, NEW onnxruntime-cuda: compare runs of the same backend"),
    ({"model": "ResNet50"}, "BASE timed ResNet18, NEW ResNet50: compare runs of the same models"),
    ({"precision": "fp32"}, "BASE timed fp16, NEW fp32: compare runs of the same precisions"),
    ({"batch": 8}, "BASE timed batch 1, NEW 8: compare runs of the same batch sizes"),
])
def test_no_matching_case_says_what_differs(change, why):
    comparison = compare.compare([_rec()], [_rec(**change)])
    assert comparison.exit_status == 2 and comparison.nothing_compared == f"no case is in both: {why}"


def test_a_partial_match_lists_the_rest_and_notes_the_other_device():
    base = [_rec(batch=1), _rec(batch=8), _rec(batch=32)]
    new = [_rec(batch=1, median=1.01), _rec(batch=1, device="GPU B"), _rec(batch=4, device="GPU B")]
    comparison = compare.compare(base, new)
    assert [(row.case[2], row.case[4], row.result) for row in comparison.rows] == [
        ("GPU A", 1, compare.UNCHANGED), ("GPU A", 8, compare.ONLY_BASE), ("GPU A", 32, compare.ONLY_BASE),
        ("GPU B", 1, compare.ONLY_NEW), ("GPU B", 4, compare.ONLY_NEW)]
    assert comparison.exit_status == 0
    assert comparison.summary() == "1 unchanged (threshold 5%); 2 cases only in BASE, 2 only in NEW"
    assert comparison.notes == ["BASE ran on GPU A, NEW on GPU A, GPU B: nothing was compared across devices"]


def test_a_case_that_fails_in_new_is_a_regression_and_never_a_number():
    broken = _rec(status="failed")
    broken.latency_ms = {"median": 0.001}  # a failed record's figures are not compared, whatever they say
    comparison = compare.compare([_rec()], [broken])
    row = _only_row(comparison)
    assert (row.result, row.new_value, row.change_pct) == (compare.FAILED, None, None)
    assert row.why == "failed in NEW: out of memory"
    assert comparison.exit_status == 1 and comparison.regressions == [row]


def test_a_case_fixed_in_new_passes_and_failed_in_both_is_not_compared():
    fixed = compare.compare([_rec(status="failed")], [_rec()])
    assert _only_row(fixed).result == compare.FIXED and fixed.exit_status == 0
    both = compare.compare([_rec(status="failed")], [_rec(status="failed")])
    assert _only_row(both).result == compare.FAILED_BOTH
    assert both.exit_status == 2 and both.nothing_compared == "1 case in both, failed in both"


def test_a_missing_or_meaningless_figure_is_not_compared():
    no_p99 = _rec()
    no_p99.latency_ms = {"median": 1.0}
    comparison = compare.compare([no_p99], [_rec()], "p99")
    assert _only_row(comparison).result == compare.NO_VALUE
    assert comparison.exit_status == 2
    assert comparison.nothing_compared == "1 case in both, none with a p99 latency in both (BASE has no p99 latency)"
    for bad in (0.0, -1.0, math.nan, math.inf):
        row = _only_row(compare.compare([_rec()], [_rec(median=bad)]))
        assert row.result == compare.NO_VALUE and row.why == "NEW's median latency is not a positive number"


def test_a_change_too_large_to_write_is_still_a_regression():
    row = _only_row(compare.compare([_rec(median=1e-300)], [_rec(median=1e300)]))
    assert row.result == compare.REGRESSED and row.change_pct is None


def test_the_precision_that_really_ran_is_compared_too():
    base = [_rec(precision_executed="fp16"), _rec(batch=8, precision_executed="fp16"), _rec(batch=32)]
    new = [_rec(precision_executed="fp32"), _rec(batch=8, precision_executed="fp16"), _rec(batch=32,
                                                                                          precision_executed="fp32")]
    comparison = compare.compare(base, new)
    assert [row.precision_changed for row in comparison.rows] == [True, False, False]  # None: cannot say
    assert comparison.notes == ["1 case ran in another precision in NEW than in BASE "
                                "(first: ResNet18 fp16 batch 1 on tensorrt: fp16 -> fp32)"]
    assert comparison.to_json()["cases"][0]["new_precision_executed"] == "fp32"


def test_accuracy_records_are_left_out():
    accuracy = AccuracyRecord(model="ResNet18", backend="tensorrt", device="GPU A", precision="fp16", batch=1,
                              top1=0.7)
    comparison = compare.compare([accuracy], [_rec()])
    assert comparison.exit_status == 2 and comparison.nothing_compared == "BASE holds no latency records"
    assert compare.compare([accuracy, _rec()], [accuracy, _rec()]).count(compare.UNCHANGED) == 1


def test_the_newest_record_of_a_case_is_the_one_compared():
    old = _rec(median=9.0)
    newer = dataclasses.replace(_rec(median=1.0), finished_at="2026-02-01T00:00:00Z")
    assert _only_row(compare.compare([newer, old], [_rec(median=1.0)])).result == compare.UNCHANGED


def test_the_json_form_holds_every_case_and_the_verdict():
    comparison = compare.compare([_rec(), _rec(batch=8)], [_rec(median=2.0), _rec(batch=4)], "median", 5.0)
    data = comparison.to_json()
    assert {key: data[key] for key in ("metric", "unit", "higher_is_better", "threshold_pct", "exit_status",
                                       "regressed", "compared", "only_in_base", "only_in_new")} == {
        "metric": "median", "unit": "ms", "higher_is_better": False, "threshold_pct": 5.0, "exit_status": 1,
        "regressed": 1, "compared": 1, "only_in_base": 1, "only_in_new": 1}
    first = data["cases"][0]
    assert first == {"model": "ResNet18", "backend": "tensorrt", "device": "GPU A", "precision": "fp16", "batch": 1,
                     "scenario": "single-stream",
                     "result": "regressed", "base": 1.0, "new": 2.0, "change_pct": 100.0, "base_status": "ok",
                     "new_status": "ok", "base_precision_executed": None, "new_precision_executed": None, "why": "",
                     # past the threshold, but neither side kept samples: judged on the medians alone
                     "p_value": None, "p_windows": None, "tested": False, "caveats": [], "base_interval_ms": None,
                     "new_interval_ms": None}
