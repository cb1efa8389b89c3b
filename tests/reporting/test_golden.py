"""`report --markdown` (plain, --reference, --by device) and `compare --markdown` write, byte for byte, the
saved outputs in tests/data/reports/ (the page's layout as earlier versions wrote it, plus a footnote per
latency cell naming its run), for every run file in tests/data/ and a few made by
tests/data/reports/make_runs.py."""

import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
GOLDEN = DATA / "reports"
RUNS = {"schema1": DATA / "runs" / "schema1.json",
        **{path.stem: path for path in sorted((GOLDEN / "runs").glob("*.json"))}}
FORMS = {"markdown": ["--markdown"], "reference": ["--markdown", "--reference"],
         "by-device": ["--by", "device", "--markdown"]}
PAIRS = [("fleet", "fleet-new"), ("fleet-new", "fleet"), ("mixed", "mixed"), ("xeon-openvino", "xeon-openvino")]


def test_every_run_file_has_its_golden_outputs():
    assert len(RUNS) >= 5
    for name in RUNS:
        for form in FORMS:
            assert (GOLDEN / f"{name}.{form}.md").is_file()


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", RUNS)
def test_report_markdown_is_byte_identical(invoke, tmp_path, monkeypatch, name, form):
    # Run from a copy so the command sees the file by the name it had when the golden file was written.
    shutil.copy(RUNS[name], tmp_path / f"{name}.json")
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    result = invoke("report", f"{name}.json", *FORMS[form], "--models-dir", "models")
    assert result.exit_code == 0, result.output
    assert result.stdout == (GOLDEN / f"{name}.{form}.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("base,new", PAIRS)
def test_compare_markdown_is_byte_identical(invoke, monkeypatch, base, new):
    monkeypatch.chdir(GOLDEN / "runs")
    result = invoke("compare", f"{base}.json", f"{new}.json", "--markdown")
    assert result.exit_code in (0, 1), result.output
    assert result.stdout == (GOLDEN / f"compare.{base}.{new}.md").read_text(encoding="utf-8")
