"""`trtbench compare` that knows noise: a change past the threshold counts only when the kept samples show
it at 99% confidence; older files without samples are compared on medians, with a note; a shared device or
unstable timing is a caveat that fails the gate only with --strict."""

import json
import statistics

from tests.cli.test_compare import _run
from tests.reporting.timed import lognormal, timed
from trtbench.measure.stats import rank_test
from trtbench.reporting import compare
from trtbench.store.records import LatencyRecord


def _scaled(values: list[float], median_ms: float) -> list[float]:
    """The values scaled so that their median is exactly ``median_ms``."""
    factor = median_ms / statistics.median(values)
    return [value * factor for value in values]


def _result_line(stdout: str, model: str = "ResNet18") -> str:
    return next(line for line in stdout.splitlines() if line.split()[:1] == [model])


def test_one_distribution_whose_medians_differ_by_chance_is_within_noise(invoke, tmp_path):
    base, new = lognormal(12, sigma=1.0), lognormal(102, sigma=1.0)  # one distribution, two seeds
    assert statistics.median(new) / statistics.median(base) > 1.05  # past a 5% threshold by chance
    result = invoke("compare", _run(tmp_path / "base", timed(base)), _run(tmp_path / "new", timed(new)))
    assert result.exit_code == 0, result.output
    assert "within noise" in _result_line(result.stdout)
    assert "1 within noise (threshold 5%)" in result.stdout
    assert "at 99% confidence" in result.stdout


def test_six_percent_apart_with_a_large_spread_is_within_noise_with_both_intervals(invoke, tmp_path):
    base = lognormal(1, sigma=1.0)
    new = _scaled(lognormal(2, sigma=1.0), statistics.median(base) * 1.06)
    result = invoke("compare", _run(tmp_path / "base", timed(base)), _run(tmp_path / "new", timed(new)), "--json")
    assert result.exit_code == 0, result.output
    (case,) = json.loads(result.stdout)["cases"]
    assert case["result"] == "within noise" and round(case["change_pct"], 6) == 6.0
    assert case["p_value"] == rank_test(base, new) and case["p_value"] > 0.01
    low, high = case["base_interval_ms"]
    assert low < statistics.median(base) < high and case["new_interval_ms"] is not None
    shown = invoke("compare", _run(tmp_path / "base", timed(base)), _run(tmp_path / "new", timed(new)))
    half = (high - low) / 2
    assert f"± {half:.3f}" in _result_line(shown.stdout)  # the medians' intervals beside them


def test_a_tight_ten_percent_shift_regresses(invoke, tmp_path):
    base = lognormal(3, sigma=0.01)
    new = [value * 1.10 for value in lognormal(4, sigma=0.01)]
    result = invoke("compare", _run(tmp_path / "base", timed(base)), _run(tmp_path / "new", timed(new)))
    assert result.exit_code == 1, result.output
    assert _result_line(result.stdout).split()[-1] == "regressed"
    assert "1 of 1 compared case regressed" in result.stderr


def test_a_shift_the_windows_drift_as_much_as_is_within_noise_and_a_steady_one_regresses(invoke, tmp_path):
    """Back-to-back runs on a shared machine: the samples differ clearly (a rank test says so), but NEW's own
    windows drifted by as much as the change; a shift that stands out from both runs' windows regresses."""
    base, new = lognormal(5, sigma=0.01), [v * 1.067 for v in lognormal(6, sigma=0.01)]
    windows = {"stable": True, "threshold": 0.05, "window_s": 1.0}
    drifted = invoke("compare", "--json",
                     _run(tmp_path / "a", timed(base, stability={**windows, "windows_ms": [5.59, 5.66, 5.62]})),
                     _run(tmp_path / "b", timed(new, stability={**windows, "windows_ms": [5.82, 6.10, 6.08]})))
    (case,) = json.loads(drifted.stdout)["cases"]
    assert drifted.exit_code == 0 and case["result"] == "within noise"
    assert case["p_value"] < 1e-6 and 0.01 < case["p_windows"] < 0.1
    steady = invoke("compare", "--json",
                    _run(tmp_path / "c", timed(base, stability={**windows, "windows_ms": [5.61, 5.63, 5.62]})),
                    _run(tmp_path / "d", timed(new, stability={**windows, "windows_ms": [6.0, 6.01, 5.99]})))
    (case,) = json.loads(steady.stdout)["cases"]
    assert steady.exit_code == 1 and case["result"] == "regressed" and case["p_windows"] < 0.01


def test_old_files_without_samples_are_compared_on_medians_with_a_note(invoke, tmp_path):
    def old(median):
        return LatencyRecord(model="ResNet18", backend="tensorrt", device="Test GPU", precision="fp16", batch=1,
                             latency_ms={"median": median}, iterations=1000, finished_at="2026-01-01T00:00:00Z")

    result = invoke("compare", _run(tmp_path / "base", old(1.0)), _run(tmp_path / "new", old(1.2)))
    assert result.exit_code == 1, result.output
    assert "1 case compared on medians only (no samples kept in BASE/NEW)" in result.stdout
    # one side with samples, the other without: the note names the side that kept none
    new = timed(lognormal(5, sigma=0.01, median_ms=1.2))
    result = invoke("compare", _run(tmp_path / "b2", old(1.0)), _run(tmp_path / "n2", new))
    assert "1 case compared on medians only (no samples kept in BASE)" in result.stdout


def test_a_shared_device_regression_fails_the_gate_only_with_strict(invoke, tmp_path):
    base = _run(tmp_path / "base", timed(lognormal(3, sigma=0.01)))
    new = _run(tmp_path / "new", timed([v * 1.10 for v in lognormal(4, sigma=0.01)], device_shared=True))
    result = invoke("compare", base, new)
    assert result.exit_code == 0, result.output
    assert "regressed (caveat: shared device)" in _result_line(result.stdout)
    assert "with a caveat: shared device; they fail the gate only with --strict" in result.stdout
    strict = invoke("compare", base, new, "--strict")
    assert strict.exit_code == 1, strict.output
    assert "regressed (caveat: shared device)" in strict.stderr
    data = json.loads(invoke("compare", base, new, "--json").stdout)
    assert data["exit_status"] == 0 and data["regressed_with_caveat"] == 1
    assert data["cases"][0]["caveats"] == ["shared device"] and data["cases"][0]["p_value"] < 0.01


def test_an_unstable_case_carries_its_caveat_whatever_its_result():
    steady = timed(lognormal(3, sigma=0.01))
    unstable = timed(lognormal(3, sigma=0.01), stability={"stable": False, "threshold": 0.05})
    (row,) = compare.compare([steady], [unstable]).rows
    assert row.result == compare.UNCHANGED and row.caveats == ["unstable"]
    assert row.shown_result == "unchanged (caveat: unstable)"


def test_samples_are_decoded_only_for_cases_past_the_threshold(monkeypatch):
    decoded = []
    from trtbench.reporting import support

    real = support.samples
    monkeypatch.setattr(support, "samples", lambda record: decoded.append(record.batch) or real(record))
    base = [timed(lognormal(seed, sigma=0.01), batch=batch) for seed, batch in ((1, 1), (2, 2))]
    new = [timed(lognormal(1, sigma=0.01), batch=1), timed([v * 1.2 for v in lognormal(2, sigma=0.01)], batch=2)]
    comparison = compare.compare(base, new)
    assert [row.result for row in comparison.rows] == [compare.UNCHANGED, compare.REGRESSED]
    assert decoded == [2, 2]


def test_an_unsupported_percentile_is_no_value_with_what_it_needs():
    base, new = timed(lognormal(1, count=100)), timed(lognormal(2, count=100))
    comparison = compare.compare([base], [new], "p99")
    (row,) = comparison.rows
    assert row.result == compare.NO_VALUE
    assert row.why == "BASE's p99 latency is not supported: needs 662 (has 100)"
    assert comparison.nothing_compared.endswith("(BASE's p99 latency is not supported: needs 662 (has 100))")
