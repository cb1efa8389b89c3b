"""`trtbench run`: build and time every (model, precision, batch) case; records saved as each ends."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from trtbench.cli.app import App, calibration_option, pass_app, selected_models


@click.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="All 14 variants (exported first where needed).")
@click.option("--precision", "precisions", default="fp16,fp32", show_default=True, help="Comma-separated.")
@click.option("--batch", "batches", default="1,4,8,32", show_default=True, help="Comma-separated batch sizes.")
@click.option("--backend", default="auto", show_default=True,
              help="auto, tensorrt, onnxruntime-cuda or onnxruntime-cpu.")
@click.option("--warmup-ms", type=click.FloatRange(min=0), default=200.0, show_default=True)
@click.option("--duration", type=click.FloatRange(min=0), default=3.0, show_default=True,
              help="Seconds to time each case, at least.")
@click.option("--iterations", type=click.IntRange(min=1), default=10, show_default=True,
              help="Iterations to time each case, at least.")
@click.option("--threads", type=click.IntRange(min=0), default=0, show_default=True,
              help="CPU threads for ONNX Runtime (0: its default).")
@click.option("--typing", type=click.Choice(["auto", "strong", "weak"]), default="auto", show_default=True,
              help="TensorRT: strongly typed (FP16 graph) or weak (BuilderFlag.FP16, 10.x only).")
@click.option("--workspace-mib", type=click.IntRange(min=1), default=None,
              help="TensorRT workspace limit in MiB (default: TensorRT's).")
@click.option("--opt-level", type=click.IntRange(0, 5), default=3, show_default=True,
              help="TensorRT builder optimization level.")
@click.option("--no-timing-cache", is_flag=True, help="TensorRT: do not use engines/timing.cache.")
@click.option("--cuda-graph", is_flag=True, help="Capture the enqueue as a CUDA graph and replay it.")
@click.option("--no-data-transfers", is_flag=True, help="Do not time host<->device copies.")
@click.option("--cuda", "cuda_bindings", type=click.Choice(["auto", "cuda-python", "pycuda"]), default="auto",
              show_default=True, help="CUDA bindings for the TensorRT backend.")
@click.option("--calib", type=click.Path(path_type=Path), help="Images to calibrate INT8 with.")
@click.option("--verify", "verify_outputs", is_flag=True,
              help="Check each engine's outputs against Paddle's and record the figures.")
@click.option("--models-dir", type=click.Path(path_type=Path), default=Path("models"), show_default=True)
@click.option("--engines-dir", type=click.Path(path_type=Path), default=Path("engines"), show_default=True)
@click.option("--results-dir", type=click.Path(path_type=Path), default=Path("results"), show_default=True)
@pass_app
def run(app: App, names, all_, precisions, batches, backend, warmup_ms, duration, iterations, threads,
        typing, workspace_mib, opt_level, no_timing_cache, cuda_graph, no_data_transfers, cuda_bindings,
        calib, verify_outputs, models_dir, engines_dir, results_dir):
    """Time NAME... (default: every model exported in --models-dir) and save a run file."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from trtbench import backends, envinfo, report, zoo
    from trtbench.bench import Case, parse_batches, sweep
    from trtbench.export import ensure_exported, ensure_writable_dir
    from trtbench.precision import parse_precisions
    from trtbench.results import RunFile
    from trtbench.timing import TimingPolicy

    precision_list = parse_precisions(precisions)
    batch_list = parse_batches(batches)
    wanted = selected_models(app, names, all_, models_dir)
    calibration = calibration_option(app, calib, precision_list)
    options = backends.BackendOptions(
        threads=threads, typing=typing, workspace_mib=workspace_mib, opt_level=opt_level,
        timing_cache=not no_timing_cache, cuda_graph=cuda_graph, data_transfers=not no_data_transfers,
        cuda=cuda_bindings, calibration=calibration)
    chosen, why = backends.choose(backend, options)
    app.note(f"backend: {why}")
    if chosen.name.startswith("onnxruntime-cpu"):
        app.note("no GPU/TensorRT here: these are ONNX Runtime CPU numbers, not TensorRT numbers")
    ensure_writable_dir(results_dir)
    ensure_writable_dir(engines_dir)

    graphs = {}
    for name in wanted:
        result = ensure_exported(zoo.get_variant(name), models_dir)
        if not result.skipped:
            app.note(f"exported {name} -> {result.onnx_path}")
        graphs[name] = result.onnx_path

    run_file = RunFile(results_dir, envinfo.environment(chosen.name, chosen.device()), ["trtbench", *sys.argv[1:]])
    policy = TimingPolicy(warmup_ms=warmup_ms, duration_s=duration, min_iterations=iterations)
    cases = [(Case(n, p, b), graphs[n]) for n in wanted for p in precision_list for b in batch_list]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=app.messages, transient=True) as progress:
        task = progress.add_task("starting", total=len(cases))

        def started(case):
            progress.update(task, description=f"{case.label()}: building")

        def timing(case, count, median):
            progress.update(task, description=f"{case.label()}: median {median:.3f} ms after {count} iterations")

        def finished(record):
            run_file.add(record)
            progress.advance(task)
            if record["status"] == "ok":
                text = f"{record['latency_ms']['median']:.3f} ms median, {record['throughput_ips']:.1f} images/s"
                check = record.get("verify")
                if check:
                    verdict = "passed" if check["passed"] else "FAILED: " + "; ".join(check["failed"])
                    text += f", output check {verdict}"
            else:
                text = f"FAILED: {record['error']}"
            progress.console.print(f"{record['model']} {record['precision']} batch {record['batch']}: {text}",
                                   markup=False, highlight=False)
            for warning in record.get("warnings") or ():
                progress.console.print(f"  warning: {warning}", markup=False, highlight=False)

        records = sweep(chosen, cases, engines_dir, policy, on_record=finished, on_start=started,
                        on_progress=timing, verify=_verifier(graphs) if verify_outputs else None)
    run_file.finish()
    for key, group in report.latency_groups(records):
        app.console.print(report.latency_table(key, group))
    app.note(f"results: {run_file.path}")
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        app.abort(f"{len(failed)} of {len(records)} cases failed (errors are in {run_file.path}); "
                  f"first: {failed[0]['model']} {failed[0]['precision']} batch {failed[0]['batch']}: "
                  f"{failed[0]['error']}", code=4)


def _verifier(graphs: dict):
    """A per-case output check against Paddle, sharing each model's reference across its cases."""
    from trtbench.verify import Reference, check_engine, verification_inputs

    references = {name: Reference(path) for name, path in graphs.items()}

    def verify(case, engine):
        inputs = verification_inputs(case.batch)
        return check_engine(engine, references[case.model], case.precision, inputs, key=case.batch)

    return verify
