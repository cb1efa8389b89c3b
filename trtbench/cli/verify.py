"""`trtbench verify`: does each engine still compute the model? Compared with Paddle's own output."""

from __future__ import annotations

import json
from pathlib import Path

import click

from trtbench.cli.app import App, calibration_option, pass_app, selected_models


@click.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="All 14 variants.")
@click.option("--backend", default="auto", show_default=True)
@click.option("--precision", "precisions", default="fp32,fp16", show_default=True, help="fp32, fp16, int8.")
@click.option("--batch", type=click.IntRange(min=1), default=8, show_default=True, help="Inputs compared.")
@click.option("--images", type=click.Path(path_type=Path), help="Compare on these images (default: seeded noise).")
@click.option("--calib", type=click.Path(path_type=Path), help="Images to calibrate INT8 with (default: --images).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--models-dir", type=click.Path(path_type=Path), default=Path("models"), show_default=True)
@click.option("--engines-dir", type=click.Path(path_type=Path), default=Path("engines"), show_default=True)
@pass_app
def verify(app: App, names, all_, backend, precisions, batch, images, calib, as_json, models_dir, engines_dir):
    """Compare NAME...'s engines with Paddle: errors, cosine, top-1/top-5 agreement; fail on a miss."""
    from rich import box
    from rich.table import Table

    from trtbench import backends, zoo
    from trtbench.export import ensure_exported
    from trtbench.precision import parse_precisions
    from trtbench.verify import Reference, check_engine, verification_inputs

    precision_list = parse_precisions(precisions)
    wanted = selected_models(app, names, all_, models_dir)
    calibration = calibration_option(app, calib, precision_list, fallback=images)
    chosen, why = backends.choose(backend, backends.BackendOptions(calibration=calibration))
    app.note(f"backend: {why}")
    inputs = verification_inputs(batch, images)
    rows = []
    with app.messages.status("verifying...") as status:
        for name in wanted:
            path = ensure_exported(zoo.get_variant(name), models_dir).onnx_path
            reference = Reference(path)
            for precision in precision_list:
                status.update(f"verifying {name} {precision}")
                with chosen.build(path, precision, batch, engines_dir) as engine:
                    figures = check_engine(engine, reference, precision, inputs, key="inputs")
                rows.append({"model": name, "precision": precision, "backend": chosen.name, **figures})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        table = Table(title=f"Output check against Paddle ({chosen.name}, {batch} inputs)", box=box.SIMPLE_HEAD)
        for header in ("Models", "precision", "max abs err", "max rel err", "min cosine", "top-1 agree",
                       "top-5 agree", "result"):
            table.add_column(header, justify="left" if header in ("Models", "precision", "result") else "right")
        for row in rows:
            table.add_row(row["model"], row["precision"], f"{row['max_abs_error']:.2e}", f"{row['max_rel_error']:.2e}",
                          f"{row['min_cosine']:.6f}", f"{row['top1_agree']:.1%}", f"{row['top5_agree']:.1%}",
                          "pass" if row["passed"] else "FAIL: " + "; ".join(row["failed"]))
        app.console.print(table)
    failed = [r for r in rows if not r["passed"]]
    if failed:
        first = failed[0]
        app.abort(f"{len(failed)} of {len(rows)} checks failed; first: {first['model']} {first['precision']}: "
                  + "; ".join(first["failed"]), code=5)
