"""The seeded inputs every engine is timed, checked and calibrated on, in the input shape every
variant of the zoo takes."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from trtbench.errors import TrtbenchError

INPUT_SHAPE = (3, 224, 224)  # channels, height, width: every variant of the page
TIMING_SEED = 0  # the input bound to an engine while it is timed
PARITY_SEED = 0  # export's ONNX Runtime vs Paddle check
VERIFY_SEED = 1  # `verify` and `run --verify` without images
CALIBRATION_SEED = 0  # INT8 ranges without --calib
# A batch needs at least this many times its input. The largest activation of a ResNet (64x112x112
# after the stem, 256x56x56 after the first stage) is 5.3 times the input, and a layer holds its
# input and its output at once: 8 is a floor under what a batch takes, not an estimate of it.
ACTIVATION_FACTOR = 8
MEMINFO = Path("/proc/meminfo")


def seeded_input(batch: int, seed: int = TIMING_SEED) -> np.ndarray:
    """``batch`` standard-normal inputs of the zoo's shape, float32, the same for the same seed.

    Drawn in one call, so the first k of a larger batch are the k of a smaller one: an engine at
    batch 4 and at batch 32 see the same leading images.
    """
    return np.random.default_rng(seed).standard_normal((batch, *INPUT_SHAPE)).astype(np.float32)


def input_bytes(batch: int) -> int:
    """Bytes of ``batch`` float32 inputs of the zoo's shape."""
    return batch * math.prod(INPUT_SHAPE) * 4


def available_memory_bytes(meminfo: Path = MEMINFO) -> int | None:
    """Memory a process can have now: MemAvailable of ``meminfo``, else the free pages; None if unknown."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_batch_fits(batch: int, option: str = "--batch") -> None:
    """Refuse a ``batch`` whose input, times ACTIVATION_FACTOR, is more than the memory available now.

    When the available memory is unknown, nothing is refused.
    """
    available = available_memory_bytes()
    needed = input_bytes(batch) * ACTIVATION_FACTOR
    if available is None or needed <= available:
        return
    shape = "x".join(str(side) for side in INPUT_SHAPE)
    raise TrtbenchError(f"{option} {batch} needs at least {needed / 1e9:.1f} GB: {input_bytes(batch) / 1e9:.1f} GB "
                        f"for its input alone ({batch} x {shape} float32) x {ACTIVATION_FACTOR} for activations, "
                        f"more than the {available / 1e9:.1f} GB available: choose a smaller {option}")
