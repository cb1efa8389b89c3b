"""Where a sweep's cases run: here, one after another (``LocalExecutor``), or as Ray tasks across a
cluster (``trtbench.executors.ray``).

The session plans the cases, makes the exports, writes the run file and reports; an executor only
runs the cases it is given and hands back each record as its case ends. Both executors measure a
case with the same ``bench.run_case`` (build, take the device, time, record), so nothing about a
measurement differs between them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trtbench.backends.base import Backend, Engine
from trtbench.errors import TrtbenchError
from trtbench.executors.case import Case, Exclusive, run_case
from trtbench.measure.timing import TimingPolicy
from trtbench.store.records import LatencyRecord

Work = tuple[Backend, Case]


@dataclass
class Sweep:
    """The cases to run, how to measure them, and whom to tell."""

    work: list[Work]
    graphs: dict[str, Path]  # each model's exported graph
    engines: Path
    policy: TimingPolicy
    check: Callable[[Case, Engine], dict] | None
    exclusive: Exclusive
    started: Callable[[int, Case], None]
    progress: Callable[[Case, int, float], None]
    finished: Callable[[Backend, Case, LatencyRecord], None]
    #: each model's export as the run's plan names it (sha256): a case whose export is no longer that is refused
    exports: dict[str, str] = field(default_factory=dict)


class Executor:
    """Runs a sweep's cases; ``describe`` goes into the run file's plan, so `--resume` makes the same."""

    #: whether the backends are checked (installed, native precisions, device) on this machine; a
    #: cluster's nodes check them where the cases run
    checks_here = True

    def expand(self, work: Sequence[Work]) -> list[Work]:
        """The cases to run for ``work``: the same here; one per kind of device on a cluster."""
        return list(work)

    def describe(self) -> dict[str, Any]:
        return {"kind": "local"}

    def run(self, sweep: Sweep) -> None:
        raise NotImplementedError


class LocalExecutor(Executor):
    """Every case in this process, one after another."""

    def run(self, sweep: Sweep) -> None:
        for index, (backend, case) in enumerate(sweep.work):
            sweep.started(index, case)
            record = run_case(backend, case, sweep.graphs[case.model], sweep.engines, sweep.policy,
                              functools.partial(sweep.progress, case), sweep.check, exclusive=sweep.exclusive,
                              export_sha256=sweep.exports.get(case.model))
            sweep.finished(backend, case, record)


def executor_from(described: dict[str, Any] | None) -> Executor:
    """The executor a plan's ``executor`` entry describes (a plan without one ran here)."""
    kind = (described or {}).get("kind", "local")
    if kind == "local":
        return LocalExecutor()
    if kind == "ray":
        from trtbench.executors.ray import RayExecutor

        return RayExecutor.from_description(described or {})
    raise TrtbenchError(f"unknown executor '{kind}' in the run's plan: this trtbench cannot resume it")
