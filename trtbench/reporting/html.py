"""A report as one self-contained HTML page: every table, the plots inline as SVG, the runs' environment
and method, the legends once. Nothing is fetched when it is opened (no scripts, fonts or links)."""

from __future__ import annotations

import json
import math

from trtbench.reporting.escape import shown as _shown
from trtbench.reporting.markdown import TRACED
from trtbench.reporting.model import Report, Table
from trtbench.reporting.pick import tooltip

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 80em; color: #111; background: #fff; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
th, td { border-bottom: 1px solid #ccc; padding: 0.25em 0.6em; vertical-align: top; }
th { background: #eef2f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.failed { color: #b00020; } tr.worse td { color: #b00020; } tr.better td { color: #146c2e; }
tr.aside td { color: #777; } ul.notes { font-size: 0.85em; color: #333; margin-top: 0.2em; }
figure { margin: 1em 0; } figcaption { font-size: 0.85em; color: #333; } svg { max-width: 100%; height: auto; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; font-size: 0.85em; }
dt { font-weight: 600; } dd { margin: 0; word-break: break-word; }
"""


def escape(text: object) -> str:
    """Text from a run file as HTML: tags escaped, control characters shown as Python writes them."""
    return _shown(text, "html")


def table(content: Table, metric: str = "median") -> str:
    """One table with its title as caption and its notes and failures as a list below it; a latency cell's
    title (its tooltip) names its run, time timed, iterations and the interval of ``metric``."""
    shown = [(index, column) for index, column in enumerate(content.columns) if column.shown_in("html")]
    head = "".join(f"<th>{_shown(column.header, 'html', keep_lines=True)}</th>" for _, column in shown)
    rows = []
    for row in content.rows:
        cells = []
        for index, column in shown:
            cell = row.cells[index]
            classes = " ".join(filter(None, ["num" if column.numeric and index else "", cell.state and
                                             cell.state.replace(" ", "-")]))
            value = "" if cell.value is None else f' data-value="{escape(repr(cell.value))}"'
            if cell.record is not None and content.kind in TRACED:
                value += f' title="{escape(tooltip(cell.record, metric))}"'
            cells.append(f'<td class="{classes}"{value}>{escape(cell.text)}</td>')
        mood = f' class="{row.mood}"' if row.mood else ""
        rows.append(f"<tr{mood}>{''.join(cells)}</tr>")
    notes = [*content.notes, *content.failures]
    listed = "<ul class=\"notes\">" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>" if notes else ""
    # The section's heading is the title unless the table has a heading of its own.
    caption = f"<caption>{escape(content.title)}</caption>" if content.title != content.section else ""
    return (f'<table data-kind="{escape(content.kind)}">{caption}'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{listed}{bars(content)}")


#: the bar chart's series colours (Okabe and Ito's, told apart with colour blindness)
COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")


def bars(content: Table) -> str:
    """A table's chart as an inline SVG: a band per row, a bar per series that has a value there, the value
    written after it, a scale in ms and a key of the series ('' where the table has no chart)."""
    chart = [(label, values) for label, values in content.chart if any(v > 0 for v in values.values())]
    if not chart:
        return ""
    series = list(dict.fromkeys(name for _, values in chart for name in values))
    most = max(value for _, values in chart for value in values.values())
    label_w, bar_w, value_w, bar_h, gap, top = 260, 520, 70, 9, 6, 34
    band = bar_h * len(series) + gap
    width, height = label_w + bar_w + value_w, top + band * len(chart) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="bars" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(content.title)}" '
             'font-family="system-ui, sans-serif" font-size="11">']
    for index, name in enumerate(series):  # the key
        key = label_w + index * 150
        short = name if len(name) <= 22 else name[:21] + "…"
        parts.append(f'<rect x="{key}" y="6" width="10" height="10" fill="{COLOURS[index % len(COLOURS)]}"/>'
                     f'<text x="{key + 14}" y="15"><title>{escape(name)}</title>{escape(short)}</text>')
    for tick in _ticks(most):  # the scale
        x = label_w + bar_w * tick / most
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 18}" stroke="#ddd"/>'
                     f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" fill="#555">{tick:g} ms</text>')
    for row, (label, values) in enumerate(chart):
        y = top + row * band
        short = label if len(label) <= 40 else label[:39] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + band / 2:.1f}" text-anchor="end" dominant-baseline="middle">'
                     f"<title>{escape(label)}</title>{escape(short)}</text>")
        for index, name in enumerate(series):
            if name not in values:
                continue  # the engine ran none of the row's nodes
            value = values[name]
            length = bar_w * value / most
            bar_y = y + index * bar_h
            parts.append(f'<rect x="{label_w}" y="{bar_y}" width="{length:.1f}" height="{bar_h - 1}" '
                         f'fill="{COLOURS[index % len(COLOURS)]}" data-series="{escape(name)}" '
                         f'data-value="{value!r}"><title>{escape(name)}: {value:.3f} ms</title></rect>'
                         f'<text x="{label_w + length + 3:.1f}" y="{bar_y + bar_h - 1}" font-size="8" fill="#333">'
                         f"{value:.3f}</text>")
    return "<figure>" + "".join(parts) + "</svg></figure>"


def _ticks(most: float) -> list[float]:
    """Round values from 0 to ``most`` for the scale, at most 8 steps of 1, 2, 2.5 or 5 times a power of ten."""
    power = 10 ** math.floor(math.log10(most))
    step = next(power * m for m in (0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10) if most / (power * m) <= 8)
    return [round(step * i, 12) for i in range(int(most / step + 1e-9) + 1)]


def _environment(report: Report) -> str:
    parts = []
    for run in report.runs:
        env = run.environment if isinstance(run.environment, dict) else {}
        facts = [("run", run.run_id), ("command", " ".join(map(str, run.command))), ("started", run.started_at),
                 ("finished", run.finished_at or ""), ("status", run.status)]
        for key, value in env.items():
            facts.append((str(key), value if isinstance(value, str) else json.dumps(value, sort_keys=True)))
        parts.append(f"<h3>Run {escape(run.run_id)}</h3><dl>" + "".join(
            f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts if v not in ("", None)) + "</dl>")
    return "".join(parts)


def page(report: Report, title: str = "trtbench report", svgs: list[str] | None = None,
         metric: str = "median") -> str:
    """The whole page as one string: headings, every table, the figures (SVG text given in ``svgs``, one per
    figure), the legends, the method and the environment."""
    body = [f"<h1>{escape(title)}</h1>"]
    for content in report.tables:
        body.append(f"<section><h2>{escape(content.section)}</h2>{table(content, metric)}</section>")
    for figure, svg in zip(report.figures, svgs or [], strict=False):
        heading = "Throughput against latency" if figure.kind == "load" else "Plot"
        body.append(f"<section><h2>{heading}</h2><figure>{svg}<figcaption>{escape(figure.caption)}</figcaption>"
                    "</figure></section>")
    if report.legend:
        body.append("<section><h2>Legend</h2><ul class=\"notes\">" + "".join(
            f"<li>{escape(line)}</li>" for line in report.legend) + "</ul></section>")
    if report.method:
        body.append("<section><h2>Method</h2><dl>" + "".join(
            f"<dt>{escape(what)}</dt><dd>{escape(how)}</dd>" for what, how in report.method) + "</dl></section>")
    if report.runs:
        body.append(f"<section><h2>Environment</h2>{_environment(report)}</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")
