"""The artifact cache: reuse by key and hash, atomic making, a lock per artifact across processes."""

import json
import multiprocessing

import pytest

from trtbench import artifacts


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
