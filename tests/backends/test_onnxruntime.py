import numpy as np
import onnxruntime as ort
import pytest

from trtbench.backends import choose, create
from trtbench.inputs import seeded_input

pytestmark = pytest.mark.slow


def test_auto_falls_back_to_the_cpu_and_says_why():
    backend, why = choose("auto")
    assert backend.name == "onnxruntime-cpu"
    assert "onnxruntime-cuda unavailable" in why


def test_engine_outputs_are_the_models(exported, tmp_path):
    models_dir, results = exported
    path = results["ResNet18"].onnx_path
    backend = create("onnxruntime-cpu")
    x = seeded_input(2, seed=5)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with backend.build(path, "fp32", 2, tmp_path) as engine:
        np.testing.assert_allclose(engine.infer(x), expected, rtol=1e-5, atol=1e-5)
        spans = engine.iterate()
        assert set(spans) == {"latency"} and spans["latency"] > 0
    with backend.build(path, "fp16", 2, tmp_path) as engine:
        half = engine.infer(x)
    assert half.dtype == np.float32
    assert np.mean(half.argmax(1) == expected.argmax(1)) == 1.0
