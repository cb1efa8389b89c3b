"""`trtbench run`: build and time every (model, precision, batch) case; records saved as each ends."""

from __future__ import annotations

import click
from click.core import ParameterSource

from trtbench.cli import options as shared
from trtbench.cli.app import App, pass_app

#: what --resume takes from the command line; everything else comes from the run's plan
RESUME_OPTIONS = {"resume", "results_dir", "progress", "no_wait"}


@click.command()
@shared.model_selection
@shared.precisions("native")
@click.option("--batch", "batches", type=shared.BatchList(), multiple=True, default=["1,4,8,32"], show_default=True,
              help="Comma-separated batch sizes (may be repeated: --batch 1 --batch 8).")
@click.option("--warmup-ms", type=shared.FiniteFloat(maximum=600_000), default=200.0, show_default=True,
              help="Milliseconds to warm up each case (at most 10 minutes).")
@click.option("--duration", type=shared.FiniteFloat(maximum=3600), default=3.0, show_default=True,
              help="Seconds to time each case, at least (at most an hour).")
@click.option("--iterations", type=click.IntRange(min=1, max=1_000_000), default=10, show_default=True,
              help="Iterations to time each case, at least.")
@click.option("--verify", "verify_outputs", is_flag=True,
              help="Check each engine's outputs against Paddle's and record the figures.")
@click.option("--resume", is_flag=False, flag_value="", default=None, metavar="[RUN_ID]",
              help="Complete an interrupted run (default: the newest in --results-dir): only its cases without a "
                   "record run, with the options it started with.")
@click.option("--no-wait", is_flag=True,
              help="Refuse, instead of waiting, when another trtbench run is timing on the same device.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="", default=None, metavar="[ADDRESS]",
              help="Run each case as a Ray task on a cluster: ADDRESS (host:port of its head node), auto (the "
                   "cluster `ray start` left here), or, with no value or `local`, a local cluster of this machine "
                   "started for the run (pip install 'trtbench[ray]').")
@click.option("--ray-timeout", type=shared.FiniteFloat(maximum=3600), default=None, metavar="SECONDS",
              help="With --ray ADDRESS: give up when the cluster has not answered within SECONDS (default 30).")
@click.option("--per-device-type", is_flag=True,
              help="With --ray: run every case once on each kind of device of the cluster (GPU name, or CPU model "
                   "for CPU backends).")
@click.option("--devices", default=None, metavar="NAME,...",
              help="With --ray: only the kinds of device whose name holds one of these (e.g. A100,H100).")
@shared.backend_options
@shared.workspace("models", "engines", "results")
@pass_app
@click.pass_context
def run(ctx: click.Context, app: App, names, all_, precisions, batches, warmup_ms, duration, iterations,
        verify_outputs, resume, ray_address, ray_timeout, per_device_type, devices, **options):
    """Time NAME... (default: every model exported in --models-dir) and save a run file."""
    from trtbench.executors.case import parse_batches
    from trtbench.graphs.inputs import check_batch_fits
    from trtbench.graphs.precision import parse_precisions
    from trtbench.measure.timing import TimingPolicy
    from trtbench.reporting import contents, terminal
    from trtbench.session import Session, select_models

    if resume is not None:
        given = [name for name, value in ctx.params.items() if name not in RESUME_OPTIONS
                 and ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)]
        if given:  # a usage error (status 2); the line itself says the fix, so no --help hint
            app.abort(f"--resume continues a run with the options it started with: drop "
                      f"{', '.join(_flag(ctx, name) for name in given)}", code=2)
        session, run_file = Session.resuming(options["results_dir"], resume or None,
                                             shared.reporter_for(app, options["progress"]),
                                             wait_for_device=not options["no_wait"])
        plan = run_file.run.plan or {}
        outcome = session.run(plan["models"], plan["batches"], TimingPolicy(**plan["policy"]), plan["verify"],
                              resume=run_file)
        records = run_file.records
    else:
        shared.check_selection(names, all_)
        precision_list, batch_list = parse_precisions(precisions), parse_batches(",".join(batches))
        check_batch_fits(max(batch_list))
        needs = ("time", "infer") if verify_outputs else ("time",)
        models = select_models(options["models_dir"], names, all_)
        executor = _executor(ray_address, per_device_type, devices, ray_timeout)
        session = shared.open_session(app, options, needs=needs, precisions=precision_list, executor=executor)
        policy = TimingPolicy(warmup_ms=warmup_ms, duration_s=duration, min_iterations=iterations)
        outcome = session.run(models, batch_list, policy, verify=verify_outputs)
        records = outcome.records
    terminal.print_report(app.console, contents.terminal_report(records))
    failed = [r for r in records if not r.ok]
    if failed:
        first = failed[0]
        app.abort(f"{len(failed)} of {len(records)} cases failed (errors are in {outcome.run_path}); "
                  f"first: {first.label()}: {first.error}", code=4)


def _flag(ctx: click.Context, name: str) -> str:
    """How the user wrote option ``name`` ('--batch'), or NAME for the model arguments."""
    for param in ctx.command.params:
        if param.name == name:
            return param.opts[0] if isinstance(param, click.Option) else "NAME..."
    return name


def _executor(address: str | None, per_device_type: bool, devices: str | None, timeout: float | None = None):
    """The Ray executor --ray asks for, or None (this machine); the Ray options need --ray."""
    if address is None:
        if per_device_type or devices is not None or timeout is not None:
            raise click.UsageError("--per-device-type, --devices and --ray-timeout are for a Ray cluster: add --ray")
        return None
    from trtbench.executors.ray import CONNECT_TIMEOUT_S, LOCAL, RayExecutor, check_answers, import_ray, split_address

    if address.strip().lower() not in (*LOCAL, "auto"):
        try:
            split_address(address)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--ray") from None
    if timeout is not None and timeout <= 0:
        raise click.BadParameter("give the seconds to wait for the cluster, more than 0", param_hint="--ray-timeout")
    import_ray()  # without the extra: one line naming it, before any work
    bound = CONNECT_TIMEOUT_S if timeout is None else timeout
    if address.strip().lower() not in (*LOCAL, "auto"):
        check_answers(address, bound)  # a cluster that is not there: one line now, not after the exports
    names = [name.strip() for name in (devices or "").split(",") if name.strip()]
    if devices is not None and not names:
        raise click.BadParameter("name one or more kinds of device, e.g. --devices A100,H100", param_hint="--devices")
    return RayExecutor(address or None, per_device_type, names, bound)
