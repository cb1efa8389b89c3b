"""INT8 by explicit quantization: Q/DQ graphs laid out for TensorRT (on ONNX Runtime and through the TensorRT
double), and the same recipe laid out for ONNX Runtime's CPU provider."""

import collections

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, numpy_helper

from tests.fakes.cuda import FakeCuda
from tests.fakes.tensorrt import FakeTensorRT
from trtbench.backends import create
from trtbench.backends.onnxruntime import executed_from_graph
from trtbench.backends.tensorrt import TensorRTBackend
from trtbench.checks.verify import THRESHOLDS, centred_cosines, centred_judged, compare, judge
from trtbench.graphs.inputs import VERIFY_SEED, seeded_input
from trtbench.graphs.precision import Calibration, calibration_from, graph_for

pytestmark = pytest.mark.slow


class Graph:
    """An INT8 model with its nodes indexed by the tensors they make and read."""

    def __init__(self, path):
        self.model = onnx.load(str(path))
        self.nodes = list(self.model.graph.node)
        self.producer = {out: node for node in self.nodes for out in node.output}
        self.readers = collections.defaultdict(list)
        for node in self.nodes:
            for name in node.input:
                self.readers[name].append(node)
        self.inits = {t.name: t for t in self.model.graph.initializer}

    def of(self, op_type):
        return [node for node in self.nodes if node.op_type == op_type]

    def made_by(self, name):
        node = self.producer.get(name)
        return node.op_type if node is not None else None

    def array(self, name):
        return numpy_helper.to_array(self.inits[name])


@pytest.fixture(scope="module")
def int8_graph(exported):
    models_dir, results = exported
    path = results["ResNet18"].onnx_path
    return path, graph_for(path, "int8", Calibration(seed=0))


@pytest.fixture(scope="module")
def int8_graphs(exported, int8_graph):
    """Both exports' INT8 graphs: a basic-block ResNet and a bottleneck one with pooled (vd) shortcuts."""
    _, results = exported
    return {"ResNet18": Graph(int8_graph[1]),
            "ResNet50_vd": Graph(graph_for(results["ResNet50_vd"].onnx_path, "int8", Calibration(seed=0)))}


@pytest.mark.parametrize("name", ["ResNet18", "ResNet50_vd"])
def test_batch_norms_are_folded_into_the_convs(int8_graphs, name):
    g = int8_graphs[name]
    onnx.checker.check_model(g.model, full_check=True)
    assert g.of("BatchNormalization") == []
    assert len(g.of("Conv")) == {"ResNet18": 21, "ResNet50_vd": 55}[name]
    for conv in g.of("Conv"):  # each took its BN's shift as a float bias
        assert g.inits[conv.input[2]].data_type == TensorProto.FLOAT


@pytest.mark.parametrize("name", ["ResNet18", "ResNet50_vd"])
def test_every_conv_and_matmul_reads_a_dequantized_input_and_int8_per_channel_weights(int8_graphs, name):
    g = int8_graphs[name]
    weighted = g.of("Conv") + g.of("Gemm") + g.of("MatMul")
    assert len(g.of("MatMul")) == 1  # the classifier head: (512 or 2048) x 1000
    for node in weighted:
        data, weight = (g.producer[i] for i in node.input[:2])
        assert data.op_type == "DequantizeLinear" and g.made_by(data.input[0]) == "QuantizeLinear", node.name
        scale, zero = g.array(data.input[1]), g.array(data.input[2])
        assert scale.shape == () and scale > 0 and zero.dtype == np.int8 and zero == 0  # per tensor, symmetric
        assert weight.op_type == "DequantizeLinear", node.name
        values, scales, zeros = (g.array(i) for i in weight.input)
        axis = next(a.i for a in weight.attribute if a.name == "axis")
        # Conv weights are (out, in, kh, kw); MatMul's are (in, out): one scale per output channel
        assert axis == (0 if node.op_type == "Conv" else 1), node.name
        assert values.dtype == np.int8 and np.abs(values).max() == 127  # symmetric, the range fully used
        assert scales.dtype == np.float32 and scales.shape == (values.shape[axis],) and (scales > 0).all()
        assert zeros.dtype == np.int8 and not zeros.any()
    first = g.of("Conv")[0]
    assert g.made_by(g.producer[first.input[0]].input[0]) == "QuantizeLinear"
    assert g.producer[g.producer[first.input[0]].input[0]].input[0] == g.model.graph.input[0].name  # the image


@pytest.mark.parametrize("name", ["ResNet18", "ResNet50_vd"])
def test_nothing_is_quantized_between_a_conv_and_what_tensorrt_fuses_into_it(int8_graphs, name):
    g = int8_graphs[name]
    for conv in g.of("Conv"):
        for reader in g.readers[conv.output[0]]:
            assert reader.op_type in ("Relu", "Add", "QuantizeLinear"), conv.name
            if reader.op_type == "QuantizeLinear":  # a shortcut Conv, quantized as the residual input
                (dequantize,) = g.readers[reader.output[0]]
                assert {n.op_type for n in g.readers[dequantize.output[0]]} == {"Add"}
    for dequantize in g.of("DequantizeLinear"):  # no INT32 (bias) DequantizeLinear: TensorRT rejects them
        source = dequantize.input[0]
        kind = g.inits[source].data_type if source in g.inits else None
        assert kind in (TensorProto.INT8, None), dequantize.name
        assert g.inits[dequantize.input[2]].data_type == TensorProto.INT8
    for quantize in g.of("QuantizeLinear"):  # INT8 out, and one pair per tensor however many read it
        assert g.inits[quantize.input[2]].data_type == TensorProto.INT8
    assert len({q.input[0] for q in g.of("QuantizeLinear")}) == len(g.of("QuantizeLinear"))


@pytest.mark.parametrize("name", ["ResNet18", "ResNet50_vd"])
def test_residual_adds_read_their_block_conv_straight_and_the_shortcut_quantized(int8_graphs, name):
    g = int8_graphs[name]
    residual = [add for add in g.of("Add") if not set(add.input) & set(g.inits)]
    assert len(residual) == {"ResNet18": 8, "ResNet50_vd": 16}[name]
    for add in residual:
        direct = [i for i in add.input if g.made_by(i) == "Conv"]
        quantized = [i for i in add.input if g.made_by(i) == "DequantizeLinear"]
        assert len(direct) == 1 and len(quantized) == 1, add.name
        # The Add is fused into the block's last Conv (the main branch, which reads the Relu of the
        # Conv before it), not into a projection shortcut (which reads the block's input).
        block_conv = g.producer[direct[0]]
        relu = g.producer[g.producer[g.producer[block_conv.input[0]].input[0]].input[0]]
        assert relu.op_type == "Relu" and g.made_by(relu.input[0]) == "Conv", add.name


def test_the_vd_shortcut_pool_reads_the_dequantized_tensor_its_block_conv_reads(int8_graphs):
    """The previous block's Conv+Add+ReLU can write INT8 only if every reader of its output reads it
    through a Q/DQ pair: the pooled shortcut reads the same dequantized tensor as the first Conv."""
    g = int8_graphs["ResNet50_vd"]
    pools = g.of("AveragePool")
    assert len(pools) == 3  # stages 2-4 downsample through a pooled shortcut
    for pool in pools:
        dequantize = g.producer[pool.input[0]]
        assert dequantize.op_type == "DequantizeLinear", pool.name
        assert "Conv" in {n.op_type for n in g.readers[pool.input[0]]}, "the block's first Conv shares the DQ"
        (quantize,) = [g.producer[dequantize.input[0]]]
        assert {n.op_type for n in g.readers[quantize.input[0]]} == {"QuantizeLinear"}


@pytest.mark.parametrize("name", ["ResNet18", "ResNet50_vd"])
def test_every_block_output_is_read_through_one_quantize_only(int8_graphs, name):
    """A tensor one reader quantizes is read by that one QuantizeLinear alone, so TensorRT can fuse the
    quantize into what writes it; the stem (into MaxPool) and the head (into the global pool) stay float."""
    g = int8_graphs[name]
    raw_readers = []
    for quantize in g.of("QuantizeLinear"):
        readers = g.readers[quantize.input[0]]
        if [n.op_type for n in readers] != ["QuantizeLinear"]:
            raw_readers.append((quantize.input[0], sorted(n.op_type for n in readers)))
    assert raw_readers == [], raw_readers


@pytest.fixture(scope="module")
def fp16_rest_graphs(exported):
    """Both exports' INT8 graphs whose rest is FP16 (the strongly typed TensorRT form): (fp32, fp32 rest, fp16 rest)."""
    _, results = exported
    return {name: (results[name].onnx_path, graph_for(results[name].onnx_path, "int8", Calibration(seed=0)),
                   graph_for(results[name].onnx_path, "int8", Calibration(seed=0), form="tensorrt-fp16"))
            for name in ("ResNet18", "ResNet50_vd")}


@pytest.mark.parametrize("name", ["ResNet18", "ResNet50_vd"])
def test_the_fp16_rest_keeps_the_qdq_placement_and_makes_every_other_float_fp16(fp16_rest_graphs, name):
    _, fp32_rest, fp16_rest = fp16_rest_graphs[name]
    assert fp16_rest.name == f"{name}.int8-fp16.onnx"
    g, before = Graph(fp16_rest), Graph(fp32_rest)
    onnx.checker.check_model(g.model, full_check=True)
    assert next(o.version for o in g.model.opset_import if o.domain in ("", "ai.onnx")) >= 19  # FP16 scales
    for op in ("QuantizeLinear", "DequantizeLinear", "Conv", "AveragePool", "Add", "MatMul"):
        assert len(g.of(op)) == len(before.of(op)), op
    io = {t.name for t in (*g.model.graph.input, *g.model.graph.output)}
    assert {g.model.graph.input[0].type.tensor_type.elem_type, g.model.graph.output[0].type.tensor_type.elem_type} \
        == {TensorProto.FLOAT}
    kinds = collections.Counter(t.data_type for t in g.model.graph.initializer)
    assert TensorProto.FLOAT not in kinds and kinds[TensorProto.INT8] > 0  # int8 weights and zero points stay
    inferred = onnx.shape_inference.infer_shapes(g.model).graph.value_info
    floats = [v.name for v in inferred if v.type.tensor_type.elem_type == TensorProto.FLOAT and v.name not in io]
    # the casts at the FP32 input and output are the only FP32 tensors inside
    assert len(floats) <= 2, floats
    for dequantize in g.of("DequantizeLinear"):
        assert g.inits[dequantize.input[1]].data_type == TensorProto.FLOAT16, dequantize.name


@pytest.mark.parametrize("name", ["ResNet18", "ResNet50_vd"])
def test_the_fp16_rest_computes_what_the_fp32_rest_does(fp16_rest_graphs, name):
    fp32, fp32_rest, fp16_rest = fp16_rest_graphs[name]
    x = seeded_input(16, VERIFY_SEED)
    figures = compare(_run(fp32_rest, x), _run(fp16_rest, x))
    assert figures["min_cosine"] > 0.999, figures


def test_the_tensorrt_forms_are_cached_apart_and_keyed_by_the_placement(fp16_rest_graphs):
    import json

    from trtbench.graphs.int8 import INT8_METHOD

    fp32, fp32_rest, fp16_rest = fp16_rest_graphs["ResNet18"]
    keys = [json.loads(path.with_name(path.name + ".json").read_text())["key"] for path in (fp32_rest, fp16_rest)]
    assert keys[0]["method"] == keys[1]["method"] == INT8_METHOD and "pooled shortcuts" in INT8_METHOD
    assert "form" not in keys[0] and (keys[1]["form"], keys[1]["rest"]) == ("tensorrt-fp16", "fp16")


def _run(graph, x):
    """``graph``'s outputs on ONNX Runtime's CPU provider; an FP16 Q/DQ graph without its graph optimizations,
    which mangle FP16 Q/DQ on the CPU (ResNet50_vd: cosine 0.96 against FP32 with them, 0.9999 without)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    initializers = onnx.load(str(graph), load_external_data=False).graph.initializer
    if any(t.data_type == TensorProto.FLOAT16 for t in initializers):
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def _outputs(fp32, int8):
    """FP32 and INT8 graphs' logits on ONNX Runtime for the same 16 seeded inputs."""
    x = seeded_input(16, VERIFY_SEED)
    return tuple(ort.InferenceSession(str(graph)).run(None, {"x": x})[0] for graph in (fp32, int8))


def _against_fp32(fp32, int8) -> dict:
    """verify's figures of the INT8 graph against the FP32 one."""
    return compare(*_outputs(fp32, int8))


def _centred_against_fp32(fp32, int8):
    """Per input, how the INT8 graph follows what the input changes in the FP32 logits (verify's centred cosine)."""
    return centred_cosines(*_outputs(fp32, int8))


def test_int8_runs_on_onnxruntime_and_passes_verify_against_fp32(int8_graph):
    figures = _against_fp32(*int8_graph)
    assert judge(figures, "int8") == [], figures


def test_int8_follows_how_the_logits_move_with_the_input(int8_graph):
    # Random weights give logits that barely depend on the input (one class wins for every input,
    # the cosine is ~0.9999 even for a badly broken quantization), so the check above is weak. What
    # the input changes, the logits minus their mean over the batch, must still point the same way:
    # 0.82 measured here (quantize_static's graph: 0.67; activation scales off by 4x: 0.39 or less).
    cosine = _centred_against_fp32(*int8_graph)
    assert cosine.mean() > 0.7 and cosine.min() > 0.6


def test_int8_graph_is_cached_per_calibration(int8_graph, tmp_path):
    fp32, int8 = int8_graph
    stamp = int8.stat().st_mtime_ns
    assert graph_for(fp32, "int8", Calibration(seed=0)).stat().st_mtime_ns == stamp
    assert Calibration(seed=0).key() != Calibration(seed=1).key()
    with pytest.raises(Exception, match="calibration folder not found"):
        calibration_from(tmp_path / "nope")


@pytest.mark.parametrize("major,typing,strong,flags,graph", [
    (10, "auto", False, ["BuilderFlag.FP16", "BuilderFlag.INT8"], ".int8.onnx"),
    (10, "strong", True, [], ".int8-fp16.onnx"),
    (11, "auto", True, [], ".int8-fp16.onnx"),
])
def test_tensorrt_builds_int8_with_fp16_beside_it_on_both_majors(int8_graph, tmp_path, major, typing, strong, flags,
                                                                  graph):
    """10.x weakly typed: the FP32 Q/DQ graph with INT8 and FP16 allowed (TensorRT picks per layer);
    strongly typed (11.x, or 10.x asked): the Q/DQ graph whose rest is FP16."""
    from trtbench.backends.tensorrt import TensorRTConfig

    fp32, _ = int8_graph
    gpu = FakeCuda()
    trt = FakeTensorRT(major, gpu)
    backend = TensorRTBackend(TensorRTConfig(typing=typing), calibration=Calibration(seed=0), trt=trt, cuda=gpu)
    engine = backend.build(fp32, "int8", 2, tmp_path / "engines")
    (build,) = trt._builds
    assert build["strong"] is strong and build["flags"] == flags and build["onnx"].endswith(graph)
    assert engine.info["typing"] == ("strong" if strong else "weak")
    assert engine.info["fp16_build"].startswith("strong: Q/DQ graph with the rest in FP16" if strong
                                                else "weak: BuilderFlag.INT8 + BuilderFlag.FP16")
    x = np.random.default_rng(2).standard_normal((2, 3, 224, 224)).astype(np.float32)
    expected = _run(build["onnx"], x)
    with engine:
        counts = engine.info["layer_precisions"]
        executed, evidence = engine.executed_precision()
        np.testing.assert_allclose(engine.infer(x), expected, rtol=1e-6, atol=1e-6)
    # every Conv but the stem's (into MaxPool) and the last block's (into the global pool) writes INT8; the
    # rest runs in FP16, the casts to the FP32 output aside
    assert executed == "int8" and counts["int8"] == 21 - 2 and counts["fp16"] >= 4 and counts.get("fp32", 0) <= 1
    assert evidence.startswith("TensorRT engine inspector, layers by output type: 19 int8")


# --- The same recipe in the form ONNX Runtime's CPU provider runs as integer kernels ---------------


@pytest.fixture(scope="module")
def ort_graphs(exported):
    """Both exports with their ONNX Runtime form INT8 graphs: (fp32 path, int8 path)."""
    _, results = exported
    return {name: (results[name].onnx_path,
                   graph_for(results[name].onnx_path, "int8", Calibration(seed=0), form="onnxruntime"))
            for name in ("ResNet18", "ResNet50_vd")}


@pytest.mark.parametrize("name", ["ResNet18", "ResNet50_vd"])
def test_onnxruntime_form_has_bn_folded_uint8_activations_and_int8_per_channel_weights(ort_graphs, name):
    g = Graph(ort_graphs[name][1])
    onnx.checker.check_model(g.model, full_check=True)
    assert g.of("BatchNormalization") == [] and g.of("Relu") == []  # folded; each ReLU in a zero point
    assert len(g.of("Conv")) == {"ResNet18": 21, "ResNet50_vd": 55}[name]
    for conv in g.of("Conv"):
        data, weight, bias = (g.producer[i] for i in conv.input)
        assert data.op_type == weight.op_type == bias.op_type == "DequantizeLinear", conv.name
        assert g.made_by(data.input[0]) == "QuantizeLinear"
        values, scales, zeros = (g.array(i) for i in weight.input)
        assert next(a.i for a in weight.attribute if a.name == "axis") == 0
        assert values.dtype == np.int8 and np.abs(values).max() == 127 and scales.shape == (values.shape[0],)
        assert zeros.dtype == np.int8 and not zeros.any()  # symmetric
        assert g.array(bias.input[0]).dtype == np.int32
        assert [n.op_type for n in g.readers[conv.output[0]]] == ["QuantizeLinear"], conv.name
    zero_points = [g.array(q.input[2]) for q in g.of("QuantizeLinear")]
    assert zero_points and all(z.dtype == np.uint8 for z in zero_points)


@pytest.mark.parametrize("name", ["ResNet18", "ResNet50_vd"])
def test_onnxruntime_runs_every_conv_of_its_form_as_qlinearconv(ort_graphs, name, tmp_path):
    fp32, _ = ort_graphs[name]
    convs = {"ResNet18": 21, "ResNet50_vd": 55}[name]
    backend = create("onnxruntime-cpu", calibration=Calibration(seed=0))
    with backend.build(fp32, "int8", 1, tmp_path) as engine:
        executed, evidence = engine.executed_precision()
        assert engine.describe()["int8_form"] == "onnxruntime"
        assert engine.info["graph"].endswith(".int8-ort.onnx")
    assert executed == "int8"
    assert evidence.startswith(f"ONNX Runtime optimized graph: {convs} of {convs} convolutions QLinearConv (int8)")


def test_the_tensorrt_form_runs_its_convs_in_fp32_on_onnxruntime(int8_graph, tmp_path):
    # Why the second form exists: ONNX Runtime fuses none of the TensorRT form's Convs (float
    # biases, no QuantizeLinear on their outputs), so it runs them in FP32 between Q/DQ nodes.
    _, tensorrt_form = int8_graph
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    options.log_severity_level = 3
    ort.InferenceSession(str(tensorrt_form), options, providers=["CPUExecutionProvider"])
    executed, evidence = executed_from_graph(onnx.load(options.optimized_model_filepath))
    assert executed == "fp32" and "QLinearConv" not in evidence, evidence


@pytest.mark.parametrize("name", ["ResNet18", "ResNet50_vd"])
def test_onnxruntime_form_passes_verify_against_fp32(ort_graphs, name):
    figures = _against_fp32(*ort_graphs[name])
    if name == "ResNet18":
        assert judge(figures, "int8") == [], figures
    else:
        # ResNet50_vd's random init: the logits move with the input by a thirtieth of INT8's error (see
        # below), so the centred cosine cannot tell this engine from one that ignores its input: it is
        # measured, below the threshold, and not judged; the cosine and top-1 agreement pass.
        assert figures["reference_movement"] < THRESHOLDS["int8"]["min_movement"], figures
        assert figures["min_centred_cosine"] < THRESHOLDS["int8"]["min_centred_cosine"], figures
        assert not centred_judged(figures, "int8") and judge(figures, "int8") == [], figures


def test_onnxruntime_form_follows_how_the_logits_move_with_the_input(ort_graphs):
    # As for the TensorRT form above, top-1 and cosine are weak on random weights (one class wins
    # for every input), so this checks what the input changes: 0.87 mean, 0.81 least measured here
    # (the TensorRT form: 0.82, 0.73). ResNet18 only: with ResNet50_vd's random init the logits
    # move with the input by a thirtieth of INT8's error (0.001 against 0.03; cosines of 0.05 for
    # both forms), so there is nothing to follow.
    cosine = _centred_against_fp32(*ort_graphs["ResNet18"])
    assert cosine.mean() > 0.8 and cosine.min() > 0.7, cosine


def test_calibration_skips_damaged_images_and_never_opens_a_fifo(tmp_path):
    import os

    from PIL import Image

    from trtbench.errors import TrtbenchError
    from trtbench.graphs.precision import calibration_from

    Image.new("RGB", (8, 8), "blue").save(tmp_path / "a.png")
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    os.mkfifo(tmp_path / "c.png")
    calibration = calibration_from(tmp_path)
    assert [p.name for p in calibration.images] == ["a.png", "b.jpg"]
    assert len(list(calibration.inputs())) == 1
    (tmp_path / "a.png").unlink()
    with pytest.raises(TrtbenchError, match="none of the 1 calibration images can be read"):
        list(calibration_from(tmp_path).inputs())


def test_a_calib_path_that_is_not_a_folder_says_so(tmp_path):
    from trtbench.errors import TrtbenchError
    from trtbench.graphs.precision import calibration_from

    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(TrtbenchError, match=r"--calib .*x.png is not a folder: give a folder of images"):
        calibration_from(tmp_path / "x.png")


def test_on_resnet50_vd_every_block_writes_int8_into_the_next(exported, tmp_path):
    """Through the TensorRT double's inspector (a Conv writes INT8 when TensorRT can fuse the quantize
    after it): with the pooled shortcuts reading the shared dequantized tensor, every Conv layer of
    ResNet50_vd but the stem's last (into MaxPool) and the last block's (into the global pool) writes
    INT8, and the layers left run in FP16."""
    from trtbench.backends.tensorrt import TensorRTConfig

    _, results = exported
    gpu = FakeCuda()
    trt = FakeTensorRT(11, gpu)
    backend = TensorRTBackend(TensorRTConfig(), calibration=Calibration(seed=0), trt=trt, cuda=gpu)
    with backend.build(results["ResNet50_vd"].onnx_path, "int8", 1, tmp_path / "engines") as engine:
        layers = engine.inspected.layers
    convs = [(name, kind) for name, kind, nodes in layers if "conv2d" in name.lower() or "Conv" in name]
    assert len(convs) == 55
    assert [kind for _, kind in convs].count("int8") == 55 - 2, [c for c in convs if c[1] != "int8"]
    assert {kind for _, kind, _ in layers} <= {"int8", "fp16", "fp32"}
    assert [kind for _, kind, _ in layers].count("fp32") <= 1  # the cast to the FP32 output
