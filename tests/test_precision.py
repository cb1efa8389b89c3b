import numpy as np
import onnx
import pytest
from onnx import TensorProto

from tests.test_graph import _tiny_model
from trtbench import graph
from trtbench.errors import TrtbenchError
from trtbench.precision import graph_for, graph_path, parse_precisions


@pytest.mark.parametrize("text", ["", "fp8", "fp16,", "int4,fp32"])
def test_bad_precision_lists(text):
    with pytest.raises(TrtbenchError):
        parse_precisions(text)


def test_precision_list_parses():
    assert parse_precisions("FP16, fp32,fp16") == ["fp16", "fp32"]


@pytest.fixture
def fp32_model(tmp_path):
    path = tmp_path / "Tiny.onnx"
    onnx.save(graph.constants_to_initializers(_tiny_model()), str(path))
    return path


def test_fp16_graph_keeps_fp32_io_and_is_cached(fp32_model):
    import onnxruntime as ort

    fp16 = graph_for(fp32_model, "fp16")
    assert fp16 == graph_path(fp32_model, "fp16") != fp32_model
    model = onnx.load(str(fp16))
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    weights = {t.name: t.data_type for t in model.graph.initializer}
    assert weights["w"] == TensorProto.FLOAT16
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    half = ort.InferenceSession(str(fp16)).run(None, {"x": x})[0]
    full = ort.InferenceSession(str(fp32_model)).run(None, {"x": x})[0]
    np.testing.assert_allclose(half, full, rtol=2e-2, atol=2e-2)
    stamp = fp16.stat().st_mtime_ns
    assert graph_for(fp32_model, "fp16").stat().st_mtime_ns == stamp  # cached


def test_fp16_graph_is_redone_when_the_export_changes(fp32_model):
    first = onnx.load(str(graph_for(fp32_model, "fp16")))
    model = onnx.load(str(fp32_model))
    for tensor in model.graph.initializer:
        if tensor.name == "fc":
            tensor.raw_data = (np.ones((4, 5), np.float32) * 2).tobytes()
    onnx.save(model, str(fp32_model))
    second = onnx.load(str(graph_for(fp32_model, "fp16")))
    fc = [t for t in second.graph.initializer if t.name == "fc"][0]
    assert onnx.numpy_helper.to_array(fc).max() == 2.0
    assert first.SerializeToString() != second.SerializeToString()
