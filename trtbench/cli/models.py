"""`trtbench models`: the page's first table beside trtbench's own counts."""

from __future__ import annotations

import json
from pathlib import Path

import click

from trtbench.cli.app import App, pass_app
from trtbench.cli.options import Folder


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--markdown", is_flag=True, help="Print the table as markdown in the page's layout.")
@click.option("--models-dir", type=Folder(), default=Path("models"), show_default=True,
              help="Where exported models are; their ONNX graphs are counted when present.")
@pass_app
def models(app: App, as_json: bool, markdown: bool, models_dir: Path):
    """List the 14 variants: page accuracy, FLOPS and parameters, and trtbench's own counts."""
    from trtbench import reporting as report
    from trtbench.models import zoo
    from trtbench.models.figures import model_row

    rows = [model_row(zoo.get_variant(name), models_dir) for name in zoo.PAGE_ORDER]
    if as_json:
        app.echo(json.dumps(rows, indent=2))
    elif markdown:
        app.echo(report.models_markdown(rows))
    else:
        app.console.print(report.models_table(rows))
