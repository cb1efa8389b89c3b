"""`trtbench doctor`: what this machine has for each backend and what is missing."""

from __future__ import annotations

import json

import click

from trtbench.cli.app import App, pass_app


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@pass_app
def doctor(app: App, as_json: bool):
    """Check Paddle, ONNX Runtime, GPU, TensorRT and CUDA; say what each backend runs here and which
    backend `auto` picks."""
    from rich import box
    from rich.table import Table

    from trtbench.doctor import backend_states, checks, cpu_facts, cpu_lines

    found = checks()
    states, choice = backend_states()
    facts = cpu_facts()
    if as_json:
        app.echo(json.dumps({"cpu": facts,
                             "checks": [{"component": c.component, "found": c.found, "ok": c.ok,
                                         "needed_for": c.needed_for, "fix": c.fix} for c in found],
                             "backends": states, "auto": choice}, indent=2))
        return
    print_line = app.console.print
    for line in cpu_lines(facts):
        print_line(line, markup=False)
    # One row per backend, short enough for 80 columns; the long reasons and fixes come below.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header in ("backend", "here", "runs here natively", "not here"):
        table.add_column(header, no_wrap=True)
    for name, state in states.items():
        others = [p for p in state["precisions"] if p not in state["runs_here"]]
        table.add_row(name, "ok" if state["available"] else "no", ", ".join(state["runs_here"]) or "-",
                      ", ".join(others) or "-")
    print_line(table)
    have = ", ".join(f"{c.component} {c.found}" for c in found if c.found)
    print_line(f"\nfound: {have}", markup=False)
    missing = [c for c in found if not c.ok]
    if missing:
        print_line("\nmissing, and what brings it:", markup=False)
        for check in missing:
            print_line(f"- {check.component} (for {check.needed_for}): {check.fix}", markup=False)
    print_line("\nbackends:", markup=False)
    for name, state in states.items():
        mark = "ok" if state["available"] else "unavailable"
        said = any(state["fix"] and state["fix"] in check.fix for check in missing)
        fix = f" -> {state['fix']}" if state["fix"] and not said else ""
        print_line(f"{name}: {mark}: {state['reason']}{fix}", markup=False)
    for precision, chosen in choice.items():
        print_line(f"--backend auto --precision {precision}: {chosen}", markup=False)
