"""What is particular to each input, for tests on random weights.

With random weights and noise inputs every input gets nearly the same logits, so verify's cosine
and top-1 agreement pass even for an output that ignores its input (the reference's batch mean
repeated scores cosine 0.9999 and top-1 100% on ResNet18). These cosines compare each output's
departure from the reference's batch mean instead; the batch mean repeated scores 0.
"""

import numpy as np


def centred_cosines(reference: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Per input, the cosine between ``reference`` and ``got`` once the reference's batch mean is taken out."""
    reference = reference.astype(np.float64)
    mean = reference.mean(0)
    moved, got_moved = reference - mean, got.astype(np.float64) - mean
    return np.sum(moved * got_moved, 1) / np.linalg.norm(moved, axis=1) / np.linalg.norm(got_moved, axis=1)
