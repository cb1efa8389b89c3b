"""What a TensorRT engine says it holds, and how long it took to load, through the doubles of tensorrt and the
CUDA module (tests/fakes), each major as its real bindings have it."""

import os
import shutil

import onnx
import onnx.numpy_helper
import pytest

from tests.backends.test_tensorrt import QUICK, _declared, backend_for
from trtbench.errors import TrtbenchError
from trtbench.executors.case import Case, run_case

pytestmark = pytest.mark.slow


@pytest.fixture
def model(exported, tmp_path):
    """A private copy of the ResNet18 export."""
    _, results = exported
    path = tmp_path / "models" / "ResNet18.onnx"
    path.parent.mkdir()
    shutil.copy(results["ResNet18"].onnx_path, path)
    return path


def initializer_bytes(path) -> int:
    return sum(onnx.numpy_helper.to_array(tensor).nbytes for tensor in onnx.load(str(path)).graph.initializer)


@pytest.mark.parametrize("major", [10, 11])
def test_an_engine_says_its_plan_activations_and_where_it_can_its_weights(model, tmp_path, major):
    backend, trt, _ = backend_for(major)
    engine = backend.build(model, "fp32", 2, tmp_path / "e")
    assert engine.memory_facts() == {} and engine.load_s is None  # nothing read before it is loaded
    with engine:
        facts = engine.memory_facts()
    assert facts["plan_bytes"] == os.path.getsize(engine.info["plan"])
    assert facts["device_memory_bytes"] == facts["profile_device_memory_bytes"] > 0
    if major >= 11:
        assert facts["weights_bytes"] == initializer_bytes(model)  # FP32 weights, as the graph has them
    else:
        assert "weights_bytes" not in facts, "10.13 has no EngineStat: left out, never 0"
    assert engine.memory_facts() == facts, "facts of the plan are kept once the engine is freed"
    assert not (trt.used - _declared(major))


def test_activations_grow_with_the_batch_and_fp16_halves_the_weights(model, tmp_path):
    sizes = {}
    for precision, batch in (("fp32", 1), ("fp32", 4), ("fp16", 1)):
        backend, _, _ = backend_for(11)
        with backend.build(model, precision, batch, tmp_path / "e") as engine:
            sizes[precision, batch] = engine.memory_facts()
    assert sizes["fp32", 4]["device_memory_bytes"] == 4 * sizes["fp32", 1]["device_memory_bytes"]
    assert sizes["fp32", 4]["weights_bytes"] == sizes["fp32", 1]["weights_bytes"]
    # 11.x builds FP16 from the FP16 graph: its initializers are half the size (a few stay FP32)
    assert sizes["fp16", 1]["weights_bytes"] < 0.55 * sizes["fp32", 1]["weights_bytes"]


def test_load_time_is_the_deserialization_and_the_context_only(model, tmp_path):
    backend, _, _ = backend_for(11)
    engine = backend.build(model, "fp32", 1, tmp_path / "e")
    ticks = iter(range(0, 10**12, 3_000_000))  # each host clock read 3 ms after the last
    engine.host_clock = lambda: next(ticks)
    with engine:
        pass
    # four reads: before the runtime, after deserializing, around the context; the inspector between is not timed
    assert engine.load_s == pytest.approx(0.006)


def test_an_engine_that_fails_to_load_has_no_load_time(model, tmp_path):
    backend, trt, _ = backend_for(10)
    trt.failing.add("context")
    engine = backend.build(model, "fp32", 1, tmp_path / "e")
    with pytest.raises(TrtbenchError, match="could not create an execution context"), engine:
        pass
    assert engine.load_s is None


def test_a_case_times_the_load_of_a_cached_engine_too(model, tmp_path):
    backend, _, _ = backend_for(10)
    first = run_case(backend, Case("ResNet18", "fp32", 1), model, tmp_path / "e", QUICK)
    engine = backend.build(model, "fp32", 1, tmp_path / "e")
    assert first.ok and engine.info["cached"] is True
    with engine:
        assert engine.load_s is not None and engine.load_s >= 0
        assert engine.memory_facts()["plan_bytes"] == os.path.getsize(engine.info["plan"])
