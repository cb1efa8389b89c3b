"""trtexec's summary parsed into records, on summaries written in the format its docs show."""

import subprocess

import pytest

from trtbench.backends.tensorrt import EngineBuildConfig
from trtbench.backends.trtexec import TrtexecBackend, TrtexecEngine, parse_summary, tensorrt_version
from trtbench.errors import TrtbenchError
from trtbench.timing import TimingPolicy

SUMMARY = """\
&&&& RUNNING TensorRT.trtexec [TensorRT v101303] [b9] # trtexec --onnx=models/ResNet50.onnx
[11/29/2026-10:00:00] [I] === Trace details ===
[11/29/2026-10:00:00] [I] Timing trace has 2000 queries over 3.00211 s
[11/29/2026-10:00:00] [I] === Performance summary ===
[11/29/2026-10:00:00] [I] Throughput: 666.198 qps
[11/29/2026-10:00:00] [I] Latency: min = 1.62 ms, max = 2.5 ms, mean = 1.70 ms, median = 1.68 ms, percentile(90%) = 1.75 ms, percentile(95%) = 1.8 ms, percentile(99%) = 2.1 ms
[11/29/2026-10:00:00] [I] Enqueue Time: min = 0.2 ms, max = 0.5 ms, mean = 0.25 ms, median = 0.24 ms, percentile(90%) = 0.3 ms, percentile(95%) = 0.31 ms, percentile(99%) = 0.4 ms
[11/29/2026-10:00:00] [I] H2D Latency: min = 0.08 ms, max = 0.12 ms, mean = 0.09 ms, median = 0.09 ms, percentile(90%) = 0.1 ms, percentile(95%) = 0.11 ms, percentile(99%) = 0.12 ms
[11/29/2026-10:00:00] [I] GPU Compute Time: min = 1.5 ms, max = 2.3 ms, mean = 1.56 ms, median = 1.55 ms, percentile(90%) = 1.6 ms, percentile(95%) = 1.65 ms, percentile(99%) = 1.9 ms
[11/29/2026-10:00:00] [I] D2H Latency: min = 0.004 ms, max = 0.01 ms, mean = 0.005 ms, median = 0.005 ms, percentile(90%) = 0.006 ms, percentile(95%) = 0.007 ms, percentile(99%) = 0.009 ms
[11/29/2026-10:00:00] [I] Total Host Walltime: 3.00211 s
[11/29/2026-10:00:00] [I] Total GPU Compute Time: 3.12 s
[11/29/2026-10:00:00] [W] * GPU compute time is unstable, with coefficient of variance = 4.5%.
[11/29/2026-10:00:00] [I] Explanations of the performance metrics are printed in the verbose logs.
&&&& PASSED TensorRT.trtexec [TensorRT v101303] [b9] # trtexec --onnx=models/ResNet50.onnx
"""


def test_summary_becomes_spans_and_throughput():
    timed = parse_summary(SUMMARY)
    assert list(timed.spans) == ["compute", "h2d", "d2h", "end_to_end", "enqueue"]
    compute = timed.spans["compute"]
    assert (compute.min, compute.median, compute.mean, compute.p90, compute.p95, compute.p99, compute.max) == \
        (1.5, 1.55, 1.56, 1.6, 1.65, 1.9, 2.3)
    assert compute.cov == pytest.approx(0.045)
    assert timed.spans["end_to_end"].median == 1.68 and timed.spans["h2d"].p99 == 0.12
    assert timed.spans["enqueue"].stdev is None and timed.spans["enqueue"].cov is None
    assert timed.throughput_qps == 666.198 and timed.iterations == 2000 and timed.wall_s == 3.00211
    assert tensorrt_version(SUMMARY) == "10.13.3"


def test_no_summary_is_an_error():
    with pytest.raises(TrtbenchError, match="no performance summary"):
        parse_summary("[E] Error[4]: could not parse\n&&&& FAILED")


def test_engine_passes_the_policy_and_reports_failures(tmp_path):
    calls = []

    def fake_run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, SUMMARY, "")

    engine = TrtexecEngine(["trtexec", "--onnx=m.onnx"], batch=4, info={}, run=fake_run)
    timed = engine.timed(TimingPolicy(warmup_ms=200, duration_s=3, min_iterations=10))
    assert calls[0][-4:] == ["--warmUp=200", "--duration=3", "--iterations=10", "--percentile=90,95,99"]
    assert timed.qps * 4 == pytest.approx(2664.792)
    assert engine.describe()["tensorrt"] == "10.13.3"

    failing = TrtexecEngine(["trtexec"], batch=1, info={}, run=lambda c, **k: subprocess.CompletedProcess(
        c, 1, "[E] Error[2]: out of memory\n&&&& FAILED", ""))
    with pytest.raises(TrtbenchError, match=r"trtexec failed: \[E\] Error\[2\]: out of memory"):
        failing.timed(TimingPolicy())


def test_command_follows_the_options(tmp_path):
    model = tmp_path / "ResNet50.onnx"
    backend = TrtexecBackend(EngineBuildConfig(typing="weak", cuda_graph=True, data_transfers=False,
                                               workspace_mib=1024), executable="/opt/trt/bin/trtexec")
    engine = backend.build(model, "fp16", 8, tmp_path / "engines")
    assert engine.command[:3] == ["/opt/trt/bin/trtexec", f"--onnx={model}", "--shapes=x:8x3x224x224"]
    assert {"--fp16", "--noDataTransfers", "--useCudaGraph", "--memPoolSize=workspace:1024M"} <= set(engine.command)
    assert f"--timingCacheFile={tmp_path / 'engines' / 'trtexec.timing.cache'}" in engine.command


def test_missing_trtexec_is_unavailable():
    state = TrtexecBackend(executable=None).availability()
    assert not state.ok and "not on PATH" in state.reason
