"""`trtbench doctor`: what this machine has for each backend and what is missing."""

from __future__ import annotations

import json

import click

from trtbench.cli.app import App, pass_app


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@pass_app
def doctor(app: App, as_json: bool):
    """Check Paddle, ONNX Runtime, GPU, TensorRT and CUDA; say which backend `auto` picks."""
    from rich.markup import escape
    from rich.table import Table

    from trtbench.doctor import backend_states, checks

    found = checks()
    states, choice = backend_states()
    if as_json:
        app.echo(json.dumps({"checks": [{"component": c.component, "found": c.found, "ok": c.ok,
                                           "needed_for": c.needed_for, "fix": c.fix} for c in found],
                               "backends": states, "auto": choice}, indent=2))
        return
    table = Table(title="trtbench doctor")
    for column in ("component", "found", "needed for", "to get it"):
        table.add_column(column)
    for check in found:
        found_text = escape(check.found) if check.found else "[red]missing[/red]"
        table.add_row(escape(check.component), found_text, escape(check.needed_for), escape(check.fix))
    app.console.print(table)
    for name, state in states.items():
        mark = "ok" if state["available"] else "unavailable"
        fix = f" -> {state['fix']}" if state["fix"] else ""
        app.console.print(f"{name}: {mark}: {state['reason']}{fix}", markup=False)
    for precision, chosen in choice.items():
        app.console.print(f"--backend auto --precision {precision}: {chosen}", markup=False)
