"""Rendering: rich tables for the terminal and markdown in the page's layout."""

from __future__ import annotations

from rich import box
from rich.table import Table

from trtbench.figures import FLOPS_CONVENTION, MISMATCH


def _fmt(value, digits=3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def models_table(rows: list[dict]) -> Table:
    """The page's accuracy/FLOPS/parameters table with trtbench's own counts beside the page's."""
    table = Table(title="ResNet and Vd: accuracy, FLOPS and parameters", box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False, collapse_padding=True,
                  caption=f"{FLOPS_CONVENTION}. 'ours': counted by trtbench, the rest is the page's; "
                          f"'!' marks a count more than {MISMATCH:.0%} from the page's.")
    table.add_column("Models", no_wrap=True)
    for header in ("Top1", "Top5", "Ref\ntop1", "Ref\ntop5", "FLOPS\n(G)", "FLOPS\n(G) ours",
                   "Params\n(M)", "Params\n(M) ours"):
        table.add_column(header, justify="right", no_wrap=True)
    notes = []
    for row in rows:
        flops = _fmt(row["flops_g"]) + (" !" if row["flops_disagree"] else "")
        params = _fmt(row["params_m"]) + (" !" if row["params_disagree"] else "")
        table.add_row(row["name"], _fmt(row["top1"]), _fmt(row["top5"]), _fmt(row["ref_top1"]),
                      _fmt(row["ref_top5"]), _fmt(row["ref_flops_g"]), flops, _fmt(row["ref_params_m"]),
                      params)
        if row["note"]:
            notes.append(f"{row['name']}: {row['note']}")
    if notes:
        table.caption += "\n" + "\n".join(notes)
    return table


def models_markdown(rows: list[dict]) -> str:
    """The page's first table in its own markdown layout, with trtbench's counts in extra columns."""
    lines = [
        "| Models | Top1 | Top5 | Reference<br>top1 | Reference<br>top5 | FLOPS<br>(G) | Parameters<br>(M) "
        "| FLOPS<br>(G, trtbench) | Parameters<br>(M, trtbench) |",
        "|:--:|:--:|:--:|:--:|:--:|:--:|:--:|:--:|:--:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['name']} | {_fmt(row['top1'])} | {_fmt(row['top5'])} | {_fmt(row['ref_top1'])} "
            f"| {_fmt(row['ref_top5'])} | {_fmt(row['ref_flops_g'])} | {_fmt(row['ref_params_m'])} "
            f"| {_fmt(row['flops_g'])}{' !' if row['flops_disagree'] else ''} "
            f"| {_fmt(row['params_m'])}{' !' if row['params_disagree'] else ''} |")
    return "\n".join(lines)
