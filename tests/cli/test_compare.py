"""`trtbench compare` as a CI job runs it: run files on disk, the exit status as the verdict."""

import dataclasses
import json

import pytest

from tests.cli.test_export import _one_line_error
from trtbench.store.records import AccuracyRecord, LatencyRecord
from trtbench.store.results import RunFile


def _rec(model="ResNet18", batch=1, median=1.0, device="Test GPU", status="ok", **fields):
    return LatencyRecord(model=model, backend="tensorrt", device=device, precision="fp16", batch=batch, status=status,
                         error=None if status == "ok" else "out of memory",
                         latency_ms={"median": median, "mean": median} if status == "ok" else None,
                         throughput_ips=batch * 1000 / median, finished_at="2026-01-01T00:00:00Z", **fields)


def _run(folder, *records):
    """A run file holding ``records`` in ``folder``; its path."""
    folder.mkdir(exist_ok=True)
    run = RunFile(folder, {"host": {}}, ["trtbench", "run"])
    for record in records:
        run.add(record)
    run.finish()
    return run.path


def test_a_regression_exits_1_after_the_table(invoke, tmp_path):
    base = _run(tmp_path / "base", _rec(batch=1, median=1.0), _rec(batch=8, median=4.0), _rec(batch=32, median=9.0))
    new = _run(tmp_path / "new", _rec(batch=1, median=1.2), _rec(batch=8, median=3.0), _rec(batch=32, median=9.1))
    result = invoke("compare", base, new)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert any(line.split()[:8] == ["ResNet18", "fp16", "1", "1.000", "1.200", "+20.0%", "regressed"]
               for line in lines), result.stdout
    assert any(line.split()[:7] == ["ResNet18", "fp16", "8", "4.000", "3.000", "-25.0%", "improved"] for line in lines)
    assert any(line.split()[:7] == ["ResNet18", "fp16", "32", "9.000", "9.100", "+1.1%", "unchanged"] for line in lines)
    assert "tensorrt on Test GPU" in result.stdout
    assert "1 regressed, 1 improved, 1 unchanged (threshold 5%)" in result.stdout
    assert result.stderr == ("error: 1 of 3 compared cases regressed (threshold 5%, median); first: ResNet18 fp16 "
                             "batch 1 on tensorrt: regressed +20.0%\n")


def test_no_regression_exits_0_and_a_wider_threshold_lets_one_pass(invoke, tmp_path):
    base = _run(tmp_path / "base", _rec(median=1.0))
    new = _run(tmp_path / "new", _rec(median=1.2))
    assert invoke("compare", base, new, "--threshold", "25%").exit_code == 0
    assert invoke("compare", base, new, "--threshold", "19.9").exit_code == 1
    assert invoke("compare", base, base).exit_code == 0


def test_nothing_comparable_exits_2_with_one_line(invoke, tmp_path):
    base = _run(tmp_path / "base", _rec(device="NVIDIA A100"))
    new = _run(tmp_path / "new", _rec(device="NVIDIA H100", median=50.0))
    line = _one_line_error(invoke("compare", base, new), code=2)
    assert line == ("error: nothing to compare: no case is in both: BASE ran on NVIDIA A100, NEW on NVIDIA H100: "
                    "compare runs of the same device")


@pytest.mark.parametrize("args,message", [
    (("--threshold", "fast"), "bad --threshold 'fast'"),
    (("--threshold", "-5%"), "bad --threshold '-5%'"),
    (("--metric", "p42"), "Invalid value for '--metric'"),
])
def test_bad_options_exit_2_with_one_line(invoke, tmp_path, args, message):
    base = _run(tmp_path / "base", _rec())
    assert message in _one_line_error(invoke("compare", base, base, *args), code=2)


def test_unreadable_input_exits_2_with_one_line(invoke, tmp_path):
    base = _run(tmp_path / "base", _rec())
    assert "results file not found" in _one_line_error(invoke("compare", base, tmp_path / "nope.json"), code=2)
    (tmp_path / "empty").mkdir()
    assert _one_line_error(invoke("compare", tmp_path / "empty", base), code=2).endswith(
        "empty: no run files in this folder")
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"hello": 1}')
    assert "is not a trtbench results file" in _one_line_error(invoke("compare", base, foreign), code=2)


def test_a_folder_gives_the_newest_record_per_case_and_skips_a_damaged_file(invoke, tmp_path):
    base = _run(tmp_path / "base", _rec(median=1.0))
    _run(tmp_path / "new", _rec(median=5.0))
    _run(tmp_path / "new", dataclasses.replace(_rec(median=1.01), finished_at="2026-02-01T00:00:00Z"))
    (tmp_path / "new" / "broken.json").write_text('{"tool": "trtbench", "schema_version": 2, "records": [{"kind": 3}]}')
    result = invoke("compare", "--json", base, tmp_path / "new")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(case["new"], case["result"]) for case in data["cases"]] == [(1.01, "unchanged")]
    assert "skipped: " in result.stderr and "unknown record kind '3'" in result.stderr


def test_json_is_the_whole_verdict_for_a_script(invoke, tmp_path):
    base = _run(tmp_path / "base", _rec(batch=1), _rec(batch=8), _rec(batch=32))
    new = _run(tmp_path / "new", _rec(batch=1, status="failed"), _rec(batch=8, median=0.5), _rec(batch=4))
    result = invoke("compare", base, new, "--json", "--metric", "throughput", "--threshold", "10")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert (data["base"], data["new"]) == (str(base), str(new))
    assert (data["metric"], data["unit"], data["threshold_pct"], data["exit_status"]) == (
        "throughput", "images/s", 10.0, 1)
    assert [(c["batch"], c["result"]) for c in data["cases"]] == [
        (1, "failed in NEW"), (8, "improved"), (4, "only in NEW"), (32, "only in BASE")]
    assert data["cases"][1]["change_pct"] == pytest.approx(100.0)
    assert "first: ResNet18 fp16 batch 1 on tensorrt: failed in NEW" in result.stderr


def test_markdown_for_a_ci_summary(invoke, tmp_path):
    base = _run(tmp_path / "base", _rec(median=1.0), _rec(batch=8, median=2.0, precision_executed="fp16"))
    new = _run(tmp_path / "new", _rec(median=1.5), _rec(batch=8, median=2.0, precision_executed="fp32"))
    result = invoke("compare", base, new, "--markdown")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"## median latency (ms), tensorrt on Test GPU: NEW {new} against BASE {base}, threshold 5%"
    assert lines[2:6] == [
        "| Models | Precision | Batch | BASE (ms) | NEW (ms) | Change | Result |",
        "|:--|:--|--:|--:|--:|--:|:--|",
        "| ResNet18 | fp16 | 1 | 1.000 | 1.500 | +50.0% | **regressed** |",
        # FP32 timings asked as FP16 are a failed case, never compared as FP16 data
        "| ResNet18 | fp16 (ran fp16 -> fp32) | 8 |  |  |  | **failed in NEW** |",
    ]
    assert "- ResNet18 fp16 batch 8 on tensorrt: failed in NEW: asked fp16, the engine ran fp32: " in result.stdout
    assert ("1 case ran in another precision in NEW than in BASE (first: ResNet18 fp16 batch 8 on tensorrt: "
            "fp16 -> fp32)") in lines


def test_accuracy_records_alone_are_nothing_to_compare(invoke, tmp_path):
    accuracy = AccuracyRecord(model="ResNet18", backend="tensorrt", device="Test GPU", precision="fp16", batch=1,
                              top1=0.7, finished_at="2026-01-01T00:00:00Z")
    base = _run(tmp_path / "base", accuracy)
    new = _run(tmp_path / "new", _rec())
    assert _one_line_error(invoke("compare", base, new), code=2) == (
        "error: nothing to compare: BASE holds no latency records")


def test_compare_loads_neither_numpy_nor_the_exporter_nor_other_commands(tmp_path):
    """Each command's module is imported when it runs: comparing run files needs no model code."""
    import subprocess
    import sys

    base, new = _run(tmp_path / "a", _rec()), _run(tmp_path / "b", _rec(median=1.01))
    code = (
        "import sys\n"
        "from trtbench.cli import main\n"
        f"code = main(['compare', {str(base)!r}, {str(new)!r}], standalone_mode=False)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'onnx', 'paddle')\n"
        "               or m == 'trtbench.models.export' or m.startswith('trtbench.cli.') and\n"
        "               m not in ('trtbench.cli.main', 'trtbench.cli.app', 'trtbench.cli.options',\n"
        "                         'trtbench.cli.compare', 'trtbench.cli.report'))\n"
        "print('code:', code, 'heavy:', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("code: 0 heavy: []"), done.stdout[-800:]


def test_profiled_cases_show_where_new_got_slower_in_every_form(invoke, tmp_path):
    from trtbench.measure.profile import Layer, LayerProfile

    def profiled(conv_ms, median):
        layers = [Layer("conv", "Convolution", conv_ms, "fp16", ("Conv.0", "Relu.0")),
                  Layer("fc", "Gemm", 0.5, "fp16", ("Gemm.0",))]
        profile = LayerProfile("TensorRT IProfiler", 30, layers, total_ms=conv_ms + 0.5)
        return _rec(median=median, profile={**profile.to_json(), "graph": [["Conv.0", "Conv"], ["Relu.0", "Relu"],
                                                                          ["Gemm.0", "Gemm"]]})

    base = _run(tmp_path / "base", profiled(1.0, 1.5))
    new = _run(tmp_path / "new", profiled(1.5, 2.0))
    shown = invoke("compare", base, new)
    assert shown.exit_code == 1  # the gate reads the compared metric: +33%
    table = shown.stdout.split("Per-layer profile, NEW against BASE: ResNet18 fp16 batch 1, tensorrt on Test GPU")[1]
    assert "Conv.0 .. Relu.0" in table and "1.50x" in table
    assert "NEW: 1 of 2 groups took longer than in BASE by more than 5%: Conv.0 .. Relu.0 (1.50x)" in " ".join(
        table.split())
    written = invoke("compare", base, new, "--markdown").stdout
    assert "| Conv.0 .. Relu.0 | Conv, Relu | 1.000 | 66.7 | fp16 | 1.500 | 75.0 | fp16 | 1.50x |" in written
    (case,) = json.loads(invoke("compare", base, new, "--json").stdout)["profiles"]
    assert [(group["label"], group["slower"]) for group in case["groups"]] == [("Conv.0 .. Relu.0", True),
                                                                              ("Gemm.0", False)]
    assert json.loads(invoke("compare", base, base, "--json").stdout)["profiles"][0]["groups"][0]["ratio"] == 1.0


def test_compare_gates_on_peak_memory_as_it_does_on_latency(invoke, tmp_path):
    def measured(peak_mib, batch=8):
        return _rec(batch=batch, memory={"peak_rss_bytes": peak_mib * 2**20, "how": "VmHWM reset per case"})

    base = _run(tmp_path / "base", measured(400), measured(900, batch=32))
    new = _run(tmp_path / "new", measured(480), measured(905, batch=32))
    shown = invoke("compare", base, new, "--metric", "peak_rss")
    assert shown.exit_code == 1, shown.output
    assert any(line.split()[:7] == ["ResNet18", "fp16", "8", "400", "480", "+20.0%", "regressed"]
               for line in shown.stdout.splitlines()), shown.stdout
    assert shown.stderr.startswith("error: 1 of 2 compared cases regressed (threshold 5%, peak_rss)")
    assert invoke("compare", base, new, "--metric", "peak_rss", "--threshold", "25").exit_code == 0
    old = _run(tmp_path / "old", _rec(batch=8), _rec(batch=32))  # written before memory was measured
    nothing = invoke("compare", old, new, "--metric", "peak_rss")
    assert nothing.exit_code == 2 and "peak resident memory while timed" in nothing.stderr
