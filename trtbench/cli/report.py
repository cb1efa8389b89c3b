"""`trtbench report`: tables laid out like the page, markdown, CSV, JSON, a self-contained HTML page and plots."""

from __future__ import annotations

import json
from pathlib import Path

import click

from trtbench.cli.app import App, pass_app
from trtbench.cli.options import BatchList, Folder
from trtbench.reporting.limit import DEFAULT_LIMIT, limit_report
from trtbench.reporting.pick import DEFAULT_PICK, PICKS


class MetricName(click.ParamType):
    """A registered metric's name, checked against the registry when the command runs (a metric registered
    after this module was imported is accepted)."""

    name = "metric"

    def convert(self, value, param, ctx):
        from trtbench.store.records import METRICS

        if value in METRICS:
            return value
        self.fail(f"'{value}' is not a metric: choose from {', '.join(METRICS)}", param, ctx)


@click.command()
@click.argument("result_files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--markdown", "form", flag_value="markdown", help="The page's markdown layout.")
@click.option("--csv", "form", flag_value="csv", help="One CSV row per record, a column per field and metric.")
@click.option("--json", "form", flag_value="json", help="A JSON object: {\"runs\": [...], \"records\": [...]}.")
@click.option("--html", "html_name", metavar="FILE", type=click.Path(path_type=Path),
              help="Also write one self-contained HTML page: every table, the plot, environment and method.")
@click.option("--reference", is_flag=True, help="Show the page's 2020 value and the ratio beside each one.")
@click.option("--by", type=click.Choice(["device", "precision", "backend"]),
              help="device: the devices side by side, a table per precision and batch size with a column per device "
              "and the page's V100 value; precision: per-layer profiles (run --profile) with a case's precisions side "
              "by side and each one's ratio to FP32 per group of ONNX nodes; backend (what profiles show without "
              "--by): a case's backends side by side, each one's ratio to the first per group.")
@click.option("--metric", default="median", show_default=True, type=MetricName(),
              help="The figure the tables show: median, p99, throughput, ... (any name `compare --metric` takes).")
@click.option("--batch", "batches", type=BatchList(), multiple=True, metavar="N[,N...]",
              help="Only these batch sizes (comma-separated, may be repeated: --batch 1 --batch 32).")
@click.option("--plot", "plot_name", metavar="FILE", help="Also write a plot: FILE.png, .svg, .pdf, ... (a folder "
              "gets latency.png inside it; missing folders are made).")
@click.option("--plot-size", default="7,4.5", show_default=True, metavar="W,H",
              help="The plot's width and height per precision, in inches.")
@click.option("--limit", type=click.IntRange(min=0), default=DEFAULT_LIMIT, show_default=True, metavar="N",
              help="The most rows the terminal tables show, with a line saying how many more (0: all); --markdown, "
              "--csv, --json and --html give every record.")
@click.option("--intervals", is_flag=True, help="Write each cell as 'value ± h': half the width of its 95% "
              "interval (the median's, or --metric pNN's), where the record has one.")
@click.option("--pick", type=click.Choice(PICKS), default=DEFAULT_PICK, show_default=True,
              help="The record a cell shows when several runs timed it: the latest, the best (lowest median), "
              "the longest (most iterations, then timed seconds), or all (a row per record, with its run).")
@click.option("--results-dir", type=Folder(), default=Path("results"), show_default=True)
@click.option("--models-dir", type=Folder(), default=Path("models"), show_default=True)
@pass_app
def report(app: App, result_files, form, html_name, reference, by, metric, batches, plot_name, plot_size, limit,
           intervals, pick, results_dir, models_dir):
    """Report RESULT_FILES (default: every run in --results-dir, one record per case as --pick says)."""
    from trtbench.store.results import gc_paused

    with gc_paused():
        _report(app, result_files, form, html_name, reference, by, metric, batches, plot_name, plot_size, limit,
                results_dir, models_dir, intervals, pick)


def _report(app: App, result_files, form, html_name, reference, by, metric, batches, plot_name, plot_size, limit,
            results_dir, models_dir, intervals=False, pick=DEFAULT_PICK):
    from trtbench.reporting import contents, data, markdown, plots, terminal
    from trtbench.store.records import METRICS

    if by and form in ("json", "csv"):
        app.abort(f"--by {by} lays out tables: use it with the terminal tables or --markdown, not --{form}")
    # Options are checked before any work, so a bad one costs nothing.
    batch_list = _batch_sizes(batches)
    size = plots.parse_size(plot_size)
    plot_path = plots.plot_target(plot_name) if plot_name is not None else None
    if html_name is not None:
        plots.make_folder(html_name, "--html")
    chosen = METRICS[metric]
    runs, picked = _load(app, result_files, results_dir, pick)
    records = picked.records
    if batch_list:
        records = _at_batches(app, records, batch_list)
    if form == "json":
        app.echo(json.dumps(data.json_report(records, [run for run in runs if _holds(run, records)], picked),
                            indent=2))
    elif form == "csv":
        app.echo(data.csv_text(records, picked), nl=False)
    elif form == "markdown":
        page = contents.page_report(records, _model_rows(models_dir), reference, by == "device", chosen, intervals,
                                    picked, profile_across=_across(by))
        app.echo(markdown.report(page))
    else:
        shown, left_out = limit_report(contents.terminal_report(records, reference, by == "device", chosen,
                                                                intervals, picked, profile_across=_across(by)),
                                       limit)
        terminal.print_report(app.console, shown)
        if left_out:
            app.echo(left_out)
    if html_name is not None:
        _write_html(app, html_name, records, runs, chosen, size, models_dir, intervals, picked)
    if plot_path is not None:
        _write_plots(app, records, plot_path, size)


def _write_plots(app: App, records, path: Path, size) -> None:
    """The page's plot at ``path``; where cases were timed under load, their throughput-against-latency curves too
    (at ``path`` itself when there is nothing single-stream to plot, else beside it as NAME-load.EXT)."""
    from trtbench.reporting import load, plots
    from trtbench.reporting.latency import latency_records

    single = any(record.ok for record in latency_records(records))
    if single or not load.curves(records):
        _write(app, "plot", path, lambda: plots.plot(records, path, size))
    curve = load.curve_figure(records, size)
    if curve is not None:
        target = path.with_name(f"{path.stem}-load{path.suffix}") if single else path
        _write(app, "load curves", target, lambda: plots.save(curve, target))


def _load(app: App, result_files, results_dir: Path, pick: str = DEFAULT_PICK):
    """The runs read and the records picked, one per case as ``pick`` says (or all). Files named outright must
    all read; in a results folder a damaged one is left out, loudly."""
    from trtbench.errors import TrtbenchError
    from trtbench.reporting.model import RunInfo
    from trtbench.reporting.pick import pick as choose
    from trtbench.store import results

    paths = list(result_files) or results.run_files(results_dir)
    if not paths:
        app.abort(f"no results in {results_dir}: run `trtbench run` first")
    runs, loaded = [], []
    for path in paths:
        try:
            run = results.load_run(path)
        except TrtbenchError as exc:
            if result_files:
                raise
            app.note(f"skipped: {exc}")
            continue
        runs.append(RunInfo(run.run_id, run.command, run.started_at, run.finished_at, run.status, run.environment))
        loaded += run.records
    picked = choose(loaded, pick)
    if not picked.records:
        app.abort("the results files hold no records yet: run `trtbench run` first")
    return runs, picked


def _holds(run, records) -> bool:
    return any(record.run_id == run.run_id for record in records)


def _model_rows(models_dir: Path) -> list[dict]:
    from trtbench.models import zoo
    from trtbench.models.figures import model_row

    return [model_row(zoo.get_variant(n), models_dir) for n in zoo.PAGE_ORDER]


def _write_html(app: App, path: Path, records, runs, metric, size, models_dir: Path, intervals=False,
                picked=None) -> None:
    """The HTML page, its plot inline as SVG (left out, with a note, where matplotlib is missing)."""
    from trtbench.errors import MissingDependency
    from trtbench.reporting import contents, html, load, plots

    page = contents.full_report(records, _model_rows(models_dir), [r for r in runs if _holds(r, records)], metric,
                                size, intervals, picked)
    svgs = []
    for figure in page.figures:
        try:
            svgs.append(load.curve_svg(figure.records, figure.size) or "" if figure.kind == "load"
                        else plots.svg_text(figure.records, figure.size))
        except MissingDependency as exc:
            app.note(f"html: no plot ({exc})")
            page.figures = []
            break
    text = html.page(page, svgs=svgs, metric=metric.name)

    _write(app, "html", path, lambda: path.write_text(text, encoding="utf-8", errors="replace"))


def _write(app: App, what: str, path: Path, write) -> None:
    """Write a file the report names; a failure is one line naming the file."""
    try:
        write()
    except (OSError, RuntimeError) as exc:
        # OSError: the folder; RuntimeError: a format that needs a program (.pgf needs LaTeX)
        reason = getattr(exc, "strerror", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        app.abort(f"cannot write {what} {path}: {reason}")
    app.note(f"{what}: {path}")


def _batch_sizes(options: tuple[str, ...]) -> list[int]:
    """The batch sizes `--batch` names (none: every one)."""
    from trtbench.executors.case import parse_batches

    return parse_batches(",".join(options)) if options else []


def _at_batches(app: App, records: list, batches: list[int]) -> list:
    """The records at those batch sizes (accuracy records whatever their batch); none at all is one line."""
    from trtbench.reporting.latency import at_batches, latency_records

    kept = at_batches(records, batches)
    timed = sorted({r.batch for r in latency_records(records)})
    if timed and not latency_records(kept):
        app.abort(f"no records at --batch {','.join(map(str, batches))}: the runs hold batch "
                  f"{', '.join(map(str, timed))}")
    return kept


def _across(by: str | None) -> str:
    """What a per-layer profile table puts side by side: a case's precisions with --by precision, else its
    backends."""
    return "precision" if by == "precision" else "backend"
