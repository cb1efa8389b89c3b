import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.graphs.test_graph import _tiny_model
from trtbench.checks.verify import compare, judge
from trtbench.errors import TrtbenchError
from trtbench.graphs import graph
from trtbench.graphs.inputs import VERIFY_SEED, seeded_input
from trtbench.graphs.int8 import INT8_METHOD, INT8_ORT_METHOD
from trtbench.graphs.precision import (
    GRAPH_KIND,
    Calibration,
    graph_for,
    graph_path,
    parse_precisions,
)
from trtbench.store import artifacts


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


def _residual_model():
    """A ResNet in miniature at the zoo's input shape: stem Conv+BN+Relu, a projection block
    (two Conv+BN on the main branch, a 1x1 Conv+BN shortcut, Add, Relu), pooling and a Gemm head."""
    rng = np.random.default_rng(8)
    weights = {"stem": rng.normal(0, 0.3, (8, 3, 3, 3)), "a": rng.normal(0, 0.2, (8, 8, 3, 3)),
               "b": rng.normal(0, 0.2, (8, 8, 3, 3)), "s": rng.normal(0, 0.4, (8, 8, 1, 1)),
               "fc": rng.normal(0, 0.5, (5, 8)), "fc_bias": rng.normal(0, 0.1, 5)}
    nodes = []
    for conv, src, kernel, stride in (("stem", "x", 3, 8), ("a", "r0", 3, 1), ("b", "r1", 3, 1), ("s", "r0", 1, 1)):
        pad = kernel // 2
        nodes += [helper.make_node("Conv", [src, conv], [f"{conv}_c"], kernel_shape=[kernel, kernel],
                                   strides=[stride, stride], pads=[pad] * 4),
                  helper.make_node("BatchNormalization", [f"{conv}_c", *(f"{conv}_{p}" for p in "gbmv")],
                                   [f"{conv}_n"])]
        weights.update({f"{conv}_g": rng.uniform(0.5, 1.5, 8), f"{conv}_b": rng.normal(0, 0.2, 8),
                        f"{conv}_m": rng.normal(0, 0.2, 8), f"{conv}_v": rng.uniform(0.5, 1.5, 8)})
    nodes.insert(2, helper.make_node("Relu", ["stem_n"], ["r0"]))
    nodes.insert(5, helper.make_node("Relu", ["a_n"], ["r1"]))
    nodes += [helper.make_node("Add", ["b_n", "s_n"], ["sum"]),
              helper.make_node("Relu", ["sum"], ["r2"]),
              helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
              helper.make_node("Flatten", ["g"], ["f"]),
              helper.make_node("Gemm", ["f", "fc", "fc_bias"], ["y"], transB=1)]
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()]
    g = helper.make_graph(nodes, "mini_resnet",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 224, 224])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


@pytest.fixture
def residual_model(tmp_path):
    path = tmp_path / "Mini.onnx"
    onnx.save(_residual_model(), str(path))
    return path


def test_int8_graph_places_qdq_where_tensorrt_fuses(residual_model):
    model = onnx.load(str(graph_for(residual_model, "int8")))
    onnx.checker.check_model(model, full_check=True)
    nodes = list(model.graph.node)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    producer = {out: node for node in nodes for out in node.output}
    readers = {name: [n for n in nodes if name in n.input] for name in {i for n in nodes for i in n.input}}
    assert "BatchNormalization" not in [n.op_type for n in nodes]
    convs = {n.output[0].removesuffix("_n"): n for n in nodes if n.op_type == "Conv"}  # the BN's output, taken over
    assert set(convs) == {"stem", "a", "b", "s"}
    for node in [*convs.values(), *(n for n in nodes if n.op_type == "Gemm")]:
        data, weight = (producer[name] for name in node.input[:2])
        assert data.op_type == "DequantizeLinear" and producer[data.input[0]].op_type == "QuantizeLinear"
        assert weight.op_type == "DequantizeLinear"
        values, scales, zeros = (inits[name] for name in weight.input)
        assert values.dtype == np.int8 and zeros.dtype == np.int8 and not zeros.any()
        axis = next(a.i for a in weight.attribute if a.name == "axis")
        assert axis == 0 and scales.shape == (values.shape[0],) and (scales > 0).all()  # Gemm: transB=1, (N, K)
        if len(node.input) > 2:
            assert inits[node.input[2]].dtype == np.float32  # biases stay float
    # The stem's output is read by two Convs through one shared Q/DQ pair.
    (quantize,) = [n for n in nodes if n.op_type == "QuantizeLinear" and n.input[0] == "r0"]
    assert convs["a"].input[0] == convs["s"].input[0] == readers[quantize.output[0]][0].output[0]
    # The Add goes into the main branch's last Conv (deeper than the shortcut), read straight;
    # the shortcut Conv's output is the residual input, quantized.
    (add,) = [n for n in nodes if n.op_type == "Add"]
    assert producer[add.input[0]] is convs["b"]
    assert producer[add.input[1]].op_type == "DequantizeLinear"
    assert producer[producer[add.input[1]].input[0]].input[0] == convs["s"].output[0]
    # Nothing sits between a Conv and the Relu after it.
    assert producer["r0"].input[0] == convs["stem"].output[0] and producer["r1"].input[0] == convs["a"].output[0]


def test_int8_activation_scale_is_the_calibration_range_over_127(residual_model):
    model = onnx.load(str(graph_for(residual_model, "int8")))
    (quantize,) = [n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x"]
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    amax = max(float(np.abs(x).max()) for x in Calibration().inputs())
    assert inits[quantize.input[1]].shape == ()
    np.testing.assert_allclose(inits[quantize.input[1]], amax / 127, rtol=1e-6)
    assert inits[quantize.input[2]].dtype == np.int8 and inits[quantize.input[2]] == 0


def test_int8_graph_runs_and_follows_fp32(residual_model):
    import onnxruntime as ort

    x = seeded_input(8, VERIFY_SEED)
    full = ort.InferenceSession(str(residual_model)).run(None, {"x": x})[0]
    quant = ort.InferenceSession(str(graph_for(residual_model, "int8"))).run(None, {"x": x})[0]
    figures = compare(full, quant)
    assert judge(figures, "int8") == [] and figures["max_rel_error"] < 0.05


def test_int8_graphs_made_by_an_older_method_are_remade(residual_model):
    path = graph_for(residual_model, "int8")
    meta = artifacts.read_metadata(path, GRAPH_KIND)
    assert meta["key"]["method"] == INT8_METHOD and INT8_METHOD.startswith("bn-folded explicit Q/DQ")
    stale = json.loads(artifacts.metadata_path(path).read_text())
    del stale["key"]["method"]  # as graph_for recorded the quantize_static graphs
    artifacts.metadata_path(path).write_text(json.dumps(stale))
    assert "method changed" in artifacts.why_not_reusable(path, GRAPH_KIND, meta["key"])
    graph_for(residual_model, "int8")
    assert artifacts.read_metadata(path, GRAPH_KIND)["key"]["method"] == INT8_METHOD
    # and those made before the pooled shortcuts read the shared dequantized tensor
    stale = json.loads(artifacts.metadata_path(path).read_text())
    stale["key"]["method"] = "bn-folded explicit Q/DQ"
    artifacts.metadata_path(path).write_text(json.dumps(stale))
    assert "method changed" in artifacts.why_not_reusable(path, GRAPH_KIND, meta["key"])


def test_int8_onnxruntime_form_is_a_graph_of_its_own_with_its_own_key(residual_model):
    import onnxruntime as ort

    tensorrt = graph_for(residual_model, "int8")
    ort_form = graph_for(residual_model, "int8", form="onnxruntime")
    assert ort_form == graph_path(residual_model, "int8", "onnxruntime") == residual_model.with_name(
        "Mini.int8-ort.onnx")
    assert tensorrt == graph_path(residual_model, "int8") != ort_form
    key = artifacts.read_metadata(ort_form, GRAPH_KIND)["key"]
    assert key["form"] == "onnxruntime" and key["method"] == INT8_ORT_METHOD
    assert key["quantizer"] == f"onnxruntime {ort.__version__}"
    assert key["calibration"] == Calibration().key()
    assert key["source_sha256"] == artifacts.sha256_file(residual_model)
    # The TensorRT form keeps the fields its key had (its method names the Q/DQ placement).
    assert set(artifacts.read_metadata(tensorrt, GRAPH_KIND)["key"]) == {
        "precision", "source_sha256", "method", "calibrator", "calibration"}
    stamp = ort_form.stat().st_mtime_ns
    assert graph_for(residual_model, "int8", form="onnxruntime").stat().st_mtime_ns == stamp  # cached
    other = graph_for(residual_model, "int8", Calibration(seed=1), form="onnxruntime")
    assert other == ort_form and artifacts.read_metadata(other, GRAPH_KIND)["key"]["calibration"] == \
        Calibration(seed=1).key()


def test_unknown_int8_form_is_refused(residual_model):
    with pytest.raises(TrtbenchError,
                       match="unknown INT8 form 'openvino': choose from tensorrt, tensorrt-fp16, onnxruntime"):
        graph_for(residual_model, "int8", form="openvino")


def test_int8_onnxruntime_form_quantizes_around_every_conv_with_uint8_activations(residual_model):
    model = onnx.load(str(graph_for(residual_model, "int8", form="onnxruntime")))
    onnx.checker.check_model(model, full_check=True)
    nodes = list(model.graph.node)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    producer = {out: node for node in nodes for out in node.output}
    readers = {name: [n for n in nodes if name in n.input] for name in {i for n in nodes for i in n.input}}
    assert [n.op_type for n in nodes].count("BatchNormalization") == 0
    assert [n.op_type for n in nodes].count("Relu") == 0  # each went into its Conv's uint8 zero point
    convs = [n for n in nodes if n.op_type == "Conv"]
    assert len(convs) == 4
    for conv in convs:
        data, weight, bias = (producer[name] for name in conv.input)
        assert data.op_type == weight.op_type == bias.op_type == "DequantizeLinear", conv.name
        quantize = producer[data.input[0]]
        assert quantize.op_type == "QuantizeLinear" and inits[quantize.input[2]].dtype == np.uint8
        values, scales, zeros = (inits[name] for name in weight.input)
        axis = next((a.i for a in weight.attribute if a.name == "axis"), 1)
        assert values.dtype == np.int8 and axis == 0 and scales.shape == (values.shape[0],)
        assert zeros.dtype == np.int8 and not zeros.any() and np.abs(values).max() == 127  # symmetric
        assert inits[bias.input[0]].dtype == np.int32
        # The output goes to a QuantizeLinear only: what ONNX Runtime needs to fuse QLinearConv.
        assert [n.op_type for n in readers[conv.output[0]]] == ["QuantizeLinear"], conv.name
    for quantize in (n for n in nodes if n.op_type == "QuantizeLinear"):
        assert inits[quantize.input[2]].dtype == np.uint8
    # The stem read the image: a uint8 zero point away from 0 (asymmetric), the rest read ReLU outputs (0).
    (image_q,) = [n for n in nodes if n.op_type == "QuantizeLinear" and n.input[0] == "x"]
    assert 0 < inits[image_q.input[2]] < 255
    assert model.graph.output[0].name == "y" and producer["y"].op_type == "Gemm"  # the logits stay float


def test_int8_onnxruntime_form_follows_fp32(residual_model):
    import onnxruntime as ort

    x = seeded_input(8, VERIFY_SEED)
    full = ort.InferenceSession(str(residual_model)).run(None, {"x": x})[0]
    quant = ort.InferenceSession(str(graph_for(residual_model, "int8", form="onnxruntime"))).run(None, {"x": x})[0]
    figures = compare(full, quant)
    assert judge(figures, "int8") == [] and figures["max_rel_error"] < 0.05, figures


def _int8_in_a_process(path, form, counter, barrier, queue):
    """One of two processes asking for the same INT8 graph at the same moment; each make is counted."""
    from trtbench.graphs import int8, precision

    for name in ("write_tensorrt_form", "write_onnxruntime_form"):
        real = getattr(int8, name)

        def counted(*args, real=real):
            with open(counter, "a") as handle:
                handle.write("made\n")
            return real(*args)

        setattr(int8, name, counted)
    barrier.wait()
    made = precision.graph_for(path, "int8", form=form)
    queue.put((str(made), artifacts.valid(made, GRAPH_KIND).sha256, artifacts.sha256_file(made)))


@pytest.mark.parametrize("form", ["tensorrt", "onnxruntime"])
def test_two_processes_asking_for_one_int8_graph_both_get_it_made_once(residual_model, tmp_path, form):
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # onnxruntime's threads do not survive a fork
    counter = tmp_path / "made.txt"
    barrier, queue = context.Barrier(2), context.Queue()
    workers = [context.Process(target=_int8_in_a_process, args=(residual_model, form, counter, barrier, queue))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert counter.read_text() == "made\n"
    assert len(set(results)) == 1 and results[0][1] == results[0][2]
    assert results[0][0] == str(graph_path(residual_model, "int8", form))
    leftovers = [p.name for p in residual_model.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
