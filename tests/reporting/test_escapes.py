"""Text a run file supplies reaches every renderer inert: no terminal codes, no markup read, no tags, no broken
table rows (a device name holding ``\\e]0;title\\a\\e[2J`` must not retitle or clear the user's terminal)."""

import re

import pytest

from trtbench.reporting.escape import shown
from trtbench.store.records import AccuracyRecord, LatencyRecord
from trtbench.store.results import RunFile

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m[bold]B[/bold]<script>alert(1)</script>|x\nNEXTLINE\r"


def _records(median):
    ok = LatencyRecord(model="ResNet18" + HOSTILE, backend="onnxruntime-cpu" + HOSTILE, device="CPU" + HOSTILE,
                       precision="fp32", batch=1, latency_ms={"median": median, "mean": median}, cov=0.01,
                       precision_executed="fp32", precision_evidence=HOSTILE, warnings=[HOSTILE],
                       method={"timer": HOSTILE, "policy": HOSTILE}, node=HOSTILE,
                       device_sharing=HOSTILE, finished_at="2026-01-01T00:00:00Z")
    failed = LatencyRecord(model="ResNet50", backend="onnxruntime-cpu" + HOSTILE, device="CPU" + HOSTILE,
                           precision="fp32", batch=1, status="failed", error=HOSTILE, traceback=HOSTILE,
                           finished_at="2026-01-01T00:00:00Z")
    accuracy = AccuracyRecord(model="ResNet18" + HOSTILE, backend="onnxruntime-cpu", device="CPU" + HOSTILE,
                              precision="fp32", batch=1, weights=HOSTILE, data=HOSTILE, images=10,
                              skipped_files=[HOSTILE], finished_at="2026-01-01T00:00:00Z")
    return [ok, failed, accuracy]


def _folder(path, median):
    path.mkdir()
    run = RunFile(path, {"os": HOSTILE, HOSTILE: HOSTILE, "cpu": {"model": HOSTILE}}, ["run", HOSTILE])
    for record in _records(median):
        run.add(record)
    run.finish()
    return path


@pytest.fixture
def folders(tmp_path):
    return _folder(tmp_path / "old", 1.0), _folder(tmp_path / "new", 2.0)


def _inert(text, tags=True):
    """No raw control character; with ``tags`` (a page a browser may render) no live tag either. A terminal
    shows ``<script>`` as the letters it is."""
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f]", text), repr(text)
    if tags:
        assert "<script>" not in text


def _tables_hold(markdown):
    """Every row of every markdown table has its header's number of cells, and no payload line escapes a row."""
    assert not any(line.startswith("NEXTLINE") for line in markdown.splitlines())
    header = None
    for line in markdown.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line))
        if header is None:
            header = cells
        elif not line.startswith("|:") and not line.startswith("|-"):
            assert cells == header, line


@pytest.mark.parametrize("args", [["report"], ["report", "--by", "device"], ["report", "--markdown"],
                                  ["report", "--markdown", "--by", "device"], ["report", "--csv"],
                                  ["report", "--json"]])
def test_every_report_form_shows_run_file_text_inert(invoke, folders, args):
    result = invoke(*args, "--results-dir", folders[1])
    assert result.exit_code == 0, result.output
    _inert(result.output, tags="--markdown" in args)
    assert "x1b" in result.output or "u001b" in result.output, "the escape is shown, not dropped"
    if "--markdown" in args:
        _tables_hold(result.stdout)
    if args in (["report"], ["report", "--by", "device"]):
        assert "[bold]" in "".join(result.stdout.split()), "rich markup from a file was read as markup"


def test_the_html_page_shows_run_file_text_inert(invoke, folders, tmp_path):
    result = invoke("report", "--html", tmp_path / "page.html", "--results-dir", folders[1])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "page.html").read_text()
    _inert(page.replace("\n", ""))
    assert "&lt;script&gt;" in page and "\\x1b]0;pwned" in page


@pytest.mark.parametrize("args", [[], ["--markdown"]])
def test_compare_shows_run_file_text_inert(invoke, folders, args):
    result = invoke("compare", *folders, *args)
    assert result.exit_code in (0, 1), result.output
    _inert(result.output, tags=False)
    _inert(result.stdout, tags=bool(args))
    assert "ResNet18" in result.stdout
    if args:
        _tables_hold(result.stdout)


@pytest.mark.parametrize("form", ["terminal", "plain", "markdown", "markdown-text", "html", "csv"])
def test_one_escape_for_every_form(form):
    text = shown(HOSTILE, form)
    _inert(text.replace("\n", ""), tags=form in ("markdown", "markdown-text", "html"))
    assert "\\x1b" in text and "\\x07" in text and "\\x9b" in text, "a control is shown, not dropped"
    if form in ("markdown", "html"):
        assert "\n" not in text
    if form == "markdown":
        assert "|" not in text.replace("\\|", "")
    if form == "terminal":
        from rich.console import Console

        console = Console(record=True, width=400)
        console.print(text)
        assert "[bold]B[/bold]" in console.export_text()


def test_progress_lines_and_messages_show_library_text_inert():
    import io

    from rich.console import Console

    from trtbench.cli.app import App
    from trtbench.cli.progress import ConsoleReporter
    from trtbench.events import Note

    app = App()
    written = io.StringIO()
    app.messages = Console(file=written, width=200)
    ConsoleReporter(app)(Note("onnxruntime said: " + HOSTILE))
    app.note("a library said: " + HOSTILE)
    text = written.getvalue()
    _inert(text, tags=False)
    assert text.count("\\x1b]0;pwned") == 2 and "[bold]B[/bold]" in text


def test_plain_output_shows_no_terminal_code(capsys):
    from trtbench.cli.app import App

    App().echo("| cell |\n" + HOSTILE)
    out = capsys.readouterr().out
    _inert(out, tags=False)
    assert out.startswith("| cell |\n") and "\\x1b[2J" in out
