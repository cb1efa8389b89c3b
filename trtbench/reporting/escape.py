"""How text that a run file, a library or the environment supplies is shown: one function, one form per
place it lands, so a device name holding terminal codes, markup or table breakers is shown inert."""

from __future__ import annotations

import html
import re

# C0 and C1 controls and DEL: ESC starts a terminal sequence (a title, a cleared screen), BEL ends an OSC one.
# A lone surrogate is left to the output stream, which writes it as '?'.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # one pass over a whole JSON or CSV


def _visible(match: re.Match) -> str:
    return ascii(match.group())[1:-1]


def _lines(text: str) -> list[str]:
    """The text's lines, each with its control characters written as Python writes them (``\\x1b``)."""
    return [_CONTROLS.sub(_visible, line) for line in text.split("\n")]


def shown(text: object, form: str = "terminal", keep_lines: bool = False) -> str:
    """``text`` made safe to show in ``form``:

    - ``terminal``: every control character written as Python writes it (``\\x1b``), so no escape sequence
      reaches the terminal; rich markup is escaped, never interpreted. With ``keep_lines`` a newline stays.
    - ``markdown``: controls made visible, ``|`` escaped, a newline becomes ``<br>``, HTML escaped, so a
      value can neither break a table row nor carry a tag; ``markdown-text`` the same outside a table
      (a heading, a list item), where ``|`` is only text.
    - ``html``: controls made visible, then HTML-escaped (a newline becomes ``<br>`` with ``keep_lines``).
    - ``plain`` (a rich ``Text``, which reads no markup): controls made visible; newlines kept.
    - ``csv``: controls other than newline made visible (the CSV writer quotes the rest).
    """
    text = str(text)
    if form in ("plain", "csv"):
        return _CONTROLS_BUT_NEWLINE.sub(_visible, text)
    if form == "terminal":
        from rich.markup import escape

        return "\n".join(escape(line) for line in (_lines(text) if keep_lines else [_CONTROLS.sub(_visible, text)]))
    if form in ("markdown", "markdown-text"):
        lines = [line.replace("<", "&lt;") for line in _lines(text)]
        if form == "markdown":
            lines = [line.replace("|", "\\|") for line in lines]
        return "<br>".join(lines)
    if form == "html":
        lines = [html.escape(line) for line in _lines(text)]
        return ("<br>" if keep_lines else "\\n").join(lines)
    raise ValueError(f"unknown form {form!r}")
