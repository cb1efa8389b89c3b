"""`trtbench export`: Paddle variants to ONNX, with a parity check against Paddle."""

from __future__ import annotations

from pathlib import Path

import click

from trtbench.cli.app import App, pass_app
from trtbench.cli.options import Folder, ModelName, check_selection
from trtbench.errors import TrtbenchError
from trtbench.models.export import DEFAULT_OPSET, DEFAULT_SEED, OPSET_RANGE, check_seed


class Seed(click.ParamType):
    """A random-weights seed in ``SEED_RANGE``; anything else is a usage error in one line."""

    name = "integer"

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            seed = value
        else:
            try:
                seed = int(str(value).strip())
            except ValueError:
                self.fail(f"'{value}' is not a whole number", param, ctx)
        try:
            check_seed(seed)
        except TrtbenchError as exc:
            self.fail(str(exc), param, ctx)
        return seed


@click.command()
@click.argument("names", nargs=-1, type=ModelName())
@click.option("--all", "all_", is_flag=True, help="Export all 14 variants.")
@click.option("--weights", type=click.Path(path_type=Path), help="A PaddleClas .pdparams for the model.")
@click.option("--output-dir", "--models-dir", "output_dir", type=Folder(), default=Path("models"),
              show_default=True, help="Where the exports go (the folder other commands read with --models-dir).")
@click.option("--opset", type=int, default=DEFAULT_OPSET, show_default=True,
              help=f"ONNX opset ({OPSET_RANGE[0]}..{OPSET_RANGE[1]}).")
@click.option("--seed", type=Seed(), default=DEFAULT_SEED, show_default=True,
              help="Seed of the random weights used when --weights is not given.")
@click.option("--force", is_flag=True, help="Export again even when an identical export exists.")
@click.option("--no-verify", is_flag=True, help="Skip the ONNX Runtime vs Paddle output check.")
@pass_app
def export(app: App, names, all_, weights, output_dir, opset, seed, force, no_verify):
    """Export NAME... (or --all) to OUTPUT_DIR/NAME.onnx with a dynamic batch dimension."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from trtbench.models import zoo
    from trtbench.models.export import check_opset, ensure_writable_dir, export_variant

    check_selection(names, all_)
    if not all_ and not names:
        raise click.UsageError("name a model to export (e.g. `trtbench export ResNet50_vd`) or use --all")
    variants = [zoo.get_variant(n) for n in (zoo.PAGE_ORDER if all_ else dict.fromkeys(names))]
    if weights is not None and len(variants) > 1:
        app.abort("--weights fits one architecture: export one model at a time with it")
    try:
        check_opset(opset)
    except TrtbenchError as exc:
        raise click.UsageError(str(exc)) from None
    ensure_writable_dir(output_dir)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # Refreshed by hand: paddle2onnx writes to the terminal's file descriptors while it runs.
    with Progress(*columns, console=app.messages, auto_refresh=False, transient=True) as progress:
        task = progress.add_task("export", total=len(variants))
        for variant in variants:
            progress.update(task, description=f"exporting {variant.name}")
            progress.refresh()
            result = export_variant(variant, output_dir, weights=weights, opset=opset, force=force,
                                    verify=not no_verify, seed=seed)
            meta = result.metadata
            state = "up to date" if result.skipped else f"exported in {meta['export_seconds']:.1f} s"
            parity = meta["parity"]
            check = (f"parity rel err {parity['max_rel_error']:.1e}" if parity.get("checked")
                     else "parity not checked")
            # The result goes to stdout; the bar (stderr) steps aside while it is written, so on a
            # terminal the two do not tear each other.
            progress.stop()
            app.console.print(
                f"{variant.name}: {result.onnx_path} ({state}; {meta['flops_g']:.2f} GFLOPS, "
                f"{meta['params'] / 1e6:.2f} M params, opset {meta['opset']}, {check})", markup=False,
                soft_wrap=True)
            progress.start()
            progress.advance(task)
            progress.refresh()
