"""`trtbench verify` and `trtbench eval`: what a user can get wrong with images and batches is one line."""

import json
import os

import pytest
from PIL import Image

from tests.cli.test_export import _one_line_error
from tests.graphs.test_preprocess import deadline, forged_png


@pytest.mark.parametrize("command", [["verify", "ResNet18"], ["eval", "ResNet18", "--data", "{tmp}"]])
def test_a_batch_larger_than_memory_is_one_line(invoke, tmp_path, command):
    (tmp_path / "n0").mkdir()
    Image.new("RGB", (256, 256)).save(tmp_path / "n0" / "a.png")
    args = [a.format(tmp=tmp_path) for a in command]
    line = _one_line_error(invoke(*args, "--batch", "10000000", "--models-dir", tmp_path / "m"))
    assert line.startswith("error: --batch 10000000 needs at least 48169.0 GB: ")
    assert line.endswith("choose a smaller --batch")


def test_verify_on_images_none_of_which_can_be_read_is_one_line(invoke, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"junk")
    with open(os.fsencode(images) + b"/caf\xe9.jpg", "wb") as named_in_latin1:
        named_in_latin1.write(b"\xff\xd8\xff truncated")
    forged_png(images / "d.png", 30000, 30000)
    os.mkfifo(images / "e.png")
    with deadline():
        line = _one_line_error(invoke("verify", "ResNet18", "--images", images, "--models-dir", tmp_path / "m"))
    assert line == (f"error: none of the 4 images in --images {images} could be read; first: {images / 'a.png'}: "
                    "not an image file Pillow can identify")
    assert not (tmp_path / "m").exists()  # refused before any export


def test_verify_without_the_images_folder_is_one_line(invoke, tmp_path):
    line = _one_line_error(invoke("verify", "ResNet18", "--images", tmp_path / "nope", "--models-dir", tmp_path))
    assert line == f"error: --images folder not found: {tmp_path / 'nope'}"


@pytest.mark.slow
def test_verify_skips_and_counts_unreadable_images(invoke, exported, tmp_path):
    models_dir, _ = exported
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"junk")
    Image.new("RGB", (300, 256), (200, 30, 90)).save(images / "b.png")
    forged_png(images / "c.png", 10000, 10000)
    result = invoke("verify", "ResNet18", "--images", images, "--batch", "2", "--json", "--backend",
                    "onnxruntime-cpu", "--models-dir", models_dir, "--engines-dir", tmp_path / "e")
    assert result.exit_code == 0, result.output
    assert "2 unreadable images in --images skipped; first: " in result.stderr
    (row,) = json.loads(result.stdout)
    assert row["passed"] and row["samples"] == 2
    # one image twice: nothing to show the output moves with its input, and verify says so
    assert row["min_centred_cosine"] is None
    assert ("WARNING: the inputs compared are all one image, so verify could not check that the output moves with "
            "its input (centred cosine): give --images two different images or more") in result.stderr


@pytest.mark.slow
def test_verify_shows_the_centred_cosine_and_checks_batch_1_on_two_inputs(invoke, exported, tmp_path):
    models_dir, _ = exported
    args = ("verify", "ResNet18", "--batch", "1", "--backend", "onnxruntime-cpu", "--models-dir", models_dir,
            "--engines-dir", tmp_path / "e")
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["samples"] == 2 and row["min_centred_cosine"] > 0.999 and row["mean_centred_cosine"] > 0.999
    assert row["thresholds"]["min_centred_cosine"] == 0.99
    table = invoke(*args)
    assert table.exit_code == 0, table.output
    assert "Output check against Paddle (2 inputs)" in table.stdout
    header = "".join(line for line in table.stdout.splitlines()[:6])  # wrapped at the runner's width
    assert "centred" in header and header.index("centred") < header.index("top-1")
    assert f"{row['min_centred_cosine']:.4f}" in table.stdout
