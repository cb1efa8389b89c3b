"""Which record a report shows for a cell (model, backend, device, precision, batch) that several runs
measured: the latest, the best (lowest median), the longest (most iterations, then the longest timing), or
all of them; and where each cell's number comes from (its run and settings)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import trtbench.reporting.support as support
from trtbench.store.records import LatencyRecord, Record

PICKS = ("latest", "best", "longest", "all")
DEFAULT_PICK = "latest"


@dataclass
class Picked:
    """The records a report shows, and for each one (by id) how many records its cell chose among."""

    how: str
    records: list[Record]
    among: dict[int, int] = field(default_factory=dict)  # only cells that had more than one record

    def picked_from(self, record: Record) -> int:
        """How many records the record's cell chose among (1: it was the only one)."""
        return self.among.get(id(record), 1)

    def said(self, records: list[LatencyRecord]) -> str:
        """What the pick did for these records' cells: 'each cell: the latest of 3 records for 2 cells'."""
        if self.how == "all":
            return "every record of each cell, a row each (run column)"
        chose = [self.among[id(r)] for r in records if id(r) in self.among]
        if not chose:
            return f"each cell: the {self.how} record"
        cells = "cell" if len(chose) == 1 else "cells"
        return f"each cell: the {self.how} record ({self.how} of {sum(chose)} records for {len(chose)} {cells})"


def pick(records: list[Record], how: str = DEFAULT_PICK) -> Picked:
    """One record per cell (or, with 'all', every record), chosen as ``how`` says."""
    if how == "all":
        return Picked(how, list(records))
    first: dict[tuple, Record] = {}
    more: dict[tuple, list[Record]] = {}  # only the cells timed more than once (a fleet has few)
    for record in records:
        key = record.key()
        if key in first:
            more.setdefault(key, [first[key]]).append(record)
        else:
            first[key] = record
    among = {}
    for key, group in more.items():
        first[key] = best = _choose(group, how)
        among[id(best)] = len(group)
    return Picked(how, list(first.values()), among)


def _finished(record: Record) -> str:
    return record.finished_at if isinstance(record.finished_at, str) else ""


def _latest(group: list[Record]) -> Record:
    # the last of equal times, as results.latest keeps it
    newest = group[0]
    for record in group[1:]:
        if _finished(record) >= _finished(newest):
            newest = record
    return newest


def _median(record: Record) -> float:
    value = record.median_ms if isinstance(record, LatencyRecord) and record.ok else None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok and not support.unsupported(record, "median") else math.inf  # type: ignore[arg-type]


def _length(record: Record) -> tuple[int, float]:
    if not isinstance(record, LatencyRecord) or not record.ok:
        return (-1, -1.0)
    iterations = record.iterations if type(record.iterations) is int else 0
    timed = record.timed_s if isinstance(record.timed_s, (int, float)) and not isinstance(record.timed_s, bool) else 0
    return (iterations, float(timed) if math.isfinite(timed) else 0.0)


def _choose(group: list[Record], how: str) -> Record:
    if how == "best":
        lowest = min(_median(r) for r in group)
        if lowest < math.inf:
            return _latest([r for r in group if _median(r) == lowest])
    elif how == "longest":
        longest = max(_length(r) for r in group)
        return _latest([r for r in group if _length(r) == longest])
    return _latest(group)


# --- where a cell's number comes from ------------------------------------------------------------


def _number(value) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return f"{value:g}" if ok else None


def source(record: LatencyRecord) -> str:
    """The run and settings a markdown footnote names: 'run 20260101-x, duration_s 2, 400 iterations'."""
    method = record.method if isinstance(record.method, dict) else {}
    parts = [f"run {record.run_id}" if isinstance(record.run_id, str) else "run unknown"]
    duration = _number(method.get("duration_s"))
    if duration is not None:
        parts.append(f"duration_s {duration}")
    if type(record.iterations) is int:
        parts.append(f"{record.iterations} iterations")
    return ", ".join(parts)


def tooltip(record: LatencyRecord, metric: str = "median") -> str:
    """What an HTML cell's title says: run id, time timed, iterations, interval."""
    parts = [source(record).split(",")[0]]
    timed = _number(record.timed_s)
    if timed is not None:
        parts.append(f"timed {timed} s")
    if type(record.iterations) is int:
        parts.append(f"{record.iterations} iterations")
    pair = support.interval(record, metric)
    if pair is not None:
        parts.append(f"95% interval {pair[0]:.3f} to {pair[1]:.3f} ms")
    return "; ".join(parts)
