"""What this CPU can run natively, read from the kernel at run time (machines differ from session
to session): physical cores, the instruction sets behind BF16, FP16 and INT8 speed, and what each
engine was shown to run here by a probe compile (kept once per machine: ``probed``)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from trtbench import envinfo

PROBES_SCHEMA = "trtbench.probes/1"
PROBES_FILE = "probes.json"


@functools.cache
def flags() -> frozenset[str]:
    """The CPU's feature flags as /proc/cpuinfo lists them (empty where there is no such file)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@functools.cache
def physical_cores() -> int:
    """Physical cores (hyper-threads not counted): the default thread count of every CPU backend."""
    cores: set[tuple[str, str]] = set()
    physical = core = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("physical id"):
                    physical = line.split(":", 1)[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":", 1)[1].strip()
                elif not line.strip() and physical is not None and core is not None:
                    cores.add((physical, core))
                    physical = core = None
    except OSError:
        pass
    if physical is not None and core is not None:
        cores.add((physical, core))
    return len(cores) or os.cpu_count() or 1


def native_bf16(found: frozenset[str] | None = None) -> str | None:
    """The BF16 instructions this CPU has ('amx_bf16' or 'avx512_bf16'), or None."""
    found = flags() if found is None else found
    return next((flag for flag in ("amx_bf16", "avx512_bf16") if flag in found), None)


def native_fp16(found: frozenset[str] | None = None) -> str | None:
    """The FP16 arithmetic this CPU has ('amx_fp16' or 'avx512_fp16'), or None (FP16 would be
    converted to FP32 and back)."""
    found = flags() if found is None else found
    return next((flag for flag in ("amx_fp16", "avx512_fp16") if flag in found), None)


def native_int8(found: frozenset[str] | None = None) -> str | None:
    """The INT8 dot-product instructions this CPU has ('amx_int8', 'avx512_vnni', 'avx_vnni'), or None."""
    found = flags() if found is None else found
    return next((flag for flag in ("amx_int8", "avx512_vnni", "avx_vnni") if flag in found), None)


def describe() -> dict:
    """The facts above, as a run file records them."""
    return {"physical_cores": physical_cores(), "bf16": native_bf16(), "fp16": native_fp16(),
            "int8": native_int8()}


def cache_dir() -> Path:
    """Where trtbench keeps what it learns about this machine: $TRTBENCH_CACHE, else
    $XDG_CACHE_HOME/trtbench, else ~/.cache/trtbench."""
    if os.environ.get("TRTBENCH_CACHE"):
        return Path(os.environ["TRTBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trtbench"


#: what a probe answers: the precision the engine ran in (None where it could not say), and the evidence
Probe = Callable[[], tuple[str | None, str]]


def identity() -> dict:
    """This CPU as caches are keyed by it: its model name and the sha256 of its feature flags."""
    return {"cpu": envinfo.cpu_name(), "flags_sha256": hashlib.sha256(" ".join(sorted(flags())).encode()).hexdigest()}


def probe_key(backend: str, version: str, precision: str) -> dict:
    """What a probe's answer holds for: this CPU (model and flags), the engine and its version, the
    precision asked for. Any of them changing means probing again."""
    return {**identity(), "backend": backend, "version": version, "precision": precision}


def probed(backend: str, version: str, precision: str, probe: Probe) -> tuple[str | None, str]:
    """What ``backend`` (at ``version``) ran when a probe compile asked it for ``precision`` on this
    CPU, and the evidence: from the machine's probe cache when it holds a sound answer for this very
    key, else by calling ``probe`` once and keeping its answer (a cache that cannot be read or written
    only costs a probe)."""
    key = probe_key(backend, version, precision)
    name = _entry_name(key)
    found = _cached_probes().get(name)
    if isinstance(found, dict) and _sound(found, key):
        return found["executed"], found["evidence"]
    executed, evidence = probe()
    if executed is not None:  # a probe that could not say is asked again next time
        _keep(name, {**key, "executed": executed, "evidence": evidence})
    return executed, evidence


def _entry_name(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


def _sound(entry, key: dict) -> bool:
    """Whether a cached entry is one ``probed`` wrote for ``key`` (a damaged or edited one is not)."""
    return isinstance(entry, dict) and all(entry.get(field) == value for field, value in key.items()) \
        and isinstance(entry.get("executed"), str) and isinstance(entry.get("evidence"), str)


def _cached_probes() -> dict:
    """The probe cache's entries; {} when it is missing, damaged or not a regular file."""
    from trtbench.store.artifacts import read_json

    data = read_json(cache_dir() / PROBES_FILE)
    if not isinstance(data, dict) or data.get("schema") != PROBES_SCHEMA or not isinstance(data.get("probes"), dict):
        return {}
    return data["probes"]


def _keep(name: str, entry: dict) -> None:
    """Add one answer to the probe cache, under its lock, atomically; a cache that cannot be
    written is left as it is (the answer still serves this process's caller)."""
    from filelock import FileLock

    from trtbench.errors import TrtbenchError
    from trtbench.store.artifacts import atomic_write_json

    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder / f".{PROBES_FILE}.lock")):
            probes = _cached_probes()
            probes[name] = entry
            atomic_write_json(folder / PROBES_FILE, {"schema": PROBES_SCHEMA, "probes": probes})
    except (OSError, TrtbenchError):
        pass
