"""`report --pick`: which record a cell shows when several runs timed it, the caption that says so, and each
cell traced to its run (markdown footnotes, HTML tooltips, CSV/JSON run_id and picked_from)."""

import csv
import io
import json

import pytest

from tests.cli.test_compare import _run
from tests.reporting.timed import lognormal, timed
from trtbench.reporting.pick import pick

# One cell timed three times: the latest is the slowest, the best the first, the longest the second.
FIRST = dict(finished_at="2026-01-01T00:00:00Z", iterations=300, timed_s=1.0)
SECOND = dict(finished_at="2026-01-02T00:00:00Z", iterations=900, timed_s=1.0)
THIRD = dict(finished_at="2026-01-03T00:00:00Z", iterations=300, timed_s=2.0)


def _three():
    return [timed(lognormal(1, median_ms=4.0), **FIRST), timed(lognormal(2, median_ms=5.0), **SECOND),
            timed(lognormal(3, median_ms=6.0), **THIRD)]


def _folder(tmp_path):
    folder = tmp_path / "results"
    first, second, third = _three()
    _run(folder, first, timed(lognormal(4, median_ms=9.0), model="ResNet50", **FIRST))
    _run(folder, second)
    _run(folder, third)
    return folder


@pytest.mark.parametrize("how,median", [("latest", 6.0), ("best", 4.0), ("longest", 5.0)])
def test_each_pick_chooses_its_record(how, median):
    picked = pick(_three(), how)
    (record,) = picked.records
    assert round(record.median_ms, 1) == pytest.approx(median, abs=0.4)
    assert picked.picked_from(record) == 3


def test_longest_breaks_a_tie_in_iterations_by_time_timed():
    first, _, third = _three()
    (record,) = pick([first, third], "longest").records
    assert record is third  # same iterations, timed 2 s rather than 1 s


def test_all_keeps_every_record():
    assert len(pick(_three(), "all").records) == 3


@pytest.mark.parametrize("how", ["latest", "best", "longest"])
def test_the_caption_states_the_pick(invoke, tmp_path, how):
    shown = invoke("report", "--pick", how, "--results-dir", _folder(tmp_path))
    assert shown.exit_code == 0, shown.output
    assert f"each cell: the {how} record ({how} of 3 records for 1 cell)" in shown.stdout


def test_a_cell_with_one_record_says_nothing_by_default(invoke, tmp_path):
    folder = tmp_path / "one"
    _run(folder, timed(lognormal(1)))
    assert "each cell" not in invoke("report", "--results-dir", folder).stdout
    assert "each cell: the best record" in invoke("report", "--pick", "best", "--results-dir", folder).stdout


def test_all_shows_a_row_per_record_with_its_run(invoke, tmp_path):
    folder = _folder(tmp_path)
    shown = invoke("report", "--pick", "all", "--results-dir", folder, "--markdown", "--models-dir", tmp_path)
    assert shown.exit_code == 0, shown.output
    rows = [line for line in shown.stdout.splitlines() if line.startswith("| ResNet18         | ")]
    assert len(rows) == 3
    runs = {path.stem for path in folder.glob("*.json")}
    assert {row.split("|")[2].strip() for row in rows} == runs


def test_markdown_footnotes_name_each_cells_run_and_settings(invoke, tmp_path):
    folder = _folder(tmp_path)
    shown = invoke("report", "--pick", "best", "--results-dir", folder, "--markdown", "--models-dir", tmp_path)
    lines = shown.stdout.splitlines()
    row = next(line for line in lines if line.startswith("| ResNet18         | "))
    assert row.endswith("[^1] |")
    assert "- each cell: the best record (best of 3 records for 1 cell)" in lines
    note = next(line for line in lines if line.startswith("[^1]: "))
    record = next(r for r in json.loads(invoke("report", "--pick", "best", "--json", "--results-dir",
                                               folder).stdout)["records"] if r["model"] == "ResNet18")
    assert note == f"[^1]: run {record['run_id']}, duration_s 2, 300 iterations"


def test_csv_and_json_carry_run_id_and_picked_from(invoke, tmp_path):
    folder = _folder(tmp_path)
    rows = list(csv.DictReader(io.StringIO(invoke("report", "--csv", "--results-dir", folder).stdout)))
    assert {row["model"]: row["picked_from"] for row in rows} == {"ResNet18": "3", "ResNet50": "1"}
    assert all(row["run_id"] for row in rows)
    records = json.loads(invoke("report", "--json", "--pick", "longest", "--results-dir", folder).stdout)["records"]
    assert {r["model"]: (r["picked_from"], r["iterations"]) for r in records} == {
        "ResNet18": (3, 900), "ResNet50": (1, 300)}


def test_html_cells_carry_their_run_in_a_tooltip(invoke, tmp_path):
    folder = _folder(tmp_path)
    page = tmp_path / "report.html"
    shown = invoke("report", "--html", page, "--results-dir", folder, "--models-dir", tmp_path)
    assert shown.exit_code == 0, shown.output
    text = page.read_text(encoding="utf-8")
    record = next(r for r in json.loads(invoke("report", "--json", "--results-dir", folder).stdout)["records"]
                  if r["model"] == "ResNet18")
    assert f'title="run {record["run_id"]}; timed 2 s; 300 iterations; 95% interval ' in text
