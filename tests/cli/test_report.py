"""`trtbench report --plot` names, and every table command on a terminal that only speaks ASCII."""

import os
import subprocess
import sys

import pytest

from tests.cli.test_export import _one_line_error
from trtbench.records import LatencyRecord
from trtbench.results import RunFile


def _results(folder, device="Test CPU", median=1.5, **fields):
    """A results folder with one ResNet18 record; the folder."""
    folder.mkdir(exist_ok=True)
    run = RunFile(folder, {}, ["test"])
    run.add(LatencyRecord(model="ResNet18", backend="onnxruntime-cpu", device=device, precision="fp32", batch=1,
                          latency_ms={"median": median}, finished_at="2026-01-01T00:00:00Z", **fields))
    run.finish()
    return folder


def test_a_format_matplotlib_cannot_write_is_one_line_naming_those_it_can(invoke, tmp_path):
    line = _one_line_error(invoke("report", "--plot", tmp_path / "p.xyz", "--results-dir", _results(tmp_path / "r")))
    assert "matplotlib cannot write '.xyz' files" in line
    assert all(f".{form}" in line for form in ("png", "svg", "pdf"))
    assert not (tmp_path / "p.xyz").exists()


@pytest.mark.parametrize("name,written", [
    ("plots", "plots/latency.png"),       # an existing folder: a fixed name inside it
    ("latency", "latency.png"),           # no extension: PNG, and the name says so
    ("fig.svg", "fig.svg"),
    ("fig.PDF", "fig.PDF"),
])
def test_the_plot_written_is_the_path_printed(invoke, tmp_path, name, written):
    (tmp_path / "plots").mkdir()
    result = invoke("report", "--plot", tmp_path / name, "--results-dir", _results(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert f"plot: {tmp_path / written}\n" in result.stderr
    data = (tmp_path / written).read_bytes()
    assert data[:4] in (b"\x89PNG", b"<?xm", b"%PDF")
    assert not (tmp_path / "plots.png").exists()


def test_a_plot_in_a_missing_folder_is_one_line(invoke, tmp_path):
    line = _one_line_error(invoke("report", "--plot", f"{tmp_path / 'nowhere'}/", "--results-dir",
                                  _results(tmp_path / "r")))
    assert line == f"error: --plot {tmp_path / 'nowhere'}/: there is no folder {tmp_path / 'nowhere'}"
    line = _one_line_error(invoke("report", "--plot", tmp_path / "nowhere" / "p.png", "--results-dir",
                                  _results(tmp_path / "r")))
    assert line == f"error: --plot {tmp_path / 'nowhere' / 'p.png'}: there is no folder {tmp_path / 'nowhere'}"


def test_without_matplotlib_plot_names_the_extra(invoke, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    line = _one_line_error(invoke("report", "--plot", tmp_path / "p.png", "--results-dir", _results(tmp_path / "r")),
                           code=3)
    assert "matplotlib is not available" in line and "pip install 'trtbench[plot]'" in line


def _ascii_terminal(*args, cwd):
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "LANG": "C", "LC_ALL": "C", "COLUMNS": "100"}
    env.pop("PYTHONUTF8", None)
    return subprocess.run([sys.executable, "-c", "from trtbench.cli import main; main()", *map(str, args)],
                          capture_output=True, env=env, cwd=cwd, timeout=120)


@pytest.mark.parametrize("args,code", [
    (("report", "--results-dir", "r"), 0),
    (("report", "--results-dir", "r", "--reference"), 0),
    (("models",), 0),
    (("compare", "base", "r"), 1),
])
def test_tables_print_on_an_ascii_terminal(tmp_path, args, code):
    device = "Intel® Xeon® Gold — 2 cœurs"
    _results(tmp_path / "r", device=device, verify={"passed": False})
    _results(tmp_path / "base", device=device, median=1.0)
    done = _ascii_terminal(*args, cwd=tmp_path)
    assert done.returncode == code, done.stderr.decode("ascii", "replace")
    assert b"Traceback" not in done.stderr
    text = done.stdout.decode("ascii")  # every byte is ASCII
    assert "ResNet18" in text
    if args[0] != "models":
        assert "Intel? Xeon? Gold - 2 c" in " ".join(text.split())  # the title wraps


@pytest.mark.parametrize("args", [("report", "--csv"), ("report", "--markdown"), ("report",),
                                  ("compare", "--markdown", "{run}"), ("compare", "{run}")])
def test_a_lone_surrogate_in_a_run_file_prints(invoke, tmp_path, args):
    # json.loads turns "\ud800" into a string no UTF-8 stream can write as it is
    run = tmp_path / "run.json"
    run.write_text('{"tool": "trtbench", "schema_version": 2, "records": [{"kind": "latency", "model": "R\\ud800x", '
                   '"backend": "b", "device": "d", "precision": "fp32", "batch": 1, "latency_ms": {"median": 1.0}}]}')
    result = invoke(*[arg.format(run=run) for arg in args], run)
    assert result.exit_code == 0, result.output
    assert "R?x" in result.stdout
