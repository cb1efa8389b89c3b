import os

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from PIL import Image

from tests.graphs.test_preprocess import deadline, forged_png
from trtbench.backends import create
from trtbench.checks.verify import (
    THRESHOLDS,
    Reference,
    centred_cosines,
    centred_judged,
    check_engine,
    compare,
    inputs_for,
    judge,
    verification_images,
    verification_inputs,
)
from trtbench.errors import TrtbenchError
from trtbench.graphs.precision import PRECISIONS
from trtbench.graphs.preprocess import load_image


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


def test_centred_cosine_by_hand():
    # Two inputs whose logits differ in the first two classes only; the batch mean is [1.5, 1.5, 5].
    reference = np.array([[1.0, 2.0, 5.0], [2.0, 1.0, 5.0]])
    assert np.allclose(centred_cosines(reference, reference), [1.0, 1.0])
    # An output that ignores its input: the same logits (here the mean) for both scores 0 ...
    assert np.array_equal(centred_cosines(reference, np.array([[1.5, 1.5, 5.0]] * 2)), [0.0, 0.0])
    # ... though its plain cosine and the top-1 agreement are perfect.
    figures = compare(reference, np.array([[1.5, 1.5, 5.0]] * 2))
    assert figures["min_cosine"] > 0.98 and figures["top1_agree"] == 1.0 and figures["min_centred_cosine"] == 0.0
    # Departures that point the other way score -1; half the departure still points the same way: 1.
    assert np.allclose(centred_cosines(reference, reference[::-1]), [-1.0, -1.0])
    assert np.allclose(centred_cosines(reference, (reference + [1.5, 1.5, 5.0]) / 2), [1.0, 1.0])
    # Departure [-0.5, 0.5, 0] against [-0.5, 0.5, 0.5]: cosine 2/sqrt(6).
    got = reference + [[0.0, 0.0, 0.5], [0.0, 0.0, -0.5]]
    assert np.allclose(centred_cosines(reference, got), [2 / np.sqrt(6)] * 2)


def test_centred_cosine_is_not_measured_on_inputs_that_do_not_differ():
    one = np.array([[1.0, 2.0, 5.0]])
    assert centred_cosines(one, one) is None and centred_cosines(np.repeat(one, 3, 0), np.repeat(one, 3, 0)) is None
    figures = compare(np.repeat(one, 3, 0), np.repeat(one, 3, 0))
    assert figures["min_centred_cosine"] is None and figures["mean_centred_cosine"] is None
    assert judge(figures | {"max_rel_error": 0.0}, "fp32") == []


def test_every_precision_is_judged_on_how_the_output_follows_the_input():
    good = {"max_rel_error": 5e-5, "min_cosine": 0.9999, "top1_agree": 1.0, "reference_movement": 0.015}
    for precision in PRECISIONS:
        limit = THRESHOLDS[precision]["min_centred_cosine"]
        assert 0 < limit < 1
        assert judge({**good, "min_centred_cosine": limit}, precision) == []
        assert judge({**good, "min_centred_cosine": 0.0}, precision) == [
            f"centred cosine 0.0000 < {limit}: the logits do not move with the input as Paddle's do"]
        # logits that hardly move between the inputs (random weights) leave nothing the precision's own
        # error would not hide: shown, not judged
        still = {**good, "min_centred_cosine": 0.0, "reference_movement": THRESHOLDS[precision]["min_movement"] / 2}
        assert judge(still, precision) == ([] if precision != "fp32" else [
            f"centred cosine 0.0000 < {limit}: the logits do not move with the input as Paddle's do"])
        assert centred_judged(still, precision) is (precision == "fp32")
    # tighter where the precision keeps more bits
    assert [THRESHOLDS[p]["min_centred_cosine"] for p in ("fp32", "fp16", "bf16", "int8")] == [0.99, 0.95, 0.9, 0.4]


def test_a_check_runs_whole_batches_on_at_least_two_inputs():
    assert [inputs_for(batch) for batch in (1, 2, 3, 8)] == [2, 2, 3, 8]
    assert verification_inputs(1).shape == (2, 3, 224, 224) and verification_inputs(8).shape[0] == 8
    assert np.array_equal(verification_inputs(1)[:1], verification_inputs(8)[:1])  # the same leading inputs


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


@pytest.fixture
def mixed_images(tmp_path):
    """a.png junk, b.png an image, c.jpg truncated, d.png a forged 30000x30000 header, e.png a FIFO."""
    (tmp_path / "a.png").write_bytes(b"junk")
    Image.new("RGB", (256, 300), (9, 8, 7)).save(tmp_path / "b.png")
    Image.new("RGB", (256, 300), (1, 2, 3)).save(tmp_path / "c.jpg")
    (tmp_path / "c.jpg").write_bytes((tmp_path / "c.jpg").read_bytes()[:300])
    forged_png(tmp_path / "d.png", 30000, 30000)
    os.mkfifo(tmp_path / "e.png")
    return tmp_path


def test_verification_images_skip_and_count_the_unreadable(mixed_images):
    with deadline():
        inputs, skipped = verification_images(3, mixed_images)
    good = load_image(mixed_images / "b.png")
    assert inputs.shape == (3, 3, 224, 224) and all(np.array_equal(row, good) for row in inputs)  # cycled
    assert [text.split(": ")[:2] for text in skipped] == [
        [str(mixed_images / "a.png"), "not an image file Pillow can identify"],
        [str(mixed_images / "c.jpg"), "Truncated File Read"],  # Pillow's words
        [str(mixed_images / "d.png"), "a possible decompression bomb"],
        [str(mixed_images / "e.png"), "not a regular file"]]
    # only as many images as the batch takes are read
    first_only = verification_images(1, mixed_images)[1]
    assert first_only == [f"{mixed_images / 'a.png'}: not an image file Pillow can identify"]
    assert np.array_equal(verification_inputs(1, mixed_images)[0], good)


def test_verification_images_none_readable_is_one_error(mixed_images):
    (mixed_images / "b.png").unlink()
    with deadline(), pytest.raises(TrtbenchError) as refused:
        verification_inputs(2, mixed_images)
    assert str(refused.value) == (f"none of the 4 images in --images {mixed_images} could be read; first: "
                                  f"{mixed_images / 'a.png'}: not an image file Pillow can identify")


def test_verification_images_folder_errors_name_the_option(tmp_path):
    with pytest.raises(TrtbenchError, match="--images folder not found: .*nope"):
        verification_inputs(1, tmp_path / "nope")
    (tmp_path / "file.png").write_bytes(b"junk")
    with pytest.raises(TrtbenchError, match="--images .*file.png is not a folder"):
        verification_inputs(1, tmp_path / "file.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrtbenchError, match="--images .*empty holds no images"):
        verification_inputs(1, tmp_path / "empty")
