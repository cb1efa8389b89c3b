"""The main job end to end on ONNX Runtime (CPU), and every error a user can cause."""

import csv
import io
import json

import pytest

from tests.cli.test_export import _one_line_error

FAST = ("--warmup-ms", "10", "--duration", "0.2", "--iterations", "3")


@pytest.mark.parametrize("args,message,code", [
    (("--precision", "fp8"), "unknown precision 'fp8'", 2),
    (("--precision", ""), "bad --precision", 2),
    (("--batch", "1,x"), "bad --batch", 2),
    (("--batch", "0"), "bad --batch", 2),
    (("--batch", "-4"), "bad --batch", 2),
    (("--batch", "1,10000000"), "--batch 10000000 needs at least 48169.0 GB: 6021.1 GB for its input alone", 1),
    (("--batch", ""), "bad --batch", 2),
    (("--backend", "tensorflow"), "unknown backend 'tensorflow'", 2),
    (("--backend", "onnxruntime-cuda"), "backend onnxruntime-cuda is not available", 1),
    (("--backend", "tensorrt"), "backend tensorrt is not available: the tensorrt Python package is not installed; "
                                "pip install 'trtbench[tensorrt-cu12]'", 1),
    (("--backend", "trtexec"), "backend trtexec is not available: trtexec is not on PATH", 1),
])
def test_bad_options_are_one_line(invoke, tmp_path, args, message, code):
    """A value the command line cannot take is a usage error (2, as click's own); one this machine
    cannot serve (memory, a backend not installed) is 1."""
    line = _one_line_error(invoke("run", "ResNet18", "--models-dir", tmp_path, "--results-dir", tmp_path, *args),
                           code=code)
    assert message in line


def test_nothing_exported_says_what_to_run(invoke, tmp_path):
    line = _one_line_error(invoke("run", "--models-dir", tmp_path / "empty", "--results-dir", tmp_path))
    assert "trtbench export" in line


def test_report_without_results(invoke, tmp_path):
    assert "trtbench run" in _one_line_error(invoke("report", "--results-dir", tmp_path))


def test_report_of_a_foreign_file(invoke, tmp_path):
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    assert "not a trtbench results file" in _one_line_error(invoke("report", other))
    newer = tmp_path / "newer.json"
    newer.write_text('{"tool": "trtbench", "schema_version": 99, "records": []}')
    assert "upgrade trtbench" in _one_line_error(invoke("report", newer))


@pytest.mark.slow
def test_run_and_report_on_onnxruntime_cpu(invoke, exported, tmp_path):
    models_dir, _ = exported
    results = tmp_path / "results"
    result = invoke("run", "ResNet18", "--precision", "fp32,int8", "--batch", "1,2", "--backend", "onnxruntime-cpu",
                    "--models-dir", models_dir, "--results-dir", results, "--engines-dir", tmp_path / "e", *FAST)
    assert result.exit_code == 0, result.output
    assert "backend onnxruntime-cpu: onnxruntime" in result.stderr
    assert "these are CPU numbers (onnxruntime-cpu), not TensorRT numbers" in result.stderr
    assert "FP32 latency (ms)" in result.stdout and "INT8 latency (ms)" in result.stdout
    from trtbench.reporting.model import LEGENDS

    assert all(result.stdout.count(text) <= 1 for text in LEGENDS.values())  # legends once, below the tables
    (run_path,) = results.glob("*.json")
    run = json.loads(run_path.read_text())
    assert [(r["precision"], r["batch"], r["status"], r["precision_executed"]) for r in run["records"]] == [
        ("fp32", 1, "ok", "fp32"), ("fp32", 2, "ok", "fp32"), ("int8", 1, "ok", "int8"), ("int8", 2, "ok", "int8")]
    record = run["records"][0]
    assert record["backend"] == "onnxruntime-cpu" and record["iterations"] >= 3
    assert record["method"]["providers"] == ["CPUExecutionProvider"] and record["method"]["warmup_ms"] == 10
    assert record["method"]["data_transfers"] is False
    assert run["environment"]["versions"]["onnxruntime"] and run["finished_at"]
    # the evidence behind the numbers: every sample, each percentile with its support, intervals, windows
    from trtbench.measure.stats import decode_samples

    samples = decode_samples(record["samples"])
    assert len(samples) == record["iterations"] >= 64  # timed on until p90 was supported (64 samples)
    assert record["method"]["percentiles"] == [50.0, 90.0] and record["method"]["stability"] == 0.05
    assert record["method"]["max_duration_s"] == 4.0 and record["method"]["stopped"] in ("supported and stable",
                                                                                       "max duration")
    p90 = record["percentiles"]["p90"]
    assert p90["supported"] and p90["needs"] == 64 and p90["has"] == len(samples)
    assert p90["ms"] == record["latency_ms"]["p90"] and p90["interval_ms"][0] <= p90["ms"] <= p90["interval_ms"][1]
    p99 = record["percentiles"]["p99"]
    assert p99["needs"] == 662 and (p99["ms"] is None) == (len(samples) < 662)
    assert (record["latency_ms"]["p99"] is None) == (len(samples) < 662)
    low, high = record["median_interval_ms"]
    assert low <= record["latency_ms"]["median"] <= high
    assert record["stability"]["threshold"] == 0.05 and len(record["stability"]["windows_ms"]) >= 3

    markdown = invoke("report", "--markdown", "--results-dir", results, "--models-dir", models_dir).stdout
    lines = markdown.splitlines()
    fp32 = lines.index(next(line for line in lines if line.startswith("## FP32 latency")))
    int8 = lines.index(next(line for line in lines if line.startswith("## INT8 latency")))
    assert fp32 < int8 and "onnxruntime-cpu" in lines[fp32]
    assert lines[fp32 + 2] == "| Models           | batch_size=1<br>(ms) | batch_size=2<br>(ms) |"
    assert lines[fp32 + 3] == "|:--:|:--:|:--:|"
    assert lines[fp32 + 4].startswith("| ResNet18         | ")
    assert "| ResNet50_vd_ssld |" in markdown  # the models table is there too

    rows = json.loads(invoke("report", "--json", "--results-dir", results).stdout)["records"]
    assert len(rows) == 4
    assert set(rows[0]["latency_ms"]) == {"mean", "median", "p90", "p95", "p99", "min", "max", "stdev"}
    by_case = {(r["precision"], r["batch"]): r for r in rows}
    table = list(csv.DictReader(io.StringIO(invoke("report", "--csv", "--results-dir", results).stdout)))
    for row in table:
        expected = by_case[(row["precision"], int(row["batch"]))]["latency_ms"]["median"]
        assert float(row["latency_ms_median"]) == pytest.approx(expected)

    plot = tmp_path / "p.png"
    shown = invoke("report", "--reference", "--plot", plot, "--results-dir", results)
    assert shown.exit_code == 0, shown.output
    assert "(1.127," in shown.stdout and plot.stat().st_size > 1000


def test_ctrl_c_is_one_line_and_status_130(invoke, tmp_path, monkeypatch):
    import trtbench.executors
    import trtbench.session

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(trtbench.executors, "run_case", interrupted)
    models = tmp_path / "models"
    models.mkdir()
    exported = type("R", (), {"skipped": True, "onnx_path": models / "x.onnx",
                              "metadata": {"weights": {"description": "random init, seed 0"}}})()
    monkeypatch.setattr(trtbench.session, "ensure_exported", lambda variant, d: exported)
    result = invoke("run", "ResNet18", "--models-dir", models, "--results-dir", tmp_path / "r",
                    "--backend", "onnxruntime-cpu", "--precision", "fp32")
    assert result.exit_code == 130 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == "error: interrupted; finished results and artifacts are kept"
    stopped = next(line for line in lines if line.startswith("interrupted after"))
    assert stopped.startswith("interrupted after 0 of 4 cases; every finished case is in ")
    run_id = stopped.split()[-3]
    assert stopped.endswith(f"run the rest with: trtbench run --resume {run_id} --results-dir {tmp_path / 'r'}")


@pytest.mark.parametrize("args,message", [
    (("--duration", "nan"), "nan is not a finite number >= 0"),
    (("--duration", "inf"), "inf is not a finite number >= 0"),
    (("--warmup-ms", "nan"), "nan is not a finite number >= 0"),
    (("--warmup-ms", "1e12"), "1e12 is more than 600000, the most trtbench takes"),
    (("--duration", "86400"), "86400 is more than 3600, the most trtbench takes"),
    (("--iterations", "99999999999999999999"), "99999999999999999999 is not in the range 1<=x<=1000000"),
    (("--warmup-ms", "-1"), "-1 is not a finite number >= 0"),
    (("--duration", "x"), "'x' is not a number"),
    (("--batch", "²"), "bad --batch"),
    (("--threads", "100000", "--backend", "onnxruntime-cpu"), "--threads 100000 is more than"),
    (("--percentiles", "50,100"), "'100' is not a percentile between 0 and 100"),
    (("--percentiles", "0"), "'0' is not a percentile between 0 and 100"),
    (("--percentiles", "nan"), "'nan' is not a percentile between 0 and 100"),
    (("--percentiles", "90,x"), "'x' is not a percentile between 0 and 100"),
    (("--stability", "steady"), "'steady' is not a percentage (e.g. 5%), or off"),
    (("--max-duration", "1"), "1 s is shorter than --duration (3 s)"),
    (("--max-duration", "nan"), "nan is not a finite number >= 0"),
])
def test_numbers_that_would_hang_or_swamp_the_machine_are_one_line(invoke, tmp_path, args, message):
    result = invoke("run", "ResNet18", "--models-dir", tmp_path, "--results-dir", tmp_path, *args)
    assert result.exit_code in (1, 2)
    line = _one_line_error(result, code=result.exit_code)
    assert message in line


def test_bare_trtbench_shows_its_help(invoke):
    result = invoke()
    assert result.exit_code == 0 and result.output.startswith("Usage: ") and "Commands:" in result.output
    assert "error:" not in result.output


def test_a_results_dir_that_is_a_file_names_the_right_option(invoke, tmp_path, monkeypatch):
    import trtbench.session

    models = tmp_path / "models"
    models.mkdir()
    exported = type("R", (), {"skipped": True, "onnx_path": models / "x.onnx",
                              "metadata": {"weights": {"description": "random init, seed 0"}}})()
    monkeypatch.setattr(trtbench.session, "ensure_exported", lambda variant, d: exported)
    blocker = tmp_path / "results.txt"
    blocker.write_text("not a folder")
    line = _one_line_error(invoke("run", "ResNet18", "--models-dir", models, "--results-dir", blocker,
                                  "--backend", "onnxruntime-cpu", "--precision", "fp32"))
    assert "choose another with --results-dir" in line


def test_one_damaged_run_file_does_not_hide_the_others(invoke, tmp_path):
    from trtbench.store.records import LatencyRecord
    from trtbench.store.results import RunFile

    run = RunFile(tmp_path, {}, ["test"])
    run.add(LatencyRecord(model="ResNet18", backend="onnxruntime-cpu", device="CPU", precision="fp32", batch=1,
                          latency_ms={"median": 1.5}, finished_at="2026-01-01T00:00:00Z"))
    run.finish()
    (tmp_path / "broken.json").write_text('{"tool": "trtbench", "schema_version": 2, "records": [{"kind": 3}]}')
    shown = invoke("report", "--json", "--results-dir", tmp_path)
    assert shown.exit_code == 0, shown.output
    assert [r["latency_ms"]["median"] for r in json.loads(shown.stdout)["records"]] == [1.5]
    assert "skipped: " in shown.stderr and "broken.json record 1: unknown record kind '3'" in shown.stderr
    named = invoke("report", tmp_path / "broken.json")
    assert named.exit_code == 1 and "unknown record kind" in named.output


def test_no_wait_refuses_before_any_work_when_the_device_is_busy(invoke, tmp_path):
    from trtbench.measure.devicelock import DeviceLock

    with DeviceLock("cpu").held():
        result = invoke("run", "ResNet18", "--backend", "onnxruntime-cpu", "--precision", "fp32", "--no-wait",
                        "--models-dir", tmp_path / "m", "--results-dir", tmp_path / "r")
    assert result.exit_code == 6 and "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].startswith(
        "error: cpu is busy: another trtbench run is timing on it (pid ")
    assert not (tmp_path / "m").exists() and not list((tmp_path / "r").glob("*.json"))  # nothing exported or saved


def test_repeated_batch_options_add_up(invoke, tmp_path, monkeypatch):
    import trtbench.session

    seen = []
    monkeypatch.setattr(trtbench.session.Session, "run",
                        lambda self, models, batches, *a, **k: seen.append(batches) or trtbench.session.Outcome())
    result = invoke("run", "ResNet18", "--backend", "onnxruntime-cpu", "--precision", "fp32", "--batch", "1,4",
                    "--batch", "8", "--batch", "4", "--models-dir", tmp_path, "--results-dir", tmp_path)
    assert result.exit_code == 0, result.output
    assert seen == [[1, 4, 8]]


# --- a case that ran another precision than asked: failed, kept, never shown as that precision -------


def _stuck_backend():
    """A backend whose engines always run FP32, as OpenVINO's did from a cache that ignored the precision."""
    import numpy as np

    from trtbench.backends.base import Availability, Backend, Engine

    class Stuck(Engine):
        def iterate_impl(self):
            return {"latency": 4.0}

        def infer_impl(self, data):
            return np.ones((len(data), 1000), np.float32)

        def executed_precision(self):
            return "fp32", "OpenVINO runtime model: 21 of 21 Convolution ops in f32"

    class StuckBackend(Backend):
        name = "stuck"
        precisions = ("fp32", "fp16")

        def availability_impl(self):
            return Availability(True, "always")

        def device(self):
            return "Test CPU"

        def build(self, onnx_path, precision, batch, cache_dir):
            return Stuck(batch)

    return StuckBackend


@pytest.fixture
def stuck():
    from trtbench import backends

    backends.register("stuck", _stuck_backend())
    yield
    backends.unregister("stuck")


@pytest.mark.slow
def test_fp32_timings_asked_as_fp16_are_a_failed_case_and_a_failed_run(invoke, exported, stuck, tmp_path):
    models_dir, _ = exported
    results = tmp_path / "results"
    ran = invoke("run", "ResNet18", "--precision", "fp32,fp16", "--batch", "1", "--backend", "stuck",
                 "--models-dir", models_dir, "--results-dir", results, "--engines-dir", tmp_path / "e", *FAST)
    assert ran.exit_code == 4, ran.output
    why = ("asked fp16, the engine ran fp32: OpenVINO runtime model: 21 of 21 Convolution ops in f32; not counted as "
           "fp16 (its timings stay in the run file)")
    assert f"ResNet18 fp16 batch 1: FAILED: {why}" in ran.stderr  # the case's line
    (run_path,) = results.glob("*.json")
    assert ran.stderr.strip().splitlines()[-1] == (
        f"error: 1 of 2 cases failed (errors are in {run_path}); first: ResNet18 fp16 batch 1: {why}")
    fp16_table = ran.stdout.split("FP32 latency")[0]  # the FP16 table comes first, as on the page
    assert "ResNet18              failed" in fp16_table and "4.000" not in fp16_table
    records = {r["precision"]: r for r in json.loads(run_path.read_text())["records"]}
    assert records["fp32"]["status"] == "ok"
    fp16 = records["fp16"]
    assert (fp16["status"], fp16["error"], fp16["precision_executed"]) == ("failed", why, "fp32")
    assert fp16["latency_ms"]["median"] == 4.0 and fp16["iterations"] >= 3 and fp16["throughput_ips"] > 0

    report = ("--results-dir", results, "--models-dir", models_dir)
    markdown = invoke("report", "--markdown", "--reference", *report).stdout
    fp16_section = markdown.split("## FP16 ")[1].split("##")[0]
    assert "| ResNet18         | failed[^1] |" in fp16_section and "4.000" not in fp16_section
    assert "| ResNet18         | 4.000" in markdown.split("## FP32 latency")[1]
    rows = {r["precision"]: r for r in json.loads(invoke("report", "--json", *report).stdout)["records"]}
    assert (rows["fp16"]["status"], rows["fp16"]["error"], rows["fp16"]["latency_ms"]["median"]) == (
        "failed", why, 4.0)
    csv_rows = {r["precision"]: r for r in csv.DictReader(io.StringIO(invoke("report", "--csv", *report).stdout))}
    assert (csv_rows["fp16"]["status"], csv_rows["fp16"]["error"], csv_rows["fp16"]["latency_ms_median"]) == (
        "failed", why, "4.0")
