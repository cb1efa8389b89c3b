"""`trtbench run`: build and time every (model, precision, batch) case; records saved as each ends."""

from __future__ import annotations

import math

import click
from click.core import ParameterSource

from trtbench.cli import options as shared
from trtbench.cli.app import App, pass_app

#: what --resume takes from the command line; everything else comes from the run's plan
RESUME_OPTIONS = {"resume", "results_dir", "progress", "no_wait", "top"}


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
@click.option("--percentiles", default="50,90", show_default=True, metavar="P,P...",
              help="Percentiles the timing must support: each case is timed on (within --max-duration) until it has "
                   "the samples MLPerf LoadGen's early stopping needs for each (p90: 64, p99: 662) at 99% confidence.")
@click.option("--stability", default="5%", show_default=True, metavar="PERCENT",
              help="Time in windows (a third of --duration each) until the last three windows' medians agree within "
                   "PERCENT (perf_analyzer's rule) or --max-duration is reached; 0 or off: no windows.")
@click.option("--max-duration", type=shared.FiniteFloat(maximum=36_000), default=None, metavar="SECONDS",
              help="The longest a case is timed while its percentiles lack samples or its windows disagree "
                   "(default: 20 x --duration, 60 s with the default --duration).")
@click.option("--scenario", type=click.Choice(["single-stream", "offline", "server"]), default="single-stream",
              show_default=True,
              help="The load: single-stream (one inference at a time, the page's); offline (every request available "
                   "at once: the most images/s over --concurrency); server (requests arriving at random at --rate, "
                   "or with --latency-bound the highest rate whose p99 holds it).")
@click.option("--concurrency", default=None, metavar="N,N...",
              help="With --scenario offline or server: requests in flight (offline: each one tried, the best kept; "
                   "server: the largest). Default: 1, 2, 4, ... up to twice the CPU cores.")
@click.option("--rate", "rate_qps", type=shared.FiniteFloat(maximum=1_000_000), default=None, metavar="QPS",
              help="With --scenario server: the arrival rate, in queries (batches) per second.")
@click.option("--latency-bound", "latency_bound_ms", type=shared.FiniteFloat(maximum=3_600_000), default=None,
              metavar="MS", help="With --scenario server: find the highest rate whose p99 latency (queueing "
              "included) holds this many ms, by bisection as MLPerf LoadGen's FindPeakPerformance.")
@click.option("--profile", "profile_runs", type=click.IntRange(min=1, max=100_000), is_flag=False, flag_value=30,
              default=None, metavar="[N]",
              help="After each case's timing, N profiled inferences (default 30) of the same engine: where the time "
                   "goes, layer by layer, mapped to the ONNX graph's nodes (saved in the record, shown per case).")
@click.option("--top", type=click.IntRange(min=0), default=15, show_default=True, metavar="N",
              help="With --profile: the N groups of ONNX nodes that take longest, the others summed (0: all).")
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
        percentiles, stability, max_duration, scenario, concurrency, rate_qps, latency_bound_ms, profile_runs, top,
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
        policy = timing_policy(warmup_ms, duration, iterations, percentiles, stability, max_duration, profile_runs)
        policy = load_policy(policy, scenario, concurrency, rate_qps, latency_bound_ms)
        precision_list, batch_list = parse_precisions(precisions), parse_batches(",".join(batches))
        check_batch_fits(max(batch_list))
        needs = ("time", "infer") if verify_outputs else ("time",)
        models = select_models(options["models_dir"], names, all_)
        executor = _executor(ray_address, per_device_type, devices, ray_timeout)
        session = shared.open_session(app, options, needs=needs, precisions=precision_list, executor=executor)
        outcome = session.run(models, batch_list, policy, verify=verify_outputs)
        records = outcome.records
    terminal.print_report(app.console, contents.terminal_report(records, profile_top=top))
    failed = [r for r in records if not r.ok]
    if failed:
        first = failed[0]
        app.abort(f"{len(failed)} of {len(records)} cases failed (errors are in {outcome.run_path}); "
                  f"first: {first.label()}: {first.error}", code=4)


#: --max-duration unless given: this many times --duration (ResNet50 at batch 32 in FP32 takes 0.9 s an
#: iteration on a 2-core Xeon, so its p90's 64 samples fit in the 60 s of the default 3 s duration)
MAX_DURATION_FACTOR = 20


def timing_policy(warmup_ms: float, duration: float, iterations: int, percentiles: str, stability: str,
                  max_duration: float | None, profile_runs: int | None = None):
    """The timing policy the options describe; a usage error (status 2) for values that make no sense."""
    from trtbench.errors import TrtbenchError
    from trtbench.measure.timing import TimingPolicy
    from trtbench.reporting.compare import parse_threshold

    asked = []
    for item in percentiles.split(","):
        try:
            value = float(item.strip().removeprefix("p"))
        except ValueError:
            value = math.nan
        if not 0 < value < 100:  # also NaN
            raise click.BadParameter(f"'{item.strip()}' is not a percentile between 0 and 100 (e.g. 50,90,99)",
                                     param_hint="--percentiles")
        asked.append(value)
    if stability.strip().lower() in ("off", "none"):
        share = None
    else:
        try:
            share = parse_threshold(stability) / 100 or None
        except TrtbenchError:
            raise click.BadParameter(f"'{stability}' is not a percentage (e.g. 5%), or off",
                                     param_hint="--stability") from None
    longest = MAX_DURATION_FACTOR * duration if max_duration is None else max_duration
    if longest < duration:
        raise click.BadParameter(f"{max_duration:g} s is shorter than --duration ({duration:g} s)",
                                 param_hint="--max-duration")
    return TimingPolicy(warmup_ms=warmup_ms, duration_s=duration, min_iterations=iterations,
                        percentiles=tuple(dict.fromkeys(asked)), stability=share, max_duration_s=longest,
                        profile_iterations=profile_runs or 0)


def load_policy(policy, scenario: str, concurrency: str | None, rate_qps: float | None,
                latency_bound_ms: float | None):
    """``policy`` under the load the options describe; a usage error (status 2) for options that do not fit it."""
    import dataclasses

    if scenario != "server" and (rate_qps is not None or latency_bound_ms is not None):
        raise click.UsageError("--rate and --latency-bound are for --scenario server")
    if scenario == "single-stream" and concurrency is not None:
        raise click.UsageError("--concurrency is for --scenario offline or server")
    if scenario == "server" and rate_qps is None and latency_bound_ms is None:
        raise click.UsageError("--scenario server needs --rate QPS (an arrival rate) or --latency-bound MS (the "
                               "highest rate that holds it is found)")
    for value, flag in ((rate_qps, "--rate"), (latency_bound_ms, "--latency-bound")):
        if value is not None and value <= 0:
            raise click.BadParameter(f"{value:g} is not more than 0", param_hint=flag)
    counts: list[int] = []
    for item in (concurrency.split(",") if concurrency is not None else []):
        item = item.strip()
        if not item.isascii() or not item.isdigit() or not 1 <= int(item) <= MAX_CONCURRENCY:
            raise click.BadParameter(f"'{item}' is not a number of requests from 1 to {MAX_CONCURRENCY} (e.g. 1,2,4)",
                                     param_hint="--concurrency")
        counts.append(int(item))
    return dataclasses.replace(policy, scenario=scenario, concurrency=tuple(dict.fromkeys(counts)), rate_qps=rate_qps,
                               latency_bound_ms=latency_bound_ms)


#: the most requests in flight --concurrency takes (each holds an engine's buffers)
MAX_CONCURRENCY = 256


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
