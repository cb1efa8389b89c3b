"""Every CPU backend available here through the same checks: it builds, runs, times, computes the
model within the precision's thresholds, runs in the precision it is asked for (read back from the
engine), and refuses what it would run as another precision."""

import numpy as np
import onnxruntime as ort
import pytest

from trtbench import backends
from trtbench.checks.verify import THRESHOLDS, compare, judge
from trtbench.errors import TrtbenchError
from trtbench.graphs.inputs import VERIFY_SEED, seeded_input
from trtbench.graphs.precision import PRECISIONS


def _cpu_backends():
    found = []
    for name in backends.backend_names()[1:]:
        backend = backends.create(name)
        if not backend.gpu and backend.availability().ok:
            found.append(name)
    return found


PAIRS = [(name, precision) for name in _cpu_backends() for precision in PRECISIONS
         if backends.create(name).runs(precision)[0]]
REFUSED = [(name, precision) for name in _cpu_backends() for precision in PRECISIONS
           if not backends.create(name).runs(precision)[0]]


def test_this_machine_has_cpu_backends_to_check():
    assert {"onnxruntime-cpu", "openvino-cpu", "paddle-inference"} <= set(_cpu_backends())
    assert ("onnxruntime-cpu", "fp32") in PAIRS and ("onnxruntime-cpu", "int8") in PAIRS


@pytest.mark.slow
@pytest.mark.parametrize("name,precision", PAIRS)
def test_builds_runs_times_and_runs_the_precision_it_says(name, precision, exported, tmp_path):
    models_dir, results = exported
    graph = results["ResNet18"].onnx_path
    inputs = seeded_input(8, VERIFY_SEED)
    expected = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"]).run(None, {"x": inputs})[0]
    backend = backends.create(name, {"threads": 2})
    with backend.build(graph, precision, 8, tmp_path) as engine:
        spans = engine.iterate()
        got = engine.infer(inputs)
        executed, evidence = engine.executed_precision()
        method = engine.describe()
    assert next(iter(spans.values())) > 0
    assert got.shape == expected.shape and np.isfinite(got).all()
    figures = compare(expected, got)
    assert judge(figures, precision) == [], f"{name} {precision} does not compute the model: {figures}"
    # judged on how the logits move with the input too (verify's centred cosine), at every precision
    assert figures["min_centred_cosine"] >= THRESHOLDS[precision]["min_centred_cosine"], figures
    # ... which the same engine's outputs fail once they ignore the input (its batch mean, repeated)
    ignoring = np.repeat(got.mean(0, keepdims=True), len(got), axis=0)
    assert any(text.startswith("centred cosine") for text in judge(compare(expected, ignoring), precision))
    assert executed == precision, f"{name} asked for {precision} ran {executed}: {evidence}"
    assert evidence and method.get("threads") == 2


@pytest.mark.parametrize("name,precision", REFUSED)
def test_refuses_in_one_line_what_it_would_run_as_another_precision(name, precision):
    ok, reason = backends.create(name).runs(precision)
    assert not ok and reason and "\n" not in reason
    with pytest.raises(TrtbenchError, match=f"backend {name} does not run {precision} here"):
        backends.assign(name, [precision])
