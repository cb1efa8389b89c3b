"""One cache for everything trtbench makes: exports, FP16/INT8 graphs, engines, timing caches.

An artifact is a file with a metadata file beside it (NAME.json) that records the key it was made
for (the hashes of its inputs and the versions that made it) and the sha256 of its bytes. It is
valid only while that hash matches; it is made under a per-artifact file lock, into a temporary
file renamed into place, so two processes never make the same artifact at once and never read a
half-written one: the second waits, finds it valid, and reuses it. A failed make leaves the
previous artifact and its metadata as they were.

Metadata is checked for its form before it is believed (``metadata_problem``): a hand-edited or
damaged metadata file makes its artifact count as absent, never a crash. Temporary files and
folders carry their maker's PID and machine (``owner_tag``), so those a killed process left behind
are recognised and removed by the next cache operation, and a running process's never are.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from trtbench import interrupt
from trtbench.errors import TrtbenchError

ARTIFACT_SCHEMA = "trtbench.artifact/1"
_CHUNK = 1 << 20
#: write failures the user fixes by freeing space or choosing another folder
DISK_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES})
#: the owner part of a temporary's name: PID@HOST-random (HOST: 8 hex digits of the host name's sha256)
_OWNED = re.compile(r"[.-](\d+)@([0-9a-f]{8})-[a-z0-9_]+(?:\.tmp)?$")

# sha256 of files already hashed by this process, by (path, size, mtime, inode): a sweep checks the
# same 100-300 MB export for every case and should read it once.
_hashed: dict[tuple, str] = {}


class NotAFile(OSError):
    """A path that names a FIFO, a device or a folder where trtbench reads a file: never opened for
    reading, which would wait forever (a FIFO) or never end (/dev/zero)."""


def open_regular(path: Path):
    """``path`` opened for reading in binary, only if it is a regular file (checked on the open file,
    so nothing can be swapped in between); NotAFile otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotAFile(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def current_sha256(path: Path) -> str:
    """sha256 of ``path`` as it is now; a file this process already hashed and that did not change is not read again."""
    stamp = _stamp(path)
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


#: per kind, what its metadata must hold beyond what every artifact's holds (see ``declare``)
_checks: dict[str, Callable[[dict], str | None]] = {}


def declare(kind: str, check: Callable[[dict], str | None]) -> None:
    """Make ``check`` part of what valid metadata of a ``kind`` artifact is: it gets metadata whose
    common fields are in order and returns what is wrong with the rest, or None."""
    _checks[kind] = check


def metadata_problem(meta: Any, kind: str) -> str | None:
    """What makes ``meta`` unusable as the metadata of a ``kind`` artifact (a hand edit, a damaged
    file), or None when it can be believed."""
    if not isinstance(meta, dict):
        return "it is not a JSON object"
    for field, wanted in (("schema", ARTIFACT_SCHEMA), ("kind", kind)):
        if meta.get(field) != wanted:
            return f"{field} is not {wanted!r}"
    for field, types in (("key", dict), ("sha256", str), ("info", dict)):
        if not isinstance(meta.get(field), types):
            return f"{field} is missing or not a {types.__name__}"
    check = _checks.get(kind)
    return check(meta) if check is not None else None


def read_metadata(path: Path, kind: str) -> dict | None:
    """The recorded metadata of a ``kind`` artifact when its form is sound, unchecked against its
    file (cheap; for display only); None when it is missing or malformed."""
    meta = read_json(metadata_path(path))
    return meta if metadata_problem(meta, kind) is None else None


def valid(path: Path, kind: str) -> Artifact | None:
    """The artifact at ``path`` if its metadata is sound and its file matches the recorded sha256, else None.

    While an artifact is replaced its metadata also records the one it replaces (``previous``):
    whichever of the two the file holds is valid, so a crash between writing the metadata and
    renaming the file never leaves an artifact without valid metadata.
    """
    meta = read_metadata(path, kind)
    if meta is None:
        return None
    try:
        found = current_sha256(path)
    except OSError:
        return None
    for recorded in (meta, meta.get("previous")):
        if isinstance(recorded, dict) and metadata_problem(recorded, kind) is None and recorded["sha256"] == found:
            return Artifact(Path(path), {name: value for name, value in recorded.items() if name != "previous"})
    return None


def why_not_reusable(path: Path, kind: str, key: dict, labels: dict[str, str] | None = None) -> str | None:
    """None when a valid artifact made for ``key`` is at ``path``; else why it must be made
    (a changed key field is named by ``labels`` where given)."""
    if not Path(path).is_file() or not metadata_path(path).is_file():
        return f"no cached {kind}"
    meta = read_json(metadata_path(path))
    problem = metadata_problem(meta, kind)
    if problem is not None:
        return f"{kind} metadata is damaged ({problem})"
    changed = _changed(meta["key"], key, labels)
    if changed is not None and metadata_problem(meta.get("previous"), kind) is not None:
        return changed  # known without reading the file
    found = valid(path, kind)
    if found is None:
        return f"{kind} file does not match its recorded sha256 (corrupt or replaced)"
    return _changed(found.key, key, labels)


def _changed(recorded: dict, key: dict, labels: dict[str, str] | None) -> str | None:
    """The first field of ``key`` that ``recorded`` holds otherwise, said for the user; None if none."""
    for name, wanted in key.items():
        if recorded.get(name) != wanted:
            label = (labels or {}).get(name, name)
            return f"{label} changed ({_short(recorded.get(name))} -> {_short(wanted)})"
    return None


Maker = Callable[[Path], dict | None]


def _make_folder(folder: Path, kind: str) -> None:
    """``folder`` made if missing; a file where it or a folder above it should be is one line naming it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocking = next((part for part in (folder, *folder.parents) if part.exists() and not part.is_dir()), folder)
        raise TrtbenchError(f"cannot keep {kind} files in {folder}: {blocking} is a file, not a folder; move or "
                            "delete it, or choose another folder") from None


def ensure(path: Path, kind: str, key: dict, make: Maker, usable: Callable[[Artifact], str | None] | None = None,
           force: bool = False, labels: dict[str, str] | None = None) -> Artifact:
    """The ``kind`` artifact at ``path`` made for ``key``: reused when valid, else made by ``make``.

    ``make(tmp)`` writes the artifact to ``tmp`` and may return a dict of facts to record with it.
    ``usable`` can refuse a valid artifact for a reason of the caller's (returning why).
    """
    path = Path(path)
    if not force and _read_only(path.parent):
        # A folder it cannot write to (a read-only copy of models/) still serves what it holds.
        found = valid(path, kind)
        if found is not None and why_not_reusable(path, kind, key, labels) is None and \
                (usable is None or usable(found) is None):
            return found
    _make_folder(path.parent, kind)
    remove_stale_temporaries(path.parent)
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
    _make_folder(path.parent, kind)
    remove_stale_temporaries(path.parent)

    def write(tmp: Path) -> dict | None:
        _write_file(tmp, data)
        return info

    with _locked(path):
        return _make(path, kind, key, write, "stored")


def _make(path: Path, kind: str, key: dict, make: Maker, reason: str) -> Artifact:
    """Make the artifact beside its place, complete and synced, then put it in place so that at every
    moment the file at ``path`` is the previous artifact or the new one, each with valid metadata."""
    started = time.perf_counter()
    tmp = None
    try:
        tmp = temporary_path(path)
        info = make(tmp) or {}
        digest = _synced_sha256(tmp)
        meta = {
            "schema": ARTIFACT_SCHEMA,
            "kind": kind,
            "key": key,
            "sha256": digest,
            "bytes": tmp.stat().st_size,
            "made_at": timestamp_local(),
            "make_s": round(time.perf_counter() - started, 3),
            "info": info,
        }
        replaced = valid(path, kind)
        # First metadata that knows both files, then the new file: see ``valid``.
        atomic_write_json(metadata_path(path), meta if replaced is None else {**meta, "previous": replaced.meta})
        os.replace(tmp, path)
    except BaseException as exc:
        _discard(tmp)
        translated = _user_error(exc, path)
        if translated is None:
            raise
        raise translated from exc
    _hashed[_stamp(path)] = digest
    if replaced is not None:
        # Only tidying: the metadata above is already valid for the new file.
        with contextlib.suppress(OSError):
            atomic_write_json(metadata_path(path), meta)
    return Artifact(path, meta, made=True, reason=reason)


class _locked:
    """The artifact's file lock, held while it is checked and made (waits for another process)."""

    def __init__(self, path: Path):
        from filelock import FileLock

        self.lock = FileLock(str(lock_path(path)))

    def __enter__(self):
        try:
            self.lock.acquire()
        except OSError as exc:  # a read-only or full folder: the lock file cannot be made
            folder = Path(self.lock.lock_file).parent
            raise TrtbenchError(f"cannot write in {folder} ({exc.strerror}), where trtbench keeps what it makes: "
                                "make it writable, or choose another folder (--models-dir, --engines-dir)") from None
        return self

    def __exit__(self, *exc):
        self.lock.release()


def _read_only(folder: Path) -> bool:
    return folder.is_dir() and not os.access(folder, os.W_OK)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:28] + "..." + text[-28:]


def _synced_sha256(path: Path) -> str:
    """sha256 of a file just written, after making sure its bytes are on disk."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp(path: Path) -> tuple:
    found = os.stat(path)
    return str(Path(path).resolve()), found.st_size, found.st_mtime_ns, found.st_ino


def timestamp_local() -> str:
    """Now, local time with its offset (when an artifact was made)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@functools.cache
def _host_id() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def owner_tag() -> str:
    """This process's mark in the names of its temporary files and folders: PID@HOST."""
    return f"{os.getpid()}@{_host_id()}"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (one of another user counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, but is not ours to signal
    return True


def is_stale(name: str) -> bool:
    """Whether a temporary file or folder named ``name`` was left by a process of this machine that
    no longer runs (killed before it could clean up). Names without an owner tag are never stale."""
    match = _OWNED.search(name)
    return match is not None and match.group(2) == _host_id() and not process_alive(int(match.group(1)))


def remove_stale_temporaries(folder: Path, prefix: str = ".") -> None:
    """Remove the temporaries named ``prefix...`` in ``folder`` that dead processes left behind."""
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(prefix) and is_stale(entry.name):
            with contextlib.suppress(OSError):  # another process may be removing it too
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()


@contextlib.contextmanager
def scratch_dir(what: str) -> Iterator[Path]:
    """A private temporary folder (trtbench-WHAT-PID@HOST-... in the system's temporary folder),
    removed on every exit Python sees; those of killed trtbench processes are removed first."""
    root = Path(tempfile.gettempdir())
    remove_stale_temporaries(root, "trtbench-")
    with tempfile.TemporaryDirectory(prefix=f"trtbench-{what}-{owner_tag()}-") as work:
        yield Path(work)


def temporary_path(target: Path) -> Path:
    """A fresh temporary path in ``target``'s directory (so a later rename is atomic), named after
    its owner (``owner_tag``), with the permissions a plain new file would get (mkstemp's are owner-only)."""
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.{owner_tag()}-", suffix=".tmp", dir=target.parent)
    os.close(handle)
    os.chmod(name, 0o666 & ~_umask())
    return Path(name)


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def _write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to the existing file ``path`` and sync it to disk."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view[:_CHUNK]):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _written_temporary(target: Path, data: bytes) -> Path:
    """A temporary beside ``target`` holding ``data``, synced; removed again if writing fails."""
    tmp = temporary_path(target)
    try:
        _write_file(tmp, data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _discard(*paths: Path | None) -> None:
    for path in paths:
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)


def unwritable(path: Path, exc: OSError) -> TrtbenchError | None:
    """The one-line error for writing ``path`` (or a temporary beside it) failing for lack of space
    or permission; None for any other failure."""
    if exc.errno not in DISK_ERRORS:
        return None
    failed = Path(exc.filename) if exc.filename else None
    if exc.errno == errno.EACCES and failed is not None and failed.parent != Path(path).parent:
        return None  # a file elsewhere could not be read: not this write's problem
    reason = exc.strerror or os.strerror(exc.errno)
    fix = "free space or choose another folder" if exc.errno in (errno.ENOSPC, errno.EDQUOT) \
        else "choose a writable folder"
    return TrtbenchError(f"cannot write {path}: {reason}; {fix}")


def _user_error(exc: BaseException, path: Path) -> BaseException | None:
    """What a failed write of ``path`` means to the user: a stop they asked for (Ctrl-C, SIGTERM;
    native code often turns it into an error of its own), a full or read-only disk, or None."""
    if isinstance(exc, Exception) and not isinstance(exc, KeyboardInterrupt) and interrupt.requested():
        return interrupt.Interrupted()
    return unwritable(path, exc) if isinstance(exc, OSError) else None


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a synced temporary file and an atomic rename: ``target``
    is the old file or the new one, never a partial one (a full disk is one clear error)."""
    target = Path(target)
    remove_stale_temporaries(target.parent)
    tmp = None
    try:
        tmp = _written_temporary(target, data)
        os.replace(tmp, target)
    except BaseException as exc:
        _discard(tmp)
        translated = _user_error(exc, target)
        if translated is None:
            raise
        raise translated from exc


def _json_bytes(data) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=False) + "\n").encode("utf-8")


def atomic_write_json(target: Path, data) -> None:
    """Write ``data`` as indented JSON to ``target`` atomically."""
    atomic_write_bytes(target, _json_bytes(data))


#: what ``load_json`` raises for a file that cannot be read as JSON
JSON_ERRORS = (OSError, ValueError, RecursionError, MemoryError)


def load_json(path: Path):
    """The JSON in the regular file ``path``; one of JSON_ERRORS when it cannot be read as JSON."""
    with open_regular(path) as handle:
        return parse_json(handle.read())


def parse_json(data: bytes):
    """JSON text as Python values: orjson reads a run file of 50,000 records in half json's time; what it
    refuses (NaN, integers past 64 bits, nesting past 1,024, bytes that are not UTF-8) is read by json as
    before, which accepts the first two and words the error for the others."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data.decode("utf-8"))


def read_json(path: Path):
    """The JSON in ``path``, or None when it is missing, not a regular file or not valid JSON."""
    try:
        return load_json(path)
    except JSON_ERRORS:
        return None


def read_matching(path: Path, sha256: str) -> bytes | None:
    """The bytes of the regular file ``path`` if they hash to ``sha256``, else None (changed,
    replaced, missing, or not a regular file): an engine library handed these bytes loads exactly
    what was checked, with no window between the check and the load."""
    try:
        with open_regular(path) as handle:
            data = handle.read()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def copy_matching(path: Path, sha256: str, target: Path) -> bool:
    """Copy the regular file ``path`` to ``target`` and say whether the bytes copied hash to
    ``sha256`` (``target`` is removed when they do not): for an engine library that only opens
    files by name, the copy it opens is the one checked."""
    digest = hashlib.sha256()
    try:
        with open_regular(path) as source, open(target, "wb") as copy:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                copy.write(chunk)
    except NotAFile:
        _discard(Path(target))
        return False
    except FileNotFoundError as exc:
        _discard(Path(target))
        if exc.filename is not None and Path(exc.filename) == Path(path):
            return False
        raise
    if digest.hexdigest() != sha256:
        _discard(Path(target))
        return False
    return True


def folder_files(folder: Path, leave_out: frozenset[str] = frozenset()) -> dict[str, str]:
    """sha256 of each file an engine library wrote in ``folder`` (by name, ``leave_out`` not counted);
    NotAFile when an entry is anything but a regular file (a FIFO, a link, a folder)."""
    found = {}
    for entry in sorted(Path(folder).iterdir()):
        if entry.name in leave_out:
            continue
        if not stat.S_ISREG(os.lstat(entry).st_mode):
            raise NotAFile(errno.EINVAL, "not a regular file", str(entry))
        found[entry.name] = sha256_file(entry)
    return found


def record_folder(folder: Path, kind: str, key: dict, leave_out: frozenset[str] = frozenset()) -> Artifact:
    """Record what an engine library wrote in ``folder`` as the ``kind`` artifact FOLDER.files: the
    name and sha256 of each file, made for ``key``."""
    files = folder_files(folder, leave_out)
    return store(Path(f"{folder}.files"), kind, key, _json_bytes(files), {"files": len(files)})


def folder_problem(folder: Path, kind: str, key: dict, leave_out: frozenset[str] = frozenset()) -> str | None:
    """None when ``folder`` holds exactly the regular files ``record_folder`` recorded for ``key``,
    each with its sha256 (checked before the engine library opens the folder); else what is wrong."""
    manifest = Path(f"{folder}.files")
    reason = why_not_reusable(manifest, kind, key)
    if reason is not None:
        return reason
    found = valid(manifest, kind)
    data = read_matching(manifest, found.sha256) if found is not None else None
    try:
        recorded = json.loads(data) if data is not None else None
    except ValueError:
        recorded = None
    if not isinstance(recorded, dict):
        return f"{kind} record of {Path(folder).name} is damaged"
    try:
        present = folder_files(folder, leave_out)
    except NotAFile as exc:
        return f"{Path(exc.filename).name} in {Path(folder).name} is not a regular file"
    except OSError as exc:
        return f"{Path(folder).name} cannot be read ({exc.strerror})"
    if present != recorded:
        changed = sorted(set(present) ^ set(recorded) | {n for n in present if recorded.get(n) != present[n]})
        return f"{Path(folder).name}: {', '.join(changed)} not as recorded"
    return None


def empty_folder(folder: Path) -> None:
    """Remove everything in ``folder`` (an engine library's cache found not as recorded), leaving
    the folder itself."""
    for entry in Path(folder).iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
