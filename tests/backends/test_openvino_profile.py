"""OpenVINO's per-layer profile: performance counters of a separately compiled copy, each executed node
tied back to the ONNX nodes it covers (by hand-made counters, then for real on ResNet18)."""

from __future__ import annotations

import pytest

from trtbench.backends.openvino import (
    ExecutedNode,
    OnnxNode,
    OpenVinoBackend,
    OpenVinoConfig,
    layer_precision,
    onnx_nodes,
    profile_from,
)
from trtbench.errors import TrtbenchError
from trtbench.measure.profile import LayerProfile
from trtbench.measure.timing import TimingPolicy

ov = pytest.importorskip("openvino")

# conv -> bn -> relu -> (identity) -> matmul, as the ONNX frontend and the CPU plugin name them
GRAPH = [OnnxNode("Conv.0", ("x", "w"), ("c",)), OnnxNode("BatchNormalization.0", ("c",), ("b",)),
         OnnxNode("Relu.0", ("b",), ("r",)), OnnxNode("Identity.0", ("r",), ("i",)),
         OnnxNode("MatMul.0", ("i", "m"), ("y",))]
READ = {"x", "Conv.0", "BatchNormalization.0", "Relu.0", "Identity.0", "MatMul.0", "y"}
RUNTIME = {
    "x_reorder": {"originalLayersNames": "", "layerType": "Reorder", "runtimePrecision": "f32"},
    "Multiply_7": {"originalLayersNames": "Multiply_7,BatchNormalization.0,Relu.0", "layerType": "Convolution",
                   "runtimePrecision": "bf16"},
    "y": {"originalLayersNames": "y", "layerType": "FullyConnected", "runtimePrecision": "u8"},
    "Convert_9": {"originalLayersNames": "Convert_9", "layerType": "Subgraph", "runtimePrecision": "f16"},
    "Mystery_1": {"originalLayersNames": "Mystery_1,Gone.3", "layerType": "Eltwise"},
}
read_with_mystery = READ | {"Gone.3"}


def _run(reorder, conv, fc, convert=0.0, mystery=None):
    run = [ExecutedNode("x_reorder", "Reorder", "reorder_brgemm_f32", reorder),
           ExecutedNode("Multiply_7", "Convolution", "brgconv_avx512_amx_bf16", conv),
           ExecutedNode("y", "FullyConnected", "brgemm_avx512_amx_I8", fc),
           ExecutedNode("Convert_9", "Subgraph", "jit_avx512_f16", convert)]
    return run if mystery is None else [*run, ExecutedNode("Mystery_1", "Eltwise", "jit_avx512_f32", mystery)]


def test_layers_are_medians_tied_to_the_onnx_nodes_they_cover():
    runs = [_run(0.1, 2.0, 0.5), _run(0.3, 1.0, 0.4), _run(0.2, 3.0, 0.6, mystery=0.05)]
    profile = profile_from(runs, RUNTIME, GRAPH, read_with_mystery)
    assert profile.engine == "OpenVINO performance counters" and profile.iterations == 3
    by_name = {layer.name: layer for layer in profile.layers}
    assert list(by_name) == ["x_reorder", "Multiply_7", "y", "Convert_9", "Mystery_1"]  # executed order
    reorder, conv, fc, convert, mystery = by_name.values()
    assert (reorder.kind, reorder.median_ms, reorder.nodes, reorder.inserted) == ("Reorder", 0.2, (), True)
    # the convolution renamed after the batch norm's multiply gets the Conv whose output only it reads
    assert conv.nodes == ("BatchNormalization.0", "Relu.0", "Conv.0") and not conv.inserted
    assert (conv.median_ms, conv.precision) == (2.0, "bf16")
    # named after its output tensor; the Identity OpenVINO removed is folded into it
    assert fc.nodes == ("MatMul.0", "Identity.0") and fc.precision == "int8" and fc.median_ms == 0.5
    # a conversion OpenVINO made while compiling: named, but after no node of the model it read
    assert convert.inserted and convert.nodes == () and convert.precision == "fp16"
    # ran in one inference of three: 0 in the others, so its median is 0 (it ran, so it is listed)
    assert mystery.median_ms == 0.0 and mystery.precision == "fp32"
    assert mystery.nodes == () and not mystery.inserted
    assert profile.notes == ["Mystery_1 (Eltwise): OpenVINO names Mystery_1, Gone.3, no node of the ONNX graph "
                             "and none folded into it"]
    # the median of the per-inference sums: 2.6, 1.7, 3.85
    assert profile.total_ms == pytest.approx(2.6)
    assert profile.mapped_ms == pytest.approx(2.5) and profile.unmapped_ms == pytest.approx(0.2)


def test_onnx_nodes_in_no_layer_are_noted():
    graph = [*GRAPH, OnnxNode("Shape.0", ("x",), ("s",))]  # read by nothing: folded into a constant
    profile = profile_from([_run(0.1, 1.0, 0.5)], RUNTIME, graph, READ)
    assert profile.notes == ["1 ONNX nodes are in no executed layer (folded into constants, run as no-ops or "
                             "read by several layers): "
                             "Shape.0"]


def test_the_precision_from_the_runtime_model_or_the_kernel():
    assert layer_precision("bf16", "reorder_f32") == "bf16"
    assert layer_precision("U8", "") == "int8" and layer_precision("i8", "") == "int8"
    assert layer_precision(None, "brgemm_avx512_amx_I8") == "int8"
    assert layer_precision(None, "jit_avx512_amx_bf16") == "bf16"
    assert layer_precision("", "ref_any_f16") == "fp16"
    assert layer_precision("i32", "unknown_i32") is None and layer_precision(None, "undef") is None


def _tiny_onnx(path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(3).standard_normal((8, 3, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["conv"], name="conv", strides=[2, 2], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
         helper.make_node("GlobalAveragePool", ["relu"], ["pool"], name="pool"),
         helper.make_node("Flatten", ["pool"], ["y"], name="flatten")],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])], [numpy_helper.from_array(weights, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_tiny_engine_profiles_without_touching_its_own_request(tmp_path):
    graph = _tiny_onnx(tmp_path / "tiny.onnx")
    engine = OpenVinoBackend(OpenVinoConfig(threads=1)).build(graph, "fp32", 2, tmp_path / "engines")
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        engine.profile_layers(3)
    with engine:
        request, compiled = engine.request, engine.compiled
        profile = engine.profile_layers(3)
        assert engine.request is request and engine.compiled is compiled
        assert str(compiled.get_property("PERF_COUNT")) in ("NO", "False")  # the timed model never counts
        assert engine.iterate()["latency"] > 0
        with pytest.raises(TrtbenchError, match="at least one iteration, not 0"):
            engine.profile_layers(0)
    assert profile.iterations == 3 and profile.total_ms > 0
    covered = {node for layer in profile.layers for node in layer.nodes}
    assert {"conv", "relu", "pool"} <= covered
    assert all(layer.median_ms >= 0 for layer in profile.layers)
    (conv,) = [layer for layer in profile.layers if "conv" in layer.nodes]
    assert conv.kind == "Convolution" and conv.precision == "fp32" and "relu" in conv.nodes
    assert LayerProfile.from_json(profile.to_json()) == profile


def test_a_graph_damaged_after_the_build_is_one_line(tmp_path):
    graph = _tiny_onnx(tmp_path / "tiny.onnx")
    with OpenVinoBackend(OpenVinoConfig(threads=1)).build(graph, "fp32", 1, tmp_path / "engines") as engine:
        graph.write_bytes(b"\x00not onnx")
        with pytest.raises(TrtbenchError, match=r"^cannot read the ONNX graph .*tiny.onnx to map OpenVINO's layers"):
            engine.profile_layers(2)
        assert engine.iterate()["latency"] > 0  # the engine itself runs on


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16", "int8"])
def test_resnet18_layers_cover_its_convolutions_and_hold_all_its_time(exported, tmp_path, precision):
    if precision in ("bf16", "fp16") and not OpenVinoBackend().runs(precision)[0]:
        pytest.skip(OpenVinoBackend().runs(precision)[1])
    _, results = exported
    with OpenVinoBackend(OpenVinoConfig(threads=2)).build(results["ResNet18"].onnx_path, precision, 1,
                                                          tmp_path) as engine:
        engine.timed(TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=3))  # profiled after its timed run
        profile = engine.profile_layers(30)
        once = engine.profile_layers(1)
        convs = [node.name for node in onnx_nodes(engine.graph) if node.name.startswith("Conv")]
    covered = {node for layer in profile.layers for node in layer.nodes}
    assert len(convs) >= 20 and sum(conv in covered for conv in convs) / len(convs) >= 0.95
    # every executed node's time is in a layer: over one inference the layers add up to the total. (Over
    # 30, the medians of the parts measured within 1% of the median of the sums on an idle machine, and
    # down to 9% under on a loaded one: preemption lands on a different layer each inference.)
    assert sum(layer.median_ms for layer in once.layers) == pytest.approx(once.total_ms, rel=1e-9)
    assert profile.total_ms > 0 and profile.iterations == 30
    convolutions = [layer for layer in profile.layers if layer.kind == "Convolution"]
    assert convolutions and {layer.precision for layer in convolutions} == {precision}
    assert all(layer.nodes and not layer.inserted for layer in convolutions)
    assert [layer for layer in profile.layers if layer.inserted and layer.kind == "Reorder"]
