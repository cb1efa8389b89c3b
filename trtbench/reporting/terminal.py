"""Report tables as rich tables for a terminal; text from run files is never read as markup."""

from __future__ import annotations

from rich import box
from rich.table import Table as RichTable
from rich.text import Text

from trtbench.reporting.escape import shown as _shown
from trtbench.reporting.model import LEGENDS, Report, Table

_MOOD_STYLES = {"worse": "red", "better": "green", "aside": "dim"}
#: how each kind of table sits on a terminal beyond the common frame
_FRAMES: dict[str, dict] = {"models": {"show_edge": False, "pad_edge": False, "collapse_padding": True},
           "comparison": {"pad_edge": False}}


def table(content: Table, legends: bool = True, framed: bool = True) -> RichTable:
    """A rich table; its caption holds the table's notes, its failures, and (with ``legends``, for a table
    shown on its own) the legends its cells use. Not ``framed``: no title and no caption (the report
    writes them at the terminal's width)."""
    shown = [(index, column) for index, column in enumerate(content.columns) if column.shown_in("terminal")]
    rich = RichTable(title=_shown(content.title) if framed else None, box=box.SIMPLE_HEAD,
                     **_FRAMES.get(content.kind, {}))
    for index, column in shown:
        header = column.terminal if column.terminal is not None else column.header.replace("\n", " ")
        rich.add_column(_shown(header, keep_lines=True), justify="right" if column.numeric and index else "left",
                        no_wrap=column.no_wrap, overflow="fold" if column.fold else "ellipsis")
    for row in content.rows:
        rich.add_row(*(_shown(row.cells[index].text, keep_lines=True) for index, _ in shown),
                     style=_MOOD_STYLES.get(row.mood))
    caption = [*content.notes, *([LEGENDS[key] for key in content.legend] if legends else []), *content.failures]
    rich.caption = "\n".join(_shown(line, keep_lines=True) for line in caption) if caption and framed else None
    return rich


def legend(report: Report) -> Text | None:
    """The report's legends, once, below all its tables."""
    lines = report.legend
    return Text(_shown("\n".join(lines), "plain"), style="dim") if lines else None


def print_report(console, report: Report) -> None:
    """Every table of the report under its title, its notes below it, both at the terminal's width (not the
    table's); then the legends, once."""
    for content in report.tables:
        console.print(Text(_shown(content.title, "plain"), style="bold"))
        console.print(table(content, legends=False, framed=False))
        notes = [*content.notes, *content.failures]
        if notes:
            console.print(Text(_shown("\n".join(notes), "plain"), style="dim"))
        console.print()
    key = legend(report)
    if key is not None:
        console.print(key)
