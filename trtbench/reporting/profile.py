"""Per-layer profiles side by side: every engine's layers put on one partition of the ONNX graph.

Each engine fuses differently (OpenVINO folds a Conv's Add and Relu into it, ONNX Runtime a Conv and its
Relu, TensorRT whole blocks), so engines are compared on groups: the ONNX nodes any engine's layer covers
together are joined (union-find), across all the engines shown, until no layer straddles two groups. A
group's time in an engine is the sum of its layers' medians there. Work an engine inserted (reorders,
conversions, copies) is a row of its own; time that maps to no ONNX node is shown, never hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from trtbench.measure.profile import LayerProfile
from trtbench.reporting.stages import QDQ

INSERTED = "inserted"
FILE_FORMATS = ("markdown", "html")  # the formats that show every column
UNMAPPED = "unmapped"


@dataclass
class Share:
    """One engine's part of a group: its time, the precisions its layers ran in, and their names."""

    ms: float = 0.0
    precisions: set[str] = field(default_factory=set)
    layers: list[str] = field(default_factory=list)


@dataclass
class Group:
    """ONNX nodes that every engine shown ran within whole layers of its own (or a row of inserted or
    unmapped work), and each engine's share."""

    nodes: list[str]  # in graph order; [] for inserted / unmapped rows
    ops: list[str]  # the ONNX op types of ``nodes``, each once, in order
    kind: str = ""  # "" for ONNX nodes, INSERTED or UNMAPPED
    label: str = ""  # what the row is called: "conv1 .. relu1" or "Reorder (inserted)"
    shares: dict[str, Share] = field(default_factory=dict)  # by engine name (backend, or backend precision)

    def ms(self, engine: str) -> float:
        share = self.shares.get(engine)
        return share.ms if share is not None else 0.0


class _Partition:
    """Union-find over node names."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, node: str) -> str:
        parent = self.parent.setdefault(node, node)
        while parent != self.parent[parent]:
            self.parent[parent] = self.parent[self.parent[parent]]  # path halving
            parent = self.parent[parent]
        return parent

    def join(self, nodes: Sequence[str]) -> None:
        if not nodes:
            return
        root = self.find(nodes[0])
        for node in nodes[1:]:
            other = self.find(node)
            if other != root:
                self.parent[other] = root


def groups(profiles: dict[str, LayerProfile], graph: Sequence[tuple[str, str]] = ()) -> list[Group]:
    """The common groups of ``profiles`` (by engine name), in graph order (``graph``: the ONNX nodes as
    (name, op type) in order; nodes a profile names that the graph lacks come after, by name); then one row
    per kind of inserted work and one for unmapped time, for the engines that have them."""
    partition = _Partition()
    for name, _ in graph:
        partition.find(name)
    for profile in profiles.values():
        for layer in profile.layers:
            partition.join(layer.nodes)
    order = {name: index for index, (name, _) in enumerate(graph)}
    ops = dict(graph)
    members: dict[str, list[str]] = {}
    for node in partition.parent:
        members.setdefault(partition.find(node), []).append(node)
    by_root: dict[str, Group] = {}
    for root, nodes in members.items():
        nodes.sort(key=lambda node: (order.get(node, len(order)), node))
        kinds = list(dict.fromkeys(ops[node] for node in nodes if node in ops))
        # named by its first and last nodes that compute (an INT8 graph's quantize nodes join every group)
        named = [node for node in nodes if ops.get(node) not in QDQ] or nodes
        label = named[0] if len(named) == 1 else f"{named[0]} .. {named[-1]}"
        by_root[root] = Group(nodes, kinds, label=label)
    extra: dict[str, Group] = {}
    for engine, profile in profiles.items():
        for layer in profile.layers:
            if layer.nodes:
                group = by_root[partition.find(layer.nodes[0])]
            else:
                kind = INSERTED if layer.inserted else UNMAPPED
                key = f"{layer.kind} ({INSERTED})" if layer.inserted else f"{UNMAPPED} time"
                group = extra.setdefault(key, Group([], [layer.kind] if layer.inserted else [], kind, key))
            share = group.shares.setdefault(engine, Share())
            share.ms += layer.median_ms
            if layer.precision:
                share.precisions.add(layer.precision)
            share.layers.append(layer.name)
    ordered = sorted(by_root.values(), key=lambda group: (order.get(group.nodes[0], len(order)), group.nodes[0]))
    # Groups no engine ran (constants folded away, say) are left out: there is no time to show.
    return [group for group in ordered if group.shares] + sorted(extra.values(), key=lambda g: (g.kind, g.label))


def conv_coverage(profile: LayerProfile, graph: Sequence[tuple[str, str]]) -> float:
    """The share of the graph's Conv nodes that fall in a layer of ``profile`` (1.0 where it has none)."""
    convs = {name for name, op in graph if op == "Conv"}
    if not convs:
        return 1.0
    covered = {node for layer in profile.layers for node in layer.nodes}
    return len(convs & covered) / len(convs)


def profile_tables(records: Sequence, top: int = 0, across: str = "backend") -> list:
    """A table per case of profiled records, the engines side by side, and its sums per stage of the model:
    ``across`` "backend" puts each (model, precision, batch, device)'s backends side by side; "precision" each
    (model, batch, device, backend)'s precisions, FP32 first. Each engine after the first is also read as a ratio
    to the first per group (e.g. int8/fp32), and the groups it ran slower than the first are named in a note.
    ``top``: the groups that take longest in any engine, the others summed in one row (0: every group)."""
    tables = []
    for title, engines, model in _cases(records, across):
        tables.append(profile_table(title, engines, top))
        tables += stage_tables(title, engines, model)
    return tables


def precision_stage_tables(records: Sequence) -> list:
    """Per stage, the precisions of each (model, batch, device, backend) that profiled more than one side by
    side, each one's ratio to FP32: what a sweep of precisions reads first."""
    return [table for title, engines, model in _cases(records, "precision") if len(engines) > 1
            for table in stage_tables(title, engines, model)]


def _cases(records: Sequence, across: str) -> list[tuple[str, dict[str, tuple], str]]:
    """(title, {engine: (profile, record)}, model) per case of the profiled records: a case's backends side by
    side (``across`` "backend"), in name order, or its precisions ("precision"), FP32 first."""
    from trtbench.reporting.latency import PRECISION_ORDER

    cases: dict[tuple, dict[str, tuple]] = {}
    for record in records:
        profile = LayerProfile.from_json(getattr(record, "profile", None))
        if profile is None or not record.ok:
            continue
        if across == "precision":
            case, engine = (record.model, record.batch, record.device, record.backend), record.precision
        else:
            case, engine = (record.model, record.precision, record.batch, record.device), record.backend
        cases.setdefault(case, {})[engine] = (profile, record)
    found = []
    for case, engines in cases.items():
        if across == "precision":
            # FP32 first: every other precision's time is read as a ratio to it
            engines = dict(sorted(engines.items(), key=lambda item: (item[0] != "fp32",
                                                                      PRECISION_ORDER.get(item[0], 99), item[0])))
            model, batch, device, backend = case
            title = f"Per-layer profile by precision: {model} batch {batch}, {backend} on {device}"
        else:
            engines = dict(sorted(engines.items()))
            model, precision, batch, device = case
            title = f"{precision.upper()} per-layer profile: {model} batch {batch} on {device}"
        found.append((title, engines, model))
    return found


def stage_tables(title: str, engines: dict[str, tuple], model: str, slower_pct: float | None = None) -> list:
    """The case's groups summed per stage of the model (stem, its four stages, head; inserted and unmapped work
    as rows of their own), each engine after the first as a ratio to the first: [] where the model's stages
    cannot be found in its graph (a model outside the zoo, a graph of other blocks)."""
    from trtbench.models import zoo
    from trtbench.reporting import stages
    from trtbench.reporting.model import Cell, Column, Table

    try:
        depths = zoo.get_variant(model).block_depths
    except Exception:  # a name from a hostile or foreign file: no stages to show
        return []
    placed: dict[str, str] = {}
    ops: dict[str, str] = {}
    for _, record in engines.values():
        graph = _graph(record.profile)
        ops.update(graph)
        for node, stage in (stages.node_stages(graph, depths) or {}).items():
            placed.setdefault(node, stage)
    if not placed:
        return []
    rows = groups({name: profile for name, (profile, _) in engines.items()},
                  _merged_graph([record.profile for _, record in engines.values()]))
    order = stages.names(depths)
    sums: dict[str, dict[str, float]] = {}
    for group in rows:
        where = group.label if group.kind else stages.group_stage(group.nodes, ops, placed) or "outside the stages"
        for name in engines:
            if name in group.shares:
                sums.setdefault(where, {}).setdefault(name, 0.0)
                sums[where][name] += group.ms(name)
    first = next(iter(engines))
    columns = [Column("stage", numeric=False, no_wrap=True)]
    for name in engines:
        columns += [Column(f"{name}\n(ms)"), Column(f"{name}\n(%)")]
        if name != first:
            columns.append(_ratio_column(name, first))
    table = Table("profile", f"{title}, per stage", columns)
    table.chart = [(where, times) for where, times in _in_stage_order(sums, order)]
    for where, times in _in_stage_order(sums, order):
        cells: list[Cell | str] = [where]
        for name, (profile, _) in engines.items():
            ms = times.get(name)
            cells += _share_cells(ms, profile.total_ms, "")[:2]
            if name != first:
                cells.append(_ratio(times.get(name), times.get(first)))
        table.add(*cells, mood=_mood(times, list(engines), slower_pct))
    table.notes.append(f"{model}'s stages found in its graph: the stem ends at its max-pool, a stage at the Add of "
                       "its last block, the head begins at the global pool; a group is counted in the stage of its "
                       "first node")
    return [table]


def _in_stage_order(sums: dict[str, dict[str, float]], order: list[str]) -> list[tuple[str, dict[str, float]]]:
    rank = {name: index for index, name in enumerate(order)}
    return sorted(sums.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))


def profile_table(title: str, engines: dict[str, tuple], top: int = 0, slower_pct: float | None = None):
    """One case's engines (name: (LayerProfile, record)) side by side on their common groups: for each engine
    a group's time (ms), share of its profiled total and the precision it ran in, and, after the first engine,
    its ratio to the first; the profiled totals beside the timed (unprofiled) medians. With ``slower_pct``
    (a comparison: BASE then NEW) a group that took more than that percent longer than in the first is marked
    worse, one that took that much less better; without it the groups slower than in the first are named in
    a note."""
    from trtbench.reporting.model import Cell, Column, Table

    graph = _merged_graph([record.profile for _, record in engines.values()])
    rows = groups({name: profile for name, (profile, _) in engines.items()}, graph)
    first = next(iter(engines))
    columns = [Column("ONNX nodes", numeric=False, no_wrap=True), Column("ops", numeric=False, formats=FILE_FORMATS)]
    for name in engines:
        # a terminal leaves out the shares (the file formats keep them), so that two engines fit 120 columns
        columns += [Column(f"{name}\n(ms)"), Column(f"{name}\n(%)", formats=FILE_FORMATS),
                    Column(f"{name}\nran in", numeric=False)]
        if name != first:
            columns.append(_ratio_column(name, first))
    table = Table("profile", title, columns)
    table.chart = [(group.label, {name: group.ms(name) for name in engines if name in group.shares}) for group in rows]
    shown, rest = _top(rows, list(engines), top)
    for group in shown:
        cells: list[Cell | str] = [group.label, ", ".join(group.ops)]
        for name, (profile, _) in engines.items():
            share = group.shares.get(name)
            cells += _share_cells(share.ms if share else None, profile.total_ms,
                                  ", ".join(sorted(share.precisions)) if share else "")
            if name != first:
                cells.append(_ratio(group.ms(name), group.ms(first)))
        table.add(*cells, mood=_mood({name: group.ms(name) for name in group.shares}, list(engines), slower_pct))
    if rest:
        cells = [f"the other {len(rest)} groups", ""]
        for name, (profile, _) in engines.items():
            cells += _share_cells(sum(group.ms(name) for group in rest), profile.total_ms, "")
            if name != first:
                cells.append(_ratio(sum(group.ms(name) for group in rest), sum(group.ms(first) for group in rest)))
        table.add(*cells)
    for label, value in (("profiled total", lambda p, r: p.total_ms),
                         ("timed median (unprofiled)", lambda p, r: r.median_ms)):
        cells = [label, ""]
        base = value(*engines[first])
        for name, (profile, record) in engines.items():
            cells += [Cell(f"{value(profile, record):.3f}", value(profile, record)), "", ""]
            if name != first:
                cells.append(_ratio(value(profile, record), base))
        table.add(*cells)
    for name, (profile, _) in engines.items():
        covered = conv_coverage(profile, graph)
        unmapped = profile.unmapped_ms / profile.total_ms if profile.total_ms else 0.0
        table.notes.append(f"{name}: {profile.engine}, {profile.iterations} profiled inferences; "
                           f"{covered:.0%} of the graph's Conv nodes in a mapped group; {unmapped:.1%} of the "
                           "profiled total maps to no ONNX node")
        parts = sum(layer.median_ms for layer in profile.layers)
        if profile.total_ms and abs(parts - profile.total_ms) > 0.05 * profile.total_ms:
            table.notes.append(f"{name}: the layers' medians add up to {parts:.3f} ms, "
                               f"{parts / profile.total_ms:.0%} of the profiled total (the median of each "
                               "inference's sum): something else ran on the device while profiling, stalling a "
                               "different layer each time")
        table.notes += [f"{name}: {note}" for note in profile.notes]
        if name != first:
            table.notes.append(_slower_note(rows, name, first, slower_pct or 0.0))
    return table


def compared(rows: Sequence) -> list[tuple]:
    """The compared cases (rows of a comparison) whose BASE and NEW both hold a profile: (row, {"BASE": (profile,
    record), "NEW": (profile, record)})."""
    found = []
    for row in rows:
        if row.base is None or row.new is None or not (row.base.ok and row.new.ok):
            continue
        if not (getattr(row.base, "profile", None) and getattr(row.new, "profile", None)):
            continue
        sides = {"BASE": LayerProfile.from_json(row.base.profile), "NEW": LayerProfile.from_json(row.new.profile)}
        if sides["BASE"] is not None and sides["NEW"] is not None:
            found.append((row, {side: (profile, getattr(row, side.lower())) for side, profile in sides.items()}))
    return found


def comparison_tables(rows: Sequence, threshold_pct: float, top: int = 0) -> list:
    """A table per compared case that both sides profiled: BASE and NEW on their common groups, NEW's ratio to
    BASE per group, the groups that took more than ``threshold_pct`` longer marked worse (less: better)."""
    tables = []
    for row, sides in compared(rows):
        model, backend, device, precision, batch, _ = row.case
        table = profile_table(f"Per-layer profile, NEW against BASE: {model} {precision} batch {batch}, {backend} "
                              f"on {device}", sides, top, slower_pct=threshold_pct)
        table.notes.append("per group: the median of each side's profiled inferences, not tested for noise; the "
                           "gate reads only the compared metric")
        tables.append(table)
        tables += stage_tables(table.title, sides, model, threshold_pct)
    return tables


def comparison_json(rows: Sequence, threshold_pct: float) -> list[dict]:
    """Each compared case that both sides profiled, every group in full: its nodes, ops, BASE and NEW times,
    NEW's ratio to BASE, and whether it took longer past ``threshold_pct``."""
    cases = []
    for row, sides in compared(rows):
        graph = _merged_graph([record.profile for _, record in sides.values()])
        found = groups({side: profile for side, (profile, _) in sides.items()}, graph)
        slower_ones = {id(group) for group, _ in slower(found, "NEW", "BASE", threshold_pct)}
        cases.append({"case": row.label, "base_total_ms": sides["BASE"][0].total_ms,
                      "new_total_ms": sides["NEW"][0].total_ms,
                      "groups": [{"label": group.label, "kind": group.kind or "onnx", "nodes": group.nodes,
                                  "ops": group.ops, "base_ms": group.ms("BASE") if "BASE" in group.shares else None,
                                  "new_ms": group.ms("NEW") if "NEW" in group.shares else None,
                                  "ratio": (group.ms("NEW") / group.ms("BASE")
                                            if group.ms("BASE") > 0 and "NEW" in group.shares else None),
                                  "slower": id(group) in slower_ones} for group in found]})
    return cases


def slower(rows: list[Group], name: str, first: str, pct: float = 0.0) -> list[tuple[Group, float]]:
    """The groups ``name`` ran more than ``pct`` percent longer than ``first`` did (both ran them), longest
    first, with the ratio."""
    found = [(group, group.ms(name) / group.ms(first)) for group in rows
             if group.ms(first) > 0 and group.ms(name) > group.ms(first) * (1 + pct / 100)]
    return sorted(found, key=lambda item: -item[1])


def _slower_note(rows: list[Group], name: str, first: str, pct: float, shown: int = 5) -> str:
    found = slower(rows, name, first, pct)
    past = f" by more than {pct:g}%" if pct else ""
    if not found:
        return f"{name}: no group took longer than in {first}{past}"
    named = ", ".join(f"{group.label} ({ratio:.2f}x)" for group, ratio in found[:shown])
    more = f" and {len(found) - shown} more" if len(found) > shown else ""
    return f"{name}: {len(found)} of {len(rows)} groups took longer than in {first}{past}: {named}{more}"


def _mood(times: dict[str, float], engines: list[str], pct: float | None) -> str:
    """A comparison's verdict on a row (``times`` by engine: BASE's, then NEW's): worse or better past ``pct``;
    '' outside a comparison, or where a side did not run it."""
    if pct is None or len(engines) != 2:
        return ""
    base, new = times.get(engines[0], 0.0), times.get(engines[1], 0.0)
    if base <= 0 or new <= 0:
        return ""
    return "worse" if new > base * (1 + pct / 100) else "better" if new < base * (1 - pct / 100) else ""


def _merged_graph(profiles: list) -> list[tuple[str, str]]:
    """The nodes of the graphs the engines were built from, the first's order first (an INT8 graph adds its
    quantize and dequantize nodes to the FP32 graph's)."""
    merged: dict[str, str] = {}
    for profile in profiles:
        for name, op in _graph(profile):
            merged.setdefault(name, op)
    return list(merged.items())


def _ratio_column(name: str, first: str):
    """The column of ``name``'s time as a ratio to ``first``'s ('int8/fp32'; a terminal's header breaks)."""
    from trtbench.reporting.model import Column

    return Column(f"{name}/{first}", terminal=f"{name} / {first}")


def _ratio(value: float | None, base: float | None):
    from trtbench.reporting.model import Cell

    if not value or not base:
        return Cell("", state="empty")
    return Cell(f"{value / base:.2f}x", value / base)


def _graph(profile: dict) -> list[tuple[str, str]]:
    graph = profile.get("graph") if isinstance(profile, dict) else None
    if not isinstance(graph, list):
        return []
    return [(node[0], node[1]) for node in graph
            if isinstance(node, list) and len(node) == 2 and all(isinstance(part, str) for part in node)]


def _top(rows: list[Group], engines: list[str], top: int) -> tuple[list[Group], list[Group]]:
    """The ``top`` ONNX groups by their longest time in any engine, in graph order, and the other ONNX groups;
    inserted and unmapped rows are always shown."""
    onnx = [group for group in rows if not group.kind]
    if not top or len(onnx) <= top:
        return rows, []
    longest = sorted(onnx, key=lambda group: -max(group.ms(name) for name in engines))[:top]
    kept = {id(group) for group in longest}
    return ([group for group in rows if group.kind or id(group) in kept],
            [group for group in onnx if id(group) not in kept])


def _share_cells(ms: float | None, total: float, precisions: str) -> list:
    from trtbench.reporting.model import Cell

    if ms is None:
        return [Cell("", state="empty"), Cell("", state="empty"), precisions]
    percent = 100 * ms / total if total else None
    return [Cell(f"{ms:.3f}", ms), Cell("" if percent is None else f"{percent:.1f}", percent), precisions]
