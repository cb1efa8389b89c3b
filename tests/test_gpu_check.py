"""scripts/gpu_check.py's verdict, on records made here (the script itself needs a GPU)."""

import importlib.util
from pathlib import Path

from trtbench.store.records import LatencyRecord

SCRIPT = Path(__file__).parents[1] / "scripts" / "gpu_check.py"
spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)


def _record(backend, precision, batch, median, layers=None, status="ok"):
    return LatencyRecord(model="ResNet50", backend=backend, device="GPU", precision=precision, batch=batch,
                         status=status, latency_ms={"median": median}, engine={"layer_precisions": layers})


CHECKS = [{"model": "ResNet50", "precision": "fp16", "passed": True, "failed": []}]


def test_agreeing_tools_pass():
    ours = [_record("tensorrt", "fp16", 1, 0.40), _record("tensorrt", "fp32", 8, 2.00)]
    theirs = [_record("trtexec", "fp16", 1, 0.39), _record("trtexec", "fp32", 8, 2.05)]
    int8 = [_record("tensorrt", "int8", 8, 0.5, layers={"int8": 53, "fp32": 2})]
    assert gpu_check.verdict(ours, theirs, int8, CHECKS) == (True, [])
    (row,) = [r for r in gpu_check.compare(ours, theirs) if r["precision"] == "fp16"]
    assert row["ratio"] == 0.40 / 0.39


def test_each_broken_expectation_is_named():
    ours = [_record("tensorrt", "fp16", 1, 0.50), _record("tensorrt", "fp32", 8, 2.0, status="failed")]
    theirs = [_record("trtexec", "fp16", 1, 0.40)]
    int8 = [_record("tensorrt", "int8", 8, 0.5, layers={"fp32": 55})]
    checks = [{"model": "ResNet50", "precision": "int8", "passed": False, "failed": ["cosine 0.9 < 0.99"]}]
    passed, problems = gpu_check.verdict(ours, theirs, int8, checks)
    assert not passed
    assert any("fp16 batch 1: trtbench/trtexec 1.250" in p for p in problems)
    assert any("ResNet50 fp32 batch 8 failed" in p for p in problems)
    assert any("verify ResNet50 int8: cosine 0.9 < 0.99" in p for p in problems)
    assert any("no layer runs in INT8" in p for p in problems)
