import contextlib
import os
import signal
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trtbench.graphs.preprocess import MAX_IMAGE_PIXELS, MEAN, STD, UnreadableImage, load_image, preprocess


def test_uniform_image_by_hand():
    image = Image.new("RGB", (320, 256), (255, 128, 0))
    out = preprocess(image)
    assert out.shape == (3, 224, 224) and out.dtype == np.float32
    expected = (np.array([255, 128, 0]) / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(out[:, 100, 100], expected, rtol=1e-6)
    # R: (1 - 0.485) / 0.229 = 2.2489...
    assert abs(out[0, 0, 0] - 2.2489083) < 1e-5


def test_short_side_resized_to_256_then_center_crop():
    # 300x256: no resize (short side already 256); the crop keeps columns 38..261, rows 16..239.
    pixels = np.zeros((256, 300, 3), dtype=np.uint8)
    pixels[:, 150:] = 255  # right half white
    out = preprocess(Image.fromarray(pixels))
    white = (1.0 - MEAN) / STD
    black = (0.0 - MEAN) / STD
    np.testing.assert_allclose(out[:, 0, 150 - 38 - 1], black, rtol=1e-6)
    np.testing.assert_allclose(out[:, 0, 150 - 38], white, rtol=1e-6)
    # 512x1024 (portrait): resized to 256x512, so a mark at the image's centre stays at the crop's centre
    tall = np.zeros((1024, 512, 3), dtype=np.uint8)
    tall[480:544, 224:288] = 255
    centre = preprocess(Image.fromarray(tall))[:, 112, 112]
    np.testing.assert_allclose(centre, white, rtol=1e-5)


def test_grey_and_alpha_images_become_rgb():
    assert preprocess(Image.new("L", (256, 256), 10)).shape == (3, 224, 224)
    assert preprocess(Image.new("RGBA", (300, 400), (1, 2, 3, 4))).shape == (3, 224, 224)


def forged_png(path, width, height):
    """A PNG whose header claims ``width`` x ``height`` (valid CRCs) over a few bytes of pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [
    30000,  # Pillow refuses it itself (DecompressionBombError)
    10000,  # Pillow only warns (DecompressionBombWarning) and would go on to decode it
    8193,   # Pillow is silent; over our own limit
])
def test_a_header_claiming_too_many_pixels_is_refused_before_decoding(tmp_path, side):
    assert side * side > MAX_IMAGE_PIXELS
    bomb = forged_png(tmp_path / "bomb.png", side, side)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning escapes either
        with pytest.raises(UnreadableImage, match="a possible decompression bomb: .*pixels"):
            load_image(bomb)


def test_the_pixel_limit_admits_a_large_photo():
    assert 8000 * 6000 <= MAX_IMAGE_PIXELS < Image.MAX_IMAGE_PIXELS  # a 48-megapixel photo; below Pillow's warning


class Hung(BaseException):
    """Not an OSError, so that no handler of unreadable files takes it for one."""


@contextlib.contextmanager
def deadline(seconds=10):
    """Fail with Hung instead of hanging (opening a FIFO for reading waits for a writer)."""
    def expire(signum, frame):
        raise Hung(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_not_a_regular_file_is_never_opened(tmp_path):
    fifo = tmp_path / "waits_for_a_writer.png"
    os.mkfifo(fifo)
    (tmp_path / "folder.png").mkdir()
    for path in (fifo, tmp_path / "folder.png", Path("/dev/zero")):
        with deadline(), pytest.raises(UnreadableImage, match="not a regular file"):
            load_image(path)


@pytest.mark.parametrize("content", [b"", b"not an image", None])
def test_corrupt_and_truncated_images_are_unreadable(tmp_path, content):
    path = tmp_path / "broken.png"
    if content is None:
        Image.new("RGB", (300, 300), (1, 2, 3)).save(path)
        path.write_bytes(path.read_bytes()[:200])  # truncated inside its pixels
    else:
        path.write_bytes(content)
    with pytest.raises(UnreadableImage):
        load_image(path)
    with pytest.raises(UnreadableImage, match="No such file"):
        load_image(tmp_path / "gone.png")
