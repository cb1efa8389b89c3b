"""`trtbench verify`: does each engine still compute the model? Compared with Paddle's own output."""

from __future__ import annotations

import json
from pathlib import Path

import click

from trtbench.cli import options as shared
from trtbench.cli.app import App, pass_app


@click.command()
@shared.model_selection
@shared.precisions("fp32")
@click.option("--batch", type=click.IntRange(min=1), default=8, show_default=True, help="Inputs compared.")
@click.option("--images", type=click.Path(path_type=Path),
              help="Compare on the first images of this folder, unreadable ones skipped (default: seeded noise).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@shared.backend_options
@shared.workspace("models", "engines")
@pass_app
def verify(app: App, names, all_, precisions, batch, images, as_json, **options):
    """Compare NAME...'s engines with Paddle: errors, cosine, centred cosine, top-1/top-5 agreement; fail on a miss.

    The engines are the ones `trtbench run` times with the same options (the same cached files).
    """
    from trtbench import reporting as report
    from trtbench.graphs.inputs import check_batch_fits
    from trtbench.graphs.precision import parse_precisions
    from trtbench.session import select_models

    shared.check_selection(names, all_)
    precision_list = parse_precisions(precisions)
    check_batch_fits(batch)
    models = select_models(options["models_dir"], names, all_)
    session = shared.open_session(app, options, needs=("infer",), precisions=precision_list, calib_fallback=images)
    outcome = session.verify(models, batch, images)
    if any(row.get("min_centred_cosine", 0) is None for row in outcome.rows):
        app.note("WARNING: the inputs compared are all one image, so verify could not check that the output "
                 "moves with its input (centred cosine): give --images two different images or more")
    if as_json:
        app.echo(json.dumps(outcome.rows, indent=2))
    else:
        # at batch 1 the engine runs twice: one input cannot show whether the output follows it
        compared = max((row["samples"] for row in outcome.rows), default=batch)
        app.console.print(report.verify_table(outcome.rows, compared))
    failed = [r for r in outcome.rows if not r["passed"]]
    if failed:
        first = failed[0]
        app.abort(f"{len(failed)} of {len(outcome.rows)} checks failed; first: {first['model']} {first['precision']}: "
                  + "; ".join(first["failed"]), code=5)

