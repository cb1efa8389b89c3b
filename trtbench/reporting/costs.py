"""What each case cost besides time: memory, energy and cold start, a row per case, beside the page's latency
tables (whose layout stays the page's). Each figure is a registered metric, so `compare --metric` gates on it
and CSV/JSON carry it; the table says how each was read, and where energy could not be read, why."""

from __future__ import annotations

from collections.abc import Sequence

from trtbench.reporting.latency import sort_records
from trtbench.reporting.model import Cell, Column, Table
from trtbench.reporting.tables import where
from trtbench.store.records import METRICS, LatencyRecord, Metric, Record

#: the kinds of registered metric this table shows, in its column order
KINDS = ("memory", "cold start", "energy")


def cost_metrics() -> list[Metric]:
    """The registered metrics of memory, cold start and energy, in that order."""
    return [metric for kind in KINDS for metric in METRICS.values() if metric.kind == kind]


def measured(record: Record) -> bool:
    """Whether the record says anything of its costs (older files do not)."""
    return isinstance(record, LatencyRecord) and record.ok and any(
        isinstance(table, dict) and table for table in (record.memory, record.energy, record.cold_start))


def costs_table(records: Sequence[Record]) -> Table | None:
    """A row per case that measured its costs, a column per cost figure any of them has; the notes say how
    memory and energy were read (each way once) and, where energy was not readable, why. None where no
    record measured a cost."""
    shown = [record for record in sort_records(list(records)) if isinstance(record, LatencyRecord) and measured(record)]
    if not shown:
        return None
    metrics = [metric for metric in cost_metrics() if any(metric.value(record) is not None for record in shown)]
    table = Table("costs", "Memory, cold start and energy per case", [
        Column("Models", numeric=False, no_wrap=True), Column("precision", numeric=False), Column("batch"),
        Column("backend on device", numeric=False),
        *(Column(f"{metric.label}\n({metric.unit})", terminal=f"{metric.name}\n({metric.unit})")
          for metric in metrics)])
    for record in shown:
        cells: list[Cell | str] = [record.model, record.precision, Cell(str(record.batch), record.batch),
                                   where(record)]
        for metric in metrics:
            value = metric.value(record)
            cells.append(Cell(metric.text(value), value, "empty" if value is None else ""))
        table.add(*cells)
    table.notes = [f"{metric.name}: {metric.label} ({metric.unit}), {metric.direction}" for metric in metrics]
    table.notes += _ways(shown)
    return table


def _ways(records: list[LatencyRecord]) -> list[str]:
    """How the figures were read, each way once, naming the backends it applies to where they differ."""
    said: dict[str, dict[str, None]] = {}
    for record in records:
        memory, energy = _table(record.memory), _table(record.energy)
        for line in (f"memory: {memory['how']}" if isinstance(memory.get("how"), str) else "",
                     f"GPU memory: {memory['gpu_how']}" if isinstance(memory.get("gpu_how"), str) else "",
                     f"energy: {energy['source']}" if isinstance(energy.get("source"), str) else "",
                     f"energy: not readable here ({energy['unreadable']})"
                     if isinstance(energy.get("unreadable"), str) else "",
                     f"energy: {energy['note']}" if isinstance(energy.get("note"), str) else ""):
            if line:
                said.setdefault(line, {})[f"{record.backend} on {record.device}"] = None
    where = {where for places in said.values() for where in places}
    return [line if len(places) == len(where) else f"{line} ({', '.join(places)})" for line, places in said.items()]


def _table(value) -> dict:
    return value if isinstance(value, dict) else {}
