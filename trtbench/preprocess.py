"""Images to network input as the page states and PaddleClas does: resize short side 256, center
crop 224, scale to [0, 1], normalize with ImageNet mean/std, HWC -> CHW. Shared by verify, eval
and INT8 calibration.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trtbench.zoo import INPUT_SHAPE

RESIZE_SHORT = 256
CROP = INPUT_SHAPE[-1]  # the side of the square the network takes
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".jpe", ".tif", ".tiff")


def preprocess(image) -> np.ndarray:
    """A PIL image -> float32 array (3, 224, 224)."""
    from PIL import Image

    image = image.convert("RGB")
    width, height = image.size
    scale = RESIZE_SHORT / min(width, height)
    size = (max(CROP, round(width * scale)), max(CROP, round(height * scale)))
    if size != image.size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    left = (size[0] - CROP) // 2
    top = (size[1] - CROP) // 2
    crop = np.asarray(image.crop((left, top, left + CROP, top + CROP)), dtype=np.float32) / 255.0
    return ((crop - MEAN) / STD).transpose(2, 0, 1).copy()


def load_image(path: Path) -> np.ndarray:
    """Decode and preprocess one image file; raises OSError/ValueError when it cannot be read."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        return preprocess(image)
