"""Paddle Inference's per-layer profile: paddle.profiler's operator events put on the ops of Paddle's optimized
program and on the ONNX nodes of the export, on a small model run for real and on captured traces."""

import json
import shutil

import numpy as np
import onnx
import pytest

from trtbench.backends import paddle_inference
from trtbench.backends.paddle_inference import (
    SEQUENTIAL_RUN,
    PaddleInferenceBackend,
    PaddleInferenceConfig,
    PaddleInferenceEngine,
    PaddleTensorRTEngine,
    cpu_config,
)
from trtbench.backends.paddle_profile import operator_runs, profile_from, read_program
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import seeded_input
from trtbench.measure import cpu
from trtbench.store import artifacts

needs_bf16 = pytest.mark.skipif(cpu.native_bf16() is None,
                                reason="no avx512_bf16 or AMX on this CPU: oneDNN would simulate BF16")

# paddle.profiler's chrome trace of two inferences of a conv / pool / flatten / fc model, as Paddle 3.3
# wrote it (trimmed): steps, operators with their time in the name, and the events inside operators
CAPTURED_TRACE = {"displayTimeUnit": "ms", "schemaVersion": "1.0.0", "traceEvents": [
    {"name": "ProfileStep#0[507.368 us]", "cat": "ProfileStep", "ts": 1796334091279789, "dur": 507.368,
     "ph": "X", "pid": 13746, "tid": "13746(Python)"},
    {"name": "ProfileStep#1[257.964 us]", "cat": "ProfileStep", "ts": 1796334091280319, "dur": 257.964,
     "ph": "X", "pid": 13746, "tid": "13746(Python)"},
    {"name": "ProfileStep#2[16.931 us]", "cat": "ProfileStep", "ts": 1796334091280807, "dur": 16.931,
     "ph": "X", "pid": 13746, "tid": "13746(Python)"},
    {"name": "onednn_op.fused_conv2d[98.657 us]", "cat": "Operator", "ts": 1796334091279831, "dur": 98.657,
     "ph": "X", "tid": "13746(C++)", "args": {"start_time": "42.263 us", "input_shapes": {}}},
    {"name": "onednn_op.pool2d[62.020 us]", "cat": "Operator", "ts": 1796334091280055, "dur": 62.02,
     "ph": "X", "tid": "13746(C++)"},
    # "ts" is whole microseconds: this one seems to start 0.3 us before the pool ended
    {"name": "onednn_op.flatten[18.469 us]", "cat": "Operator", "ts": 1796334091280116, "dur": 18.469,
     "ph": "X", "tid": "13746(C++)"},
    {"name": "onednn_op.fc[53.014 us]", "cat": "Operator", "ts": 1796334091280137, "dur": 53.014,
     "ph": "X", "tid": "13746(C++)"},
    {"name": "pd_op.onednn_to_paddle_layout[11.760 us]", "cat": "Operator", "ts": 1796334091280191, "dur": 11.76,
     "ph": "X", "tid": "13746(C++)"},
    {"name": "PhiKernelInstruction::infermeta[2.112 us]", "cat": "UserDefined", "ts": 1796334091280192,
     "dur": 2.112, "ph": "X", "tid": "13746(C++)"},
    {"name": "onednn_op.fused_conv2d[47.271 us]", "cat": "Operator", "ts": 1796334091280342, "dur": 47.271,
     "ph": "X", "tid": "13746(C++)"},
    {"name": "onednn_op.pool2d[42.056 us]", "cat": "Operator", "ts": 1796334091280449, "dur": 42.056,
     "ph": "X", "tid": "13746(C++)"},
    {"name": "onednn_op.flatten[14.880 us]", "cat": "Operator", "ts": 1796334091280492, "dur": 14.88,
     "ph": "X", "tid": "13746(C++)"},
    {"name": "onednn_op.fc[40.941 us]", "cat": "Operator", "ts": 1796334091280507, "dur": 40.941,
     "ph": "X", "tid": "13746(C++)"},
    {"name": "pd_op.onednn_to_paddle_layout[8.643 us]", "cat": "Operator", "ts": 1796334091280548, "dur": 8.643,
     "ph": "X", "tid": "13746(C++)"},
    {"name": "process_name", "ph": "M", "pid": 13746, "args": {"name": "Process 13746 (CPU)"}},
    {},
]}


def _ms(*us):
    return [value / 1000 for value in us]


def test_the_captured_trace_reads_as_two_inferences_of_operators_in_order():
    runs = operator_runs(CAPTURED_TRACE)
    assert [[kind for kind, _ in run] for run in runs] == [
        ["fused_conv2d", "pool2d", "flatten", "fc", "onednn_to_paddle_layout"]] * 2
    assert [ms for _, ms in runs[0]] == pytest.approx(_ms(98.657, 62.02, 18.469, 53.014, 11.76))
    assert [ms for _, ms in runs[1]] == pytest.approx(_ms(47.271, 42.056, 14.88, 40.941, 8.643))


def test_an_operator_inside_another_is_the_outer_ones_time():
    trace = json.loads(json.dumps(CAPTURED_TRACE))
    trace["traceEvents"].append({"name": "onednn_op.reshape[3 us]", "cat": "Operator", "ts": 1796334091279840,
                                 "dur": 3.0})  # within the first convolution
    assert [kind for kind, _ in operator_runs(trace)[0]][:2] == ["fused_conv2d", "pool2d"]


@pytest.mark.parametrize("trace", [
    None, [], "garbage", {"traceEvents": "x"}, {"traceEvents": None}, {"nothing": []},
])
def test_a_trace_that_is_not_one_is_a_value_error(trace):
    with pytest.raises(ValueError, match="traceEvents"):
        operator_runs(trace)


def test_hostile_events_are_left_out_never_a_crash():
    hostile = {"traceEvents": [
        None, 3, "x", {"name": 5, "cat": "Operator", "ts": 1, "dur": 1},
        {"name": "ProfileStep#0", "cat": "ProfileStep", "ts": 0, "dur": 100},
        {"name": "onednn_op.fc", "cat": "Operator", "ts": "1", "dur": 1},
        {"name": "onednn_op.fc", "cat": "Operator", "ts": 1, "dur": float("nan")},
        {"name": "onednn_op.fc", "cat": "Operator", "ts": 1, "dur": -4},
        {"name": "onednn_op.fc", "cat": "Operator", "ts": True, "dur": 4},
        {"name": "onednn_op.pool2d[1 us]", "cat": "Operator", "ts": 10, "dur": 1000},
        {"name": "onednn_op.fc", "cat": "Operator", "ts": 500, "dur": 4},  # outside every step
    ]}
    assert operator_runs(hostile) == [[("pool2d", 1.0)]]


def _program(*ops):
    """A saved PIR program of ``ops`` (type, inputs, outputs, attributes), after two parameters w (1) and b (2)
    and the fed input x (3)."""
    body = [{"#": "p", "A": [0, 1, 1, "w"], "O": {"%": 1}}, {"#": "p", "A": [0, 1, 1, "b"], "O": {"%": 2}},
            {"#": "1.data", "A": [{"N": "name", "AT": {"#": "0.a_str", "D": "x"}}], "O": [{"%": 3}]}]
    for kind, inputs, outputs, attributes in ops:
        body.append({"#": kind, "I": [{"%": value} for value in inputs], "O": [{"%": value} for value in outputs],
                     "A": [{"N": name, "AT": {"#": "0.a_str", "D": value}} for name, value in attributes.items()]})
    return {"base_code": {"magic": "pir"}, "program": {"regions": [{"blocks": [{"ops": body}]}]}}


def _graph():
    """x -> Conv(w) -> BatchNormalization(bn) -> Relu -> MaxPool -> MatMul(fc) -> y"""
    helper = onnx.helper
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="Conv.0"),
             helper.make_node("BatchNormalization", ["c", "b", "b", "b", "b"], ["n"], name="BatchNormalization.0"),
             helper.make_node("Relu", ["n"], ["r"], name="Relu.0"),
             helper.make_node("MaxPool", ["r"], ["p"], name="MaxPool.0"),
             helper.make_node("MatMul", ["p", "fc"], ["y"], name="MatMul.0")]
    weights = [helper.make_tensor(name, onnx.TensorProto.FLOAT, [1], [1.0]) for name in ("w", "b", "fc")]
    return helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                             [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])], weights)


# the program of _graph: the batch norm's parameter b folded into the convolution's filter once, then
# conv+relu, pool, and an fc whose parameter the program names "fc" too
_PROGRAM = _program(
    ("onednn_op.multiply", [1, 2], [4], {}),  # computed once from parameters: never timed
    ("onednn_op.fused_conv2d", [3, 4], [5], {"fuse_activation": "relu", "mkldnn_data_type": "float32"}),
    ("onednn_op.pool2d", [5], [6], {}),
    ("onednn_op.fc", [6, 7], [8], {"mkldnn_data_type": "bfloat16"}),
    ("1.fetch", [8], [9], {"name": "y"}))
_PROGRAM["program"]["regions"][0]["blocks"][0]["ops"].insert(2, {"#": "p", "A": [0, 1, 1, "fc"], "O": {"%": 7}})


def test_each_op_is_put_on_the_onnx_nodes_it_computes():
    program = read_program(_PROGRAM, paddle_inference.known_precision)
    assert [op.kind for op in program.ops] == ["fused_conv2d", "pool2d", "fc"]
    assert program.ops[0].parameters == ("b", "w") and program.feeds == {3: "x"} and program.fetches == {8: "y"}
    runs = [[("fused_conv2d", 3.0), ("pool2d", 1.0), ("fc", 0.5), ("onednn_to_paddle_layout", 0.1)],
            [("fused_conv2d", 5.0), ("pool2d", 2.0), ("fc", 0.7), ("onednn_to_paddle_layout", 0.3)],
            [("fused_conv2d", 4.0), ("pool2d", 9.0), ("fc", 0.6), ("onednn_to_paddle_layout", 0.2)]]
    profile = profile_from(runs, program, _graph())
    assert profile.engine == "Paddle profiler" and profile.iterations == 3 and profile.notes == []
    assert profile.total_ms == pytest.approx(8.0)  # the median of 4.6, 8.0 and 13.8
    rows = [(layer.name, layer.kind, layer.median_ms, layer.precision, layer.nodes, layer.inserted)
            for layer in profile.layers]
    assert rows == [
        ("fused_conv2d.0", "fused_conv2d", 4.0, "fp32", ("Conv.0", "BatchNormalization.0", "Relu.0"), False),
        ("pool2d.0", "pool2d", 2.0, None, ("MaxPool.0",), False),
        ("fc.0", "fc", 0.6, "bf16", ("MatMul.0",), False),
        ("onednn_to_paddle_layout.0", "onednn_to_paddle_layout", 0.2, None, (), True)]


def test_a_conversion_paddle_added_is_inserted_work_and_names_pass_through_it():
    data = json.loads(json.dumps(_PROGRAM))
    ops = data["program"]["regions"][0]["blocks"][0]["ops"]
    ops.insert(-2, {"#": "onednn_op.dequantize", "I": [{"%": 6}], "O": [{"%": 10}]})  # pool -> dequantize -> fc
    ops[-2]["I"][0] = {"%": 10}
    program = read_program(data)
    assert [op.kind for op in program.ops] == ["fused_conv2d", "pool2d", "dequantize", "fc"]
    run = [("fused_conv2d", 3.0), ("pool2d", 1.0), ("dequantize", 0.25), ("fc", 0.5)]
    profile = profile_from([run], program, _graph())
    assert profile.notes == []
    assert [(layer.name, layer.nodes, layer.inserted) for layer in profile.layers] == [
        ("fused_conv2d.0", ("Conv.0", "BatchNormalization.0", "Relu.0"), False), ("pool2d.0", ("MaxPool.0",), False),
        ("dequantize.0", (), True), ("fc.0", ("MatMul.0",), False)]


def test_runs_that_do_not_follow_the_program_are_summed_by_type_and_mapped_to_nothing():
    program = read_program(_PROGRAM, paddle_inference.known_precision)
    runs = [[("fused_conv2d", 3.0), ("pool2d", 1.0), ("fc", 0.5)],
            [("pool2d", 1.0), ("fused_conv2d", 3.0), ("fc", 0.5)]]  # out of the program's order
    profile = profile_from(runs, program, _graph())
    assert [(layer.name, layer.median_ms, layer.nodes) for layer in profile.layers] == [
        ("fused_conv2d", 3.0, ()), ("pool2d", 1.0, ()), ("fc", 0.5, ())]
    assert profile.layers[0].precision == "fp32" and profile.mapped_ms == 0 and profile.unmapped_ms == 4.5
    (note,) = profile.notes
    assert "summed by operator type" in note and "\n" not in note


def test_an_op_whose_tensors_cannot_be_traced_is_unmapped_with_its_reason():
    graph = _graph()
    # neither the fc's parameter nor its output has the program's name in this graph
    graph.node[4].input[1] = graph.initializer[2].name = "other"
    graph.node[4].output[0] = graph.output[0].name = "z"
    program = read_program(_PROGRAM)
    profile = profile_from([[("fused_conv2d", 3.0), ("pool2d", 1.0), ("fc", 0.5)]], program, graph)
    assert [layer.nodes for layer in profile.layers] == [("Conv.0", "BatchNormalization.0", "Relu.0"),
                                                         ("MaxPool.0",), ()]
    assert profile.mapped_ms == 4.0 and profile.unmapped_ms == 0.5
    (note,) = profile.notes
    assert note.startswith("Paddle op fc.0 (fc) maps to no ONNX node: ") and "\n" not in note


@pytest.mark.parametrize("data", [None, {}, {"program": []}, {"program": {"regions": [{"blocks": []}]}},
                                  {"program": {"regions": [{"blocks": [{"ops": {}}]}]}},
                                  {"program": {"regions": [{"blocks": [{"ops": [{"#": 3}]}]}]}}])
def test_a_program_that_is_not_one_is_a_value_error(data):
    with pytest.raises(ValueError):
        read_program(data)


def test_hostile_values_in_a_program_are_left_out():
    data = _program(("onednn_op.relu", [3, -1, 0], [5], {}))
    ops = data["program"]["regions"][0]["blocks"][0]["ops"]
    ops[-1]["I"] += [{"%": "4"}, None, {"%": True}, "x"]
    ops[-1]["A"] = "junk"
    ops.append({"#": "onednn_op.relu", "I": "junk", "O": None, "A": [None, {"N": 3}, {"N": "x", "AT": 5}]})
    program = read_program(data)
    assert [(op.kind, op.inputs, op.outputs) for op in program.ops] == [("relu", (3,), (5,))]


# A small model run for real: a stem, then a heavy branch (a 3x3 convolution to 64 channels) beside a light
# one (a 1x1 convolution of 8 channels), summed, pooled and classified.


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """The ONNX export and Paddle model of a small two-branch network, both from one Paddle program."""
    from trtbench.graphs import graph
    from trtbench.lazy import import_paddle
    from trtbench.models.export import _paddle_to_onnx

    paddle = import_paddle()
    nn = paddle.nn

    class TwoBranches(nn.Layer):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2D(3, 8, 3, stride=2, padding=1, bias_attr=False), nn.BatchNorm2D(8),
                                      nn.ReLU())
            self.heavy = nn.Sequential(nn.Conv2D(8, 64, 3, padding=1, bias_attr=False), nn.BatchNorm2D(64),
                                       nn.ReLU(), nn.Conv2D(64, 8, 1, bias_attr=False), nn.BatchNorm2D(8))
            self.light = nn.Sequential(nn.Conv2D(8, 8, 1, bias_attr=False), nn.BatchNorm2D(8))
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            y = self.stem(x)
            y = nn.functional.relu(self.heavy(y) + self.light(y))
            return self.fc(paddle.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))

    paddle.seed(3)
    model = TwoBranches()
    model.eval()
    folder = tmp_path_factory.mktemp("small")
    _paddle_to_onnx(model, folder / "small.onnx", 13, folder / "small.paddle")
    proto = onnx.load(str(folder / "small.onnx"))
    graph.constants_to_initializers(proto)  # as the export does
    onnx.save(proto, str(folder / "small.onnx"))
    return folder / "small.onnx", (folder / "small.paddle.json", folder / "small.paddle.pdiparams")


def _engine(small_model, threads=1):
    """A CPU engine of the small model, made the way the backend makes one."""
    onnx_path, (program, params) = small_model
    inference = paddle_inference._inference()
    optim = onnx_path.parent / "optim"
    shutil.rmtree(optim, ignore_errors=True)
    config = cpu_config(inference, (program, params), threads, False, optim)
    info = {"program": str(program), "program_sha256": artifacts.current_sha256(program),
            "params": str(params), "params_sha256": artifacts.current_sha256(params), "bf16": False}
    found = paddle_inference.program_precision(optim / paddle_inference.OPTIMIZED_PROGRAM)
    return PaddleInferenceEngine(inference.create_predictor(config), config, 1, 0.0, info, found, graph=onnx_path)


def _weight_shapes(graph):
    shapes = {tensor.name: tuple(tensor.dims) for tensor in graph.initializer}
    return {node.name: shapes.get(node.input[1]) for node in graph.node if node.op_type == "Conv"}


def _profile_of_small(small_model, iterations=20):
    import paddle

    with _engine(small_model) as engine:
        predictor = engine.predictor
        before = engine.infer(seeded_input(1))
        profile = engine.profile_layers(iterations)
        # the timed predictor is untouched and Paddle's flag is as it was
        assert engine.predictor is predictor and engine.iterate()["latency"] > 0
        np.testing.assert_array_equal(engine.infer(seeded_input(1)), before)
        assert paddle.get_flags([SEQUENTIAL_RUN])[SEQUENTIAL_RUN] is False
    return profile


def test_a_real_profile_covers_every_onnx_node_once(small_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    profile = _profile_of_small(small_model)
    assert list(tmp_path.iterdir()) == []  # nothing left in the working folder (paddle.profiler's ./profiler_log)
    graph = onnx.load(str(small_model[0])).graph
    assert profile.engine == "Paddle profiler" and profile.iterations == 20 and profile.notes == []
    covered = [node for layer in profile.layers for node in layer.nodes]
    assert sorted(covered) == sorted(node.name for node in graph.node)  # each node once, none left out
    convs = [layer for layer in profile.layers if layer.kind == "fused_conv2d"]
    assert len(convs) == 4 and all(layer.precision == "fp32" for layer in convs)
    # the stem: its batch norm and ReLU folded into the convolution
    assert profile.layers[0].nodes == ("Conv.0", "BatchNormalization.0", "Relu.0")
    # one branch's last convolution also sums the other branch and applies the ReLU after it
    assert sum({"Add.0", "Relu.2"} <= set(layer.nodes) for layer in convs) == 1
    inserted = [layer for layer in profile.layers if layer.inserted]
    assert inserted and all(layer.nodes == () and layer.kind == "onednn_to_paddle_layout" for layer in inserted)
    assert 0 < sum(layer.median_ms for layer in profile.layers) <= 1.5 * profile.total_ms


def test_each_convolution_gets_its_own_time_not_another_of_its_type(small_model):
    """The events name a type only: the heavy convolution (3x3, 8 to 64 channels) must get the heavy time."""
    profile = _profile_of_small(small_model)
    graph = onnx.load(str(small_model[0])).graph
    shapes = _weight_shapes(graph)
    (heavy,) = [name for name, shape in shapes.items() if shape == (64, 8, 3, 3)]
    (light,) = [name for name, shape in shapes.items() if shape == (8, 8, 1, 1)]
    by_conv = {node: layer for layer in profile.layers for node in layer.nodes if node in shapes}
    assert by_conv[heavy].median_ms == max(layer.median_ms for layer in profile.layers)
    assert by_conv[light].median_ms < by_conv[heavy].median_ms / 4


def test_a_trace_that_cannot_be_read_is_one_line(small_model, monkeypatch, tmp_path):
    garbled = tmp_path / "trace.json"
    garbled.write_bytes(b"\x00\xff{not json")
    program = tmp_path / "program.json"
    program.write_text(json.dumps(_PROGRAM))
    monkeypatch.setattr(PaddleInferenceEngine, "_profiled_run", lambda self, model, work, n: (garbled, program))
    with _engine(small_model) as engine, pytest.raises(TrtbenchError) as caught:
        engine.profile_layers(3)
    assert str(caught.value).startswith("Paddle's profile could not be read back: ") and "\n" not in str(caught.value)
    garbled.write_text(json.dumps({"traceEvents": []}))
    with _engine(small_model) as engine, pytest.raises(TrtbenchError, match="holds no operator"):
        engine.profile_layers(3)


def test_a_model_changed_after_timing_is_not_profiled(small_model, tmp_path):
    copy = tmp_path / "small.paddle.pdiparams"
    shutil.copy(small_model[1][1], copy)
    with _engine(small_model) as engine:
        engine.info["params"] = str(copy)
        copy.write_bytes(copy.read_bytes()[:-4] + b"\x00\x00\x00\x01")
        with pytest.raises(TrtbenchError, match="changed after it was timed"):
            engine.profile_layers(3)
        with pytest.raises(TrtbenchError, match="at least one iteration"):
            engine.profile_layers(0)


def test_paddle_failing_to_profile_is_one_line_and_restores_the_flag(small_model, monkeypatch):
    import paddle

    with _engine(small_model) as engine:
        monkeypatch.setattr(paddle_inference, "cpu_config", lambda *args: None)  # Paddle refuses a None config
        with pytest.raises(TrtbenchError, match="^Paddle Inference could not be profiled: "):
            engine.profile_layers(3)
    assert paddle.get_flags([SEQUENTIAL_RUN])[SEQUENTIAL_RUN] is False


def test_the_gpu_route_says_it_cannot_profile():
    engine = PaddleTensorRTEngine(None, None, 1, 0.0, {}, {})
    with pytest.raises(TrtbenchError, match="gpu-tensorrt route.*the tensorrt backend profiles"):
        engine.profile_layers(3)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", pytest.param("bf16", marks=needs_bf16)])
def test_resnet18_profiles_through_the_backend(exported, precision):
    models_dir, results = exported
    path = results["ResNet18"].onnx_path
    backend = PaddleInferenceBackend(PaddleInferenceConfig(threads=1))
    with backend.build(path, precision, 1, models_dir) as engine:
        profile = engine.profile_layers(10)
    graph = onnx.load(str(path), load_external_data=False).graph
    assert profile.notes == [] and profile.iterations == 10
    covered = [node for layer in profile.layers for node in layer.nodes]
    assert sorted(covered) == sorted(node.name for node in graph.node)
    assert sum(layer.kind == "fused_conv2d" for layer in profile.layers) == 21  # each convolution, its own op
    assert profile.unmapped_ms < 0.1 * profile.total_ms
    assert {layer.precision for layer in profile.layers if layer.kind == "fused_conv2d"} == {precision}
    # in bf16 Paddle converts the input to bf16 and the pooled features back: inserted work, as its layout change
    assert {layer.kind for layer in profile.layers if layer.inserted} == (
        {"onednn_to_paddle_layout"} | ({"quantize", "dequantize"} if precision == "bf16" else set()))
