"""What this CPU runs: the probe cache that keeps, once per machine, what a probe compile showed."""

import json
import os

import pytest

from trtbench.measure import cpu


@pytest.fixture
def probes(tmp_path, monkeypatch):
    """A probe cache of this test's own, and a probe that counts its calls."""
    monkeypatch.setenv("TRTBENCH_CACHE", str(tmp_path / "cache"))
    calls = []

    def probe():
        calls.append(1)
        return "fp16", "evidence"

    return probe, calls, tmp_path / "cache" / cpu.PROBES_FILE


def test_the_cache_folder_is_trtbench_cache_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("TRTBENCH_CACHE", str(tmp_path / "mine"))
    assert cpu.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("TRTBENCH_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cpu.cache_dir() == tmp_path / "xdg" / "trtbench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cpu.cache_dir() == tmp_path / "home" / ".cache" / "trtbench"


def test_a_probe_runs_once_per_cpu_engine_version_and_precision(probes, monkeypatch):
    probe, calls, path = probes
    assert cpu.probed("x", "1.0", "fp16", probe) == ("fp16", "evidence")
    assert cpu.probed("x", "1.0", "fp16", probe) == ("fp16", "evidence") and len(calls) == 1
    entry = next(iter(json.loads(path.read_text())["probes"].values()))
    assert entry == {**cpu.identity(), "backend": "x", "version": "1.0", "precision": "fp16", "executed": "fp16",
                     "evidence": "evidence"}
    cpu.probed("x", "1.1", "fp16", probe)  # another version of the engine
    cpu.probed("x", "1.1", "bf16", probe)  # another precision
    monkeypatch.setattr(cpu.envinfo, "cpu_name", lambda: "Another CPU")
    cpu.probed("x", "1.1", "fp16", probe)
    monkeypatch.setattr(cpu, "flags", lambda: frozenset({"avx2"}))
    cpu.probed("x", "1.1", "fp16", probe)
    assert len(calls) == 5


def test_a_damaged_or_edited_cache_is_probed_again(probes):
    probe, calls, path = probes
    cpu.probed("x", "1.0", "fp16", probe)
    saved = json.loads(path.read_text())
    (name, entry), = saved["probes"].items()
    damages = [b"", b"\xff\xfe", b"null", b"[]", json.dumps({**saved, "schema": "other"}).encode(),
               json.dumps({**saved, "probes": {name: {**entry, "precision": "bf16"}}}).encode(),
               json.dumps({**saved, "probes": {name: {**entry, "evidence": None}}}).encode(),
               json.dumps({**saved, "probes": {name: "fp16"}}).encode()]
    for damage in damages:
        path.write_bytes(damage)
        assert cpu.probed("x", "1.0", "fp16", probe) == ("fp16", "evidence")
    assert len(calls) == 1 + len(damages)
    assert json.loads(path.read_text()) == saved  # each time written back whole


def test_an_unknown_answer_is_not_kept_and_an_unwritable_cache_costs_only_probes(probes, monkeypatch, tmp_path):
    probe, calls, path = probes
    assert cpu.probed("x", "1.0", "fp16", lambda: (None, "could not say")) == (None, "could not say")
    assert not path.exists()
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("TRTBENCH_CACHE", str(blocked / "cache"))
    assert cpu.probed("x", "1.0", "fp16", probe) == ("fp16", "evidence")
    assert cpu.probed("x", "1.0", "fp16", probe) == ("fp16", "evidence") and len(calls) == 2


def test_a_fifo_in_place_of_the_cache_is_never_read(probes):
    probe, calls, path = probes
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    assert cpu.probed("x", "1.0", "fp16", probe) == ("fp16", "evidence")
    assert path.is_file() and len(calls) == 1  # replaced by the written cache
