import pytest


def _one_line_error(result, code=1):
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_unknown_name_suggests(invoke, tmp_path):
    line = _one_line_error(invoke("export", "ResNet101vd", "--output-dir", tmp_path), code=2)
    assert "did you mean ResNet101_vd" in line


def test_no_name_and_no_all(invoke):
    assert "--all" in _one_line_error(invoke("export"), code=2)


def test_names_and_all_together(invoke):
    assert "not both" in _one_line_error(invoke("export", "ResNet18", "--all"), code=2)


def test_missing_weights_file(invoke, tmp_path):
    line = _one_line_error(invoke("export", "ResNet18", "--weights", tmp_path / "nope.pdparams",
                                  "--output-dir", tmp_path))
    assert "weights file not found" in line


@pytest.mark.parametrize("content", [b"not a pickle at all", b"\x80\x04K\x05."])  # junk; a pickled int
def test_weights_not_a_state_dict(invoke, tmp_path, content):
    bad = tmp_path / "bad.pdparams"
    bad.write_bytes(content)
    line = _one_line_error(invoke("export", "ResNet18", "--weights", bad, "--output-dir", tmp_path / "m"))
    assert "is not a Paddle state dict" in line
    assert not (tmp_path / "m" / "ResNet18.onnx").exists()


def test_weights_of_another_architecture(invoke, tmp_path, weights_file):
    line = _one_line_error(invoke("export", "ResNet50", "--weights", weights_file, "--output-dir", tmp_path))
    assert "does not fit ResNet50" in line and "shape" in line


def test_output_dir_not_writable(invoke, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = _one_line_error(invoke("export", "ResNet18", "--output-dir", blocker / "models"))
    assert "--output-dir" in line


@pytest.mark.parametrize("opset", ["6", "7", "8", "22"])
def test_opset_out_of_range(invoke, tmp_path, opset):
    assert "9..21" in _one_line_error(invoke("export", "ResNet18", "--opset", opset, "--output-dir", tmp_path),
                                      code=2)


def test_bad_opset_number_is_one_line(invoke):
    line = _one_line_error(invoke("export", "ResNet18", "--opset", "x"), code=2)
    assert "'x' is not a valid integer" in line


def test_paddle2onnx_failure(invoke, tmp_path, monkeypatch):
    import paddle2onnx

    monkeypatch.setattr(paddle2onnx, "export", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    line = _one_line_error(invoke("export", "ResNet18", "--no-verify", "--output-dir", tmp_path))
    assert "paddle2onnx failed" in line and "boom" in line
    assert [p.name for p in tmp_path.iterdir()] == [".ResNet18.onnx.lock"]  # only the artifact's lock


@pytest.mark.slow
def test_export_reports_counts_and_reuses(invoke, exported):
    models_dir, _ = exported
    result = invoke("export", "ResNet50_vd", "--output-dir", models_dir)
    assert result.exit_code == 0, result.output
    assert "ResNet50_vd:" in result.output and "up to date" in result.output
    assert "8.66 GFLOPS, 25.58 M params" in result.output


def test_weights_that_are_not_a_file_say_so(invoke, tmp_path):
    import os

    os.mkfifo(tmp_path / "w.pdparams")
    for path in (tmp_path, tmp_path / "w.pdparams", "/dev/zero"):
        line = _one_line_error(invoke("export", "ResNet18", "--weights", path, "--output-dir", tmp_path / "m"))
        assert line == f"error: --weights {path} is not a regular file: give a PaddleClas .pdparams file"
