"""Run files: one JSON per run in results/, rewritten atomically as each case ends."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from trtbench.artifacts import atomic_write_json
from trtbench.errors import TrtbenchError
from trtbench.records import SCHEMA_VERSION, Record, record_from_json

TOOL = "trtbench"


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus a short random suffix."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


@dataclass
class Run:
    """A run file's header and its records."""

    run_id: str
    started_at: str
    command: list[str]
    environment: dict
    records: list[Record] = field(default_factory=list)
    finished_at: str | None = None
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> dict:
        """The run file's JSON form (always the current schema)."""
        return {"tool": TOOL, "schema_version": SCHEMA_VERSION, "run_id": self.run_id,
                "started_at": self.started_at, "finished_at": self.finished_at, "command": self.command,
                "environment": self.environment, "records": [r.to_json() for r in self.records]}


class RunFile:
    """A run being written: its header and the records so far, saved after every record."""

    def __init__(self, results_dir: Path, environment: dict, command: list[str]):
        self.run = Run(run_id=new_run_id(), started_at=timestamp(), command=command, environment=environment)
        self.path = Path(results_dir) / f"{self.run.run_id}.json"

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def records(self) -> list[Record]:
        return self.run.records

    def add(self, record: Record) -> None:
        """Append a finished case and save the file (atomic replace: never half-written)."""
        self.run.records.append(record)
        self.save()

    def finish(self) -> None:
        """Mark the run as complete."""
        self.run.finished_at = timestamp()
        self.save()

    def save(self) -> None:
        atomic_write_json(self.path, self.run.to_json())


def load_run(path: Path) -> Run:
    """A run file, checked to be trtbench's and of a schema this version reads; older ones migrated."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrtbenchError(f"results file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise TrtbenchError(f"{path} is not a trtbench results file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("tool") != TOOL or not isinstance(data.get("records"), list):
        raise TrtbenchError(f"{path} is not a trtbench results file")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TrtbenchError(f"{path} is not a trtbench results file (its schema_version {version!r} is not a "
                            "schema number)")
    if version > SCHEMA_VERSION:
        raise TrtbenchError(f"{path} uses results schema {version}, newer than this trtbench reads "
                            f"({SCHEMA_VERSION}): upgrade trtbench")
    run = Run(run_id=str(data.get("run_id") or path.stem), started_at=data.get("started_at") or "",
              command=data.get("command") or [], environment=data.get("environment") or {},
              finished_at=data.get("finished_at"), schema_version=version)
    for index, item in enumerate(data["records"]):
        record = record_from_json(item, version, where=f"{path} record {index + 1}")
        record.run_id, record.environment = run.run_id, run.environment
        run.records.append(record)
    return run


def run_files(results_dir: Path) -> list[Path]:
    """The run files in ``results_dir``, oldest first."""
    return sorted(p for p in Path(results_dir).glob("*.json") if not p.name.startswith("."))


def load_records(paths: list[Path], skipped: list[str] | None = None) -> list[Record]:
    """All records of the given run files, each with its run id and environment attached.

    With ``skipped`` (a list), a file that cannot be read is left out and its one-line reason
    appended there, so one damaged file in results/ does not hide every other run.
    """
    records = []
    for path in paths:
        try:
            records += load_run(path).records
        except TrtbenchError as exc:
            if skipped is None:
                raise
            skipped.append(str(exc))
    return records


def latest(records: list[Record]) -> list[Record]:
    """The newest record for each case (kind, model, backend, device, precision, batch)."""
    newest: dict[tuple, Record] = {}
    for record in records:
        key = record.key()
        if key not in newest or record.finished_at >= newest[key].finished_at:
            newest[key] = record
    return list(newest.values())


def timestamp() -> str:
    """UTC now, ISO 8601 with microseconds: records sort by it."""
    now = time.time_ns()  # one clock read, so seconds and microseconds agree
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + f".{now // 1000 % 1_000_000:06d}Z"
