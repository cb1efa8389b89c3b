"""`report` and `compare` on hostile run files and option values: every outcome is exit status 0, or
one `error: ...` line with a non-zero status; never a traceback.

The examples are the same on every run (CI must not fail by chance); set TRTBENCH_FUZZ_EXAMPLES to
try more of them, and TRTBENCH_FUZZ_RANDOM=1 to draw new ones.
"""

import json
import math
import os
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trtbench.cli import main

EXAMPLES = int(os.environ.get("TRTBENCH_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=not os.environ.get("TRTBENCH_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

numbers = (st.integers() | st.integers(min_value=-10**400, max_value=10**400)
           | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0, -1, 1e308, -0.0, 10**20]))
leaves = st.none() | st.booleans() | numbers | st.text(max_size=12)
json_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)
# Text that is unkind to terminals and markup: brackets, control characters, wide and combining ones.
hostile_text = st.text(max_size=16) | st.sampled_from(
    ["[/x]", "[bold]", "a\nb", "\t", "", " ", "ResNet18", "ResNet50_vd", "Intel® Xeon®", "漢字", "e\u0301", "\x1b[31m",
     "\ud800", "x\udcff",
     "\\", "|", "fp16", "fp32", "int8", "tensorrt", "onnxruntime-cpu"])


statistics = st.dictionaries(st.sampled_from(["mean", "median", "p90", "p95", "p99", "min", "max", "stdev", "x"]),
                             numbers | st.none(), max_size=8).map(lambda stats: {"median": 1.0, **stats})
# Each field's value of the right type, if not always of a sane value.
case_fields = {
    "model": st.sampled_from(["ResNet18", "ResNet50_vd", "Unknown"]) | hostile_text,
    "backend": st.sampled_from(["tensorrt", "onnxruntime-cpu"]) | hostile_text,
    "device": st.sampled_from(["GPU A", "GPU B"]) | hostile_text,
    "precision": st.sampled_from(["fp16", "fp32", "bf16", "int8"]) | hostile_text,
    "batch": st.sampled_from([1, 4, 8]) | st.integers(min_value=1),
    "status": st.sampled_from(["ok", "ok", "failed"]) | hostile_text,
    "error": st.none() | hostile_text,
    "precision_executed": st.none() | st.sampled_from(["fp16", "fp32"]) | hostile_text,
    "warnings": st.lists(hostile_text, max_size=2),
    "finished_at": st.sampled_from(["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"]) | hostile_text,
}
latency_fields = {
    "latency_ms": statistics | st.none(), "throughput_ips": numbers | st.none(), "throughput_qps": numbers | st.none(),
    "cov": numbers | st.none(), "cov_warning": st.booleans(), "iterations": st.integers(),
    "verify": st.none() | st.fixed_dictionaries({"passed": st.booleans()}),
    "method": st.fixed_dictionaries({}, optional={"tf32": st.booleans()}), "spans_ms": st.just({}),
    "metric": hostile_text,
}
accuracy_fields = {"top1": numbers | st.none(), "top5": numbers | st.none(), "images": st.integers(),
                   "weights": hostile_text}


@st.composite
def records(draw):
    """A record of the right shape, then zero to two fields given anything JSON holds, or dropped."""
    kind = draw(st.sampled_from(["latency", "latency", "accuracy"]))
    fields = {**case_fields, **(accuracy_fields if kind == "accuracy" else latency_fields)}
    record = {"kind": kind, **{name: draw(strategy) for name, strategy in fields.items()}}
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        name = draw(st.sampled_from(["kind", *fields, "unknown"]))
        if draw(st.booleans()):
            record[name] = draw(json_values)
        else:
            record.pop(name, None)
    return record if draw(st.integers(0, 19)) else draw(json_values)


@st.composite
def run_files(draw):
    """The text of a file in results/: mostly a run file with odd records, sometimes anything at all."""
    choice = draw(st.integers(0, 19))
    if choice == 0:
        return draw(st.text(max_size=40))
    if choice == 1:
        return json.dumps(draw(json_values))
    run = {"tool": "trtbench", "schema_version": draw(st.sampled_from([1, 2, 2, 2])),
           "records": draw(st.lists(records(), max_size=4))}
    if choice == 2:
        run[draw(st.sampled_from(["tool", "schema_version", "records"]))] = draw(json_values)
    for name in ("run_id", "started_at", "finished_at", "command", "environment"):
        if draw(st.booleans()):
            run[name] = draw(json_values)
    return json.dumps(run)


report_options = st.lists(st.sampled_from([["--json"], ["--csv"], ["--markdown"], ["--reference"],
                                           ["--metric", "throughput"], ["--metric", "p99"]]),
                          max_size=2).map(lambda parts: [arg for part in parts for arg in part])
thresholds = st.sampled_from(["5%", "5", "0", "0.05", "1000", "1001", "-1", "nan", "inf", "", "%", "1e3"]) | st.text(
    max_size=6) | st.floats().map(str)
metrics = st.sampled_from(["median", "mean", "p90", "p95", "p99", "min", "throughput"]) | st.text(max_size=5)
compare_forms = st.sampled_from([[], ["--json"], ["--markdown"]])


def _invoke(args):
    result = CliRunner(env={"COLUMNS": "100", "NO_COLOR": "1"}).invoke(main, args, catch_exceptions=True)
    # A traceback would be an exception other than the exit: click's runner keeps it here.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    if result.exit_code == 0:
        assert errors == [], result.stderr
    else:
        assert result.stderr.endswith("\n") and len(errors) == 1, result.stderr
        assert result.stderr.splitlines()[-1] == errors[0], result.stderr
    return result


def _write(folder: Path, texts: list[str]) -> None:
    folder.mkdir()
    for index, text in enumerate(texts):
        (folder / f"run{index}.json").write_text(text, encoding="utf-8", errors="surrogatepass")


@FUZZ
@given(texts=st.lists(run_files(), min_size=1, max_size=3), options=report_options, named=st.booleans())
def test_report_of_hostile_run_files(texts, options, named):
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        _write(results, texts)
        files = [str(path) for path in sorted(results.iterdir())] if named else ["--results-dir", str(results)]
        result = _invoke(["report", *files, *options])
        assert result.exit_code in (0, 1), result.output
        forms = [option for option in options if option in ("--json", "--csv", "--markdown")]
        if result.exit_code == 0 and forms[-1:] == ["--json"]:  # the last one given wins
            report = json.loads(result.stdout)
            assert isinstance(report, dict) and isinstance(report["records"], list)
            assert isinstance(report["runs"], list)


@FUZZ
@given(base=st.lists(run_files(), min_size=1, max_size=2), new=st.lists(run_files(), min_size=1, max_size=2),
       threshold=thresholds, metric=metrics, form=compare_forms, folders=st.booleans())
def test_compare_of_hostile_run_files(base, new, threshold, metric, form, folders):
    with tempfile.TemporaryDirectory() as tmp:
        _write(Path(tmp) / "base", base)
        _write(Path(tmp) / "new", new)
        sides = [str(Path(tmp) / side) if folders else str(Path(tmp) / side / "run0.json") for side in ("base", "new")]
        result = _invoke(["compare", *sides, "--threshold", threshold, "--metric", metric, *form])
        assert result.exit_code in (0, 1, 2), result.output
        if result.exit_code in (0, 1) and form == ["--json"]:
            data = json.loads(result.stdout)
            assert data["exit_status"] == result.exit_code
            assert all(case["change_pct"] is None or math.isfinite(case["change_pct"]) for case in data["cases"])


@settings(max_examples=max(EXAMPLES // 6, 5), deadline=None, database=None,
          derandomize=not os.environ.get("TRTBENCH_FUZZ_RANDOM"))
@given(texts=st.lists(run_files(), min_size=1, max_size=2), extension=st.sampled_from(["png", "svg", "xyz", ""]))
def test_report_plot_of_hostile_run_files(texts, extension):
    with tempfile.TemporaryDirectory() as tmp:
        _write(Path(tmp) / "results", texts)
        plot = str(Path(tmp) / f"plot.{extension}" if extension else Path(tmp) / "plot")
        _invoke(["report", "--results-dir", str(Path(tmp) / "results"), "--plot", plot])


@settings(max_examples=max(EXAMPLES // 6, 5), deadline=None, database=None,
          derandomize=not os.environ.get("TRTBENCH_FUZZ_RANDOM"))
@given(texts=st.lists(run_files(), min_size=1, max_size=2), metric=st.sampled_from(["median", "throughput", "p99"]))
def test_report_html_of_hostile_run_files(texts, metric):
    with tempfile.TemporaryDirectory() as tmp:
        _write(Path(tmp) / "results", texts)
        page = Path(tmp) / "out" / "page.html"
        result = _invoke(["report", "--results-dir", str(Path(tmp) / "results"), "--html", str(page),
                          "--metric", metric])
        if result.exit_code == 0:
            text = page.read_text(encoding="utf-8")
            assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
