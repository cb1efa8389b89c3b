"""What a terminal shows of a long report: a terminal table of 50,000 rows takes a minute to draw and
nobody reads it, so a terminal gets at most ``limit`` rows and a line saying what was left out; the
file formats (markdown, CSV, JSON, HTML) always get every row."""

from __future__ import annotations

from dataclasses import replace

from trtbench.reporting.compare import CHANGED, Comparison, Row
from trtbench.reporting.model import Report, Table

#: the rows a terminal shows unless `--limit` says otherwise
DEFAULT_LIMIT = 200


def limit_report(report: Report, limit: int) -> tuple[Report, str]:
    """The report cut to ``limit`` rows in all (whole tables in order, the last one cut), and the line that
    says what was left out ('' when nothing was). ``limit`` 0: every row."""
    total = sum(len(table.rows) for table in report.tables)
    if not limit or total <= limit:
        return report, ""
    shown: list[Table] = []
    left = limit
    for table in report.tables:
        if left <= 0:
            break
        cut = table.rows[:left]
        shown.append(table if len(cut) == len(table.rows) else replace(table, rows=cut))
        left -= len(cut)
    hidden_tables = len(report.tables) - len(shown)
    tables = f" and {hidden_tables} more table{'s' if hidden_tables != 1 else ''}" if hidden_tables else ""
    line = (f"{limit:,} of {total:,} rows shown{tables}: --limit N shows more (0: all); --markdown, --csv or --json "
            "give every record")
    return replace(report, tables=shown), line


def limit_comparison(comparison: Comparison, limit: int) -> tuple[list[Row], str]:
    """The cases of a comparison a terminal shows: at most ``limit``, those that changed (regressed, improved,
    failed, fixed, on one side only) first, in their order; and the line that says what was left out ('' when
    nothing). Only these rows are drawn: a table of every case is never built for a terminal."""
    rows = comparison.rows
    if not limit or len(rows) <= limit:
        return rows, ""
    changed = [index for index, row in enumerate(rows) if row.result in CHANGED]
    kept = set(changed[:limit])
    if len(kept) < limit:
        kept.update([index for index, row in enumerate(rows) if row.result not in CHANGED][:limit - len(kept)])
    shown = [row for index, row in enumerate(rows) if index in kept]
    hidden_changed = len(changed) - sum(1 for index in changed if index in kept)
    what = f", {hidden_changed:,} of them changed" if hidden_changed else ", none of them changed"
    line = (f"{len(rows) - len(shown):,} more cases not shown{what}: --limit N shows more (0: all); "
            "--markdown or --json give every case")
    return shown, line
