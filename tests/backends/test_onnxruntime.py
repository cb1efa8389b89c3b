import tempfile

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtbench.backends import assign, create, onnxruntime
from trtbench.backends.onnxruntime import OnnxRuntimeCudaBackend, executed_from_graph
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import seeded_input

pytestmark = pytest.mark.slow


def test_without_a_gpu_auto_says_the_cuda_provider_is_missing():
    plan = assign("auto", ["fp32"])
    (backend,) = plan.by_precision["fp32"]
    assert not backend.gpu
    assert f"onnxruntime-cuda unavailable: onnxruntime {ort.__version__} has no CUDAExecutionProvider" in plan.why[0]


def test_cases_on_the_cuda_provider_get_gpu_telemetry_through_the_base(exported, tmp_path, monkeypatch):
    from tests.fakes import nvml as fake_nvml
    from trtbench.backends.onnxruntime import OnnxRuntimeBackend
    from trtbench.executors.case import Case, run_case
    from trtbench.measure.timing import TimingPolicy

    class CudaHere(OnnxRuntimeCudaBackend):
        """onnxruntime-cuda as it is, its sessions made on the CPU provider (no CUDA provider here)."""

        def build(self, onnx_path, precision, batch, cache_dir):
            return OnnxRuntimeBackend(self.config).build(onnx_path, precision, batch, cache_dir)

    fake_nvml.install(monkeypatch)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")  # the provider's device 0 is NVML's GPU 1
    _, results = exported
    record = run_case(CudaHere(), Case("ResNet18", "fp32", 1), results["ResNet18"].onnx_path, tmp_path,
                      TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=2))
    assert record.ok, record.error
    assert record.backend == "onnxruntime-cuda" and record.device == "NVIDIA H200"
    assert record.gpu_telemetry["samples"] >= 2 and record.gpu_telemetry["sm_clock_mhz"]["median"] == 1410
    assert record.gpu_telemetry["temperature_c"]["max"] == 71
    with create("onnxruntime-cpu").telemetry() as sampler:
        assert sampler is None


def test_engine_outputs_are_the_models_and_it_says_it_ran_fp32(exported, tmp_path):
    models_dir, results = exported
    path = results["ResNet18"].onnx_path
    backend = create("onnxruntime-cpu")
    x = seeded_input(2, seed=5)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with backend.build(path, "fp32", 2, tmp_path) as engine:
        np.testing.assert_allclose(engine.infer(x), expected, rtol=1e-5, atol=1e-5)
        spans = engine.iterate()
        assert set(spans) == {"latency"} and spans["latency"] > 0
        executed, evidence = engine.executed_precision()
        assert "int8_form" not in engine.describe()
    assert executed == "fp32"
    assert evidence.startswith("ONNX Runtime optimized graph: 21 of 21 convolutions ") and "(fp32)" in evidence


def test_fp16_is_refused_on_the_cpu_provider_with_the_reason(exported, tmp_path):
    _, results = exported
    backend = create("onnxruntime-cpu")
    assert backend.precisions == ("fp32", "int8")
    ok, reason = backend.runs("fp16")
    assert not ok and "no FP16 convolution on x86: an FP16 graph would run FP32" in reason
    assert backend.runs("int8") == (True, "") and not backend.runs("bf16")[0]
    with pytest.raises(TrtbenchError, match="does not run fp16: ONNX Runtime's CPU provider has no FP16"):
        backend.build(results["ResNet18"].onnx_path, "fp16", 1, tmp_path)
    with pytest.raises(TrtbenchError, match="onnxruntime-cpu does not run fp16 here: ONNX Runtime's CPU provider"):
        assign("onnxruntime-cpu", ["fp16"])


def test_cuda_provider_declares_fp16_and_refuses_int8_it_would_run_in_fp32():
    # Decided from ONNX Runtime's source, no GPU needed: the CUDA provider has FP16 convolutions
    # (cuDNN), and the Q/DQ -> QLinearConv fusion is registered for the CPU, DML and ACL providers only.
    assert OnnxRuntimeCudaBackend.precisions == ("fp32", "fp16")
    ok, reason = OnnxRuntimeCudaBackend().runs("int8")
    assert not ok and "no INT8 convolution" in reason and "--backend tensorrt" in reason
    assert OnnxRuntimeCudaBackend().runs("fp16") == (True, "")


def _node(op, inputs, output, domain=""):
    return helper.make_node(op, inputs, [output], domain=domain)


def test_executed_precision_is_what_most_convolutions_run_in():
    # A graph as ONNX Runtime writes it after optimizing: three integer convolutions, an NCHWc Conv
    # on float16 weights, a FusedConv whose weight a DequantizeLinear makes (float: its scale's type)
    # and an integer head.
    weights = [numpy_helper.from_array(np.zeros((2, 2, 1, 1), dtype), name)
               for name, dtype in (("w16", np.float16), ("w8", np.int8))]
    weights.append(numpy_helper.from_array(np.ones(2, np.float32), "scale"))
    nodes = [_node("QLinearConv", ["x", "s", "z", "w8"], f"q{i}", "com.microsoft") for i in range(3)]
    nodes += [_node("Conv", ["q2", "w16"], "h", "com.microsoft.nchwc"),
              helper.make_node("DequantizeLinear", ["w8", "scale"], ["wf"]),
              _node("FusedConv", ["h", "wf"], "f", "com.microsoft"),
              _node("QGemm", ["f", "s", "z", "w8"], "y", "com.microsoft"),
              _node("Relu", ["y"], "r")]
    graph = helper.make_graph(nodes, "optimized", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("r", TensorProto.FLOAT, [1])], weights)
    assert executed_from_graph(helper.make_model(graph)) == (
        "int8", "ONNX Runtime optimized graph: 3 of 5 convolutions QLinearConv (int8), 1 Conv (fp16), "
                "1 FusedConv (fp32); matrix products: 1 QGemm (int8)")
    del graph.node[:3]  # now the float16 convolutions are the most
    graph.node.append(_node("Conv", ["x", "w16"], "h2", "com.microsoft.nchwc"))
    assert executed_from_graph(helper.make_model(graph)) == (
        "fp16", "ONNX Runtime optimized graph: 2 of 3 convolutions Conv (fp16), 1 FusedConv (fp32); "
                "matrix products: 1 QGemm (int8)")
    del graph.node[:]
    assert executed_from_graph(helper.make_model(graph)) == (
        None, "ONNX Runtime optimized graph: no convolution to read the precision from")


def test_precision_is_read_back_once_at_build_and_the_optimized_graph_is_removed(exported, tmp_path, monkeypatch):
    _, results = exported
    reads = []
    read_back = onnxruntime._read_back

    def counted(path):
        reads.append(path)
        assert path.is_file() and path.with_name("optimized.weights").is_file()
        return read_back(path)

    monkeypatch.setattr(onnxruntime, "_read_back", counted)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the optimized graph is written
    backend = create("onnxruntime-cpu")
    with backend.build(results["ResNet18"].onnx_path, "fp32", 1, tmp_path / "engines") as engine:
        assert list(scratch.iterdir()) == []  # written and read while the session was made, then deleted
        for _ in range(3):
            engine.iterate()
        assert engine.executed_precision()[0] == engine.executed_precision()[0] == "fp32"
    assert len(reads) == 1 and reads[0].parent.parent == scratch
    # ONNX Runtime keeps no optimized model between builds: each session optimizes the graph it is
    # given (whose FP16/INT8 forms are artifacts keyed by their source), so there is no cache to go stale
    assert not (tmp_path / "engines").exists()
