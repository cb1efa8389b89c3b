"""ONNX Runtime's per-layer profile: its kernels' times, and the nodes of the built graph each one computes."""

import os

import onnx
import pytest
from onnx import TensorProto, helper

from trtbench.backends import create
from trtbench.backends.onnxruntime import _kernel_times, _profile_from, covered_nodes
from trtbench.errors import TrtbenchError


def _profiled(path, precision, iterations=30, attempts=3):
    """A profile whose medians of parts are within 5% of its median of sums, if one of ``attempts`` is.

    Medians of parts and the median of sums agree when the noise is small; when another process takes
    the CPU, a few kernels of most runs are descheduled for a time slice, which moves every run's sum
    but no kernel's median. One thread, because a kernel split over threads waits for its slowest one,
    and up to three profiles, because other tests may share this machine: on a quiet one the first is it.
    """
    backend = create("onnxruntime-cpu", {"threads": 1})
    with backend.build(path, precision, 1, path.parent / "engines") as engine:
        session = engine.session
        for _ in range(attempts):
            profile = engine.profile_layers(iterations)
            if abs(_parts_ms(profile) - profile.total_ms) <= 0.05 * profile.total_ms:
                break
        assert engine.session is session and engine.iterate()["latency"] > 0  # the timed session is untouched
    return engine, profile, onnx.load(engine.info["graph"], load_external_data=False).graph


def _parts_ms(profile):
    return sum(layer.median_ms for layer in profile.layers)


def _assert_parts_add_up(profile):
    """The layers' medians sum to within 5% of the median of the runs' sums, where the machine was ours.

    Other processes wanting the CPUs only ever lower the parts against the sum (see _profiled); the 5%
    floor holds on a machine whose load stays under its CPUs, the ceiling everywhere.
    """
    parts, total = _parts_ms(profile), profile.total_ms
    assert 0 < parts <= 1.05 * total, (parts, total)
    if os.getloadavg()[0] < (os.cpu_count() or 1):
        assert parts >= 0.95 * total, (parts, total)


def _conv_coverage(profile, graph):
    convs = [node.name for node in graph.node if node.op_type == "Conv"]
    covered = {name for layer in profile.layers for name in layer.nodes}
    return sum(name in covered for name in convs) / len(convs)


@pytest.mark.slow
def test_fp32_kernels_cover_every_node_and_their_medians_add_up(exported):
    _, results = exported
    _, profile, graph = _profiled(results["ResNet18"].onnx_path, "fp32")
    assert profile.engine == "ONNX Runtime profiler" and profile.iterations == 30 and profile.notes == []
    assert _conv_coverage(profile, graph) == 1.0
    covered = [name for layer in profile.layers for name in layer.nodes]
    assert sorted(covered) == sorted(node.name for node in graph.node)  # each node once, none left out
    first = profile.layers[0]  # the stem: a NCHWc convolution with its batch norm and ReLU folded in
    assert (first.kind, first.precision, first.nodes) == ("Conv", "fp32", ("Conv.0", "BatchNormalization.0",
                                                                          "Relu.0"))
    # a residual block's last convolution also sums the shortcut and applies the ReLU after it
    assert any({"Conv.2", "Add.0", "Relu.2"} <= set(layer.nodes) for layer in profile.layers)
    assert all(layer.precision == "fp32" for layer in profile.layers if layer.kind == "Conv")
    (reorder,) = [layer for layer in profile.layers if layer.kind == "ReorderOutput"]
    assert reorder.inserted and reorder.nodes == ()
    _assert_parts_add_up(profile)


@pytest.mark.slow
def test_int8_kernels_are_integer_and_cover_the_quantize_dequantize_pairs(exported):
    _, results = exported
    _, profile, graph = _profiled(results["ResNet18"].onnx_path, "int8")
    assert profile.notes == [] and _conv_coverage(profile, graph) == 1.0
    convs = [layer for layer in profile.layers if layer.kind == "QLinearConv"]
    assert len(convs) == 21 and all(layer.precision == "int8" for layer in convs)
    # QLinearConv computes its input's DequantizeLinear, its weight's and bias's, the Conv and its output's
    # QuantizeLinear: the names are the Q/DQ graph's, none of which the fused node kept
    stem = next(layer for layer in convs if "Conv.0" in layer.nodes)
    assert {op for node in graph.node if node.name in stem.nodes for op in [node.op_type]} == {
        "DequantizeLinear", "Conv", "QuantizeLinear"} and len(stem.nodes) == 5
    transposes = [layer for layer in profile.layers if layer.kind == "Transpose"]
    assert transposes and all(layer.inserted and not layer.nodes for layer in transposes)  # NHWC layout
    covered = {name for layer in profile.layers for name in layer.nodes}
    assert covered == {node.name for node in graph.node}
    _assert_parts_add_up(profile)


@pytest.mark.slow
def test_profiling_needs_an_active_engine_and_an_iteration(exported, tmp_path):
    _, results = exported
    engine = create("onnxruntime-cpu", {"threads": 1}).build(results["ResNet18"].onnx_path, "fp32", 1, tmp_path)
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        engine.profile_layers(3)
    with engine, pytest.raises(TrtbenchError, match="at least 1 iteration, not 0"):
        engine.profile_layers(0)


def _event(cat, name, ts, dur, **args):
    return {"cat": cat, "name": name, "ts": ts, "dur": dur, "ph": "X", "args": args}


def test_kernel_times_are_grouped_per_run_and_odd_events_are_skipped():
    events = [
        _event("Session", "model_run", 100, 50),
        _event("Node", "conv_fence_before", 101, 1),
        _event("Node", "conv_kernel_time", 102, 2000),
        _event("Node", "relu_kernel_time", 110, 500),
        _event("Session", "model_run", 200, 50),
        _event("Node", "conv_kernel_time", 201, 3000),
        _event("Node", "relu_kernel_time", "soon", 500),  # no number: skipped
        {"cat": "Node", "name": 7},
        "not an event",
        _event("Node", "stray_kernel_time", 500, 10),  # in no run
    ]
    assert _kernel_times(events) == [{"conv": 2.0, "relu": 0.5}, {"conv": 3.0}]
    assert _kernel_times({"traceEvents": []}) == []


def _graphs():
    """A Conv -> BatchNormalization -> Add(shortcut) -> Identity -> Relu block as exported, and as ONNX
    Runtime's NCHWc transformer writes it: one Conv named after the BatchNormalization's output that sums
    the shortcut and applies the ReLU, between reorders, on tensors of new names."""
    float_in = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 4, 4])]
    float_out = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 4, 4])]
    weights = [helper.make_tensor(name, TensorProto.FLOAT, [1], [1.0]) for name in ("w", "s", "b", "m", "v")]
    exported = helper.make_graph([
        helper.make_node("Conv", ["x", "w"], ["c"], name="Conv.0"),
        helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["bn"], name="BN.0"),
        helper.make_node("Add", ["bn", "x"], ["sum"], name="Add.0"),
        helper.make_node("Identity", ["sum"], ["same"], name="Identity.0"),
        helper.make_node("Relu", ["same"], ["y"], name="Relu.0"),
    ], "exported", float_in, float_out, weights)
    optimized = helper.make_graph([
        helper.make_node("ReorderInput", ["x"], ["reorder_token_0"], name="ReorderInput", domain="com.microsoft.nchwc"),
        helper.make_node("Conv", ["reorder_token_0", "reorder", "b", "reorder_token_0"], ["reorder_token_1"],
                         name="bn_nchwc", domain="com.microsoft.nchwc", activation="Relu"),
        helper.make_node("ReorderOutput", ["reorder_token_1"], ["y"], name="ReorderOutput",
                         domain="com.microsoft.nchwc"),
        helper.make_node("Softmax", ["y"], ["renamed"], name="made_up"),
    ], "optimized", float_in, [helper.make_tensor_value_info("renamed", TensorProto.FLOAT, [1])],
        [helper.make_tensor("reorder", TensorProto.FLOAT, [1], [1.0]), weights[2]])
    return exported, optimized


def test_a_renamed_fused_node_covers_what_lies_between_its_inputs_and_its_folded_output():
    exported, optimized = _graphs()
    assert covered_nodes(optimized, exported) == {
        "ReorderInput": ((), True),
        "bn_nchwc": (("Conv.0", "BN.0", "Add.0", "Identity.0", "Relu.0"), False),
        "ReorderOutput": ((), True),
        "made_up": ((), False),  # neither its name nor its output is the exported graph's
    }
    # without the activation attribute, the ReLU is not the Conv's: it stays outside the walk
    del optimized.node[1].attribute[:]
    assert covered_nodes(optimized, exported)["bn_nchwc"] == (("Conv.0", "BN.0", "Add.0", "Identity.0"), False)


def test_profile_medians_are_per_layer_and_the_total_the_median_of_sums_with_unmapped_noted():
    exported, optimized = _graphs()
    runs = [{"ReorderInput": 0.5, "bn_nchwc": 1.0, "made_up": 3.0},
            {"ReorderInput": 0.25, "bn_nchwc": 2.0, "made_up": 1.0},
            {"ReorderInput": 0.5, "bn_nchwc": 9.0, "made_up": 2.0}]
    kernels = {"made_up": {"input_type_shape": [{"float16": [1]}]}}
    profile = _profile_from(runs, optimized, exported, kernels)
    assert [(layer.name, layer.kind, layer.median_ms, layer.precision) for layer in profile.layers] == [
        ("ReorderInput", "ReorderInput", 0.5, None), ("bn_nchwc", "Conv", 2.0, "fp32"),
        ("made_up", "Softmax", 2.0, "fp16")]
    assert profile.total_ms == 4.5  # sums 4.5, 3.25, 11.5
    assert profile.iterations == 3 and profile.mapped_ms == 2.0 and profile.unmapped_ms == 2.5
    assert profile.notes == ["ONNX Runtime kernel made_up (Softmax) maps to no node of the built graph: its "
                             "inputs and outputs could not be traced back to the built graph's tensors"]
