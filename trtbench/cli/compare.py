"""`trtbench compare`: a regression gate, NEW against BASE case by case; exit status 1 on a regression."""

from __future__ import annotations

import json
from pathlib import Path

import click

from trtbench.cli.app import App, pass_app
from trtbench.cli.report import MetricName
from trtbench.reporting.compare import DEFAULT_THRESHOLD_PCT
from trtbench.reporting.limit import DEFAULT_LIMIT, limit_comparison

NO_VERDICT = 2  # nothing compared: no matching case, unreadable inputs, bad options


@click.command()
@click.argument("base", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--threshold", metavar="PERCENT", default=f"{DEFAULT_THRESHOLD_PCT:g}%", show_default=True,
              help="How much worse a case may get before it counts as a regression, in percent: 5% or 5.")
@click.option("--metric", type=MetricName(), default="median", show_default=True,
              help="A registered metric: a latency statistic (median, mean, p90, p95, p99, min, max; ms, lower is "
              "better), throughput (images/s, higher is better), throughput_qps, memory (peak_rss, build_peak_rss, "
              "device_memory, engine_device_memory, engine_size; MiB), energy (energy_per_image, images_per_joule), "
              "cold start (first_inference, load_time), profiled_total, or GPU telemetry.")
@click.option("--markdown", "form", flag_value="markdown", help="A markdown table, e.g. for a CI summary.")
@click.option("--json", "form", flag_value="json", help="A JSON object: every case and the verdict.")
@click.option("--limit", type=click.IntRange(min=0), default=DEFAULT_LIMIT, show_default=True, metavar="N",
              help="The most cases the terminal table shows, those that changed first, with a line saying how "
              "many more (0: all); --markdown and --json give every case.")
@click.option("--strict", is_flag=True, help="A regression timed on a shared device or found unstable fails the "
              "gate too (without it such a case is reported with its caveat and exit status 0).")
@pass_app
def compare(app: App, base: Path, new: Path, threshold: str, metric: str, form: str | None, limit: int,
            strict: bool):
    """Compare NEW with BASE (each a run file or a results folder), case by case.

    A change past --threshold counts only when a rank test on the kept samples finds it at 99%
    confidence; else the case is "within noise". Exit status 0: no case regressed; 1: some case got
    worse past --threshold (with a shared-device or unstable caveat: only with --strict), or failed in
    NEW after working in BASE; 2: nothing could be compared (no case in both, or unreadable input).
    """
    from trtbench.store.results import gc_paused

    with gc_paused():
        _compare(app, base, new, threshold, metric, form, limit, strict)


def _compare(app: App, base: Path, new: Path, threshold: str, metric: str, form: str | None, limit: int,
             strict: bool = False):
    from trtbench.errors import TrtbenchError
    from trtbench.reporting import compare as gate
    from trtbench.reporting import markdown, terminal
    from trtbench.reporting.tables import comparison_table

    try:
        threshold_pct = gate.parse_threshold(threshold)
        base_records, new_records = _records(app, base, "BASE"), _records(app, new, "NEW")
    except TrtbenchError as exc:
        app.abort(str(exc), NO_VERDICT)
    comparison = gate.compare(base_records, new_records, metric, threshold_pct, strict)
    if comparison.nothing_compared:
        app.abort(f"nothing to compare: {comparison.nothing_compared}", NO_VERDICT)
    if form == "json":
        from trtbench.reporting.profile import comparison_json

        app.echo(json.dumps({"base": str(base), "new": str(new), **comparison.to_json(),
                             "profiles": comparison_json(comparison.rows, threshold_pct)}, indent=2))
    else:
        from trtbench.reporting.contents import PROFILE_TOP
        from trtbench.reporting.profile import comparison_tables

        if form == "markdown":
            app.echo(markdown.section(comparison_table(comparison, str(base), str(new))))
            app.echo("")
            for table in comparison_tables(comparison.rows, threshold_pct):
                app.echo(markdown.section(table))
                app.echo("")
        else:
            shown, left_out = limit_comparison(comparison, limit)
            app.console.print(terminal.table(comparison_table(comparison, str(base), str(new), shown)))
            if left_out:
                app.echo(left_out)
            for table in comparison_tables(shown, threshold_pct, PROFILE_TOP):
                app.console.print(terminal.table(table))
        for line in (comparison.summary(), *comparison.notes):
            app.echo(line)
    regressions = comparison.regressions
    if regressions:
        first = regressions[0]
        change = f" {first.change_pct:+.1f}%" if first.change_pct is not None else ""
        compared = comparison.count(*gate.DECIDED)
        app.abort(f"{len(regressions)} of {compared} compared case{'s' if compared > 1 else ''} regressed "
                  f"(threshold {threshold_pct:g}%, {metric}); first: {first.label}: {first.shown_result}{change}")


def _records(app: App, path: Path, side: str) -> list:
    """The latest record per case of a run file, or of every run file in a folder (damaged ones skipped)."""
    from trtbench.errors import TrtbenchError
    from trtbench.store import results

    if not path.is_dir():
        return results.load_run(path).records
    paths = results.run_files(path)
    if not paths:
        raise TrtbenchError(f"{side} {path}: no run files in this folder")
    skipped: list[str] = []
    records = results.latest(results.load_records(paths, skipped))
    for reason in skipped:
        app.note(f"skipped: {reason}")
    return records
