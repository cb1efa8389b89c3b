"""What this CPU can run natively, read from the kernel at run time (machines differ from session
to session): physical cores, and the instruction sets behind BF16, FP16 and INT8 speed."""

from __future__ import annotations

import functools
import os


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
