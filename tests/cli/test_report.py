"""`trtbench report` of a fleet's runs (`--by device`, `--batch`), `--plot` names, and every table command on a
terminal that only speaks ASCII."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_export import _one_line_error
from tests.reporting.test_report import A100, EPYC, FLEET, T4
from trtbench.store.records import LatencyRecord
from trtbench.store.results import RunFile


def _results(folder, device="Test CPU", median=1.5, **fields):
    """A results folder with one ResNet18 record; the folder."""
    folder.mkdir(exist_ok=True)
    run = RunFile(folder, {}, ["test"])
    run.add(LatencyRecord(model="ResNet18", backend="onnxruntime-cpu", device=device, precision="fp32", batch=1,
                          latency_ms={"median": median}, finished_at="2026-01-01T00:00:00Z", **fields))
    run.finish()
    return folder


def _fleet(folder):
    """A results folder holding the runs of two GPUs and a CPU server (tests/reporting/test_report.py's FLEET)."""
    folder.mkdir()
    run = RunFile(folder, {}, ["test"])
    for record in FLEET:
        run.add(record)
    run.finish()
    return folder


def _positions(text, *titles):
    """Where each title starts in the text (titles may wrap: spaces are folded first)."""
    flat = " ".join(text.split())
    return [flat.index(title) for title in titles]


def test_report_prints_a_table_per_precision_and_device(invoke, tmp_path):
    result = invoke("report", "--results-dir", _fleet(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    titles = [f"FP16 latency (ms): tensorrt on {A100}", f"FP16 latency (ms): tensorrt on {T4}",
              f"FP32 latency (ms): onnxruntime-cpu on {EPYC}", f"FP32 latency (ms): openvino-cpu on {EPYC}",
              f"FP32 latency (ms): tensorrt on {A100}", f"FP32 latency (ms): onnxruntime-cuda on {T4}",
              f"FP32 latency (ms): tensorrt on {T4}"]
    positions = _positions(result.stdout, *titles)
    assert positions == sorted(positions)
    markdown = invoke("report", "--markdown", "--results-dir", tmp_path / "r").stdout
    assert [line[3:].split(",")[0] for line in markdown.splitlines() if " latency (ms): " in line] == titles


def test_report_by_device_puts_the_devices_side_by_side(invoke, tmp_path):
    result = invoke("report", "--by", "device", "--results-dir", _fleet(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    positions = _positions(result.stdout, *(f"FP{bits} latency (ms), batch_size={batch}"
                                            for bits in (16, 32) for batch in (1, 8)))
    assert positions == sorted(positions)
    rows = [line.split() for line in result.stdout.splitlines() if line.lstrip().startswith("ResNet")]
    assert ["ResNet18", "9.000", "8.000", "0.600", "2.000", "1.300", "1.127"] in rows
    assert ["ResNet50_vd", "1.600~", "2.833"] in rows  # nothing from the T4: an empty cell


def test_report_markdown_by_device(invoke, tmp_path):
    result = invoke("report", "--markdown", "--by", "device", "--results-dir", _fleet(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("## FP16 latency (ms), batch_size=8")
    assert lines[start + 2:start + 6] == [f"| Models | {A100} | {T4} | V100 (page) |", "|:--:|:--:|:--:|:--:|",
                                          "| ResNet18 | 0.800[^1] | failed[^1] | 1.263 |",
                                          "| ResNet50_vd | 1.600~[^1] |  | 2.833 |"]
    # each cell traced to its run file and settings: one run, every record 1000 iterations
    assert re.fullmatch(r"\[\^1\]: run [0-9]{8}-[0-9]{6}-[0-9a-f]+, 1000 iterations", lines[-1]), lines[-1]


@pytest.mark.parametrize("batches", [["--batch", "8"], ["--batch", "8,8"], ["--batch", " 8"]])
def test_batch_reports_only_those_batch_sizes(invoke, tmp_path, batches):
    results = _fleet(tmp_path / "r")
    markdown = invoke("report", "--markdown", "--by", "device", *batches, "--results-dir", results).stdout
    assert [line for line in markdown.splitlines() if line.startswith("## F")] == [
        "## FP16 latency (ms), batch_size=8", "## FP32 latency (ms), batch_size=8"]
    rows = json.loads(invoke("report", "--json", *batches, "--results-dir", results).stdout)["records"]
    assert len(rows) == sum(1 for r in FLEET if r.batch == 8) and {r["batch"] for r in rows} == {8}


def test_batch_may_be_repeated_or_a_list(invoke, tmp_path):
    results = _fleet(tmp_path / "r")
    listed = invoke("report", "--csv", "--batch", "1,8", "--results-dir", results)
    repeated = invoke("report", "--csv", "--batch", "8", "--batch", "1", "--results-dir", results)
    everything = invoke("report", "--csv", "--results-dir", results)
    assert listed.exit_code == 0, listed.output
    assert listed.stdout == repeated.stdout == everything.stdout


@pytest.mark.parametrize("value", ["0", "x", "1,,8", "\u00b2", "-1", "", "1.5"])
def test_a_bad_batch_is_one_line(invoke, tmp_path, value):
    value = value.encode().decode("unicode_escape")
    line = _one_line_error(invoke("report", "--batch", value, "--results-dir", _fleet(tmp_path / "r")), code=2)
    assert line.startswith(f"error: bad --batch '{value}': ") and "is not a positive whole number" in line


def test_a_batch_no_run_holds_is_one_line(invoke, tmp_path):
    line = _one_line_error(invoke("report", "--by", "device", "--batch", "4,64", "--results-dir",
                                  _fleet(tmp_path / "r")))
    assert line == "error: no records at --batch 4,64: the runs hold batch 1, 8"


@pytest.mark.parametrize("form", ["--json", "--csv"])
def test_by_device_lays_out_tables_only(invoke, tmp_path, form):
    line = _one_line_error(invoke("report", form, "--by", "device", "--results-dir", _fleet(tmp_path / "r")))
    assert line == f"error: --by device lays out tables: use it with the terminal tables or --markdown, not {form}"


def test_the_plot_of_a_fleet_is_written_from_the_batches_asked(invoke, tmp_path, monkeypatch):
    from trtbench.reporting import plots

    plotted = []
    draw = plots.plot_figure
    monkeypatch.setattr(plots, "plot_figure", lambda records, size: plotted.append(records) or draw(records, size))
    result = invoke("report", "--by", "device", "--batch", "1", "--plot", tmp_path / "fleet.png", "--results-dir",
                    _fleet(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fleet.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(r.label() + r.device for r in plotted[0]) == sorted(r.label() + r.device for r in FLEET
                                                                     if r.batch == 1)


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


def test_a_plot_in_a_missing_folder_makes_the_folder(invoke, tmp_path):
    results = _results(tmp_path / "r")
    shown = invoke("report", "--plot", f"{tmp_path / 'nowhere'}/", "--results-dir", results)
    assert shown.exit_code == 0, shown.output
    assert (tmp_path / "nowhere" / "latency.png").read_bytes()[:4] == b"\x89PNG"
    shown = invoke("report", "--plot", tmp_path / "plots" / "deeper" / "p.png", "--results-dir", results)
    assert shown.exit_code == 0, shown.output
    assert f"plot: {tmp_path / 'plots' / 'deeper' / 'p.png'}\n" in shown.stderr
    assert (tmp_path / "plots" / "deeper" / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_a_plot_whose_folder_cannot_be_made_is_one_line(invoke, tmp_path):
    (tmp_path / "afile").write_text("")
    line = _one_line_error(invoke("report", "--plot", tmp_path / "afile" / "p.png", "--results-dir",
                                  _results(tmp_path / "r")))
    assert line == (f"error: --plot {tmp_path / 'afile' / 'p.png'}: cannot make the folder {tmp_path / 'afile'} "
                    "(File exists)")
    assert not (tmp_path / "afile" / "p.png").exists()


def test_without_matplotlib_plot_names_the_extra(invoke, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    line = _one_line_error(invoke("report", "--plot", tmp_path / "p.png", "--results-dir", _results(tmp_path / "r")),
                           code=3)
    assert "matplotlib is not available" in line and "pip install 'trtbench[plot]'" in line


def _ascii_terminal(*args, cwd):
    # This checkout's trtbench, whatever copy the interpreter has installed.
    path = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "LANG": "C", "LC_ALL": "C", "COLUMNS": "100",
           "PYTHONPATH": path}
    env.pop("PYTHONUTF8", None)
    return subprocess.run([sys.executable, "-c", "from trtbench.cli import main; main()", *map(str, args)],
                          capture_output=True, env=env, cwd=cwd, timeout=120)


@pytest.mark.parametrize("args,code", [
    (("report", "--results-dir", "r"), 0),
    (("report", "--results-dir", "r", "--reference"), 0),
    (("report", "--results-dir", "r", "--by", "device"), 0),
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
                                  ("report", "--by", "device"), ("report", "--markdown", "--by", "device"),
                                  ("compare", "--markdown", "{run}"), ("compare", "{run}")])
def test_a_lone_surrogate_in_a_run_file_prints(invoke, tmp_path, args):
    # json.loads turns "\ud800" into a string no UTF-8 stream can write as it is
    run = tmp_path / "run.json"
    run.write_text('{"tool": "trtbench", "schema_version": 2, "records": [{"kind": "latency", "model": "R\\ud800x", '
                   '"backend": "b", "device": "d", "precision": "fp32", "batch": 1, "latency_ms": {"median": 1.0}}]}')
    result = invoke(*[arg.format(run=run) for arg in args], run)
    assert result.exit_code == 0, result.output
    assert "R?x" in result.stdout


def test_an_empty_plot_name_is_one_line(invoke, tmp_path):
    line = _one_line_error(invoke("report", "--plot", "", "--results-dir", _results(tmp_path / "r")))
    assert line == "error: --plot '': give a file name (e.g. --plot latency.png) or a folder"
