"""What a session tells its reporter while it works, and the reporter that writes it as JSON lines.

The console reporter (progress bar, per-case lines) lives with the command line; this module
imports neither click nor rich, so scripts and other front ends can use a session as it is.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from trtbench.executors.case import Case
from trtbench.store.records import Record


@dataclass(frozen=True)
class Note:
    """A message for the user; ``warning`` ones matter (random calibration, CPU numbers)."""

    text: str
    warning: bool = False


@dataclass(frozen=True)
class Exported:
    """A model's export was found up to date (``made`` False) or made now."""

    model: str
    path: Path
    made: bool
    summary: str


@dataclass(frozen=True)
class StageStarted:
    """A stage of ``total`` cases begins: "run", "verify" or "eval"; ``devices``: the cases per kind of
    device, where a cluster sweep runs them on several."""

    stage: str
    total: int
    devices: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseStarted:
    """Work on a case begins (``step``: what it is doing first, e.g. "building"); ``backend`` and
    ``device`` say where it runs (the case names them only where they tell cases apart)."""

    case: Case
    index: int
    total: int
    step: str = "building"
    backend: str = ""
    device: str = ""


@dataclass(frozen=True)
class CaseProgress:
    """A case is under way: ``done`` of ``total`` (iterations timed, or images evaluated)."""

    case: Case
    done: int
    total: int | None = None
    median_ms: float | None = None
    backend: str = ""
    device: str = ""


@dataclass(frozen=True)
class CaseFinished:
    """A case ended: its one-line summary, its record where it makes one, and its warnings."""

    case: Case
    ok: bool
    summary: str
    record: Record | None = None
    warnings: tuple[str, ...] = ()
    backend: str = ""
    device: str = ""


@dataclass(frozen=True)
class StageFinished:
    """The stage ended: all its cases done (``complete``), or stopped early by an error or Ctrl-C."""

    stage: str
    complete: bool = True


@dataclass(frozen=True)
class RunSaved:
    """The run file holding this session's records."""

    path: Path


@dataclass(frozen=True)
class RunInterrupted:
    """The sweep was stopped after ``done`` of ``total`` cases; the run file keeps them, and
    ``resume`` is the command that runs the rest."""

    path: Path
    run_id: str
    done: int
    total: int
    resume: str


Event = (Note | Exported | StageStarted | CaseStarted | CaseProgress | CaseFinished | StageFinished | RunSaved
         | RunInterrupted)
Reporter = Callable[[Event], None]

EVENT_NAMES = {Note: "note", Exported: "exported", StageStarted: "stage_started", CaseStarted: "case_started",
               CaseProgress: "case_progress", CaseFinished: "case_finished", StageFinished: "stage_finished",
               RunSaved: "run_saved", RunInterrupted: "run_interrupted"}


def quiet(event: Event) -> None:
    """A reporter that drops every event."""


#: fields of a case event that go into its ``case`` object rather than beside it
_WHERE = ("backend", "device")


def event_json(event: Event) -> dict[str, Any]:
    """An event as one JSON object: ``{"event": name, ...its fields}``; a record in its run-file form.
    A case event's ``case`` names its backend and device (the session's, where the case leaves them
    empty)."""
    data: dict[str, Any] = {"event": EVENT_NAMES[type(event)]}
    case = getattr(event, "case", None)
    for item in dataclasses.fields(event):
        value = getattr(event, item.name)
        if isinstance(case, Case) and item.name in _WHERE:
            continue
        if isinstance(value, Record):
            value = value.to_json()
        elif isinstance(value, Case):
            value = dataclasses.asdict(value)
            for name in _WHERE:
                value[name] = value[name] or getattr(event, name, "")
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        data[item.name] = value
    return data


class JsonLinesReporter:
    """Writes each event as one JSON line to ``stream`` (for scripts: ``--progress json``)."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def __call__(self, event: Event) -> None:
        self.stream.write(json.dumps(event_json(event)) + "\n")
        self.stream.flush()
