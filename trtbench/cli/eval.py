"""`trtbench eval`: Top-1/Top-5 of an engine on labelled images, recorded for `trtbench report`."""

from __future__ import annotations

from pathlib import Path

import click

from trtbench.cli import options as shared
from trtbench.cli.app import App, pass_app


@click.command(name="eval")
@click.argument("names", nargs=-1, required=True, type=shared.ModelName())
@click.option("--data", type=click.Path(path_type=Path), required=True,
              help="ImageNet-style folder (a sub-folder per class, sorted), or a list file. Every image must lie "
                   "inside it, symlinks followed.")
@click.option("--list", "list_file", type=click.Path(path_type=Path),
              help="PaddleClas list file of 'relative/path label' lines, paths relative to --data and inside it.")
@click.option("--weights", type=click.Path(path_type=Path), help="PaddleClas .pdparams (exported first).")
@shared.precisions("fp32")
@click.option("--batch", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate only the first N images.")
@click.option("--strict", is_flag=True, help="Fail on an unreadable image instead of skipping it.")
@shared.backend_options
@shared.workspace("models", "engines", "results")
@pass_app
def evaluate(app: App, names, data, list_file, weights, precisions, batch, limit, strict, **options):
    """Top-1/Top-5 of NAME... on --data, per precision, saved as accuracy records (INT8 calibrated on --data
    unless --calib says otherwise).

    Unreadable images (damaged, not regular files, or claiming too many pixels) are skipped and counted, or
    end the run with --strict; a list entry leading outside --data, or no readable image at all, is an error.
    """
    from trtbench import reporting as report
    from trtbench.checks.dataset import check_readable, samples_from
    from trtbench.graphs.inputs import check_batch_fits
    from trtbench.graphs.precision import parse_precisions
    from trtbench.session import select_models

    precision_list = parse_precisions(precisions)
    check_batch_fits(batch)
    samples = samples_from(data, list_file)[:limit]
    folder = data if Path(data).is_dir() else Path(data).parent
    models = select_models(options["models_dir"], names)
    session = shared.open_session(app, options, needs=("infer",), precisions=precision_list, calib_fallback=folder)
    check_readable(samples)
    outcome = session.evaluate(models, batch, samples, data, weights, strict)
    app.console.print(report.accuracy_table(report.accuracy_records(outcome.records)))
