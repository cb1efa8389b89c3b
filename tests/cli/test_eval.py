"""`trtbench eval` and `trtbench verify` from the command line."""

import json
import os
import re

import numpy as np
import pytest
from PIL import Image

from tests.cli.test_export import _one_line_error
from tests.graphs.test_preprocess import deadline, forged_png


@pytest.fixture(scope="module")
def labelled(exported, tmp_path_factory):
    """Images labelled with the Paddle reference's own top-1, in an ImageNet-style folder of 1000 classes."""
    from trtbench.checks.verify import Reference
    from trtbench.graphs.preprocess import load_image

    models_dir, results = exported
    root = tmp_path_factory.mktemp("imagenet")
    staging = tmp_path_factory.mktemp("staging")
    rng = np.random.default_rng(4)
    paths = []
    for index in range(6):
        pixels = rng.integers(0, 256, size=(240 + 10 * index, 300, 3), dtype=np.uint8)
        path = staging / f"img{index}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    logits = Reference(results["ResNet18"].onnx_path).outputs(np.stack([load_image(p) for p in paths]))
    for label in range(1000):
        (root / f"n{label:04d}").mkdir()
    lines = []
    for path, label in zip(paths, logits.argmax(1), strict=True):
        target = root / f"n{label:04d}" / path.name
        path.rename(target)
        lines.append(f"n{label:04d}/{path.name} {label}")
    (root / "val_list.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.mark.slow
def test_eval_scores_100_percent_on_its_own_predictions(invoke, exported, labelled, tmp_path):
    models_dir, _ = exported
    results = tmp_path / "results"
    result = invoke("eval", "ResNet18", "--data", labelled, "--batch", "4", "--models-dir", models_dir,
                    "--results-dir", results, "--engines-dir", tmp_path / "e", "--backend", "onnxruntime-cpu")
    assert result.exit_code == 0, result.output
    (run,) = results.glob("*.json")
    (record,) = json.loads(run.read_text())["records"]
    assert record["kind"] == "accuracy" and record["images"] == 6 and record["skipped"] == 0
    assert record["top1"] == 1.0 and record["top5"] == 1.0
    assert record["weights"] == "ResNet18_pretrained.pdparams"
    # an accuracy record says when it finished, so "latest" is decided by time, not by file name
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", record["finished_at"])

    listed = invoke("eval", "ResNet18", "--data", labelled, "--list", labelled / "val_list.txt", "--batch", "4",
                    "--limit", "5", "--models-dir", models_dir, "--results-dir", tmp_path / "r2",
                    "--engines-dir", tmp_path / "e")
    assert listed.exit_code == 0, listed.output
    (run2,) = (tmp_path / "r2").glob("*.json")
    (record2,) = json.loads(run2.read_text())["records"]
    assert (record2["images"], record2["top1"]) == (5, 1.0)

    shown = invoke("report", "--results-dir", results)
    assert "Accuracy" in shown.stdout and "0.710" in shown.stdout and "1.000" in shown.stdout
    markdown = invoke("report", "--markdown", "--results-dir", results, "--models-dir", models_dir).stdout
    assert "| ResNet18 | 0.710 | 0.899 | onnxruntime-cpu | fp32 | 6 | 1.000 | 1.000 |" in markdown


@pytest.mark.parametrize("args,message", [
    (("--data", "{tmp}/nope"), "data folder not found"),
    (("--data", "{tmp}"), "no class sub-folders"),
    (("--data", "{tmp}", "--list", "{tmp}/bad.txt"), "bad.txt:2: expected 'relative/path label'"),
    (("--data", "{tmp}", "--list", "{tmp}/range.txt"), "range.txt:1: label 1000 is outside 0..999"),
    (("--data", "{tmp}", "--list", "{tmp}/escape.txt"), "escape.txt:2: '../../etc/passwd' leads outside {tmp}"),
    (("--data", "{tmp}", "--list", "{tmp}/absolute.txt"), "absolute.txt:1: '/etc/shadow' leads outside {tmp}"),
    (("--data", "{tmp}", "--list", "{tmp}/nope.txt"), "--list file not found: {tmp}/nope.txt"),
])
def test_eval_data_errors(invoke, tmp_path, args, message):
    (tmp_path / "bad.txt").write_text("a.png 1\nb.png\n")
    (tmp_path / "range.txt").write_text("a.png 1000\n")
    (tmp_path / "escape.txt").write_text("a.png 1\n../../etc/passwd 3\n")
    (tmp_path / "absolute.txt").write_text("/etc/shadow 1\n")
    message = message.format(tmp=tmp_path)
    args = [a.format(tmp=tmp_path) for a in args]
    line = _one_line_error(invoke("eval", "ResNet18", *args, "--models-dir", tmp_path / "m"))
    assert message in line


@pytest.mark.slow
def test_eval_with_weights_of_another_architecture(invoke, labelled, weights_file, tmp_path):
    line = _one_line_error(invoke("eval", "ResNet50", "--data", labelled, "--weights", weights_file,
                                  "--models-dir", tmp_path / "m", "--results-dir", tmp_path / "r"))
    assert "does not fit ResNet50" in line


@pytest.mark.slow
def test_verify_passes_and_fails_with_exit_status(invoke, exported, tmp_path, monkeypatch):
    models_dir, _ = exported
    ok = invoke("verify", "ResNet18", "--precision", "fp32", "--batch", "2", "--json", "--backend",
                "onnxruntime-cpu,openvino-cpu", "--models-dir", models_dir, "--engines-dir", tmp_path / "e")
    assert ok.exit_code == 0, ok.output
    rows = json.loads(ok.stdout)
    assert [(r["backend"], r["precision"], r["precision_executed"], r["passed"]) for r in rows] == [
        ("onnxruntime-cpu", "fp32", "fp32", True), ("openvino-cpu", "fp32", "fp32", True)]

    from trtbench.checks import verify

    monkeypatch.setitem(verify.THRESHOLDS, "fp32", {"min_cosine": 1.1, "top1_agree": 0.0})
    bad = invoke("verify", "ResNet18", "--precision", "fp32", "--batch", "2", "--models-dir", models_dir,
                 "--engines-dir", tmp_path / "e")
    assert bad.exit_code == 5
    assert "error: 1 of 1 checks failed; first: ResNet18 fp32: cosine" in bad.output


@pytest.mark.slow
def test_run_verify_puts_the_check_in_the_record(invoke, exported, tmp_path):
    models_dir, _ = exported
    result = invoke("run", "ResNet18", "--precision", "int8", "--batch", "2", "--verify", "--models-dir", models_dir,
                    "--results-dir", tmp_path / "r", "--engines-dir", tmp_path / "e", "--warmup-ms", "0",
                    "--duration", "0", "--iterations", "2")
    assert result.exit_code == 0, result.output
    assert "INT8 calibrated on random inputs" in result.stderr
    (run,) = (tmp_path / "r").glob("*.json")
    (record,) = json.loads(run.read_text())["records"]
    assert record["precision"] == "int8" and record["verify"]["samples"] == 2
    assert {"max_abs_error", "min_cosine", "top1_agree", "passed"} <= set(record["verify"])
    assert record["precision_executed"] == "int8" and record["precision_evidence"]
    markdown = invoke("report", "--markdown", "--results-dir", tmp_path / "r", "--models-dir", models_dir).stdout
    assert f"## INT8 latency (ms): {record['backend']}" in markdown


def test_eval_with_no_readable_image_is_one_line_before_any_work(invoke, tmp_path):
    data = tmp_path / "data" / "n0000"
    data.mkdir(parents=True)
    (data / "a.png").write_bytes(b"junk")
    forged_png(data / "b.png", 30000, 30000)
    os.mkfifo(data / "c.png")
    with deadline(120):
        line = _one_line_error(invoke("eval", "ResNet18", "--data", tmp_path / "data", "--models-dir", tmp_path / "m",
                                      "--results-dir", tmp_path / "r", "--backend", "onnxruntime-cpu"))
    assert line == (f"error: none of the 3 images could be read; first: {data / 'a.png'}: "
                    "not an image file Pillow can identify")
    assert not (tmp_path / "r").exists() and not (tmp_path / "m").exists()  # no export, no run file
