import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from trtbench import graph


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


def test_batch_dimension_gets_one_name():
    model = graph.name_batch_dimension(_tiny_model())
    assert graph.input_shape(model) == ("x", ["batch", 3, 8, 8])
    assert model.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
