"""`trtbench run`: build and time every (model, precision, batch) case; records saved as each ends."""

from __future__ import annotations

import click

from trtbench.cli import options as shared
from trtbench.cli.app import App, pass_app


@click.command()
@shared.model_selection
@shared.precisions("native")
@click.option("--batch", "batches", default="1,4,8,32", show_default=True, help="Comma-separated batch sizes.")
@click.option("--warmup-ms", type=shared.FiniteFloat(), default=200.0, show_default=True)
@click.option("--duration", type=shared.FiniteFloat(), default=3.0, show_default=True,
              help="Seconds to time each case, at least.")
@click.option("--iterations", type=click.IntRange(min=1), default=10, show_default=True,
              help="Iterations to time each case, at least.")
@click.option("--verify", "verify_outputs", is_flag=True,
              help="Check each engine's outputs against Paddle's and record the figures.")
@shared.backend_options
@shared.workspace("models", "engines", "results")
@pass_app
def run(app: App, names, all_, precisions, batches, warmup_ms, duration, iterations, verify_outputs, **options):
    """Time NAME... (default: every model exported in --models-dir) and save a run file."""
    from trtbench import report
    from trtbench.bench import parse_batches
    from trtbench.precision import parse_precisions
    from trtbench.session import select_models
    from trtbench.timing import TimingPolicy

    precision_list, batch_list = parse_precisions(precisions), parse_batches(batches)
    needs = ("time", "infer") if verify_outputs else ("time",)
    models = select_models(options["models_dir"], names, all_)
    session = shared.open_session(app, options, needs=needs, precisions=precision_list)
    policy = TimingPolicy(warmup_ms=warmup_ms, duration_s=duration, min_iterations=iterations)
    outcome = session.run(models, batch_list, policy, verify=verify_outputs)
    for key, group in report.latency_groups(outcome.records):
        app.console.print(report.latency_table(key, group))
    failed = outcome.failed()
    if failed:
        first = failed[0]
        app.abort(f"{len(failed)} of {len(outcome.records)} cases failed (errors are in {outcome.run_path}); "
                  f"first: {first.label()}: {first.error}", code=4)
