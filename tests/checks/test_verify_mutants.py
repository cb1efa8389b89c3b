"""Engines that compute the wrong thing must fail verify at every precision that could catch them.

Three mutants of ResNet18 (the tests' export, seeded random weights, on which the logits barely
depend on the input): an engine that returns its batch's mean logits for every input, a graph with
two output classes swapped, and a graph with one convolution's weights scaled by 1.05. Each is a
real engine of a CPU backend at each precision it runs here, judged by `check_engine` against
Paddle's own forward pass, as `trtbench verify` judges.
"""

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from trtbench import backends
from trtbench.backends.base import Engine
from trtbench.checks.verify import THRESHOLDS, Reference, check_engine, compare, judge, verification_inputs

pytestmark = pytest.mark.slow

#: every (backend, precision) a mutant is built at; a precision this CPU lacks is skipped with the reason
ENGINES = [("openvino-cpu", "fp32"), ("openvino-cpu", "fp16"), ("openvino-cpu", "bf16"), ("openvino-cpu", "int8"),
           ("onnxruntime-cpu", "fp32"), ("onnxruntime-cpu", "int8")]
SCALED_CONV = 7  # the eighth Conv of the graph: the second 3x3 (128 x 128) of ResNet18's second stage


class MeanOfBatch(Engine):
    """A real engine whose every output is replaced by the mean of its batch's outputs: what an engine
    that ignores its input would give."""

    def __init__(self, inner: Engine):
        super().__init__(inner.batch, inner.info)
        self.inner = inner

    def activate_impl(self):
        self.inner.__enter__()

    def deactivate_impl(self):
        if self.inner.active:
            self.inner.__exit__(None, None, None)

    def infer_impl(self, data):
        logits = self.inner.infer(data)
        return np.repeat(logits.mean(0, keepdims=True), len(logits), axis=0)


def _engine(name, precision, graph, batch, cache):
    backend = backends.create(name, {"threads": 2})
    runs, why = backend.runs(precision)
    if not runs:
        pytest.skip(f"{name} does not run {precision} on this CPU: {why}")
    return backend.build(graph, precision, batch, cache)


def _edited(source, dest, edit):
    """A copy of the graph at ``source`` with ``edit`` applied to its initializers, saved at ``dest``."""
    model = onnx.load(str(source))
    edit(model)
    onnx.save(model, str(dest))
    return dest


def _swap_classes(a, b):
    def edit(model):
        # The classifier's weights (512 x 1000) and bias (1000): classes a and b trade columns.
        for tensor in model.graph.initializer:
            values = numpy_helper.to_array(tensor)
            if values.shape[-1:] == (1000,) and values.ndim in (1, 2):
                values = values.copy()
                values[..., [a, b]] = values[..., [b, a]]
                tensor.CopyFrom(numpy_helper.from_array(values, tensor.name))
    return edit


def _scale_conv(index, factor=1.05):
    def edit(model):
        conv = [node for node in model.graph.node if node.op_type == "Conv"][index]
        tensor = next(t for t in model.graph.initializer if t.name == conv.input[1])
        tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) * np.float32(factor), tensor.name))
    return edit


@pytest.fixture(scope="module")
def resnet18(exported, tmp_path_factory):
    """The export, Paddle's reference on verify's 8 inputs, and the mutant graphs."""
    _, results = exported
    path = results["ResNet18"].onnx_path
    reference = Reference(path)
    inputs = verification_inputs(8)
    mean = reference.outputs(inputs, key="inputs").mean(0)
    top1, runner_up = (int(c) for c in np.argsort(-mean)[:2])
    folder = tmp_path_factory.mktemp("mutants")
    graphs = {
        "classes 0 and 1 swapped": _edited(path, folder / "swap01.onnx", _swap_classes(0, 1)),
        # the class every input is given and the one next to it: the two with the nearest mean logits
        "top-1 and runner-up swapped": _edited(path, folder / "swaptop.onnx", _swap_classes(top1, runner_up)),
        "one conv scaled by 1.05": _edited(path, folder / "scaled.onnx", _scale_conv(SCALED_CONV)),
    }
    return path, reference, inputs, graphs


def _check(engine, reference, precision, inputs, key="inputs"):
    with engine:
        return check_engine(engine, reference, precision, inputs, key=key)


@pytest.mark.parametrize("name,precision", ENGINES)
def test_the_engine_itself_passes(resnet18, name, precision, tmp_path):
    path, reference, inputs, _ = resnet18
    result = _check(_engine(name, precision, path, 8, tmp_path), reference, precision, inputs)
    assert result["passed"], result
    assert result["min_centred_cosine"] >= THRESHOLDS[precision]["min_centred_cosine"]


@pytest.mark.parametrize("name,precision", ENGINES)
def test_an_engine_returning_the_mean_logits_fails(resnet18, name, precision, tmp_path):
    path, reference, inputs, _ = resnet18
    result = _check(MeanOfBatch(_engine(name, precision, path, 8, tmp_path)), reference, precision, inputs)
    assert not result["passed"]
    assert any(text.startswith("centred cosine") for text in result["failed"]), result["failed"]
    assert result["min_centred_cosine"] < 0.3


@pytest.mark.parametrize("mutant", ["classes 0 and 1 swapped", "top-1 and runner-up swapped"])
@pytest.mark.parametrize("name,precision", ENGINES)
def test_two_classes_swapped_fail(resnet18, name, precision, mutant, tmp_path):
    _, reference, inputs, graphs = resnet18
    result = _check(_engine(name, precision, graphs[mutant], 8, tmp_path), reference, precision, inputs)
    assert not result["passed"], result


@pytest.mark.parametrize("name,precision", ENGINES)
def test_one_conv_scaled_by_5_percent_fails_where_the_thresholds_are_tighter_than_the_change(
        resnet18, name, precision, tmp_path):
    _, reference, inputs, graphs = resnet18
    graph = graphs["one conv scaled by 1.05"]
    # The change itself, free of any precision's own error: the mutant in FP32 on ONNX Runtime.
    import onnxruntime as ort

    change = compare(reference.outputs(inputs, key="inputs"),
                     ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"]).run(None, {"x": inputs})[0])
    assert judge(change, "fp32"), change  # FP32's thresholds always catch it
    tighter = bool(judge(change, precision))
    result = _check(_engine(name, precision, graph, 8, tmp_path), reference, precision, inputs)
    if tighter:
        assert not result["passed"], (change, result)


def test_a_batch_1_engine_is_checked_on_two_inputs(resnet18, tmp_path):
    path, reference, _, _ = resnet18
    inputs = verification_inputs(1)
    assert inputs.shape[0] == 2 and not np.array_equal(inputs[0], inputs[1])
    good = _check(_engine("onnxruntime-cpu", "fp32", path, 1, tmp_path), reference, "fp32", inputs, key=None)
    assert good["passed"] and good["samples"] == 2 and good["min_centred_cosine"] > 0.999, good
    # at batch 1 the mean of a batch is the output itself: the mutant is the mean of both inputs, repeated
    constant = np.repeat(reference.outputs(inputs).mean(0, keepdims=True), 2, axis=0)
    figures = compare(reference.outputs(inputs), constant)
    assert abs(figures["min_centred_cosine"]) < 0.1 and judge(figures, "fp32")
