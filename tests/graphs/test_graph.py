import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from trtbench.graphs import graph
from trtbench.graphs.inputs import VERIFY_SEED, seeded_input


def _tiny_model():
    """x[N,3,8,8] -> Conv(4,3x3,stride 2,pad 1) -> BN -> GlobalAveragePool -> Flatten -> MatMul(4x5) -> Add."""
    rng = np.random.default_rng(0)
    weights = {
        "w": rng.normal(size=(4, 3, 3, 3)), "scale": np.ones(4), "shift": np.zeros(4),
        "mean": np.zeros(4), "var": np.ones(4), "fc": rng.normal(size=(4, 5)), "bias": np.zeros(5),
    }
    nodes = [
        helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(weights["w"].astype(np.float32))),
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "scale", "shift", "mean", "var"], ["b"]),
        helper.make_node("GlobalAveragePool", ["b"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("MatMul", ["f", "fc"], ["m"]),
        helper.make_node("Add", ["m", "bias"], ["y"]),
    ]
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items() if k != "w"]
    g = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def test_constants_become_initializers():
    model = graph.constants_to_initializers(_tiny_model())
    assert "Constant" not in [n.op_type for n in model.graph.node]
    assert "w" in {t.name for t in model.graph.initializer}
    onnx.checker.check_model(model)


def test_counts_macs_and_trainable_parameters_by_hand():
    counts = graph.count(graph.constants_to_initializers(_tiny_model()))
    conv = 4 * 4 * 4 * (3 * 3 * 3)  # out C*H*W x (in x kh x kw)
    fc = 4 * 5
    assert counts.macs == conv + fc
    # conv weight, BN scale+shift (not running mean/var), fc weight, fc bias
    assert counts.params == 4 * 3 * 3 * 3 + 4 + 4 + 20 + 5
    assert counts.flops_g == 2 * (conv + fc) / 1e9
    assert counts.convs == 1


def test_batch_dimension_gets_one_name():
    model = graph.name_batch_dimension(_tiny_model())
    assert graph.input_shape(model) == ("x", ["batch", 3, 8, 8])
    assert model.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def _run(model, x, optimize=True):
    """The first output of ``model`` on ``x`` in ONNX Runtime; unoptimized, it cannot fold BN itself."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def _conv_bn_model(extra_reader=False):
    """x -> Conv(bias) -> BN -> Relu -> grouped Conv(no bias) -> BN -> y, BN statistics far from identity.

    With ``extra_reader`` the first Conv's output also feeds an Add, so its BN must stay.
    """
    rng = np.random.default_rng(3)
    weights = {
        "w1": rng.normal(size=(6, 3, 3, 3)), "b1": rng.normal(size=6),
        "w2": rng.normal(size=(6, 2, 3, 3)),
    }
    for bn in ("bn1", "bn2"):
        weights.update({f"{bn}_scale": rng.uniform(0.3, 2.0, 6), f"{bn}_shift": rng.normal(size=6),
                        f"{bn}_mean": rng.normal(size=6), f"{bn}_var": rng.uniform(0.1, 3.0, 6)})
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn1_scale", "bn1_shift", "bn1_mean", "bn1_var"], ["n1"],
                         epsilon=1e-3),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=3),
        helper.make_node("BatchNormalization", ["c2", "bn2_scale", "bn2_shift", "bn2_mean", "bn2_var"], ["y"]),
    ]
    if extra_reader:
        nodes[2:3] = [helper.make_node("Add", ["n1", "c1"], ["a1"]), helper.make_node("Relu", ["a1"], ["r1"])]
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()]
    g = helper.make_graph(nodes, "conv_bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 10, 10])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 6, 10, 10])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _max_rel_error(reference, got):
    return float(np.abs(got.astype(np.float64) - reference).max() / np.abs(reference).max())


def test_batch_norms_fold_into_the_convs_before_them():
    original = _conv_bn_model()
    folded = graph.fold_batch_norms(_conv_bn_model())
    onnx.checker.check_model(folded, full_check=True)
    assert [n.op_type for n in folded.graph.node] == ["Conv", "Relu", "Conv"]
    first, _, second = folded.graph.node
    assert len(first.input) == 3 and len(second.input) == 3  # the bias-less Conv got one
    assert second.output[0] == "y"  # the graph's output keeps its name
    # only the folded weights are left: the float originals and the BN parameters are gone
    assert {t.name for t in folded.graph.initializer} == {*first.input[1:], *second.input[1:]}
    x = np.random.default_rng(4).standard_normal((2, 3, 10, 10)).astype(np.float32)
    reference = _run(original, x, optimize=False)
    assert _max_rel_error(reference, _run(folded, x, optimize=False)) < 1e-5


def test_a_conv_output_read_elsewhere_keeps_its_batch_norm():
    folded = graph.fold_batch_norms(_conv_bn_model(extra_reader=True))
    assert [n.op_type for n in folded.graph.node] == ["Conv", "BatchNormalization", "Add", "Relu", "Conv"]
    x = np.random.default_rng(5).standard_normal((1, 3, 10, 10)).astype(np.float32)
    reference = _run(_conv_bn_model(extra_reader=True), x, optimize=False)
    assert _max_rel_error(reference, _run(folded, x, optimize=False)) < 1e-5


def test_a_graph_without_conv_batch_norm_pairs_is_left_alone():
    model = graph.constants_to_initializers(_tiny_model())
    model.graph.node[0].op_type = "Relu"  # the BN now follows a Relu
    del model.graph.node[0].input[1:]
    before = model.SerializeToString()
    assert graph.fold_batch_norms(model).SerializeToString() == before


@pytest.mark.slow
def test_folding_the_exported_resnet18_changes_nothing_but_rounding(exported):
    _, results = exported
    path = results["ResNet18"].onnx_path
    folded = graph.fold_batch_norms(onnx.load(str(path)))
    ops = [n.op_type for n in folded.graph.node]
    assert "BatchNormalization" not in ops and ops.count("Conv") == 21
    x = seeded_input(4, VERIFY_SEED)
    reference = _run(onnx.load(str(path)), x, optimize=False)
    assert _max_rel_error(reference, _run(folded, x, optimize=False)) < 1e-5
