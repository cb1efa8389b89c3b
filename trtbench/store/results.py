"""Run files: one JSON per run in results/, rewritten atomically as each case ends.

A run file says what it set out to do (its ``plan``: the cases and the options that make them)
and how far it got (``status``: running, interrupted or complete), so an interrupted or killed
run can be completed later by `trtbench run --resume`. While a process writes a run, it holds
the run's lock (``.RUN_ID.lock`` beside it): a run whose lock is free and that is not complete
was stopped.
"""

from __future__ import annotations

import contextlib
import gc
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from trtbench.errors import TrtbenchError
from trtbench.store.artifacts import JSON_ERRORS, NotAFile, atomic_write_json, load_json
from trtbench.store.records import SCHEMA_VERSION, Record, record_from_json

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
    status: str = "running"  # running, interrupted or complete
    plan: dict | None = None  # what `--resume` needs to run the missing cases (None: cannot be resumed)
    interruptions: list[dict] = field(default_factory=list)  # when and after how many records, each time
    resumed_at: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The run file's JSON form (always the current schema)."""
        return {"tool": TOOL, "schema_version": SCHEMA_VERSION, "run_id": self.run_id, "status": self.status,
                "started_at": self.started_at, "finished_at": self.finished_at, "command": self.command,
                "environment": self.environment, "plan": self.plan, "interruptions": self.interruptions,
                "resumed_at": self.resumed_at, "records": [self._record_json(r) for r in self.records]}

    def _record_json(self, record: Record) -> dict:
        """A record's saved form; one measured elsewhere (another node of a cluster) keeps its own
        environment, the others share the run's."""
        data = record.to_json()
        if record.environment and record.environment != self.environment:
            data["environment"] = record.environment
        return data


class RunFile:
    """A run being written: its header and the records so far, saved after every record.

    It holds the run's lock from creation until ``close`` (or the process's end).
    """

    def __init__(self, results_dir: Path, environment: dict, command: list[str], plan: dict | None = None):
        self.run = Run(run_id=new_run_id(), started_at=timestamp(), command=command, environment=environment,
                       plan=plan)
        self.path = Path(results_dir) / f"{self.run.run_id}.json"
        self._lock = _run_lock(self.path)
        self._lock.acquire()

    @classmethod
    def reopen(cls, path: Path) -> RunFile:
        """An unfinished run, to be completed (its lock taken: a run still being written is refused)."""
        from filelock import Timeout

        self = cls.__new__(cls)
        self.path = Path(path)
        self._lock = _run_lock(self.path)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise TrtbenchError(f"run {self.path.stem} is still running in another trtbench process: wait for it "
                                "to end, or stop it (Ctrl-C) and resume it then") from None
        try:
            self.run = load_run(self.path)
        except BaseException:
            _release(self._lock)
            raise
        self.run.resumed_at.append(timestamp())
        self.run.status = "running"
        return self

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
        self.run.status = "complete"
        self.save()

    def interrupt(self, reason: str) -> None:
        """Mark the run as stopped before its end (Ctrl-C, SIGTERM, a busy device): resumable."""
        self.run.status = "interrupted"
        self.run.interruptions.append({"at": timestamp(), "records": len(self.run.records), "reason": reason})
        self.save()

    def close(self) -> None:
        """Let the run go (its lock): from now on, if not complete, it can be resumed."""
        _release(self._lock)

    def __enter__(self) -> RunFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def save(self) -> None:
        atomic_write_json(self.path, self.run.to_json())


def _run_lock(path: Path):
    from filelock import FileLock

    return FileLock(str(path.with_name(f".{path.stem}.lock")))


def _release(lock) -> None:
    """Release a run's lock and remove its file, so results/ holds only run files."""
    if lock.is_locked:
        lock.release()
        with contextlib.suppress(OSError):
            Path(lock.lock_file).unlink()


def resumable(results_dir: Path, run_id: str | None = None) -> Path:
    """The run file `--resume [RUN_ID]` completes: RUN_ID's, or the newest run that did not finish."""
    results_dir = Path(results_dir)
    if run_id:
        path = results_dir / f"{run_id}.json"
        if not path.is_file():
            raise TrtbenchError(f"no run {run_id} in {results_dir} (run ids are the names of its .json files; "
                                "give --results-dir if it is elsewhere)")
        run = load_run(path)
        if run.status == "complete" or run.finished_at:
            raise TrtbenchError(f"run {run_id} is complete: nothing to resume")
        if run.plan is None:
            raise TrtbenchError(f"run {run_id} did not record its plan (made by `trtbench eval` or an older "
                                "trtbench): it cannot be resumed; start a new run")
        return path
    for path in reversed(run_files(results_dir)):
        try:
            run = load_run(path)
        except TrtbenchError:
            continue
        if run.status != "complete" and not run.finished_at and run.plan is not None and not _locked(path):
            return path
    raise TrtbenchError(f"no interrupted run in {results_dir} to resume (give its RUN_ID, or --results-dir "
                        "where it is)")


def _locked(path: Path) -> bool:
    from filelock import Timeout

    lock = _run_lock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    _release(lock)
    return False


@contextlib.contextmanager
def gc_paused():
    """Python's cycle collector held off while a run file's records are read or laid out: it walks every
    object alive each time it runs, so on a file of 50,000 records it took more time than the work itself.
    Records and report tables hold no cycles; the collector's state is restored on leaving."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_run(path: Path) -> Run:
    """A run file, checked to be trtbench's and of a schema this version reads; older ones migrated."""
    with gc_paused():
        return _load_run(Path(path))


def _load_run(path: Path) -> Run:
    try:
        data = load_json(path)
    except FileNotFoundError:
        raise TrtbenchError(f"results file not found: {path}") from None
    except JSON_ERRORS as exc:
        raise TrtbenchError(f"{path} is not a trtbench results file ({_unreadable(exc)})") from None
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
              finished_at=data.get("finished_at"), schema_version=version,
              status=_text_or(data.get("status"), "complete" if data.get("finished_at") else "interrupted"),
              plan=data.get("plan") if isinstance(data.get("plan"), dict) else None,
              interruptions=_list_of_dicts(data.get("interruptions")),
              resumed_at=[t for t in data.get("resumed_at") or [] if isinstance(t, str)]
              if isinstance(data.get("resumed_at"), list) else [])
    records, run_id, environment = run.records, run.run_id, run.environment
    for index, item in enumerate(data["records"]):
        try:
            record = record_from_json(item, version, where="", adopt=True)
        except TrtbenchError as exc:  # where it is, worked out only for a record that is wrong
            raise TrtbenchError(f"{path} record {index + 1}{exc}") from None
        own = item.get("environment")
        record.run_id, record.environment = run_id, own if isinstance(own, dict) and own else environment
        records.append(record)
    return run


def _unreadable(exc: BaseException) -> str:
    """Why a file could not be read as JSON, in words."""
    if isinstance(exc, NotAFile):
        return "not a regular file"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON: {exc.msg} at line {exc.lineno}"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    if isinstance(exc, MemoryError):
        return "too large to read"
    return f"not JSON: {str(exc).split(':')[0]}"  # e.g. a number too long to convert


def _text_or(value, default: str) -> str:
    return value if isinstance(value, str) else default


def _list_of_dicts(value) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


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
