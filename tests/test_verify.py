import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from trtbench.backends import create
from trtbench.precision import PRECISIONS
from trtbench.verify import THRESHOLDS, Reference, check_engine, compare, judge, verification_inputs


def test_compare_by_hand():
    reference = np.array([[1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0, 0.0, 1.0]])
    got = np.array([[1.0, 0.1, 0.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.0, 0.0, 1.0]])
    figures = compare(reference, got)
    assert figures["max_abs_error"] == 1.5 and figures["max_rel_error"] == 0.75
    assert figures["top1_agree"] == 0.5 and figures["top5_agree"] == 1.0
    assert figures["min_cosine"] == pytest.approx((0 * 0 + 2 * 0.5 + 1) / (np.sqrt(5) * np.sqrt(1.25)))


def test_judge_per_precision():
    good = {"max_rel_error": 5e-5, "min_cosine": 0.9999, "top1_agree": 1.0}
    assert judge(good, "fp32") == [] and judge(good, "fp16") == [] and judge(good, "int8") == []
    assert judge({**good, "max_rel_error": 2e-4}, "fp32") == ["relative error 2.00e-04 > 1e-04"]
    assert judge({**good, "max_rel_error": 2e-2}, "fp16") == []  # fp16 is judged on cosine and agreement
    assert judge({**good, "min_cosine": 0.98, "top1_agree": 0.5}, "int8") == [
        "cosine 0.98000 < 0.99", "top-1 agreement 50.0% < 80%"]
    assert set(THRESHOLDS) == set(PRECISIONS)  # every precision has its bar


@pytest.mark.slow
def test_fp32_on_onnxruntime_agrees_with_paddle(exported, tmp_path):
    models_dir, results = exported
    path = results["ResNet18"].onnx_path  # exported from a .pdparams: the reference reloads it
    inputs = verification_inputs(4)
    with create("onnxruntime-cpu").build(path, "fp32", 4, tmp_path) as engine:
        result = check_engine(engine, Reference(path), "fp32", inputs)
    assert result["passed"], result
    assert result["max_rel_error"] < 1e-5 and result["top1_agree"] == 1.0


@pytest.mark.slow
def test_a_corrupted_graph_fails_the_check(exported, tmp_path):
    models_dir, results = exported
    path = results["ResNet50_vd"].onnx_path
    model = onnx.load(str(path))
    fc = next(t for t in model.graph.initializer if tuple(t.dims) == (2048, 1000))
    weights = numpy_helper.to_array(fc).copy()
    weights[:, :10] *= -1  # ten classes' weights flipped: a wrong mapping of a kind that can happen
    fc.CopyFrom(numpy_helper.from_array(weights, fc.name))
    corrupted = tmp_path / "corrupted.onnx"
    onnx.save(model, str(corrupted))
    inputs = verification_inputs(4)
    with create("onnxruntime-cpu").build(corrupted, "fp32", 4, tmp_path) as engine:
        result = check_engine(engine, Reference(path), "fp32", inputs)
    assert not result["passed"] and result["failed"][0].startswith("relative error")
