"""Run files: one JSON per run in results/, rewritten atomically as each case ends."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

from trtbench.artifacts import atomic_write_json
from trtbench.errors import TrtbenchError

SCHEMA_VERSION = 1
TOOL = "trtbench"
RECORD_KEY = ("kind", "model", "backend", "device", "precision", "batch")


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus a short random suffix."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


class RunFile:
    """A run being written: its header and the records so far, saved after every record."""

    def __init__(self, results_dir: Path, environment: dict, command: list[str]):
        self.run_id = new_run_id()
        self.path = Path(results_dir) / f"{self.run_id}.json"
        self.data = {
            "tool": TOOL,
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "started_at": timestamp(),
            "finished_at": None,
            "command": command,
            "environment": environment,
            "records": [],
        }

    def add(self, record: dict) -> None:
        """Append a finished case and save the file (atomic replace: never half-written)."""
        self.data["records"].append(record)
        self.save()

    def finish(self) -> None:
        """Mark the run as complete."""
        self.data["finished_at"] = timestamp()
        self.save()

    def save(self) -> None:
        atomic_write_json(self.path, self.data)


def load_run(path: Path) -> dict:
    """A run file, checked to be trtbench's and of a schema this version reads."""
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
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise TrtbenchError(f"{path} uses results schema {version}, newer than this trtbench reads "
                            f"({SCHEMA_VERSION}): upgrade trtbench")
    return data


def run_files(results_dir: Path) -> list[Path]:
    """The run files in ``results_dir``, oldest first."""
    return sorted(p for p in Path(results_dir).glob("*.json") if not p.name.startswith("."))


def load_records(paths: list[Path]) -> list[dict]:
    """All records of the given run files, each with its run id and environment attached."""
    records = []
    for path in paths:
        run = load_run(path)
        for record in run["records"]:
            records.append({**record, "run_id": run["run_id"], "environment": run.get("environment", {})})
    return records


def latest(records: list[dict]) -> list[dict]:
    """The newest record for each (model, backend, device, precision, batch)."""
    newest: dict[tuple, dict] = {}
    for record in records:
        key = tuple(record.get(k, "latency") if k == "kind" else record.get(k) for k in RECORD_KEY)
        if key not in newest or record.get("finished_at", "") >= newest[key].get("finished_at", ""):
            newest[key] = record
    return list(newest.values())


def timestamp() -> str:
    """UTC now, ISO 8601 with microseconds: records sort by it."""
    now = time.time_ns()  # one clock read, so seconds and microseconds agree
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + f".{now // 1000 % 1_000_000:06d}Z"
