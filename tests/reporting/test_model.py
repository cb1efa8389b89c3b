"""One model, a renderer per format: a table built by hand reads the same in every format, and the
package stays in small modules."""

import sys
from pathlib import Path

from rich.console import Console

from trtbench.reporting import html, markdown, terminal
from trtbench.reporting.model import Cell, Column, Report, Table

PACKAGE = Path(__file__).resolve().parents[2] / "trtbench"


def _table():
    columns = [Column("Models", numeric=False), Column("batch_size=1\n(ms)"), Column("hidden", formats=("html",))]
    table = Table("latency", "FP32 latency (ms): b on d", columns, notes=["a note"],
                  failures=["X batch 1 failed: boom"], legend=["unstable"])
    table.add("ResNet18", Cell("1.000~", 1.0), "only in html")
    table.add("X", Cell("failed", state="failed"), "")
    return table


def test_every_format_shows_the_same_cells_notes_and_legend_once():
    table = _table()
    console = Console(width=100, record=True)
    terminal.print_report(console, Report([table, table]))
    text = console.export_text()
    assert [line.split() for line in text.splitlines() if line.startswith(("  ResNet18", "  X "))] == [
        ["ResNet18", "1.000~"], ["X", "failed"]] * 2
    assert text.count("a note") == 2 and text.count("'~': unstable: the timing windows' medians") == 1
    assert "only in html" not in text
    lines = markdown.section(table).splitlines()
    assert lines == ["## FP32 latency (ms): b on d", "", "| Models           | batch_size=1<br>(ms) |",
                     "|:--:|:--:|", "| ResNet18         | 1.000~ |", "| X                | failed |", "", "- a note"]
    page = html.page(Report([table]))
    assert '<td class="num" data-value="1.0">1.000~</td>' in page and "only in html" in page
    assert '<td class="num failed">failed</td>' in page and "<li>X batch 1 failed: boom</li>" in page
    assert page.count("coefficient of variation") == 1


def test_the_html_page_escapes_what_run_files_hold():
    table = Table("latency", "<script>", [Column("Models", numeric=False)])
    table.add("<b>&")
    page = html.page(Report([table]))
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;&amp;" in page


def test_report_py_is_gone_and_no_reporting_module_is_over_450_lines():
    assert not (PACKAGE / "report.py").exists() and not (PACKAGE / "compare.py").exists()
    for module in (PACKAGE / "reporting").glob("*.py"):
        assert len(module.read_text().splitlines()) <= 450, module.name


def test_the_html_page_without_matplotlib_has_every_table_and_says_why_no_plot(invoke, tmp_path, monkeypatch):
    from tests.reporting.test_report import FLEET
    from trtbench.store.results import RunFile

    run = RunFile(tmp_path, {}, ["test"])
    for record in FLEET:
        run.add(record)
    run.finish()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    shown = invoke("report", "--html", tmp_path / "page.html", run.path, "--models-dir", tmp_path)
    assert shown.exit_code == 0, shown.output
    assert "html: no plot (matplotlib is not available" in shown.stderr
    page = (tmp_path / "page.html").read_text()
    assert "<svg" not in page and page.count('<table data-kind="latency">') == 7
