"""Report tables in the page's markdown layout (PaddleClas's ResNet_and_vd.md), byte for byte what
earlier trtbench versions wrote for the same records."""

from __future__ import annotations

from dataclasses import dataclass

import trtbench.reporting.pick as pick
import trtbench.reporting.support as support
from trtbench.reporting.escape import shown as _shown
from trtbench.reporting.model import LEGENDS, Report, Table
from trtbench.store.records import LatencyRecord

#: the tables whose cells are traced to their run by a footnote
TRACED = ("latency", "devices")

FOOTER = ("Latency cells are medians; '~' marks a coefficient of variation above 2.5%; "
          "'✗' an engine that failed its output check.")
#: the footer where records were timed in stability windows (their '~' is the windows' verdict)
FOOTER_WINDOWS = ("Latency cells are medians; '~' marks an unstable number (the timing windows' medians did not "
                  "agree within the threshold, or in older files a coefficient of variation above 2.5%); "
                  "'✗' an engine that failed its output check.")
#: the legends the footer adds when a table uses them
FOOTER_LEGENDS = ("unsupported", "interval")


@dataclass(frozen=True)
class _Layout:
    """How a kind of table is written: the page centres everything and pads its model names to 16."""

    pad: int = 0  # width the first column's text is padded to
    centred: bool = True  # ':--:' under every header; else ':--' (text) and '--:' (numbers)
    pipes: str = ""  # '' (written as they are), 'cells', or 'all' (headers too): '|' escaped
    bullets: bool = False  # the table's notes and failures as a list below it
    notes: bool = False  # the table's notes alone (which record each cell picked) as a list below it
    bold_worse: bool = False  # a worse row's verdict in bold


_LAYOUTS = {
    "latency": _Layout(pad=16, notes=True),
    "devices": _Layout(pipes="all", bullets=True),
    "comparison": _Layout(centred=False, pipes="cells", bullets=True, bold_worse=True),
    "profile": _Layout(centred=False, bullets=True),
}


def _escape(text: str) -> str:
    return _shown(text, "markdown")


def table(content: Table, footnotes: dict[str, int] | None = None) -> str:
    """The table alone: its header, alignment row and rows. With ``footnotes`` (source -> number, filled in
    as sources appear) each cell of a latency table names its run and settings in a footnote ('[^1]')."""
    layout = _LAYOUTS.get(content.kind, _Layout())
    shown = [(index, column) for index, column in enumerate(content.columns) if column.shown_in("markdown")]
    headers = [_escape(column.header) for _, column in shown]
    if layout.pad:
        headers[0] = f"{headers[0]:<{layout.pad}}"
    if layout.centred:
        aligns = ":--:|" * len(shown)
    else:
        aligns = "|".join("--:" if column.numeric and index else ":--" for index, column in shown) + "|"
    lines = ["| " + " | ".join(headers) + " |", "|" + aligns]
    for row in content.rows:
        cells = [_escape(row.cells[index].text) + _footnote(row.cells[index], footnotes, content.kind)
                 for index, _ in shown]
        if layout.pad:
            cells[0] = f"{cells[0]:<{layout.pad}}"
        if layout.bold_worse and row.mood == "worse":
            cells[-1] = f"**{cells[-1]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _footnote(cell, footnotes: dict[str, int] | None, kind: str) -> str:
    if footnotes is None or cell.record is None or kind not in TRACED:
        return ""
    number = footnotes.setdefault(pick.source(cell.record), len(footnotes) + 1)
    return f"[^{number}]"


def section(content: Table, footnotes: dict[str, int] | None = None) -> str:
    """The table under its '## ' heading, with its notes as a list where the page's layout has them."""
    layout = _LAYOUTS.get(content.kind, _Layout())
    lines = [f"## {_shown(content.section, 'markdown-text')}", "", table(content, footnotes)]
    if layout.bullets:
        notes = [*content.notes, *([LEGENDS["page"]] if "page" in content.legend else []), *content.failures]
        if notes or content.kind == "devices":
            lines += [""] + [f"- {_shown(note, 'markdown-text')}" for note in notes]
    elif layout.notes and content.notes:
        lines += [""] + [f"- {_shown(note, 'markdown-text')}" for note in content.notes]
    return "\n".join(lines)


def report(content: Report) -> str:
    """The whole page again: every table as a section, then what the cells' marks mean and, as footnotes,
    the run and settings of each cell's record."""
    parts: list[str] = []
    footnotes: dict[str, int] = {}
    for item in content.tables:
        parts += [section(item, footnotes), ""]
    windows = any(isinstance(r, LatencyRecord) and support.has_windows(r) for r in content.records)
    parts.append(FOOTER_WINDOWS if windows else FOOTER)
    used = {key for item in content.tables for key in item.legend}
    parts += [_shown(LEGENDS[key], "markdown-text") for key in FOOTER_LEGENDS if key in used]
    if footnotes:
        parts.append("")
        parts += [f"[^{number}]: {_shown(source, 'markdown-text')}" for source, number in footnotes.items()]
    return "\n".join(parts)
