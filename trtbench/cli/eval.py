"""`trtbench eval`: Top-1/Top-5 of an engine on labelled images, recorded for `trtbench report`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from trtbench.cli.app import App, calibration_option, pass_app


@click.command(name="eval")
@click.argument("names", nargs=-1, required=True)
@click.option("--data", type=click.Path(path_type=Path), required=True,
              help="ImageNet-style folder (a sub-folder per class, sorted), or a list file.")
@click.option("--list", "list_file", type=click.Path(path_type=Path),
              help="PaddleClas list file of 'relative/path label' lines, paths relative to --data.")
@click.option("--weights", type=click.Path(path_type=Path), help="PaddleClas .pdparams (exported first).")
@click.option("--backend", default="auto", show_default=True)
@click.option("--precision", "precisions", default="fp32", show_default=True, help="fp32, fp16, int8.")
@click.option("--batch", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate only the first N images.")
@click.option("--calib", type=click.Path(path_type=Path), help="Images to calibrate INT8 with (default: --data).")
@click.option("--strict", is_flag=True, help="Fail on an unreadable image instead of skipping it.")
@click.option("--models-dir", type=click.Path(path_type=Path), default=Path("models"), show_default=True)
@click.option("--engines-dir", type=click.Path(path_type=Path), default=Path("engines"), show_default=True)
@click.option("--results-dir", type=click.Path(path_type=Path), default=Path("results"), show_default=True)
@pass_app
def evaluate(app: App, names, data, list_file, weights, backend, precisions, batch, limit, calib, strict,
             models_dir, engines_dir, results_dir):
    """Top-1/Top-5 of NAME... on --data, per precision, saved as accuracy records."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from trtbench import backends, envinfo, report, zoo
    from trtbench.dataset import samples_from
    from trtbench.evaluate import evaluate as run_eval
    from trtbench.export import ensure_exported, ensure_writable_dir, export_variant
    from trtbench.precision import parse_precisions
    from trtbench.results import RunFile

    precision_list = parse_precisions(precisions)
    variants = [zoo.get_variant(n) for n in dict.fromkeys(names)]
    if weights is not None and len(variants) > 1:
        app.abort("--weights fits one architecture: evaluate one model at a time with it")
    samples = samples_from(data, list_file)[:limit]
    folder = data if Path(data).is_dir() else Path(data).parent
    # Exports first: a weights file for another architecture fails before anything else is set up.
    exports = [export_variant(v, models_dir, weights=weights) if weights is not None else ensure_exported(v, models_dir)
               for v in variants]
    calibration = calibration_option(app, calib, precision_list, fallback=folder)
    chosen, why = backends.choose(backend, backends.BackendOptions(calibration=calibration))
    app.note(f"backend: {why}")
    ensure_writable_dir(results_dir)
    run_file = RunFile(results_dir, envinfo.environment(chosen.name, chosen.device()), ["trtbench", *sys.argv[1:]])
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    for variant, result in zip(variants, exports, strict=True):
        weights_text = result.metadata["weights"]["description"]
        if result.metadata["weights"]["kind"] == "random":
            app.note(f"WARNING: {variant.name} was exported with {weights_text}: accuracy is meaningless "
                     "without --weights")
        for precision in precision_list:
            with Progress(*columns, console=app.messages, transient=True) as progress:
                task = progress.add_task(f"{variant.name} {precision}", total=len(samples))
                with chosen.build(result.onnx_path, precision, batch, engines_dir) as engine:
                    figures = run_eval(engine, samples, batch, strict=strict,
                                       progress=lambda done, task=task: progress.update(task, completed=done))
            record = {"kind": "accuracy", "model": variant.name, "backend": chosen.name, "device": chosen.device(),
                      "precision": precision, "batch": batch, "status": "ok", "error": None,
                      "weights": weights_text, "data": str(data), **figures}
            run_file.add(record)
            app.note(f"{variant.name} {precision}: top-1 {figures['top1']:.4f}, top-5 {figures['top5']:.4f} "
                     f"on {figures['images']} images ({figures['skipped']} unreadable, skipped)")
    run_file.finish()
    app.console.print(report.accuracy_table(run_file.data["records"]))
    app.note(f"results: {run_file.path}")
