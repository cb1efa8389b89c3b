"""Every error a user can cause is one line in the user's words: no Python exception class name, no traceback,
no bytes of a file the user gave by mistake."""

import pickle
import re

import numpy as np
import pytest
from PIL import Image

from tests.cli.test_export import _one_line_error
from tests.cli.test_run import FAST

#: how Python names its exceptions ("ValueError: ...", "FileExistsError: [Errno 17]"): a user reads none
PYTHON_NAME = re.compile(r"\b[A-Z][a-zA-Z]+(Error|Exception)\b:")


def _in_words(line):
    assert not PYTHON_NAME.search(line), line
    assert "Errno" not in line and "pickle" not in line, line
    return line


@pytest.mark.parametrize(("seed", "words"), [("-1", "seed -1 is negative: give a whole number from 0 to 4294967295"),
                                             ("4294967296", "seed 4294967296 is too large: give a whole number from 0"),
                                             ("99999999999999999999999", "is too large"),
                                             ("1.5", "'1.5' is not a whole number")])
def test_a_seed_out_of_range_is_a_usage_error(invoke, tmp_path, seed, words):
    line = _in_words(_one_line_error(invoke("export", "ResNet18", "--seed", seed, "--output-dir", tmp_path), code=2))
    assert words in line
    assert not (tmp_path / "ResNet18.onnx").exists()


def test_the_seed_range_holds_for_a_caller_of_the_library_too(tmp_path):
    from trtbench.errors import TrtbenchError
    from trtbench.models.export import check_seed, export_variant
    from trtbench.models.zoo import get_variant

    check_seed(0)
    check_seed(2**32 - 1)
    with pytest.raises(TrtbenchError, match="seed -1 is negative"):
        export_variant(get_variant("ResNet18"), tmp_path, seed=-1)


@pytest.mark.parametrize(("content", "words"), [
    (b"", "the file is empty"),
    (b"hello, I am a text file\n", "not in the format paddle.save writes"),
    (pickle.dumps({"fc.weight": np.ones(3, np.float32)})[:20], "the file ends early"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "not in the format paddle.save writes")])
def test_weights_that_are_not_a_pdparams_are_one_line(invoke, tmp_path, content, words):
    weights = tmp_path / "model.pdparams"
    weights.write_bytes(content)
    line = _in_words(_one_line_error(invoke("export", "ResNet18", "--weights", weights, "--output-dir",
                                            tmp_path / "m")))
    assert "is not a Paddle state dict (.pdparams)" in line and words in line
    assert "PaddleClas" in line  # names what to give instead


def test_a_file_where_an_engine_folder_goes_is_one_line(tmp_path):
    from trtbench.errors import TrtbenchError
    from trtbench.store import artifacts

    engines = tmp_path / "engines"
    engines.mkdir()
    (engines / "openvino").write_text("")
    for call in (lambda: artifacts.store(engines / "openvino" / "a.blob", "openvino compiled model", {}, b"x"),
                 lambda: artifacts.ensure(engines / "openvino" / "deeper" / "a.blob", "openvino compiled model", {},
                                          lambda tmp: tmp.write_bytes(b"x") and None)):
        with pytest.raises(TrtbenchError) as caught:
            call()
        line = _in_words(str(caught.value))
        assert f"{engines / 'openvino'} is a file, not a folder; move or delete it" in line
    assert (engines / "openvino").read_text() == ""  # the user's file is left as it was


@pytest.mark.slow
def test_an_openvino_cache_path_that_is_a_file_fails_the_case_in_words(invoke, exported, tmp_path):
    models_dir, _ = exported
    engines = tmp_path / "e"
    engines.mkdir()
    (engines / "openvino").write_text("")
    result = invoke("run", "ResNet18", "--backend", "openvino-cpu", "--precision", "fp32", "--batch", "1",
                    "--models-dir", models_dir, "--results-dir", tmp_path / "r", "--engines-dir", engines, *FAST)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    _in_words(result.output)
    assert "is a file, not a folder" in result.output
    assert list((tmp_path / "r").glob("*.json")), "the run file keeps the failed case"


@pytest.mark.parametrize("name", ["a.jpg", "a.PNG"])
def test_data_that_is_an_image_is_one_line_without_its_bytes(invoke, exported, tmp_path, name):
    models_dir, _ = exported
    image = tmp_path / "img" / "n0001" / name
    image.parent.mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(image, format="PNG" if name.endswith("PNG") else "JPEG")
    line = _in_words(_one_line_error(invoke("eval", "ResNet18", "--data", image, "--models-dir", models_dir)))
    assert f"--data {image} is an image, not a folder or a list file" in line
    assert "\\x" not in line and "JFIF" not in line and "IHDR" not in line


def test_a_binary_file_given_as_a_list_is_one_line_without_its_bytes(invoke, exported, tmp_path):
    models_dir, _ = exported
    blob = tmp_path / "labels.txt"
    image = tmp_path / "x.jpg"
    Image.new("RGB", (8, 8), "red").save(image)
    blob.write_bytes(image.read_bytes())
    line = _in_words(_one_line_error(invoke("eval", "ResNet18", "--data", blob, "--models-dir", models_dir)))
    assert "is not a list file (it holds binary data)" in line
    assert "\\x" not in line and "JFIF" not in line


def _walk(tmp_path):
    """Mistakes a new user makes, one per command and kind of input."""
    (tmp_path / "empty.pdparams").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a run file\n")
    (tmp_path / "damaged.json").write_text('{"tool": "trtbench", "records": [')
    (tmp_path / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01")
    (tmp_path / "afile").write_text("")
    return [
        ("export", "ResNet18", "--seed", "-1"),
        ("export", "ResNet18", "--seed", str(2**64)),
        ("export", "ResNet18", "--weights", tmp_path / "empty.pdparams"),
        ("export", "ResNet18", "--weights", tmp_path),
        ("export", "ResNet18", "--weights", tmp_path / "missing.pdparams"),
        ("export", "ResNet18", "--opset", "3"),
        ("export", "ResNet18", "--output-dir", tmp_path / "afile"),
        ("export", "NoSuchNet"),
        ("run", "ResNet18", "--precision", "fp7"),
        ("run", "ResNet18", "--batch", "0"),
        ("run", "ResNet18", "--backend", "nosuch"),
        ("run", "ResNet18", "--models-dir", tmp_path / "afile"),
        ("report", tmp_path / "notes.txt"),
        ("report", tmp_path / "damaged.json"),
        ("report", tmp_path / "missing.json"),
        ("report", "--plot", ""),
        ("compare", tmp_path / "missing.json", tmp_path / "damaged.json"),
        ("compare", tmp_path / "notes.txt", tmp_path / "notes.txt", "--threshold", "-5"),
        ("eval", "ResNet18", "--data", tmp_path / "a.jpg", "--models-dir", tmp_path / "models"),
        ("eval", "ResNet18", "--data", tmp_path / "missing", "--models-dir", tmp_path / "models"),
        ("verify", "ResNet18", "--models-dir", tmp_path / "afile"),
    ]


def test_every_error_path_is_one_line_in_the_users_words(invoke, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    failures = []
    for args in _walk(tmp_path):
        result = invoke(*args)
        lines = result.output.strip().splitlines()
        if result.exit_code == 0 or len(lines) != 1 or not lines[0].startswith("error: ") \
                or PYTHON_NAME.search(result.output) or "Traceback" in result.output:
            failures.append(f"{' '.join(map(str, args))} -> {result.exit_code}: {result.output!r}")
    assert not failures, "\n".join(failures)
