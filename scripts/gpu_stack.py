"""Which set of packages `make setup` installs on this machine: the TensorRT extra that fits the NVIDIA
driver nvidia-smi reports, or the CPU set.

    python3 scripts/gpu_stack.py        ->  tensorrt-cu12 NVIDIA driver 570.124.06 (R570): ...

Prints one line: the choice (tensorrt-cu12, tensorrt-cu13 or cpu) and why; `error` and the reason
when TRTBENCH_CUDA holds something else than 12, 13 or none. TRTBENCH_CUDA=12|13|none overrides
the driver. Runs on the system Python before any package is installed: it loads trtbench/measure/gpu.py (the
driver rules, standard library only) by path instead of importing the trtbench package.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

GPU_MODULE = Path(__file__).resolve().parent.parent / "trtbench" / "measure" / "gpu.py"


def load_gpu_rules():
    """trtbench/measure/gpu.py as a module of its own, without trtbench/__init__ or any installed package."""
    spec = importlib.util.spec_from_file_location("trtbench_gpu_rules", GPU_MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def choose(gpu, override: str | None) -> tuple[str, str]:
    """(choice, why): choice is a TensorRT extra, 'cpu', or 'error' when ``override`` is not understood."""
    if override:
        chosen = override.strip().lower()
        if chosen in ("none", "cpu"):
            return "cpu", "TRTBENCH_CUDA=none: the CPU set"
        extra = f"tensorrt-cu{chosen}"
        if extra not in [name for name, *_ in gpu.CUDA_EXTRAS]:
            return "error", f"TRTBENCH_CUDA={override} is not one of 12, 13, none"
        return extra, f"TRTBENCH_CUDA={chosen}: trtbench[{extra}], whatever the driver"
    found, notes = gpu.read_nvidia_smi()
    drivers = [g["driver"] for g in found if g.get("driver")]
    if not drivers:
        if notes:
            return "cpu", f"no NVIDIA driver answered ({notes[-1]}): the CPU set"
        return "cpu", "no NVIDIA driver (nvidia-smi not found): the CPU set"
    driver = drivers[0]
    extra = gpu.extra_for_driver(driver)
    if extra is None:
        oldest = min(oldest for *_, oldest, _ in gpu.CUDA_EXTRAS)
        return "cpu", f"NVIDIA driver {driver} is older than R{oldest}, which TensorRT's wheels need: the CPU set"
    major = gpu.cuda_major_of_extra(extra)
    return extra, (f"NVIDIA driver {driver} (R{gpu.driver_branch(driver)}): trtbench[{extra}] "
                   f"with cuda-python {major}.x; TRTBENCH_CUDA=12|13|none overrides")


def printable(text: str) -> str:
    """``text`` safe inside make's single-quoted echo: an apostrophe becomes ’; no double quotes, dollars,
    backslashes, backquotes or hashes."""
    return "".join(ch for ch in text.replace("'", "\u2019") if ch.isprintable() and ch not in "\"$\\`#")


def main() -> int:
    choice, why = choose(load_gpu_rules(), os.environ.get("TRTBENCH_CUDA"))
    print(choice, printable(why))
    return 0


if __name__ == "__main__":
    sys.exit(main())
