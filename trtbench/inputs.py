"""The seeded inputs every engine is timed, checked and calibrated on, in the zoo's input shape."""

from __future__ import annotations

import numpy as np

from trtbench.zoo import INPUT_SHAPE

TIMING_SEED = 0  # the input bound to an engine while it is timed
PARITY_SEED = 0  # export's ONNX Runtime vs Paddle check
VERIFY_SEED = 1  # `verify` and `run --verify` without images
CALIBRATION_SEED = 0  # INT8 ranges without --calib


def seeded_input(batch: int, seed: int = TIMING_SEED) -> np.ndarray:
    """``batch`` standard-normal inputs of the zoo's shape, float32, the same for the same seed.

    Drawn in one call, so the first k of a larger batch are the k of a smaller one: an engine at
    batch 4 and at batch 32 see the same leading images.
    """
    return np.random.default_rng(seed).standard_normal((batch, *INPUT_SHAPE)).astype(np.float32)
