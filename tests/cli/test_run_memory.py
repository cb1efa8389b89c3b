"""Memory and cold start of real CPU engines, as `trtbench run` records them."""

import json
from pathlib import Path

import pytest

from tests.cli.test_run import FAST


@pytest.mark.slow
def test_cpu_backends_record_their_memory_and_cold_start(invoke, exported, tmp_path):
    models_dir, _ = exported
    results = tmp_path / "results"
    backends = ("openvino-cpu", "onnxruntime-cpu", "paddle-inference")
    args = ("run", "ResNet18", "--precision", "fp32", "--batch", "2", "--backend", ",".join(backends),
            "--models-dir", models_dir, "--results-dir", results, "--engines-dir", tmp_path / "e", *FAST)
    runs = []
    for _ in range(2):  # compiled, then (OpenVINO) imported from its cache
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        runs.append(json.loads(max(results.glob("*.json"), key=lambda path: path.stat().st_mtime_ns).read_text()))
    first, second = ({r["backend"]: r for r in run["records"]} for run in runs)
    assert set(first) == set(second) == set(backends)
    for records in (first, second):
        for backend, record in records.items():
            assert record["status"] == "ok", record
            memory = record["memory"]
            before, build, timing = (memory["rss_before_bytes"], memory["build_peak_rss_bytes"],
                                     memory["peak_rss_bytes"])
            # the process's peaks: memory an earlier case or the export freed may be reused without growing them,
            # so how much each case adds is the fake engines' test (tests/executors/test_case.py)
            assert 0 < before <= build and before <= timing < 64 * 2**30, (backend, memory)
            if Path("/proc/self/clear_refs").exists():
                assert memory["how"].startswith(("VmHWM reset", "VmRSS sampled")), memory["how"]
            assert isinstance(memory["engine"], dict)
            cold = record["cold_start"]
            assert 0 < cold["load_s"] <= record["build_s"] + 0.001 and cold["first_inference_ms"] > 0, (backend, cold)
    assert not first["openvino-cpu"]["engine"]["loaded_from_cache"]
    assert second["openvino-cpu"]["engine"]["loaded_from_cache"]
    # importing a compiled model is its load; compiling it was the first run's
    assert second["openvino-cpu"]["cold_start"]["load_s"] < first["openvino-cpu"]["engine"]["compile_s"]
