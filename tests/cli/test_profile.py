"""`trtbench profile` (and `run --profile`): each engine's layers after its timing, on one partition of the
ONNX graph, for real on this CPU."""

import json
import re

import pytest

from tests.cli.test_run import FAST


@pytest.mark.slow
def test_openvino_and_onnxruntime_are_profiled_on_the_same_groups(invoke, exported, tmp_path):
    models_dir, _ = exported
    result = invoke("profile", "ResNet18", "--backend", "openvino-cpu,onnxruntime-cpu", "--precision", "fp32",
                    "--top", "5", *FAST, "--models-dir", models_dir, "--results-dir", tmp_path / "r",
                    "--engines-dir", tmp_path / "e")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "FP32 per-layer profile: ResNet18 batch 1 on" in out
    table = out.split("FP32 per-layer profile")[1]
    for row in ("the other", "profiled total", "timed median (unprofiled)"):
        assert row in table, row
    assert len(re.findall(r"^  Conv\.\d+ \.\. \w+\.\d+ ", table, re.MULTILINE)) == 5  # --top 5 (a busy machine
    # may put any convolution first)
    # summed per stage of ResNet18: every engine's time falls in the stem, the four stages, the head or its own
    # inserted work
    per_stage = out.split(", per stage")[1]
    for row in ("stem", "stage 1 (2 blocks)", "stage 4 (2 blocks)", "head"):
        assert row in per_stage, row
    assert "outside the stages" not in per_stage
    for engine in ("openvino-cpu: OpenVINO performance counters", "onnxruntime-cpu: ONNX Runtime profiler"):
        assert f"{engine}, 30 profiled inferences; 100% of the graph's Conv nodes in a mapped group" in table
    (run_file,) = (tmp_path / "r").glob("*.json")
    records = json.loads(run_file.read_text())["records"]
    assert sorted(r["backend"] for r in records) == ["onnxruntime-cpu", "openvino-cpu"]
    for record in records:
        assert record["batch"] == 1 and record["method"]["profile_iterations"] == 30
        profile = record["profile"]
        assert profile["iterations"] == 30 and profile["total_ms"] > 0 and profile["layers"]
        assert ["Conv.0", "Conv"] in profile["graph"]
    # the same run against itself: each engine's groups side by side, none past the threshold
    same = invoke("compare", run_file, run_file)
    assert same.exit_code == 0, same.output
    assert same.stdout.count("Per-layer profile, NEW against BASE: ResNet18 fp32 batch 1,") == 2 * 2  # and per stage
    assert same.stdout.count("NEW: no group took longer than in BASE by more than 5%") == 2
    page = tmp_path / "report.html"
    assert invoke("report", run_file, "--html", page, "--models-dir", models_dir).exit_code == 0
    bars = page.read_text().split('class="bars"')[1:]
    assert len(bars) == 2 and bars[0].count('data-series="openvino-cpu"') > 20  # a bar per group, then per stage


def test_run_profile_takes_a_count_and_a_backend_that_cannot_profile_says_so(invoke, tmp_path):
    result = invoke("run", "ResNet18", "--profile", "0", "--models-dir", tmp_path, "--results-dir", tmp_path)
    assert result.exit_code == 2 and "--profile" in result.stderr
    shown = " ".join(invoke("run", "--help").output.split())
    assert "--profile [N]" in shown and "N profiled inferences (default 30)" in shown


def test_profile_speaks_as_itself_in_help_and_errors(invoke, tmp_path):
    shown = invoke("profile", "--help")
    assert shown.exit_code == 0 and shown.output.split("\n")[0].endswith(" profile [OPTIONS] [NAMES]...")
    assert "--profile [N]" in shown.output
    bad = invoke("profile", "ResNet18", "--batch", "x", "--models-dir", tmp_path, "--results-dir", tmp_path)
    assert bad.exit_code == 2
    (line,) = bad.stderr.strip().splitlines()
    assert line.startswith("error: bad --batch 'x': 'x' is not a positive whole number (e.g. --batch 1,4,8,32)")
    assert line.endswith(" profile --help`)") and "[ARGS]" not in line
