"""A closed or unwritable standard error never stops a measurement: the run file is written, the tables go to
stdout, and the exit status is the run's."""

import json
import subprocess
import sys

import pytest

from tests.cli.test_run import FAST


def _run(shell_prefix, models_dir, tmp_path, backend="onnxruntime-cpu"):
    """`trtbench run` of ResNet18 on ``backend`` in a shell that first runs ``shell_prefix``."""
    args = ["-m", "trtbench", "run", "ResNet18", "--backend", backend, "--precision", "fp32",
            "--batch", "1", "--models-dir", str(models_dir), "--results-dir", str(tmp_path / "r"),
            "--engines-dir", str(tmp_path / "e"), *FAST]
    command = " ".join(["exec", *(f"'{a}'" for a in [sys.executable, *args])])
    return subprocess.run(["sh", "-c", f"{shell_prefix}; {command}"], stdout=subprocess.PIPE, cwd=tmp_path,
                          timeout=300, check=False)


def _run_file(tmp_path):
    files = list((tmp_path / "r").glob("*.json"))
    assert len(files) == 1, files
    return json.loads(files[0].read_text())


@pytest.mark.slow
@pytest.mark.parametrize("prefix", ["exec 2>&-", "exec 2>/dev/full"], ids=["closed", "full"])
def test_a_run_measures_and_saves_with_stderr_closed_or_full(exported, tmp_path, prefix):
    models_dir, _ = exported
    done = _run(prefix, models_dir, tmp_path)
    assert done.returncode == 0, done.stdout.decode()
    out = done.stdout.decode()
    assert "FP32 latency (ms): onnxruntime-cpu" in out and "ResNet18" in out
    records = _run_file(tmp_path)["records"]
    assert [(r["model"], r["status"]) for r in records] == [("ResNet18", "ok")]
    assert records[0]["latency_ms"]["median"] > 0


@pytest.mark.slow
def test_a_failed_case_with_stderr_closed_still_says_so_in_the_exit_status(exported, tmp_path):
    models_dir, _ = exported
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "openvino").write_text("")  # a file where OpenVINO's compiled models go: the case fails
    done = _run("exec 2>&-", models_dir, tmp_path, backend="openvino-cpu")
    assert done.returncode == 4, done.stdout.decode()  # every case failed, as with stderr open
    record = _run_file(tmp_path)["records"][0]
    assert record["status"] == "failed" and "is a file, not a folder" in record["error"]
    assert "failed" in done.stdout.decode()


def test_closed_stderr_is_given_devnull_so_no_file_takes_its_place(tmp_path):
    # With descriptor 2 closed, the next file opened would be descriptor 2: a native library's warnings would
    # be written into it.
    code = ("import os, sys; from trtbench.cli.app import App; App(); "
            f"f = open({str(tmp_path / 'run.json')!r}, 'w'); print(f.fileno(), os.path.realpath('/proc/self/fd/2'),"
            " sys.stderr is not None)")
    done = subprocess.run(["sh", "-c", f"exec 2>&-; exec '{sys.executable}' -c \"{code}\""],
                          stdout=subprocess.PIPE, text=True, timeout=60, check=True)
    fileno, where, has_stderr = done.stdout.split()
    assert int(fileno) != 2 and where == "/dev/null" and has_stderr == "True"
