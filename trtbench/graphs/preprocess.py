"""Images to network input as the page states and PaddleClas does: resize short side 256, center
crop 224, scale to [0, 1], normalize with ImageNet mean/std, HWC -> CHW. Shared by verify, eval
and INT8 calibration.
"""

from __future__ import annotations

import os
import stat
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

from trtbench.graphs.inputs import INPUT_SHAPE

RESIZE_SHORT = 256
CROP = INPUT_SHAPE[-1]  # the side of the square the network takes
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".jpe", ".tif", ".tiff")
# The most pixels an image may claim in its header to be decoded. A header is a few bytes anyone can
# forge: 30000x30000 decodes to 2.7 GB. 64 Mi pixels (192 MiB as RGB) admits a 48-megapixel photo,
# far above any image a classifier is evaluated on, and is below Pillow's own warning limit (89 Mpx).
MAX_IMAGE_PIXELS = 64 * 1024 * 1024
# What Pillow raises on a damaged file, whatever its format.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error)


# Modes Pillow converts to 8-bit RGB without losing range: 8 bits a channel, or a palette of them.
_EIGHT_BIT_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB",
                              "HSV"})
# One channel of 16 bits; ``convert("RGB")`` would clip every value above 255 to white.
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


class UnreadableImage(ValueError):
    """An image file that is not decoded; the message says why, without the file's name."""


def to_rgb(image):
    """A PIL image of any mode a folder of images may hold -> 8-bit RGB, each mode by its real range.

    16-bit grey keeps its top 8 bits (as Pillow does for 16-bit RGB PNGs), 32-bit integer grey is
    read as 16-bit when its values fit, float grey is read as [0, 1]. A mode or a range that has no
    honest 8-bit reading raises UnreadableImage naming the mode.
    """
    from PIL import Image

    mode = image.mode
    if mode in _EIGHT_BIT_MODES:
        return image.convert("RGB")
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        values = np.asarray(image).astype(np.int64)
        low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
        if low < 0 or high > 0xFFFF:
            raise UnreadableImage(f"a 32-bit integer image (mode {mode}) with values from {low} to {high}: "
                                  "trtbench reads integer images of up to 16 bits; save it as 8 or 16 bits")
        return Image.fromarray((values >> 8).astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if values.size and not np.isfinite(values).all():
            raise UnreadableImage("a float image (mode F) holding NaN or infinite values: save it as 8 or 16 bits")
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if low < 0.0 or high > 1.0:
            raise UnreadableImage(f"a float image (mode F) with values from {low:g} to {high:g}: trtbench reads "
                                  "float images as [0, 1]; scale it to [0, 1] or save it as 8 or 16 bits")
        return Image.fromarray(np.rint(values * 255.0).astype(np.uint8), "L").convert("RGB")
    raise UnreadableImage(f"an image in mode {mode}, which trtbench does not read; save it as 8-bit RGB")


def preprocess(image) -> np.ndarray:
    """A PIL image -> float32 array (3, 224, 224); raises UnreadableImage for a mode to_rgb refuses."""
    from PIL import Image

    image = to_rgb(image)
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
    """Decode and preprocess one image file; raises UnreadableImage when it cannot be read.

    Only a regular file is opened (a FIFO or a device is refused, not waited on), and an image whose
    header claims more than MAX_IMAGE_PIXELS is refused before any pixel is decoded.
    """
    with _open_regular_file(path) as file:
        return preprocess(_decode(file))


def _open_regular_file(path: Path):
    """``path`` opened for reading in binary, if it is a regular file."""
    # Non-blocking, so that opening a FIFO returns at once instead of waiting for a writer.
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UnreadableImage(exc.strerror or str(exc)) from None
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise UnreadableImage("not a regular file")
    return os.fdopen(descriptor, "rb")


def _decode(file):
    """The image in ``file`` as 8-bit RGB (see to_rgb), refused from its header when it claims too many pixels."""
    from PIL import Image, UnidentifiedImageError

    bombs = (Image.DecompressionBombError, Image.DecompressionBombWarning)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(file)
        with image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise UnreadableImage(f"a possible decompression bomb: its header claims {width}x{height} pixels, "
                                      f"more than the {MAX_IMAGE_PIXELS} trtbench decodes")
            image.load()
            return to_rgb(image)
    except bombs as exc:
        raise UnreadableImage(f"a possible decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise UnreadableImage("not an image file Pillow can identify") from None
    except UnreadableImage:
        raise
    except _DECODE_ERRORS as exc:
        raise UnreadableImage(str(exc) or type(exc).__name__) from None
