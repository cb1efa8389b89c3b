"""Versions and facts about the machine that every record and artifact carries."""

from __future__ import annotations

import os
import platform
from importlib import metadata

import trtbench

EXPORT_PACKAGES = ("paddlepaddle", "paddle2onnx", "onnx", "onnxruntime")
CORE_PACKAGES = EXPORT_PACKAGES + ("numpy", "onnxconverter-common", "pycuda")


def package_version(name: str) -> str | None:
    """Installed version of a distribution, or None; never imports it."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def all_packages() -> tuple[str, ...]:
    """What every run file records the version of: trtbench's own packages and every backend's."""
    from trtbench import backends

    declared = [p for name in backends.backend_names()[1:] for p in backends.backend_class(name).packages]
    return tuple(dict.fromkeys([*CORE_PACKAGES, *declared]))


def versions(packages: tuple[str, ...] | None = None) -> dict[str, str | None]:
    """Versions of trtbench and ``packages`` (default: all_packages(); None where not installed)."""
    found: dict[str, str | None] = {"trtbench": trtbench.__version__}
    found.update({name: package_version(name) for name in (packages if packages is not None else all_packages())})
    return found


def cpu_name() -> str:
    """The CPU model as the OS reports it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host() -> dict:
    """CPU, core count, OS and Python of this machine."""
    return {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "hostname": platform.node(),
    }


def environment(backends: list[tuple[str, str]]) -> dict:
    """What a run file records about where it ran: the host and its CPU's features, the GPUs, the
    (backend, device) pairs used, and the versions."""
    from trtbench import cpu
    from trtbench.gpu import gpus, notes

    return {
        "host": host(),
        "cpu_features": cpu.describe(),
        "gpus": list(gpus()),
        **({"gpu_notes": list(notes())} if notes() else {}),
        "backends": [{"name": name, "device": device} for name, device in backends],
        "versions": versions(),
    }
