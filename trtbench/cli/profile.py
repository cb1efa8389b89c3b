"""`trtbench profile`: `trtbench run --profile` at batch 1 unless --batch says otherwise, for the question that
follows "how fast": where the time goes, layer by layer, in each engine."""

from __future__ import annotations

import click


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                 "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def profile(ctx: click.Context, args: tuple[str, ...]):
    """Time NAME... and profile each case layer by layer (`trtbench run --profile`, batch 1 by default): a table
    per case with each engine's time per group of ONNX nodes; every `trtbench run` option applies."""
    from trtbench.cli.run import run

    given = list(args)
    if not any(arg == "--batch" or arg.startswith("--batch=") for arg in given):
        given += ["--batch", "1"]
    if not any(arg == "--profile" or arg.startswith("--profile=") for arg in given):
        given += ["--profile"]
    # parsed as `run` under the group itself, so that its errors and --help name `trtbench profile`
    with run.make_context("profile", given, parent=ctx.parent, help_option_names=["-h", "--help"]) as inner:
        return run.invoke(inner)
