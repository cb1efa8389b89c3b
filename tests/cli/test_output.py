"""Where output goes: results on stdout, messages on stderr, the width a pipe gets, a reader that leaves."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
RUN = ROOT / "tests" / "data" / "runs" / "schema1.json"


def _env(**extra):
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    return {**env, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **extra}


def _trtbench(*args):
    return [sys.executable, "-m", "trtbench", *map(str, args)]


@pytest.mark.parametrize("args", [("models",), ("report", RUN), ("models", "--json")])
def test_a_reader_that_leaves_ends_the_command_quietly_with_the_shells_status(args):
    # The reader is gone before the first write: every write meets a closed pipe, whatever the timing.
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = subprocess.run(_trtbench(*args), stdout=writer, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              env=_env(), timeout=120)
    finally:
        os.close(writer)
    assert done.stderr == b""
    # what a shell reports for `seq` or `yes` stopped by their reader: 128 + SIGPIPE
    seq = subprocess.run(["bash", "-c", "seq 1 1000000 | head -1 >/dev/null; echo ${PIPESTATUS[0]}"],
                         capture_output=True, text=True)
    assert done.returncode == int(seq.stdout) == 141


@pytest.mark.parametrize("command", ["models", f"report {RUN}"])
def test_piped_into_head_the_pipeline_succeeds_silently(command):
    done = subprocess.run(["bash", "-c", f"{sys.executable} -m trtbench {command} | head -1"], capture_output=True,
                          text=True, env=_env(), stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 0 and done.stderr == "" and len(done.stdout.splitlines()) == 1


WIDE_TABLE = """
from rich.table import Table
from trtbench.cli.app import App
table = Table()
for header in ("Models", "backend", "max abs err"):
    table.add_column(header)
table.add_row("ResNet50_vd_ssld", "onnxruntime-cpu-with-a-long-name", "1.79e-07 " * 12)
App().console.print(table)
"""


def _wide(**env):
    done = subprocess.run([sys.executable, "-c", WIDE_TABLE], capture_output=True, text=True, env=_env(**env),
                          stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_output_that_reaches_no_terminal_is_not_cut():
    out = _wide()
    assert "ResNet50_vd_ssld" in out and "onnxruntime-cpu-with-a-long-name" in out and "…" not in out
    assert ("1.79e-07 " * 12).strip() in out


def test_columns_sets_the_width_of_piped_output():
    narrow = _wide(COLUMNS="60")
    assert max(len(line) for line in narrow.splitlines()) <= 60
    wide = _wide(COLUMNS="200")
    assert ("1.79e-07 " * 12).strip() in wide and max(len(line) for line in wide.splitlines()) <= 200


def test_the_width_comes_from_columns_then_any_terminal_then_is_uncut(monkeypatch):
    from trtbench.cli import app

    def no_terminal(descriptor):
        raise OSError("not a terminal")

    monkeypatch.setattr(os, "get_terminal_size", no_terminal)
    assert app.output_width({"COLUMNS": "132"}) == 132
    assert app.output_width({}) == app.UNCUT_WIDTH
    assert app.output_width({"COLUMNS": "junk"}) == app.UNCUT_WIDTH
    # stdout is a pipe but stdin is the terminal (`trtbench verify | less`): rich measures that one
    monkeypatch.setattr(os, "get_terminal_size",
                        lambda descriptor: os.terminal_size((100, 40)) if descriptor == 0 else no_terminal(0))
    assert app.output_width({}) is None


def test_export_prints_its_result_on_stdout(invoke, tmp_path, monkeypatch):
    import trtbench.models.export
    from trtbench.models.zoo import get_variant

    class Exported:
        skipped = True
        onnx_path = tmp_path / "ResNet18.onnx"
        metadata = {"export_seconds": 1.0, "flops_g": 3.654, "params": 11_694_000, "opset": 17,
                    "parity": {"checked": True, "max_rel_error": 1.2e-6}}

    def export_variant(variant, output_dir, **options):
        assert variant == get_variant("ResNet18") and options["seed"] == 3
        return Exported()

    monkeypatch.setattr(trtbench.models.export, "export_variant", export_variant)
    result = invoke("export", "ResNet18", "--seed", "3", "--output-dir", tmp_path)
    assert result.exit_code == 0, result.output
    line = (f"ResNet18: {tmp_path / 'ResNet18.onnx'} (up to date; 3.65 GFLOPS, 11.69 M params, opset 17, "
            "parity rel err 1.2e-06)")
    assert result.stdout.strip() == line and line not in result.stderr
