"""The artifact cache: reuse by key and hash, atomic making, a lock per artifact across processes."""

import errno
import json
import multiprocessing
import os
import signal
import subprocess
import tempfile

import pytest

from trtbench import interrupt
from trtbench.errors import TrtbenchError
from trtbench.store import artifacts


def _writer(content: bytes, calls: list | None = None, info: dict | None = None):
    def make(tmp):
        if calls is not None:
            calls.append(tmp)
        tmp.write_bytes(content)
        return info

    return make


def test_made_once_then_reused_while_key_and_hash_hold(tmp_path):
    path, calls = tmp_path / "m.bin", []
    first = artifacts.ensure(path, "thing", {"source": "a"}, _writer(b"one", calls, {"note": 1}))
    assert first.made and first.reason == "no cached thing" and first.info == {"note": 1}
    again = artifacts.ensure(path, "thing", {"source": "a"}, _writer(b"two", calls))
    assert not again.made and again.sha256 == first.sha256 and path.read_bytes() == b"one"
    assert len(calls) == 1
    meta = json.loads(artifacts.metadata_path(path).read_text())
    assert meta["kind"] == "thing" and meta["key"] == {"source": "a"} and meta["bytes"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.bin.lock", "m.bin", "m.bin.json"]  # no temporaries


def test_a_changed_key_or_a_changed_file_remakes_it_and_says_why(tmp_path):
    path = tmp_path / "m.bin"
    artifacts.ensure(path, "thing", {"source": "a"}, _writer(b"one"))
    changed = artifacts.ensure(path, "thing", {"source": "b"}, _writer(b"two"), labels={"source": "Source graph"})
    assert changed.made and changed.reason == "Source graph changed (a -> b)" and path.read_bytes() == b"two"
    path.write_bytes(b"tampered")
    assert artifacts.valid(path, "thing") is None
    redone = artifacts.ensure(path, "thing", {"source": "b"}, _writer(b"two"))
    assert redone.made and "does not match its recorded sha256" in redone.reason
    assert artifacts.valid(path, "other kind") is None


def test_a_failed_make_keeps_the_previous_artifact_valid(tmp_path):
    path = tmp_path / "m.bin"
    good = artifacts.ensure(path, "thing", {"v": 1}, _writer(b"good"))

    def broken(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("builder crashed")

    with pytest.raises(RuntimeError):
        artifacts.ensure(path, "thing", {"v": 2}, broken)
    kept = artifacts.valid(path, "thing")
    assert kept is not None and kept.sha256 == good.sha256 and kept.key == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.bin.lock", "m.bin", "m.bin.json"]


def test_while_it_is_made_readers_see_the_old_artifact_or_none(tmp_path):
    path = tmp_path / "m.bin"
    seen = []

    def first(tmp):
        tmp.write_bytes(b"first")
        seen.append(artifacts.valid(path, "thing"))

    artifacts.ensure(path, "thing", {"v": 1}, first)
    assert seen == [None]

    def second(tmp):
        tmp.write_bytes(b"second, half written")
        old = artifacts.valid(path, "thing")
        seen.append(None if old is None else (old.key, path.read_bytes()))

    artifacts.ensure(path, "thing", {"v": 2}, second)
    assert seen[1] == ({"v": 1}, b"first")
    assert artifacts.valid(path, "thing").key == {"v": 2}


def test_usable_can_refuse_a_valid_artifact(tmp_path):
    path = tmp_path / "m.bin"
    artifacts.ensure(path, "thing", {"v": 1}, _writer(b"a", info={"checked": False}))
    redone = artifacts.ensure(path, "thing", {"v": 1}, _writer(b"b", info={"checked": True}),
                              usable=lambda found: None if found.info["checked"] else "not checked")
    assert redone.made and redone.reason == "not checked" and redone.info == {"checked": True}


def _make_in_a_process(path, barrier, counter, queue):
    """One of several processes asking for the same artifact at the same moment."""
    def make(tmp):
        with open(counter, "a") as handle:  # one line per make, whichever process makes it
            handle.write("made\n")
        with open(tmp, "wb") as handle:
            for _ in range(64):  # slow enough that the others arrive while it is written
                handle.write(b"x" * 65536)
                handle.flush()

    barrier.wait()
    found = artifacts.ensure(path, "thing", {"v": 1}, make)
    queue.put((found.made, found.sha256, artifacts.sha256_file(path)))


def test_processes_asking_at_once_make_it_once_and_all_read_it_whole(tmp_path):
    context = multiprocessing.get_context("fork")
    path, counter = tmp_path / "big.bin", tmp_path / "made.txt"
    workers = 4
    barrier, queue = context.Barrier(workers), context.Queue()
    processes = [context.Process(target=_make_in_a_process, args=(path, barrier, counter, queue))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    results = [queue.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert counter.read_text() == "made\n"
    assert sorted(made for made, _, _ in results) == [False] * (workers - 1) + [True]
    assert len({(recorded, actual) for _, recorded, actual in results}) == 1
    assert results[0][1] == results[0][2]


def test_artifacts_get_the_permissions_of_a_plain_new_file(tmp_path):
    import os

    previous = os.umask(0o022)
    try:
        made = artifacts.ensure(tmp_path / "m.bin", "thing", {}, _writer(b"x"))
    finally:
        os.umask(previous)
    assert made.path.stat().st_mode & 0o777 == 0o644
    assert artifacts.metadata_path(made.path).stat().st_mode & 0o777 == 0o644


# --- metadata that cannot be believed counts as no artifact ---------------------------------------------


@pytest.mark.parametrize("damaged", ["{not json", "[1, 2]", '{"schema": "trtbench.artifact/1"}', "null"])
def test_damaged_metadata_makes_the_artifact_absent_and_it_is_made_again(tmp_path, damaged):
    path = tmp_path / "m.bin"
    artifacts.ensure(path, "thing", {"v": 1}, _writer(b"one"))
    artifacts.metadata_path(path).write_text(damaged)
    assert artifacts.valid(path, "thing") is None and artifacts.read_metadata(path, "thing") is None
    again = artifacts.ensure(path, "thing", {"v": 1}, _writer(b"two"))
    assert again.made and again.reason.startswith("thing metadata is damaged (")
    assert artifacts.valid(path, "thing").sha256 == again.sha256


def test_a_kind_can_declare_what_its_metadata_must_hold(tmp_path):
    artifacts.declare("counted", lambda meta: None if isinstance(meta["info"].get("n"), int) else "n is not a number")
    path = tmp_path / "c.bin"
    artifacts.ensure(path, "counted", {}, _writer(b"x", info={"n": 3}))
    meta = json.loads(artifacts.metadata_path(path).read_text())
    meta["info"]["n"] = "three"
    artifacts.metadata_path(path).write_text(json.dumps(meta))
    assert artifacts.valid(path, "counted") is None
    assert artifacts.why_not_reusable(path, "counted", {}) == "counted metadata is damaged (n is not a number)"


# --- temporaries: private names, removed on every exit, stale ones of killed processes removed ----------


def _dead_pid() -> int:
    """The PID of a process that has ended (and been reaped)."""
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


def test_temporaries_left_by_dead_processes_are_removed_and_no_others(tmp_path):
    host = artifacts.owner_tag().split("@")[1]
    dead, other_host = _dead_pid(), "0000000f" if host != "0000000f" else "000000f0"
    kept = [f".m.bin.{os.getpid()}@{host}-abc.tmp", f".m.bin.{os.getppid()}@{host}-abc.tmp",
            f".m.bin.{dead}@{other_host}-abc.tmp", ".m.bin.ab12cd34.tmp", f"m.bin.{dead}@{host}-abc.tmp.keep"]
    stale = [f".m.bin.{dead}@{host}-ab_12.tmp", f".m.bin.json.{dead}@{host}-x9y.tmp",
             f".other.onnx.{dead}@{host}-q1.tmp"]
    for name in kept + stale:
        (tmp_path / name).write_bytes(b"partial")
    artifacts.ensure(tmp_path / "m.bin", "thing", {}, _writer(b"x"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + [".m.bin.lock", "m.bin", "m.bin.json"])
    (tmp_path / stale[0]).write_bytes(b"partial")
    artifacts.atomic_write_json(tmp_path / "run.json", {})
    assert not (tmp_path / stale[0]).exists()


def test_scratch_folders_are_private_removed_on_any_exit_and_stale_ones_go_first(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    host = artifacts.owner_tag().split("@")[1]
    stale = tmp_path / f"trtbench-export-{_dead_pid()}@{host}-abc"
    live = tmp_path / f"trtbench-int8-ort-{os.getppid()}@{host}-abc"
    for folder in (stale, live):
        folder.mkdir()
        (folder / "model.pdiparams").write_bytes(b"partial")
    seen = []
    for stop in (RuntimeError("failed"), KeyboardInterrupt()):
        with pytest.raises(type(stop)), artifacts.scratch_dir("export") as work:
            seen.append(work)
            (work / "model.json").write_text("{}")
            raise stop
    assert seen[0] != seen[1] and all(f"-{artifacts.owner_tag()}-" in work.name for work in seen)
    assert [p.name for p in tmp_path.iterdir()] == [live.name]


# --- a full disk: one line, no partial file, the previous artifact kept ---------------------------------


def _disk_fills_after(monkeypatch, room: int, code: int = errno.ENOSPC) -> None:
    """os.write on files (not the terminal) succeeds for ``room`` bytes, then fails with ``code``."""
    real, used = os.write, [0]

    def write(fd, data):
        if fd <= 2:
            return real(fd, data)
        if used[0] >= room:
            raise OSError(code, os.strerror(code))
        done = real(fd, bytes(data[:room - used[0]]))
        used[0] += done
        return done

    monkeypatch.setattr(os, "write", write)


def _only_the_artifact(folder, name="m.bin"):
    return sorted(p.name for p in folder.iterdir()) == sorted([f".{name}.lock", name, f"{name}.json"])


@pytest.mark.parametrize("code, fix", [(errno.ENOSPC, "free space or choose another folder"),
                                       (errno.EDQUOT, "free space or choose another folder"),
                                       (errno.EROFS, "choose a writable folder")])
def test_a_full_disk_while_storing_is_one_line_and_keeps_the_previous_artifact(tmp_path, monkeypatch, code, fix):
    path = tmp_path / "m.bin"
    good = artifacts.store(path, "thing", {"v": 1}, b"good")
    _disk_fills_after(monkeypatch, room=1 << 20, code=code)
    with pytest.raises(TrtbenchError) as caught:
        artifacts.store(path, "thing", {"v": 2}, b"x" * (3 << 20))
    assert str(caught.value) == f"cannot write {path}: {os.strerror(code)}; {fix}"
    assert artifacts.valid(path, "thing").sha256 == good.sha256 and _only_the_artifact(tmp_path)


def test_a_full_disk_while_making_or_writing_its_metadata_keeps_the_previous_artifact(tmp_path, monkeypatch):
    path = tmp_path / "m.bin"
    good = artifacts.ensure(path, "thing", {"v": 1}, _writer(b"good"))

    def half_then_full(tmp):
        with open(tmp, "wb") as handle:
            handle.write(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

    with pytest.raises(TrtbenchError, match=f"^cannot write {path}: No space left on device; free space"):
        artifacts.ensure(path, "thing", {"v": 2}, half_then_full)
    assert artifacts.valid(path, "thing").sha256 == good.sha256 and _only_the_artifact(tmp_path)
    _disk_fills_after(monkeypatch, room=10)  # the artifact is written whole, its metadata is not
    with pytest.raises(TrtbenchError, match="No space left on device"):
        artifacts.ensure(path, "thing", {"v": 2}, _writer(b"complete"))
    assert artifacts.valid(path, "thing").sha256 == good.sha256 and _only_the_artifact(tmp_path)
    assert path.read_bytes() == b"good"


def test_a_full_disk_while_writing_json_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "run.json"
    artifacts.atomic_write_json(target, {"records": 1})
    _disk_fills_after(monkeypatch, room=100)
    with pytest.raises(TrtbenchError, match=f"^cannot write {target}: No space left on device"):
        artifacts.atomic_write_json(target, {"records": list(range(1000))})
    assert json.loads(target.read_text()) == {"records": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_file_elsewhere_that_cannot_be_read_is_not_called_a_full_disk(tmp_path):
    def unreadable_source(tmp):
        raise PermissionError(errno.EACCES, "Permission denied", "/elsewhere/source.onnx")

    with pytest.raises(PermissionError):
        artifacts.ensure(tmp_path / "m.bin", "thing", {}, unreadable_source)


# --- a stop is a stop, whatever error it surfaces as ------------------------------------------------------



def test_a_make_that_fails_because_of_ctrl_c_is_a_stop_and_keeps_the_previous_artifact(tmp_path, signal_handlers):
    path = tmp_path / "m.bin"
    good = artifacts.ensure(path, "thing", {"v": 1}, _writer(b"good"))
    interrupt.install()

    def native_builder(tmp):
        tmp.write_bytes(b"half")
        # What Ctrl-C does inside native code: the handler runs and the library turns the
        # KeyboardInterrupt into its own error (real signals are sent in tests/cli/test_run_interrupted.py)
        try:
            interrupt._on_signal(signal.SIGINT, None)
        except KeyboardInterrupt:
            raise RuntimeError("builder failed") from None

    with pytest.raises(interrupt.Interrupted):
        artifacts.ensure(path, "thing", {"v": 2}, native_builder)
    assert artifacts.valid(path, "thing").sha256 == good.sha256 and _only_the_artifact(tmp_path)


def _killed_while_replacing(path, moment):
    """Replace the artifact at ``path``, SIGKILLed just before or just after its file is renamed into place."""
    from pathlib import Path

    real = os.replace

    def replace(source, target):
        if Path(target) == path and moment == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real(source, target)
        if Path(target) == path and moment == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace
    artifacts.ensure(path, "thing", {"v": 2}, _writer(b"new"))


@pytest.mark.parametrize("moment, expected", [("before", (b"old", {"v": 1})), ("after", (b"new", {"v": 2}))])
def test_killed_as_the_file_goes_into_place_it_is_the_old_or_the_new_artifact_and_valid(tmp_path, moment, expected):
    path = tmp_path / "m.bin"
    artifacts.ensure(path, "thing", {"v": 1}, _writer(b"old"))
    killed = multiprocessing.get_context("fork").Process(target=_killed_while_replacing, args=(path, moment))
    killed.start()
    killed.join(timeout=60)
    assert killed.exitcode == -signal.SIGKILL
    found = artifacts.valid(path, "thing")
    assert found is not None and (path.read_bytes(), found.key) == expected
    assert artifacts.why_not_reusable(path, "thing", expected[1]) is None
    assert artifacts.ensure(path, "thing", expected[1], _writer(b"unused")).made is False


def test_a_read_only_folder_serves_what_it_holds_and_says_what_it_cannot_make(tmp_path, monkeypatch):
    import errno

    import filelock

    made = artifacts.ensure(tmp_path / "m.bin", "thing", {"v": 1}, _writer(b"good"))

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self.lock_file))

    # what a read-only mount does (the suite may run as root, whom chmod does not stop)
    monkeypatch.setattr(artifacts.os, "access", lambda path, mode: str(path) != str(tmp_path))
    monkeypatch.setattr(filelock.FileLock, "acquire", read_only)
    assert artifacts.ensure(tmp_path / "m.bin", "thing", {"v": 1}, _writer(b"other")).sha256 == made.sha256
    with pytest.raises(TrtbenchError, match=r"cannot write in .* \(Read-only file system\), where trtbench keeps "
                                            r"what it makes: make it writable, or choose another folder"):
        artifacts.ensure(tmp_path / "m.bin", "thing", {"v": 2}, _writer(b"new"))
    assert artifacts.valid(tmp_path / "m.bin", "thing").sha256 == made.sha256


# --- what an engine library is handed: checked bytes, checked copies, checked folders ---------------


def test_read_matching_gives_the_checked_bytes_or_none(tmp_path):
    made = artifacts.ensure(tmp_path / "blob", "thing", {"k": 1}, _writer(b"compiled"))
    assert artifacts.read_matching(made.path, made.sha256) == b"compiled"
    made.path.write_bytes(b"compiler")  # one byte flipped: same size
    assert artifacts.read_matching(made.path, made.sha256) is None
    made.path.unlink()
    assert artifacts.read_matching(made.path, made.sha256) is None
    os.mkfifo(made.path)  # never opened for reading: it would block
    assert artifacts.read_matching(made.path, made.sha256) is None


def test_copy_matching_copies_only_what_matches(tmp_path):
    made = artifacts.ensure(tmp_path / "program", "thing", {"k": 1}, _writer(b"program" * 1000))
    target = tmp_path / "copy"
    assert artifacts.copy_matching(made.path, made.sha256, target) and target.read_bytes() == b"program" * 1000
    made.path.write_bytes(b"another program")
    assert not artifacts.copy_matching(made.path, made.sha256, target) and not target.exists()
    made.path.unlink()
    os.mkfifo(made.path)
    assert not artifacts.copy_matching(made.path, made.sha256, target) and not target.exists()
    assert not artifacts.copy_matching(tmp_path / "missing", made.sha256, target)


def test_a_recorded_folder_is_reusable_only_as_recorded(tmp_path):
    folder = tmp_path / "engines"
    folder.mkdir()
    (folder / "a.engine").write_bytes(b"a")
    (folder / "log.json").write_text("{}")
    key = {"weights": "1"}
    assert artifacts.folder_problem(folder, "engines", key).startswith("no cached engines")
    made = artifacts.record_folder(folder, "engines", key, frozenset({"log.json"}))
    assert json.loads(made.path.read_bytes()) == {"a.engine": artifacts.sha256_file(folder / "a.engine")}
    assert artifacts.folder_problem(folder, "engines", key, frozenset({"log.json"})) is None
    (folder / "log.json").write_text("changed: never loaded, not checked")
    assert artifacts.folder_problem(folder, "engines", key, frozenset({"log.json"})) is None
    assert artifacts.folder_problem(folder, "engines", {"weights": "2"}).startswith("weights changed")
    (folder / "b.engine").write_bytes(b"b")
    assert artifacts.folder_problem(folder, "engines", key, frozenset({"log.json"})) == \
        "engines: b.engine not as recorded"
    (folder / "b.engine").unlink()
    (folder / "a.engine").write_bytes(b"A")
    assert "a.engine not as recorded" in artifacts.folder_problem(folder, "engines", key, frozenset({"log.json"}))
    (folder / "a.engine").unlink()
    os.mkfifo(folder / "a.engine")
    assert artifacts.folder_problem(folder, "engines", key, frozenset({"log.json"})) == \
        "a.engine in engines is not a regular file"
    (folder / "sub").mkdir()
    (folder / "sub" / "x").write_text("x")
    artifacts.empty_folder(folder)
    assert folder.is_dir() and list(folder.iterdir()) == []


@pytest.mark.parametrize("text,expected", [
    (b'{"a": [1, 2.5, "x", null, true]}', {"a": [1, 2.5, "x", None, True]}),
    (b'{"a": 1e999, "b": -1e999}', {"a": float("inf"), "b": float("-inf")}),
    (b'{"big": ' + b"1" * 400 + b"}", {"big": int("1" * 400)}),
    ('{"name": "ResNet\u2013\\ud800"}'.encode(), {"name": "ResNet\u2013\ud800"}),
])
def test_json_reads_what_the_standard_library_reads(text, expected):
    """orjson's refusals (integers past 64 bits, a lone surrogate) are read as json reads them."""
    assert artifacts.parse_json(text) == json.loads(text) == expected


def test_json_reads_nan_as_the_standard_library_does():
    value = artifacts.parse_json(b'{"a": NaN, "b": Infinity}')
    assert value["a"] != value["a"] and value["b"] == float("inf")


@pytest.mark.parametrize("text,error", [
    (b'{"a": 1,}', json.JSONDecodeError),
    (b"\xff\xfe{}", UnicodeDecodeError),
    (b"[" * 100_000 + b"]" * 100_000, RecursionError),
])
def test_json_that_cannot_be_read_fails_as_the_standard_library_does(text, error):
    with pytest.raises(error):
        artifacts.parse_json(text)
    assert issubclass(error, artifacts.JSON_ERRORS)
