"""trtexec's per-layer profile without trtexec: the run that takes it (its flags per major), the files it
exports (--exportProfile, --exportLayerInfo in each major's inspector schema) read back and tied to ONNX
nodes, and files that are missing, damaged or hostile."""

import json

import onnx
import pytest
from onnx import TensorProto, helper

from tests.backends.test_trtexec import HELPS, FakeTrtexec, backend, run_log
from trtbench.backends.trtexec import PROFILE_FLAGS, read_exported_profile
from trtbench.errors import TrtbenchError
from trtbench.executors.case import Case, run_case
from trtbench.measure.timing import TimingPolicy

QUICK = TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=4)
REFORMAT_IN = "Reformatting CopyNode for Input Tensor 0 to conv1 + relu1"
FOREIGN = "{ForeignNode[pool...fc]}"


def _tensor(major, name, kind):
    """One tensor of an inspector layer, as each major writes it."""
    legacy = {"Float": "Row major linear FP32 format", "Half": "Channel major FP16 format where channel % 8 == 0"}
    entry = {"Name": name, "Location": "Device", "Dimensions": [1, 4, 56, 56]}
    if major >= 11:
        return {**entry, "Format": "Row major linear format (kLINEAR)", "Datatype": kind}
    return {**entry, "Format/Datatype": legacy[kind]}


def layer_info(major):
    """--exportLayerInfo's JSON (the engine inspector's) for an FP16 engine: an input reformat, a fused
    convolution, and a Myelin layer whose metadata lists no nodes."""
    layers = [
        {"Name": REFORMAT_IN, "LayerType": "Reformat", "Inputs": [_tensor(major, "x", "Float")],
         "Outputs": [_tensor(major, "x copy", "Half")], "TacticName": "", "StreamId": 0, "Metadata": ""},
        {"Name": "conv1 + relu1", "LayerType": "CaskConvolution", "Inputs": [_tensor(major, "x copy", "Half")],
         "Outputs": [_tensor(major, "r1", "Half")], "TacticName": "sm90_xmma_fprop", "StreamId": 0,
         "Metadata": "[ONNX Layer: conv1]\x1f[ONNX Layer: relu1]"},
        {"Name": FOREIGN, "LayerType": "Myelin", "Inputs": [_tensor(major, "r1", "Half")],
         "Outputs": [_tensor(major, "y", "Float")], "TacticName": "", "StreamId": 0, "Metadata": ""},
    ]
    io = {"Bindings": ["x", "y"]} if major < 11 else {"I/O Tensors": [
        {"Name": "x", "IOMode": "Input", "DataType": "Float", "Dimensions": [1, 3, 224, 224], "Location": "Device"},
        {"Name": "y", "IOMode": "Output", "DataType": "Float", "Dimensions": [1, 1000], "Location": "Device"}]}
    return {"Layers": layers, **io}


def exported_profile(median=True):
    """--exportProfile's JSON, as samples/common/sampleReporting.cpp writes it (medianMs since TensorRT 8.6)."""
    entries = [(REFORMAT_IN, 0.5, 0.05, 0.04), ("conv1 + relu1", 6.0, 0.6, 0.55), (FOREIGN, 3.5, 0.35, 0.3)]
    return [{"count": 10}] + [{"name": name, "timeMs": total, "averageMs": average,
                               **({"medianMs": middle} if median else {}), "percentage": total / 10 * 100}
                              for name, total, average, middle in entries]


@pytest.fixture
def model(tmp_path):
    """The ONNX graph trtexec builds from: its nodes' names and order are what the profile is tied to."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c1"], name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("GlobalAveragePool", ["r1"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "wf"], ["y"], name="fc")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 224])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1000])])
    path = tmp_path / "ResNet50.onnx"
    onnx.save(helper.make_model(graph), str(path))
    return path


def timed_engine(major, model, tmp_path, **fake):
    """An engine of trtexec ``major`` that has been timed, and the trtexec double."""
    popen = FakeTrtexec(help=HELPS[major], run=run_log(major, typing="weak" if major == 10 else "strong"),
                        **{"profile": exported_profile(), "layer_info": layer_info(major), **fake})
    trt, popen = backend(major, popen=popen)
    engine = trt.build(model, "fp32", 1, tmp_path / "engines")
    engine.timed(QUICK)
    return engine, popen


@pytest.mark.parametrize("major", [10, 11])
def test_the_profile_run_is_the_timed_build_with_detailed_layers_and_the_profile_exported(model, tmp_path, major):
    engine, fake = timed_engine(major, model, tmp_path)
    cache = tmp_path / "engines" / "trtexec.timing.cache"
    learned = cache.read_bytes()
    with engine:
        profile = engine.profile_layers(5)
    (*command, cache_flag, profile_flag, layers_flag, warmup, duration, iterations) = fake.runs[-1]
    assert command == [*engine.command, *PROFILE_FLAGS[major]]
    assert "--profilingVerbosity=detailed" in command
    assert ("--separateProfileRun" in command) is (major == 10)  # 11.x always profiles apart, and warns of it
    assert cache_flag.startswith("--timingCacheFile=") and fake.offered[-1] == learned  # the timed run's cache
    assert cache.read_bytes() == learned  # what the profile run learned is not kept
    assert profile_flag.startswith("--exportProfile=") and layers_flag.startswith("--exportLayerInfo=")
    assert [warmup, duration, iterations] == ["--warmUp=0", "--duration=0", "--iterations=5"]
    assert engine.full_command[:len(engine.command)] == engine.command  # the timed run's, still the record's
    assert "--exportProfile" not in engine.describe()["command"]
    assert profile.engine == "trtexec --exportProfile" and profile.iterations == 10  # trtexec's count


@pytest.mark.parametrize("major", [10, 11])
def test_layers_are_tied_to_nodes_through_the_exported_layer_information(model, tmp_path, major):
    engine, _ = timed_engine(major, model, tmp_path)
    with engine:
        profile = engine.profile_layers(10)
    reformat, conv, foreign = profile.layers
    assert (reformat.name, reformat.kind, reformat.nodes, reformat.inserted, reformat.precision) == \
        (REFORMAT_IN, "Reformat", (), True, "fp16")
    assert (conv.kind, conv.nodes, conv.precision, conv.median_ms) == ("CaskConvolution", ("conv1", "relu1"),
                                                                       "fp16", 0.55)
    assert (foreign.kind, foreign.nodes, foreign.precision) == ("Myelin", ("pool", "flatten", "fc"), "fp32")
    assert profile.total_ms == pytest.approx(0.04 + 0.55 + 0.3)  # the medians summed
    assert profile.notes == [
        "TensorRT's Myelin layer {ForeignNode[pool...fc]} lists no ONNX nodes: tied to the 3 nodes of the graph "
        "from pool to fc, and its time cannot be split among them",
        "trtexec reports no per-inference sums: the total is the sum of the layers' medians",
        "trtexec built the engine again for the profile, as the timed run built it (same graph, flags and timing "
        "cache)"]


def test_without_medians_the_means_are_used_and_said(model, tmp_path):
    engine, _ = timed_engine(10, model, tmp_path, profile=exported_profile(median=False))
    with engine:
        profile = engine.profile_layers(10)
    assert [layer.median_ms for layer in profile.layers] == [0.05, 0.6, 0.35]
    assert profile.notes[0] == ("trtexec gave no median for 3 of 3 layers (no medianMs): their time is their mean "
                                "(averageMs)")


@pytest.mark.parametrize(("layers", "why"), [
    (None, "trtexec wrote no layer information (--exportLayerInfo)"),
    ({"Layers": [REFORMAT_IN, "conv1 + relu1", FOREIGN], "Bindings": ["x", "y"]},
     "the engine was not built with detailed profiling verbosity"),
    ("{not json", "the engine was not built with detailed profiling verbosity"),
])
def test_without_layer_details_layers_keep_their_times_but_no_nodes(model, tmp_path, layers, why):
    engine, _ = timed_engine(10, model, tmp_path, layer_info=layers)
    with engine:
        profile = engine.profile_layers(10)
    assert [(layer.kind, layer.nodes) for layer in profile.layers] == [("Reformat", ()), ("unknown", ()),
                                                                        ("Myelin", ())]
    assert profile.notes[0] == f"TensorRT's engine inspector gave no layer details ({why}): layers are not tied to " \
                               "ONNX nodes"
    assert profile.unmapped_ms == pytest.approx(0.89)


@pytest.mark.parametrize(("text", "error"), [
    (None, r"trtexec wrote no per-layer profile \(--exportProfile\): No such file"),
    ("[{\"count\": 3}, {\"name\": \"a \"b\"\", \"medianMs\": 1}]", "is not JSON: "),  # trtexec does not escape names
    ("{}", "is not a list that begins with its count"),
    ("[]", "is not a list that begins with its count"),
    ("[{\"count\": 3}]", "holds no layer"),
    ("[{\"count\": 3}, {\"name\": 5, \"medianMs\": 1}]", "entry 1 is not a layer with a name and a time in ms"),
    ("[{\"count\": 3}, {\"name\": \"a\", \"medianMs\": -1}]", "entry 1 is not a layer"),
    ("[{\"count\": 3}, {\"name\": \"a\", \"medianMs\": 1e999}]", "entry 1 is not a layer"),
    ("[{\"count\": 3}, \"a\"]", "entry 1 is not a layer"),
    ("[" * 100000, "is not JSON"),
])
def test_a_missing_or_damaged_profile_is_one_line(model, tmp_path, text, error):
    engine, _ = timed_engine(11, model, tmp_path, profile=text)
    with engine, pytest.raises(TrtbenchError, match=error) as failed:
        engine.profile_layers(3)
    assert "\n" not in str(failed.value)


def test_nan_percentages_from_a_zero_total_are_read(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text('[\n  { "count" : 3 }\n, { "name" : "a", "timeMs" : 0, "averageMs" : 0, "medianMs" : 0, '
                    '"percentage" : -nan }\n]\n')
    assert read_exported_profile(path) == ([("a", 0.0)], 3, [])


def test_a_failed_profile_run_is_one_line(model, tmp_path):
    engine, fake = timed_engine(10, model, tmp_path)
    fake.returncode = 1
    fake.run = "[11/29/2026-10:00:00] [E] Error[2]: [executionContext.cpp::enqueueV3] out of memory\n&&&& FAILED\n"
    with engine, pytest.raises(TrtbenchError, match=r"^trtexec's profile run failed: .*out of memory$"):
        engine.profile_layers(3)
    with pytest.raises(RuntimeError, match="outside its `with` block"):
        engine.profile_layers(3)
    with engine, pytest.raises(TrtbenchError, match="at least 1 iteration, not 0"):
        engine.profile_layers(0)


def test_a_run_with_a_profile_records_it(model, tmp_path):
    popen = FakeTrtexec(help=HELPS[11], run=run_log(11, typing="strong"), profile=exported_profile(),
                        layer_info=layer_info(11))
    trt, _ = backend(11, popen=popen)
    policy = TimingPolicy(warmup_ms=0, duration_s=0, min_iterations=4, profile_iterations=5)
    record = run_case(trt, Case("ResNet50", "fp32", 1), model, tmp_path / "e", policy)
    assert record.status == "ok", record.error
    assert record.profile["engine"] == "trtexec --exportProfile"
    assert [layer["nodes"] for layer in record.profile["layers"]] == [[], ["conv1", "relu1"],
                                                                      ["pool", "flatten", "fc"]]
    assert record.profile["graph"][0] == ["conv1", "Conv"]
    assert "--exportProfile" not in record.method["command"]
    assert json.dumps(record.profile)  # what the run file keeps
