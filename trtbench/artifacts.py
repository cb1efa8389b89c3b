"""One cache for everything trtbench makes: exports, FP16/INT8 graphs, engines, timing caches.

An artifact is a file with a metadata file beside it (NAME.json) that records the key it was made
for (the hashes of its inputs and the versions that made it) and the sha256 of its bytes. It is
valid only while that hash matches; it is made under a per-artifact file lock, into a temporary
file renamed into place, so two processes never make the same artifact at once and never read a
half-written one: the second waits, finds it valid, and reuses it. A failed make leaves the
previous artifact and its metadata as they were.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARTIFACT_SCHEMA = "trtbench.artifact/1"
_CHUNK = 1 << 20

# sha256 of files already hashed by this process, by (path, size, mtime, inode): a sweep checks the
# same 100-300 MB export for every case and should read it once.
_hashed: dict[tuple, str] = {}


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def current_sha256(path: Path) -> str:
    """sha256 of ``path`` as it is now; a file this process already hashed and that did not change is not read again."""
    stat = os.stat(path)
    stamp = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if stamp not in _hashed:
        _hashed[stamp] = sha256_file(path)
    return _hashed[stamp]


def metadata_path(path: Path) -> Path:
    """The metadata file of the artifact at ``path``."""
    return Path(path).with_name(Path(path).name + ".json")


def lock_path(path: Path) -> Path:
    """The lock file of the artifact at ``path`` (hidden, beside it)."""
    return Path(path).with_name(f".{Path(path).name}.lock")


@dataclass(frozen=True)
class Artifact:
    """A valid artifact: where it is, what it was made for, and whether this call made it."""

    path: Path
    meta: dict
    made: bool = False  # False when an existing valid artifact was reused
    reason: str = ""  # why it was made: "no cached ...", "<field> changed (...)", ...

    @property
    def key(self) -> dict:
        return self.meta["key"]

    @property
    def info(self) -> dict:
        """What the maker recorded about it (e.g. an export's parity figures)."""
        return self.meta.get("info", {})

    @property
    def sha256(self) -> str:
        return self.meta["sha256"]


def read_metadata(path: Path, kind: str) -> dict | None:
    """The recorded metadata of a ``kind`` artifact, unchecked against its file (cheap; for display only)."""
    meta = read_json(metadata_path(path))
    if not isinstance(meta, dict) or meta.get("schema") != ARTIFACT_SCHEMA or meta.get("kind") != kind:
        return None
    return meta


def valid(path: Path, kind: str) -> Artifact | None:
    """The artifact at ``path`` if its file is there and matches its recorded sha256, else None."""
    meta = read_metadata(path, kind)
    if meta is None or not isinstance(meta.get("key"), dict):
        return None
    try:
        if current_sha256(path) != meta.get("sha256"):
            return None
    except OSError:
        return None
    return Artifact(Path(path), meta)


def why_not_reusable(path: Path, kind: str, key: dict, labels: dict[str, str] | None = None) -> str | None:
    """None when a valid artifact made for ``key`` is at ``path``; else why it must be made
    (a changed key field is named by ``labels`` where given)."""
    meta = read_metadata(path, kind)
    if meta is None or not Path(path).is_file():
        return f"no cached {kind}"
    recorded = meta.get("key")
    if not isinstance(recorded, dict):
        return f"{kind} metadata is damaged"
    for name, wanted in key.items():
        if recorded.get(name) != wanted:
            label = (labels or {}).get(name, name)
            return f"{label} changed ({_short(recorded.get(name))} -> {_short(wanted)})"
    if valid(path, kind) is None:
        return f"{kind} file does not match its recorded sha256 (corrupt or replaced)"
    return None


Maker = Callable[[Path], dict | None]


def ensure(path: Path, kind: str, key: dict, make: Maker, usable: Callable[[Artifact], str | None] | None = None,
           force: bool = False, labels: dict[str, str] | None = None) -> Artifact:
    """The ``kind`` artifact at ``path`` made for ``key``: reused when valid, else made by ``make``.

    ``make(tmp)`` writes the artifact to ``tmp`` and may return a dict of facts to record with it.
    ``usable`` can refuse a valid artifact for a reason of the caller's (returning why).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        reason = "remade on request" if force else why_not_reusable(path, kind, key, labels)
        if reason is None:
            found = valid(path, kind)
            assert found is not None
            reason = usable(found) if usable is not None else None
            if reason is None:
                return found
        return _make(path, kind, key, make, reason)


def store(path: Path, kind: str, key: dict, data: bytes, info: dict | None = None) -> Artifact:
    """Save ``data`` as the ``kind`` artifact at ``path`` (replacing any), under its lock."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> dict | None:
        tmp.write_bytes(data)
        return info

    with _locked(path):
        return _make(path, kind, key, write, "stored")


def _make(path: Path, kind: str, key: dict, make: Maker, reason: str) -> Artifact:
    started = time.perf_counter()
    tmp = temporary_path(path)
    try:
        info = make(tmp) or {}
        _fsync(tmp)
        # From the rename until the metadata is written the old metadata's sha256 does not match:
        # a crash in between leaves an invalid artifact, never a wrong valid one.
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    meta = {
        "schema": ARTIFACT_SCHEMA,
        "kind": kind,
        "key": key,
        "sha256": current_sha256(path),
        "bytes": path.stat().st_size,
        "made_at": timestamp_local(),
        "make_s": round(time.perf_counter() - started, 3),
        "info": info,
    }
    atomic_write_json(metadata_path(path), meta)
    return Artifact(path, meta, made=True, reason=reason)


class _locked:
    """The artifact's file lock, held while it is checked and made (waits for another process)."""

    def __init__(self, path: Path):
        from filelock import FileLock

        self.lock = FileLock(str(lock_path(path)))

    def __enter__(self):
        self.lock.acquire()
        return self

    def __exit__(self, *exc):
        self.lock.release()


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:28] + "..." + text[-28:]


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def timestamp_local() -> str:
    """Now, local time with its offset (when an artifact was made)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def temporary_path(target: Path) -> Path:
    """A fresh temporary path in ``target``'s directory (so a later rename is atomic), with the
    permissions a plain new file would get (mkstemp's are owner-only)."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    os.chmod(name, 0o666 & ~_umask())
    return Path(name)


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file and an atomic rename."""
    tmp = temporary_path(target)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_json(target: Path, data) -> None:
    """Write ``data`` as indented JSON to ``target`` atomically."""
    atomic_write_bytes(target, (json.dumps(data, indent=2, sort_keys=False) + "\n").encode("utf-8"))


def read_json(path: Path):
    """The JSON in ``path``, or None when it is missing or not valid JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
