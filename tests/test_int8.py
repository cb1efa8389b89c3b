"""INT8 by explicit quantization: Q/DQ graphs, on ONNX Runtime and through the TensorRT double."""

import collections

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from tests.fakes.cuda import FakeCuda
from tests.fakes.tensorrt import FakeTensorRT
from trtbench.backends.tensorrt import TensorRTBackend
from trtbench.precision import Calibration, calibration_from, graph_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def int8_graph(exported):
    models_dir, results = exported
    path = results["ResNet18"].onnx_path
    return path, graph_for(path, "int8", Calibration(seed=0))


def test_every_conv_reads_dequantized_inputs_and_weights(int8_graph):
    _, path = int8_graph
    model = onnx.load(str(path))
    producers = {out: node.op_type for node in model.graph.node for out in node.output}
    convs = [node for node in model.graph.node if node.op_type == "Conv"]
    assert len(convs) == 21  # ResNet18: stem, 16 block convs, 4 projections
    for conv in convs:
        assert producers.get(conv.input[0]) == "DequantizeLinear", conv.name
        assert producers.get(conv.input[1]) == "DequantizeLinear", conv.name
    counts = collections.Counter(node.op_type for node in model.graph.node)
    assert counts["QuantizeLinear"] > 0
    # per-channel weights: the weight scales are vectors, one per output channel
    inits = {t.name: tuple(t.dims) for t in model.graph.initializer}
    weight_dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.output[0] == convs[0].input[1]]
    assert inits[weight_dq[0].input[1]] == (64,)


def test_int8_runs_on_onnxruntime_and_mostly_agrees_with_fp32(int8_graph):
    fp32, int8 = int8_graph
    x = np.random.default_rng(11).standard_normal((16, 3, 224, 224)).astype(np.float32)
    full = ort.InferenceSession(str(fp32)).run(None, {"x": x})[0]
    quant = ort.InferenceSession(str(int8)).run(None, {"x": x})[0]
    # Random weights give logits that sit close together (std ~0.1), so the top-1 of a random
    # input is fragile: 12 of 16 (75%) is the bar here. Pretrained weights separate classes far more.
    assert np.sum(full.argmax(1) == quant.argmax(1)) >= 12
    cosine = np.sum(full * quant, 1) / np.linalg.norm(full, axis=1) / np.linalg.norm(quant, axis=1)
    assert cosine.min() > 0.99


def test_int8_graph_is_cached_per_calibration(int8_graph, tmp_path):
    fp32, int8 = int8_graph
    stamp = int8.stat().st_mtime_ns
    assert graph_for(fp32, "int8", Calibration(seed=0)).stat().st_mtime_ns == stamp
    assert Calibration(seed=0).key() != Calibration(seed=1).key()
    with pytest.raises(Exception, match="calibration folder not found"):
        calibration_from(tmp_path / "nope")


@pytest.mark.parametrize("major", [10, 11])
def test_tensorrt_builds_int8_strongly_typed_on_both_majors(int8_graph, tmp_path, major):
    fp32, _ = int8_graph
    gpu = FakeCuda()
    trt = FakeTensorRT(major, gpu)
    backend = TensorRTBackend(calibration=Calibration(seed=0), trt=trt, cuda=gpu)
    engine = backend.build(fp32, "int8", 2, tmp_path / "engines")
    (build,) = trt._builds
    assert build["strong"] is True and build["flags"] == [] and build["onnx"].endswith(".int8.onnx")
    assert engine.info["typing"] == "strong"
    x = np.random.default_rng(2).standard_normal((2, 3, 224, 224)).astype(np.float32)
    expected = ort.InferenceSession(build["onnx"]).run(None, {"x": x})[0]
    with engine:
        np.testing.assert_allclose(engine.infer(x), expected, rtol=1e-6, atol=1e-6)
