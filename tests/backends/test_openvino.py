"""The OpenVINO CPU backend: its declaration and refusals, what it reads back from OpenVINO's runtime
model, its model cache, and its outputs against ONNX Runtime FP32 at each precision."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
import onnxruntime as ort
import pytest

from tests.centred import centred_cosines
from trtbench import backends, cpu
from trtbench.backends.base import CpuConfig
from trtbench.backends.openvino import (
    CACHE_SUBDIR,
    OpenVinoBackend,
    OpenVinoConfig,
    executed_from,
    runtime_precisions,
)
from trtbench.errors import TrtbenchError
from trtbench.inputs import seeded_input
from trtbench.timing import TimingPolicy
from trtbench.verify import compare, judge

ov = pytest.importorskip("openvino")

QUICK = TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=3)


def _fp32_reference(path, data: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: data})[0]


def _centred_cosine(reference: np.ndarray, got: np.ndarray) -> float:
    """Mean over the inputs of tests/centred.py's cosines."""
    return float(centred_cosines(reference, got).mean())


@pytest.fixture
def tiny_graph(tmp_path):
    """A one-convolution ONNX graph of the zoo's input shape (batch dynamic): compiles in a blink."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(3).standard_normal((8, 3, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["conv"], strides=[2, 2], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["conv"], ["relu"]),
         helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
         helper.make_node("Flatten", ["pool"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])],
        [numpy_helper.from_array(weights, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "tiny.onnx"
    onnx.save(model, str(path))
    return path


@pytest.fixture
def registered():
    """openvino-cpu is in the registry (its line in trtbench/backends/__init__.py)."""
    assert backends.backend_class("openvino-cpu") is OpenVinoBackend


# --- declaration and refusals ---------------------------------------------------------------------


def test_declaration_adds_no_option_of_its_own(registered):
    assert OpenVinoBackend.name == "openvino-cpu" and OpenVinoBackend.metric == "infer request time"
    assert OpenVinoBackend.precisions == ("fp32", "fp16", "bf16", "int8")
    assert OpenVinoBackend.packages == ("openvino",) and OpenVinoBackend.extra is None
    assert issubclass(OpenVinoConfig, CpuConfig)
    assert [f.name for f in dataclasses.fields(OpenVinoConfig)] == ["threads"]
    # declared like every other CPU backend's threads (declared_options raises on a clash)
    assert "openvino-cpu" in backends.declared_options()["threads"][1]
    assert backends.config_for("openvino-cpu", {"threads": 3}).thread_count() == 3


def test_available_here():
    state = OpenVinoBackend().availability()
    assert state.ok and "openvino" in state.reason and "CPU" in state.reason


def test_fp16_is_refused_on_this_cpu_without_fp16_arithmetic():
    if cpu.native_fp16() is not None:
        pytest.skip(f"this CPU has {cpu.native_fp16()}: OpenVINO runs fp16 here")
    ok, reason = OpenVinoBackend().runs("fp16")
    assert not ok
    assert "no FP16 arithmetic" in reason and "OpenVINO would run fp16 as f32 or bf16" in reason


def test_bf16_and_fp16_follow_the_cpu_features(monkeypatch):
    backend = OpenVinoBackend()
    monkeypatch.setattr(cpu, "native_bf16", lambda: None)
    monkeypatch.setattr(cpu, "native_fp16", lambda: "avx512_fp16")
    ok, reason = backend.runs("bf16")
    assert not ok and "no BF16 instructions" in reason and "as f32" in reason
    assert backend.runs("fp16") == (True, "")
    monkeypatch.setattr(cpu, "native_bf16", lambda: "avx512_bf16")
    monkeypatch.setattr(cpu, "native_fp16", lambda: None)
    assert backend.runs("bf16") == (True, "")
    assert not backend.runs("fp16")[0]
    assert backend.runs("fp32") == (True, "") and backend.runs("int8") == (True, "")


def test_a_session_refuses_fp16_before_any_work(registered, tmp_path, monkeypatch):
    from trtbench.session import Session, Workspace

    monkeypatch.setattr(cpu, "native_fp16", lambda: None)
    with pytest.raises(TrtbenchError, match="backend openvino-cpu does not run fp16 here: this CPU has no FP16"):
        Session(Workspace(tmp_path / "m", tmp_path / "e", tmp_path / "r"), "openvino-cpu", precisions=["fp16"])
    assert not (tmp_path / "e").exists()


# --- reading the runtime model --------------------------------------------------------------------


def test_executed_precision_is_what_most_convolutions_run_in():
    counts = {"Convolution": collections.Counter({"u8": 52, "bf16": 1}), "Pooling": collections.Counter({"bf16": 1})}
    assert executed_from(counts) == ("int8", "OpenVINO runtime model: 52 of 53 Convolution ops in u8 "
                                             "(other ops: 1 bf16)")
    assert executed_from({"Convolution": collections.Counter({"i8": 3})})[0] == "int8"
    assert executed_from({"Convolution": collections.Counter({"f32": 3})})[0] == "fp32"
    # no convolution: the most common precision of all ops
    assert executed_from({"MatMul": collections.Counter({"bf16": 2}), "Add": collections.Counter({"f32": 1})}) \
        == ("bf16", "OpenVINO runtime model: 2 of 3 ops in bf16")
    assert executed_from({})[0] is None


def test_runtime_model_of_a_compiled_graph(tiny_graph):
    compiled = ov.Core().compile_model(str(tiny_graph), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    counts = runtime_precisions(compiled.get_runtime_model())
    assert counts["Convolution"] == collections.Counter({"f32": 1})
    assert not {"Input", "Output", "Const", "Parameter", "Result", "Constant"} & set(counts)


# --- engines on a one-convolution graph (fast) ----------------------------------------------------


def test_engine_runs_times_and_describes_itself(tiny_graph, tmp_path):
    x = seeded_input(2, seed=5)
    backend = OpenVinoBackend(OpenVinoConfig(threads=1))
    with backend.build(tiny_graph, "fp32", 2, tmp_path / "engines") as engine:
        got = engine.infer(x)
        np.testing.assert_allclose(got, _fp32_reference(tiny_graph, x), rtol=1e-4, atol=1e-6)
        # infer puts the timing input back: timing after a check times the seeded input
        np.testing.assert_array_equal(engine.input_tensor.data, seeded_input(2))
        spans = engine.iterate()
        assert set(spans) == {"latency"} and spans["latency"] > 0
        timed = engine.timed(QUICK)
        assert timed.iterations >= 3 and timed.spans["latency"].median > 0
        method = engine.describe()
        assert method["threads"] == 1 and method["performance_hint"] == "LATENCY" and method["streams"] == 1
        assert method["inference_precision_hint"] == "f32" and method["openvino"].startswith(ov.__version__[:6])
        executed, evidence = engine.executed_precision()
        assert executed == "fp32" and evidence.startswith("OpenVINO runtime model: 1 of 1 Convolution ops in f32")
        with pytest.raises(TrtbenchError, match="does not fit this engine"):
            engine.infer(seeded_input(3))
    assert engine.request is None and engine.input_tensor is None
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        engine.iterate()


def test_second_build_loads_the_compiled_model_from_the_cache(tiny_graph, tmp_path):
    backend = OpenVinoBackend(OpenVinoConfig(threads=1))
    first = backend.build(tiny_graph, "fp32", 1, tmp_path)
    cache = tmp_path / CACHE_SUBDIR
    assert first.info["loaded_from_cache"] is False and first.info["model_cache"] == str(cache)
    blobs = list(cache.glob("*.blob"))
    assert blobs and all(blob.stat().st_size > 0 for blob in blobs)
    second = backend.build(tiny_graph, "fp32", 1, tmp_path)
    assert second.info["loaded_from_cache"] is True
    # another batch is another compiled model
    assert backend.build(tiny_graph, "fp32", 4, tmp_path).info["loaded_from_cache"] is False


# --- real models (slow) ---------------------------------------------------------------------------


@pytest.mark.slow
def test_fp32_outputs_are_onnx_runtimes(exported, tmp_path):
    _, results = exported
    path = results["ResNet18"].onnx_path
    x = seeded_input(2, seed=5)
    expected = _fp32_reference(path, x)
    with OpenVinoBackend().build(path, "fp32", 2, tmp_path) as engine:
        got = engine.infer(x)
        assert engine.executed_precision()[0] == "fp32"
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert judge(compare(expected, got), "fp32") == []


@pytest.mark.slow
def test_bf16_runs_in_bf16_within_fp16_thresholds(exported, tmp_path):
    if cpu.native_bf16() is None:
        pytest.skip("this CPU has no BF16 instructions (avx512_bf16 or amx_bf16)")
    _, results = exported
    path = results["ResNet18"].onnx_path
    x = seeded_input(16, seed=1)
    expected = _fp32_reference(path, x)
    with OpenVinoBackend().build(path, "bf16", 16, tmp_path) as engine:
        got = engine.infer(x)
        executed, evidence = engine.executed_precision()
        assert engine.describe()["inference_precision_hint"] == "bf16"
    assert executed == "bf16" and "Convolution ops in bf16" in evidence
    # measured on ResNet18 (random weights, seeded inputs): cosine 0.999997, top-1 100%; centred 0.985
    assert judge(compare(expected, got), "fp16") == []
    assert _centred_cosine(expected, got) >= 0.95


@pytest.mark.slow
def test_int8_runs_in_int8_within_int8_thresholds(exported, tmp_path):
    _, results = exported
    path = results["ResNet18"].onnx_path
    x = seeded_input(16, seed=1)
    expected = _fp32_reference(path, x)
    with OpenVinoBackend().build(path, "int8", 16, tmp_path) as engine:
        got = engine.infer(x)
        executed, evidence = engine.executed_precision()
    assert engine.info["graph"].endswith("ResNet18.int8-ort.onnx")
    assert executed == "int8" and ("Convolution ops in u8" in evidence or "Convolution ops in i8" in evidence)
    assert judge(compare(expected, got), "int8") == []
    # measured: 0.80 (ONNX Runtime on the same Q/DQ graph: 0.82); the batch mean repeated scores 0
    assert _centred_cosine(expected, got) >= 0.7


@pytest.mark.slow
def test_a_session_sweep_records_the_precision_executed(registered, exported, tmp_path, monkeypatch):
    from trtbench.session import Session, Workspace

    models_dir, results = exported
    events: list = []
    session = Session(Workspace(models_dir, tmp_path / "engines", tmp_path / "results"), "openvino-cpu",
                      {"threads": 2}, reporter=events.append, command=["test"], precisions=["fp32", "int8"])
    monkeypatch.setattr(session, "exports", lambda models: {m: results[m] for m in models})
    outcome = session.run(["ResNet18"], [1, 2], QUICK)
    found = [(r.precision, r.batch, r.status, r.precision_executed) for r in outcome.records]
    assert found == [("fp32", 1, "ok", "fp32"), ("fp32", 2, "ok", "fp32"),
                     ("int8", 1, "ok", "int8"), ("int8", 2, "ok", "int8")]
    for record in outcome.records:
        assert record.backend == "openvino-cpu" and record.metric == "infer request time"
        assert record.precision_evidence.startswith("OpenVINO runtime model:")
        assert record.method["threads"] == 2 and record.median_ms > 0
        assert record.engine["runtime_precisions"]["Convolution"]
    assert (tmp_path / "engines" / CACHE_SUBDIR).is_dir() and outcome.run_path.is_file()
