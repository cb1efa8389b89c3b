"""A table never shows a number its samples do not support: p99 with 300 samples reads 'needs 662 (has 300)'
in every format; `--intervals` writes 'median ± half-width'; a record whose timing windows disagreed is
marked '~'; hostile values in the new fields crash neither report nor compare."""

import csv
import io
import json

import pytest

from tests.cli.test_compare import _run
from tests.reporting.timed import lognormal, timed
from trtbench.reporting import support
from trtbench.store.records import LatencyRecord


def _folder(tmp_path, *records):
    folder = tmp_path / "results"
    _run(folder, *(records or (timed(lognormal(1)),)))
    return folder


def _old(iterations, **fields):
    stats = {"median": 1.0, "mean": 1.0, "p90": 1.1, "p95": 1.2, "p99": 1.3, "min": 0.9, "max": 1.4}
    return LatencyRecord(model="ResNet18", backend="tensorrt", device="Test GPU", precision="fp16", batch=1,
                         latency_ms=stats, iterations=iterations, finished_at="2026-01-01T00:00:00Z", **fields)


@pytest.mark.parametrize("iterations,shown", [(661, "needs 662 (has 661)"), (662, "")])
def test_an_old_record_is_judged_from_its_iterations(iterations, shown):
    assert support.unsupported(_old(iterations), "p99") == shown


def test_the_median_is_shown_from_any_count_and_a_record_without_a_count_is_not_judged():
    assert support.unsupported(_old(10), "median") == ""  # every table's number, with its interval where kept
    assert support.unsupported(_old(10), "p90") == "needs 64 (has 10)"
    assert support.unsupported(_old(64), "p90") == ""
    assert support.unsupported(_old(0), "p99") == ""  # no count recorded: nothing to judge by
    assert support.unsupported(_old(10), "mean") == ""  # not a percentile


def test_an_unsupported_p99_in_the_terminal_and_markdown(invoke, tmp_path):
    folder = _folder(tmp_path)
    shown = invoke("report", "--metric", "p99", "--results-dir", folder)
    assert shown.exit_code == 0, shown.output
    row = next(line for line in shown.stdout.splitlines() if line.lstrip().startswith("ResNet18"))
    assert row.split()[1:] == ["needs", "662", "(has", "300)"]
    assert "'needs N (has M)': the cell's percentile needs N timed iterations" in shown.stdout
    markdown = invoke("report", "--metric", "p99", "--markdown", "--results-dir", folder, "--models-dir", tmp_path)
    lines = markdown.stdout.splitlines()
    assert "| ResNet18         | needs 662 (has 300)[^1] |" in lines
    assert any(line.startswith("'needs N (has M)'") for line in lines)


def test_an_unsupported_p99_in_csv_and_json(invoke, tmp_path):
    folder = _folder(tmp_path)
    (row,) = csv.DictReader(io.StringIO(invoke("report", "--csv", "--results-dir", folder).stdout))
    assert row["latency_ms_p99"] == "" and row["p99_support"] == "needs 662 (has 300)"
    assert row["latency_ms_p90"] != "" and row["p90_support"] == ""
    low, high = float(row["median_interval_low_ms"]), float(row["median_interval_high_ms"])
    assert low < float(row["latency_ms_median"]) < high
    (record,) = json.loads(invoke("report", "--json", "--results-dir", folder).stdout)["records"]
    assert record["latency_ms"]["p99"] is None and "p99" not in record["metrics"]
    assert record["unsupported"] == {"p99": "needs 662 (has 300)"}
    assert record["intervals_ms"]["median"] == [low, high]


def test_old_records_lose_the_percentiles_their_iterations_do_not_support_in_csv_and_json(invoke, tmp_path):
    folder = _folder(tmp_path, _old(100))
    (row,) = csv.DictReader(io.StringIO(invoke("report", "--csv", "--results-dir", folder).stdout))
    assert row["latency_ms_p99"] == "" and row["latency_ms_p95"] == "" and float(row["latency_ms_p90"]) == 1.1
    (record,) = json.loads(invoke("report", "--json", "--results-dir", folder).stdout)["records"]
    assert record["latency_ms"]["p99"] is None and record["latency_ms"]["p90"] == 1.1
    assert record["intervals_ms"]["median"] is None


def test_compare_on_an_unsupported_p99_has_no_value(invoke, tmp_path):
    base, new = _run(tmp_path / "b", timed(lognormal(1))), _run(tmp_path / "n", timed(lognormal(2)))
    shown = invoke("compare", base, new, "--metric", "p99")
    assert shown.exit_code == 2
    assert "not supported: needs 662 (has 300)" in shown.stderr


def test_intervals_write_the_half_width_in_every_table_format(invoke, tmp_path):
    record = timed(lognormal(1))
    low, high = record.median_interval_ms
    expected = f"{record.median_ms:.3f} ± {(high - low) / 2:.3f}"
    folder = _folder(tmp_path, record)
    terminal = invoke("report", "--intervals", "--results-dir", folder).stdout
    assert expected in terminal and "'± h': half the width" in terminal
    markdown = invoke("report", "--intervals", "--markdown", "--results-dir", folder, "--models-dir", tmp_path)
    assert f"| {expected}[^1] |" in markdown.stdout
    page = tmp_path / "r.html"
    invoke("report", "--intervals", "--html", page, "--results-dir", folder, "--models-dir", tmp_path)
    assert f">{expected}</td>" in page.read_text(encoding="utf-8")
    assert expected not in invoke("report", "--results-dir", folder).stdout  # only when asked


def test_p99_intervals_are_the_percentiles_own(invoke, tmp_path):
    record = timed(lognormal(1, count=1000))
    low, high = record.percentiles["p99"]["interval_ms"]
    shown = invoke("report", "--intervals", "--metric", "p99", "--results-dir", _folder(tmp_path, record))
    assert f"± {(high - low) / 2:.3f}" in shown.stdout


def test_a_record_whose_windows_disagreed_is_marked_unstable(invoke, tmp_path):
    record = timed(lognormal(1), stability={"stable": False, "threshold": 0.05, "windows_ms": [5.0, 5.6]})
    folder = _folder(tmp_path, record)
    shown = invoke("report", "--results-dir", folder)
    assert f"{record.median_ms:.3f}~" in shown.stdout
    assert "'~': unstable: the timing windows' medians did not agree within the threshold" in shown.stdout
    markdown = invoke("report", "--markdown", "--results-dir", folder, "--models-dir", tmp_path).stdout
    assert f"{record.median_ms:.3f}~[^1]" in markdown and "'~' marks an unstable number" in markdown


JUNK = ["text", 7, -1, True, None, [1, [2, {"a": "b"}]], {"p50": "x", "p99": {"supported": "yes", "has": "many",
                                                                               "interval_ms": ["a", None]}},
        {"encoding": "float32-le zlib base64", "count": 3, "data": "!!"}, 1e308, {"stable": "no"}]


@pytest.mark.parametrize("junk", JUNK, ids=range(len(JUNK)))
def test_hostile_values_in_the_new_fields_crash_neither_report_nor_compare(invoke, tmp_path, junk):
    # the tables the loader insists on hold junk inside; the other fields are junk themselves
    fields = dict(samples=junk if isinstance(junk, dict) else {"data": junk},
                  percentiles={"p50": junk, "p90": {"supported": False, "has": junk, "needs": junk}, "p99": junk},
                  stability={"stable": junk, "windows_ms": junk}, device_shared=junk, iterations=junk, timed_s=junk,
                  method={"duration_s": junk})
    base = _run(tmp_path / "base", timed(lognormal(3, sigma=0.01), run_id=None))
    new = _run(tmp_path / "new", timed([v * 1.2 for v in lognormal(4, sigma=0.01)], **fields))
    for form in ([], ["--markdown"], ["--csv"], ["--json"], ["--intervals"], ["--metric", "p99"],
                 ["--pick", "best"], ["--pick", "longest"], ["--pick", "all"], ["--html", tmp_path / "r.html"]):
        shown = invoke("report", new, base, *form, "--models-dir", tmp_path)
        assert shown.exit_code == 0, (form, shown.output)
    for form in ([], ["--json"], ["--markdown"], ["--strict"], ["--metric", "p99"]):
        shown = invoke("compare", base, new, *form)
        assert shown.exit_code in (0, 1, 2), (form, shown.output)
        assert "Traceback" not in shown.output


def test_plots_draw_the_medians_interval_as_error_bars():
    pytest.importorskip("matplotlib")
    from matplotlib.collections import LineCollection

    from trtbench.reporting import plots

    record = timed(lognormal(1))
    low, high = record.median_interval_ms
    assert plots.caption([record]).endswith(plots.INTERVALS)
    figure = plots.plot_figure([record], (3.5, 2.5))
    bars = [segment for axis in figure.axes for collection in axis.collections
            if isinstance(collection, LineCollection) for segment in collection.get_segments()]
    assert [(round(s[0][1], 9), round(s[1][1], 9)) for s in bars] == [(round(low, 9), round(high, 9))]
    short = timed(lognormal(1, count=4))  # 4 samples give no 95% interval of the median: no bar
    assert short.median_interval_ms is None
    assert not [c for axis in plots.plot_figure([short], (3.5, 2.5)).axes for c in axis.collections]


def test_timing_windows_decide_the_unstable_mark_where_a_record_has_them():
    spread = timed(lognormal(1, sigma=0.2), cov=0.2, cov_warning=True)  # stable windows, a wide spread
    assert not support.unstable(spread)
    drifting = timed(lognormal(1, sigma=0.01), cov=0.01, cov_warning=False,
                     stability={"stable": False, "threshold": 0.05, "windows_ms": [1.0, 1.2, 1.5], "window_s": 1.0})
    assert support.unstable(drifting)
    older = timed(lognormal(1), cov=0.2, cov_warning=True, stability={})  # timed without windows: its CoV says
    assert support.unstable(older)
