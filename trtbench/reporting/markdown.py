"""Report tables in the page's markdown layout (PaddleClas's ResNet_and_vd.md), byte for byte what
earlier trtbench versions wrote for the same records."""

from __future__ import annotations

from dataclasses import dataclass

from trtbench.reporting.escape import shown as _shown
from trtbench.reporting.model import LEGENDS, Report, Table

FOOTER = ("Latency cells are medians; '~' marks a coefficient of variation above 2.5%; "
          "'✗' an engine that failed its output check.")


@dataclass(frozen=True)
class _Layout:
    """How a kind of table is written: the page centres everything and pads its model names to 16."""

    pad: int = 0  # width the first column's text is padded to
    centred: bool = True  # ':--:' under every header; else ':--' (text) and '--:' (numbers)
    pipes: str = ""  # '' (written as they are), 'cells', or 'all' (headers too): '|' escaped
    bullets: bool = False  # the table's notes and failures as a list below it
    bold_worse: bool = False  # a worse row's verdict in bold


_LAYOUTS = {
    "latency": _Layout(pad=16),
    "devices": _Layout(pipes="all", bullets=True),
    "comparison": _Layout(centred=False, pipes="cells", bullets=True, bold_worse=True),
}


def _escape(text: str) -> str:
    return _shown(text, "markdown")


def table(content: Table) -> str:
    """The table alone: its header, alignment row and rows."""
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
        cells = [_escape(row.cells[index].text) for index, _ in shown]
        if layout.pad:
            cells[0] = f"{cells[0]:<{layout.pad}}"
        if layout.bold_worse and row.mood == "worse":
            cells[-1] = f"**{cells[-1]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(content: Table) -> str:
    """The table under its '## ' heading, with its notes as a list where the page's layout has them."""
    layout = _LAYOUTS.get(content.kind, _Layout())
    lines = [f"## {_shown(content.section, 'markdown-text')}", "", table(content)]
    if layout.bullets:
        notes = [*content.notes, *([LEGENDS["page"]] if "page" in content.legend else []), *content.failures]
        if notes or content.kind == "devices":
            lines += [""] + [f"- {_shown(note, 'markdown-text')}" for note in notes]
    return "\n".join(lines)


def report(content: Report) -> str:
    """The whole page again: every table as a section, then what the cells' marks mean."""
    parts: list[str] = []
    for item in content.tables:
        parts += [section(item), ""]
    parts.append(FOOTER)
    return "\n".join(parts)
