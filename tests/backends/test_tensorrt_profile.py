"""TensorRT's per-layer profile through the test doubles: an IProfiler on the engine's context, layer times
reported after each plain enqueue, tied through the engine inspector (10.x and 11.x schemas) to the ONNX
nodes; Myelin ForeignNodes, reformats, and plans without layer details."""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.fakes.cuda import FakeCuda
from tests.fakes.tensorrt import FakeTensorRT
from trtbench.backends.tensorrt import TensorRTBackend, TensorRTConfig
from trtbench.backends.tensorrt_engine import Inspected, layer_timer
from trtbench.backends.tensorrt_profile import profile_of_runs, tensorrt_layers
from trtbench.errors import TrtbenchError
from trtbench.executors.case import Case, run_case
from trtbench.measure.timing import TimingPolicy

QUICK = TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=4)
NODES = ["conv1", "relu1", "conv2", "add", "relu2", "pool", "flatten", "fc"]
#: the double's layers of the model below: each Conv with the Relu (and Add) after it, then one per node
LAYERS = ["conv1 + relu1", "conv2 + add + relu2", "pool", "flatten", "fc"]
SHARES = [1, 2, 3, 1, 2]  # the double's split of an inference's compute time among them


@pytest.fixture
def model(tmp_path):
    """A small residual block and classifier on a 3x224x224 input, with a batch dimension."""
    rng = np.random.default_rng(0)

    def weight(name, *shape):
        return helper.make_tensor(name, TensorProto.FLOAT, shape, rng.standard_normal(shape).astype(np.float32) / 10)

    graph = helper.make_graph([
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", strides=[4, 4], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "wf"], ["y"], name="fc", transB=1),
    ], "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1000])],
        [weight("w1", 4, 3, 3, 3), weight("w2", 4, 4, 3, 3), weight("wf", 1000, 4)])
    path = tmp_path / "Block.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def backend_for(major, gpu=None, reformats=False, myelin=None, **options):
    gpu = gpu or FakeCuda()
    trt = FakeTensorRT(major, gpu, reformats=reformats, myelin=myelin)
    return TensorRTBackend(TensorRTConfig(**options), trt=trt, cuda=gpu), trt, gpu


@pytest.mark.parametrize("major", [10, 11])
def test_each_layer_is_its_median_over_the_inferences_and_the_total_the_median_of_their_sums(model, tmp_path, major):
    # the warm-up inference takes 8 ms, the three profiled 2, 4 and 1: their median is 2
    backend, trt, gpu = backend_for(major, gpu=FakeCuda(compute_ms=[8.0, 2.0, 4.0, 1.0]))
    with backend.build(model, "fp32", 1, tmp_path / "engines") as engine:
        assert engine.info["inspector_schema"] == f"{major}.x"
        profile = engine.profile_layers(3)
        context = engine.context
        assert context.profiler is None and context.enqueue_emits_profile is True  # given back as timing had it
    assert profile.engine == "TensorRT IProfiler" and profile.iterations == 3 and profile.notes == []
    assert [layer.name for layer in profile.layers] == LAYERS
    assert [layer.median_ms for layer in profile.layers] == pytest.approx([2.0 * share / 9 for share in SHARES])
    assert profile.total_ms == pytest.approx(2.0)
    assert [layer.kind for layer in profile.layers] == ["CaskConvolution", "CaskConvolution", "GlobalAveragePool",
                                                        "Flatten", "Gemm"]
    assert [layer.nodes for layer in profile.layers] == [("conv1", "relu1"), ("conv2", "add", "relu2"), ("pool",),
                                                         ("flatten",), ("fc",)]
    assert all(layer.precision == "fp32" and not layer.inserted for layer in profile.layers)
    assert profile.mapped_ms == pytest.approx(2.0) and profile.unmapped_ms == 0
    assert trt._enqueues == 4  # one warm-up and three profiled, each a plain enqueue


def test_fp16_layers_say_fp16(model, tmp_path):
    backend, _, _ = backend_for(10)  # weak typing: BuilderFlag.FP16, every layer FP16 in the double
    with backend.build(model, "fp16", 1, tmp_path / "engines") as engine:
        profile = engine.profile_layers(2)
    assert {layer.precision for layer in profile.layers} == {"fp16"}


@pytest.mark.parametrize("major", [10, 11])
def test_reformats_are_work_the_engine_inserted(model, tmp_path, major):
    backend, _, _ = backend_for(major, reformats=True)
    with backend.build(model, "fp32", 1, tmp_path / "engines") as engine:
        profile = engine.profile_layers(2)
    first, *_, last = profile.layers
    assert first.name == "Reformatting CopyNode for Input Tensor 0 to conv1 + relu1"
    assert last.name == "Reformatting CopyNode for Output Tensor 0 to fc"
    for layer in (first, last):
        assert (layer.kind, layer.nodes, layer.inserted, layer.precision) == ("Reformat", (), True, "fp32")
    assert first.median_ms > 0 and profile.unmapped_ms == pytest.approx(first.median_ms + last.median_ms)
    assert profile.notes == []


@pytest.mark.parametrize("major", [10, 11])
def test_a_myelin_layer_that_lists_its_nodes_is_tied_to_them(model, tmp_path, major):
    backend, _, _ = backend_for(major, myelin="listed")
    with backend.build(model, "fp32", 1, tmp_path / "engines") as engine:
        profile = engine.profile_layers(2)
    foreign = profile.layers[-1]
    assert (foreign.name, foreign.kind) == ("{ForeignNode[pool...fc]}", "Myelin")
    assert foreign.nodes == ("pool", "flatten", "fc") and profile.notes == []


@pytest.mark.parametrize("major", [10, 11])
def test_a_myelin_layer_that_lists_none_is_tied_to_the_graphs_nodes_between_its_ends(model, tmp_path, major):
    backend, _, _ = backend_for(major, myelin="unlisted")
    with backend.build(model, "fp32", 1, tmp_path / "engines") as engine:
        profile = engine.profile_layers(2)
        model.unlink()  # the graph gone: the ForeignNode cannot be placed
        lost = engine.profile_layers(2)
    assert profile.layers[-1].nodes == ("pool", "flatten", "fc")
    assert profile.notes == ["TensorRT's Myelin layer {ForeignNode[pool...fc]} lists no ONNX nodes: tied to the 3 "
                             "nodes of the graph from pool to fc, and its time cannot be split among them"]
    assert lost.layers[-1].nodes == () and lost.notes == [
        "TensorRT's Myelin layer {ForeignNode[pool...fc]} lists no ONNX nodes: tied to none (the ONNX graph could "
        "not be read)"]


def test_a_plan_without_layer_details_still_profiles_by_layer_name(model, tmp_path):
    backend, _, _ = backend_for(10, myelin="listed")
    engine = backend.build(model, "fp32", 1, tmp_path / "engines")
    engine.plan = json.dumps({**json.loads(engine.plan), "detailed": False}).encode()  # layer names only
    with engine:
        profile = engine.profile_layers(2)
    assert [layer.name for layer in profile.layers] == [*LAYERS[:2], "{ForeignNode[pool...fc]}"]
    assert [layer.kind for layer in profile.layers] == ["unknown", "unknown", "Myelin"]
    assert all(layer.nodes == () and layer.precision is None for layer in profile.layers)
    assert profile.notes == ["TensorRT's engine inspector gave no layer details (the engine was not built with "
                             "detailed profiling verbosity): layers are not tied to ONNX nodes"]


def test_a_cuda_graph_timed_is_not_what_is_profiled_and_timing_after_is_unprofiled(model, tmp_path):
    backend, trt, gpu = backend_for(11, cuda_graph=True)
    with backend.build(model, "fp32", 1, tmp_path / "engines") as engine:
        engine.timed(QUICK)
        launches, enqueues = gpu.launches, trt._enqueues
        profile = engine.profile_layers(3)
        assert gpu.launches == launches and trt._enqueues == enqueues + 4  # plain enqueues, the graph untouched
        times = layer_timer(trt)
        engine.timed(QUICK)  # the graph again, and no profiler left to report to
        assert gpu.launches > launches and engine.context.profiler is None
        assert engine.describe()["cuda_graph"] is True
    assert times.take() == {} and len(profile.layers) == 5


def test_a_failed_report_is_one_line_and_gives_the_context_back(model, tmp_path):
    backend, trt, _ = backend_for(10)
    with backend.build(model, "fp32", 1, tmp_path / "engines") as engine:
        trt.failing.add("report")
        with pytest.raises(TrtbenchError, match=r"report_to_profiler returned False"):
            engine.profile_layers(2)
        assert engine.context.profiler is None and engine.context.enqueue_emits_profile is True
        trt.failing.discard("report")
        with pytest.raises(TrtbenchError, match="at least 1 iteration, not 0"):
            engine.profile_layers(0)
        assert engine.profile_layers(1).iterations == 1
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        engine.profile_layers(1)


def test_a_run_with_a_profile_records_it_with_the_graph(model, tmp_path):
    backend, _, _ = backend_for(11, myelin="unlisted")
    policy = TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=4, profile_iterations=3)
    record = run_case(backend, Case("Block", "fp32", 1), model, tmp_path / "e", policy)
    assert record.status == "ok", record.error
    assert record.profile["engine"] == "TensorRT IProfiler" and record.profile["iterations"] == 3
    assert record.profile["graph"] == [[name, op] for name, op in zip(NODES, [
        "Conv", "Relu", "Conv", "Add", "Relu", "GlobalAveragePool", "Flatten", "Gemm"], strict=True)]
    assert [layer["nodes"] for layer in record.profile["layers"]][-1] == ["pool", "flatten", "fc"]


# --- the double fails as TensorRT does ------------------------------------------------------------


def test_the_doubles_profiler_api_behaves_as_tensorrts(model, tmp_path):
    backend, trt, gpu = backend_for(10)
    with backend.build(model, "fp32", 1, tmp_path / "engines") as engine:
        context = engine.context
        assert context.report_to_profiler() is False  # no profiler
        times = layer_timer(trt)
        context.profiler = times
        assert context.enqueue_emits_profile is True
        engine._execute()  # emits: reported by the enqueue itself, which waited for the GPU
        assert list(times.take()) == LAYERS
        assert context.report_to_profiler() is True and times.take() == {}  # nothing more to report
        context.enqueue_emits_profile = False
        assert context.report_to_profiler() is False  # nothing enqueued since
        engine._execute()
        assert times.take() == {}  # recorded, not reported
        assert context.report_to_profiler() is True and list(times.take()) == LAYERS
        assert context.report_to_profiler() is False  # reported once
        with pytest.raises(TypeError, match="incompatible function arguments"):
            context.profiler = object()

        class Unbound(trt.IProfiler):
            def __init__(self):
                pass

        with pytest.raises(TypeError, match=r"IProfiler.__init__\(\) must be called"):
            Unbound()
        with pytest.raises(RuntimeError, match="pure virtual"):
            trt.IProfiler().report_layer_time("conv", 1.0)


# --- tying names to nodes, by hand-made inspector output --------------------------------------------


GRAPH = [("conv1", ("c1",)), ("relu1", ("r1",)), ("pool", ("p",)), ("fc", ("y",))]


def test_odd_layers_are_kept_and_said_not_tied():
    inspected = Inspected((("conv1 + relu1", "int8", ("conv1", "relu1")), ("shuffle_1", "fp16", ()),
                           ("{ForeignNode[fc...pool]}", "other", ()), ("{ForeignNode[c1...gone]}", "bf16", ())),
                          "11.x", ("CaskConvolution", "Shuffle", "Myelin", ""))
    layers, notes = tensorrt_layers([("conv1 + relu1", 1.0), ("shuffle_1", 0.5), ("{ForeignNode[fc...pool]}", 0.2),
                                     ("{ForeignNode[c1...gone]}", 0.1), ("stranger", 0.3)], inspected, GRAPH)
    assert [(layer.kind, layer.precision, layer.nodes, layer.inserted) for layer in layers] == [
        ("CaskConvolution", "int8", ("conv1", "relu1"), False), ("Shuffle", "fp16", (), False),
        ("Myelin", None, (), False), ("Myelin", "bf16", (), False), ("unknown", None, (), False)]
    assert notes == [
        "TensorRT's Myelin layer {ForeignNode[fc...pool]} lists no ONNX nodes: tied to none (fc comes after pool in "
        "the graph)",
        "TensorRT's Myelin layer {ForeignNode[c1...gone]} lists no ONNX nodes: tied to none (gone is no node of the "
        "graph)",
        "layer stranger is not in TensorRT's engine inspector: tied to no ONNX node",
        "layer shuffle_1 names no ONNX node in TensorRT's engine inspector: unmapped time",
    ]
    # a ForeignNode's ends may be tensors the nodes write: c1 is conv1's output
    layers, _ = tensorrt_layers([("{ForeignNode[c1...p]}", 1.0)], Inspected(
        (("{ForeignNode[c1...p]}", "fp16", ()),), "10.x", ("Myelin",)), GRAPH)
    assert layers[0].nodes == ("conv1", "relu1", "pool")


def test_runs_missing_a_layer_count_it_as_zero_and_no_layers_is_an_error():
    profile = profile_of_runs([{"a": 1.0, "b": 2.0}, {"a": 3.0}, {"a": 2.0, "b": 1.0}], None, None)
    assert [(layer.name, layer.median_ms) for layer in profile.layers] == [("a", 2.0), ("b", 1.0)]
    assert profile.total_ms == 3.0  # sums 3, 3, 3
    for runs in ([], [{}, {}]):
        with pytest.raises(TrtbenchError, match="TensorRT's profiler reported no"):
            profile_of_runs(runs, None, None)
