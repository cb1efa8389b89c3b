"""`trtbench report`: tables laid out like the page, markdown, CSV, JSON and plots."""

from __future__ import annotations

import json
from pathlib import Path

import click

from trtbench.cli.app import App, pass_app
from trtbench.cli.options import Folder


@click.command()
@click.argument("result_files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--markdown", "form", flag_value="markdown", help="The page's markdown layout.")
@click.option("--csv", "form", flag_value="csv", help="One CSV row per record.")
@click.option("--json", "form", flag_value="json", help="A JSON list of records.")
@click.option("--reference", is_flag=True, help="Show the page's 2020 value and the ratio beside each one.")
@click.option("--by", type=click.Choice(["device"]), help="device: the devices side by side, a table per precision "
              "and batch size with a column per device and the page's V100 value.")
@click.option("--batch", "batches", multiple=True, metavar="N[,N...]",
              help="Only these batch sizes (comma-separated, may be repeated: --batch 1 --batch 32).")
@click.option("--plot", "plot_name", metavar="FILE", help="Also write a plot: FILE.png, .svg, .pdf, ... (a folder "
              "gets latency.png inside it).")
@click.option("--results-dir", type=Folder(), default=Path("results"), show_default=True)
@click.option("--models-dir", type=Folder(), default=Path("models"), show_default=True)
@pass_app
def report(app: App, result_files, form, reference, by, batches, plot_name, results_dir, models_dir):
    """Report RESULT_FILES (default: every run in --results-dir, latest record per case)."""
    from trtbench import report as render
    from trtbench import results, zoo

    if by and form in ("json", "csv"):
        app.abort(f"--by {by} lays out tables: use it with the terminal tables or --markdown, not --{form}")
    # The batch sizes and the plot's name are checked before any work, so a bad one costs nothing.
    batch_list = _batch_sizes(batches)
    plot_path = render.plot_target(plot_name) if plot_name is not None else None
    paths = list(result_files) or results.run_files(results_dir)
    if not paths:
        app.abort(f"no results in {results_dir}: run `trtbench run` first")
    # Files named outright must all read; in a results folder a damaged one is left out, loudly.
    skipped: list[str] | None = None if result_files else []
    records = results.latest(results.load_records(paths, skipped))
    for reason in skipped or ():
        app.note(f"skipped: {reason}")
    if not records:
        app.abort("the results files hold no records yet: run `trtbench run` first")
    if batch_list:
        records = _at_batches(app, records, batch_list)
    if form == "json":
        app.echo(json.dumps(render.json_records(records), indent=2))
    elif form == "csv":
        app.echo(render.csv_text(records), nl=False)
    elif form == "markdown":
        from trtbench.figures import model_row

        rows = [model_row(zoo.get_variant(n), models_dir) for n in zoo.PAGE_ORDER]
        app.echo(render.markdown_report(records, rows, reference, by_device=by == "device"))
    else:
        for table in render.latency_tables(records, reference, by_device=by == "device"):
            app.console.print(table)
        accuracy = render.accuracy_records(records)
        if accuracy:
            app.console.print(render.accuracy_table(accuracy))
    if plot_path is not None:
        try:
            render.plot(records, plot_path)
        except (OSError, RuntimeError) as exc:
            # OSError: the folder; RuntimeError: a format that needs a program (.pgf needs LaTeX)
            reason = getattr(exc, "strerror", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            app.abort(f"cannot write plot {plot_path}: {reason}")
        app.note(f"plot: {plot_path}")


def _batch_sizes(options: tuple[str, ...]) -> list[int]:
    """The batch sizes `--batch` names (none: every one)."""
    from trtbench.bench import parse_batches

    return parse_batches(",".join(options)) if options else []


def _at_batches(app: App, records: list, batches: list[int]) -> list:
    """The records at those batch sizes (accuracy records whatever their batch); none at all is one line."""
    from trtbench import report as render

    kept = render.at_batches(records, batches)
    timed = sorted({r.batch for r in render.latency_records(records)})
    if timed and not render.latency_records(kept):
        app.abort(f"no records at --batch {','.join(map(str, batches))}: the runs hold batch "
                  f"{', '.join(map(str, timed))}")
    return kept
