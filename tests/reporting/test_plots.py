"""The plot sized for a paper column, with error bars from the recorded spread, labelled batch sizes, a caption
naming device, threads and date, and editable SVG text; the terminal report's legends written once."""

import dataclasses

import pytest

from tests.cli.test_export import _one_line_error
from tests.cli.test_report import _fleet
from tests.reporting.test_report import FLEET, RECORDS
from trtbench.reporting import plots


def _spread(record, low, high):
    return dataclasses.replace(record, latency_ms={**record.latency_ms, "min": low, "p90": high},
                               method={"threads": 2}, finished_at="2026-12-03T10:00:00Z")


def _axes(figure):
    return {axis.get_title(): axis for axis in figure.axes}


def test_a_row_per_precision_of_the_size_asked():
    one = [r for r in RECORDS if r.precision == "fp32"]
    assert tuple(plots.plot_figure(one).get_size_inches()) == pytest.approx((7.0, 4.5 + 4.5 * 0.6))
    both = plots.plot_figure(RECORDS, (3.5, 2.5))  # fp16 and fp32: two rows, and the speed-up's beside the legend
    assert tuple(both.get_size_inches()) == pytest.approx((3.5, 2.5 * 3))


def test_error_bars_run_from_the_fastest_iteration_to_the_p90():
    records = [_spread(RECORDS[1], 0.8, 1.4), _spread(RECORDS[2], 3.0, 4.5)]  # ResNet18 fp32 batch 1 and 4
    axis = _axes(plots.plot_figure(records))["FP32 median latency"]
    (bars,) = axis.collections
    segments = [[tuple(point) for point in segment] for segment in bars.get_segments()]
    assert segments == [[(1, 0.8), (1, 1.4)], [(4, 3.0), (4, 4.5)]]
    assert [label.get_text() for label in axis.get_xticklabels()] == ["1", "4"]  # every batch size is labelled


def test_the_caption_names_device_threads_date_and_the_error_bars():
    records = [_spread(RECORDS[1], 0.8, 1.4)]
    assert plots.caption(records) == ("Device: Test CPU; 2 CPU threads; measured 2026-12-03; "
                                      "error bars: min to p90 of the timed iterations")
    figure = plots.plot_figure(records)
    assert " ".join(figure.get_supxlabel().split()) == plots.caption(records)  # wrapped to the width
    assert plots.caption(FLEET).startswith(
        "Devices: AMD EPYC 7B13, NVIDIA A100-SXM4-80GB, Tesla T4; measured 2026-01-01")


def test_svg_text_stays_text(tmp_path):
    path = tmp_path / "plot.svg"
    plots.plot(FLEET, path)
    svg = path.read_text()
    assert "<text" in svg and ">batch size</text>" in svg and "FP16 median latency</text>" in svg
    assert 'id="DejaVuSans-' not in svg  # no glyphs drawn as paths


def test_plot_size_is_width_and_height_in_inches(invoke, tmp_path, monkeypatch):
    sizes = []
    draw = plots.plot_figure
    monkeypatch.setattr(plots, "plot_figure", lambda records, size: sizes.append(size) or draw(records, size))
    shown = invoke("report", "--plot", tmp_path / "p.svg", "--plot-size", "5,3.5", "--results-dir",
                   _fleet(tmp_path / "r"))
    assert shown.exit_code == 0, shown.output
    assert sizes == [(5.0, 3.5)]


@pytest.mark.parametrize("size", ["3", "0,2", "a,b", "100,4", "nan,4", "3,4,5"])
def test_a_bad_plot_size_is_one_line(invoke, tmp_path, size):
    line = _one_line_error(invoke("report", "--plot", tmp_path / "p.png", "--plot-size", size, "--results-dir",
                                  _fleet(tmp_path / "r")))
    assert line == f"error: bad --plot-size '{size}': give width and height in inches, e.g. 7,4.5"
    assert not (tmp_path / "p.png").exists()


def test_the_terminal_report_writes_its_legends_once(invoke, tmp_path):
    shown = invoke("report", "--reference", "--results-dir", _fleet(tmp_path / "r"))
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert text.count("FP16 latency (ms): tensorrt on") == 2  # seven tables ...
    assert text.count("'~': unstable: the timing windows' medians") == 1  # ... one legend
    assert text.count("(page's 2020 V100 value, measured / page)") == 1
    assert text.rstrip().endswith("on a V100 without copies")
    assert "ResNet18 batch 8 failed: boom" in text  # a table's own notes stay under it


def test_the_terminal_report_uses_the_terminals_width(tmp_path):
    from click.testing import CliRunner

    from trtbench.cli import main

    results = _fleet(tmp_path / "r")
    for width in (60, 160):
        shown = CliRunner(env={"COLUMNS": str(width), "NO_COLOR": "1"}).invoke(main, ["report", "--results-dir",
                                                                                      str(results)])
        lines = shown.stdout.splitlines()
        title = "FP32 latency (ms): onnxruntime-cpu on AMD EPYC 7B13, median session run time"
        assert (title in lines) == (width > len(title))  # a title is one line where the terminal allows
        assert max(map(len, lines)) <= width
