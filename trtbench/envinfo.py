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


def versions(packages: tuple[str, ...]) -> dict[str, str | None]:
    """Versions of trtbench and ``packages`` (None where not installed)."""
    found: dict[str, str | None] = {"trtbench": trtbench.__version__}
    found.update({name: package_version(name) for name in packages})
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
