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


# Each mode a folder of images may hold, with one pixel value and the 8-bit RGB it must become.
EIGHT_BIT_CASES = [
    ("1", 1, (255, 255, 255)),
    ("L", 77, (77, 77, 77)),
    ("LA", (77, 9), (77, 77, 77)),
    ("RGB", (200, 50, 10), (200, 50, 10)),
    ("RGBA", (200, 50, 10, 3), (200, 50, 10)),
    ("CMYK", (55, 205, 245, 0), (200, 50, 10)),
]


def mode_image(mode, value, size=(4, 3)):
    return Image.new(mode, size, value)


@pytest.mark.parametrize("mode, value, rgb", EIGHT_BIT_CASES, ids=[case[0] for case in EIGHT_BIT_CASES])
def test_eight_bit_modes_convert_to_their_rgb(mode, value, rgb):
    from trtbench.graphs.preprocess import to_rgb

    out = to_rgb(mode_image(mode, value))
    assert out.mode == "RGB"
    assert set(map(tuple, np.asarray(out).reshape(-1, 3).tolist())) == {rgb}


def test_palette_modes_convert_through_their_palette():
    from trtbench.graphs.preprocess import to_rgb

    for mode in ("P", "PA"):
        image = Image.new(mode, (2, 2), 0)
        image.putpalette([0, 0, 0] + [12, 34, 56] + [0, 0, 0] * 254)
        image.putpixel((1, 1), (1, 200) if mode == "PA" else 1)
        assert np.asarray(to_rgb(image))[1, 1].tolist() == [12, 34, 56], mode
        assert np.asarray(to_rgb(image))[0, 0].tolist() == [0, 0, 0], mode


@pytest.mark.parametrize("mode, raw, rgb", [
    ("YCbCr", (90, 82, 206), (199, 50, 8)),  # Pillow's own round trip of RGB (200, 50, 10)
    ("LAB", (137, 0, 0), (128, 128, 128)),  # neutral grey: a and b are signed bytes, 0 at the centre
    ("HSV", (0, 255, 255), (255, 0, 0)),
])
def test_colour_spaces_convert_by_their_meaning(mode, raw, rgb):
    from trtbench.graphs.preprocess import to_rgb

    image = Image.frombytes(mode, (1, 1), bytes(raw))
    assert np.asarray(to_rgb(image))[0, 0].tolist() == list(rgb)


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I"])
def test_sixteen_bit_grey_keeps_its_range(mode):
    from trtbench.graphs.preprocess import to_rgb

    values = np.array([[0, 255, 256, 32768, 65280, 65535]])
    if mode == "I":
        image = Image.fromarray(values.astype(np.int32), "I")
    else:
        image = Image.new(mode, (6, 1))
        for x, value in enumerate(values[0]):
            image.putpixel((x, 0), int(value))
    assert np.asarray(image).astype(np.int64).tolist() == values.tolist()  # the image holds what we meant
    out = np.asarray(to_rgb(image))
    assert out[0, :, 0].tolist() == [0, 0, 1, 128, 255, 255]  # the top 8 bits, not clipped to 255
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_float_grey_is_read_as_zero_to_one():
    from trtbench.graphs.preprocess import to_rgb

    image = Image.fromarray(np.array([[0.0, 0.25, 0.5, 1.0]], dtype=np.float32), "F")
    assert np.asarray(to_rgb(image))[0, :, 0].tolist() == [0, 64, 128, 255]


@pytest.mark.parametrize("image, words", [
    (Image.fromarray(np.array([[0, 70000]], dtype=np.int32), "I"), "mode I with values from 0 to 70000"),
    (Image.fromarray(np.array([[-5, 10]], dtype=np.int32), "I"), "mode I with values from -5 to 10"),
    (Image.fromarray(np.array([[0.0, 255.0]], dtype=np.float32), "F"), "mode F) with values from 0 to 255"),
    (Image.fromarray(np.array([[0.0, np.nan]], dtype=np.float32), "F"), "mode F) holding NaN"),
    (Image.new("La", (2, 2)), "mode La"),
], ids=["I-above-16-bit", "I-negative", "F-0-255", "F-nan", "La"])
def test_images_without_an_honest_8_bit_reading_are_refused_in_one_line(image, words):
    from trtbench.graphs.preprocess import to_rgb

    with pytest.raises(UnreadableImage) as caught:
        to_rgb(image)
    message = str(caught.value)
    assert words.replace("mode I with", "mode I) with") in message and "\n" not in message
    with pytest.raises(UnreadableImage):
        preprocess(image)


def png(width, height, depth, colour, rows):
    """A PNG written byte by byte: Pillow cannot save 16-bit RGB."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    raw = b"".join(b"\0" + row for row in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def test_sixteen_bit_files_are_read_by_their_range(tmp_path):
    # 16-bit RGB PNG: Pillow gives mode RGB holding the top 8 bits of each sample.
    samples = np.full((256, 256, 3), 0, dtype=">u2")
    samples[..., 0], samples[..., 1], samples[..., 2] = 65535, 32768, 1000
    (tmp_path / "rgb16.png").write_bytes(png(256, 256, 16, 2, [row.tobytes() for row in samples]))
    expected = (np.array([255, 128, 3]) / 255.0 - MEAN) / STD
    np.testing.assert_allclose(load_image(tmp_path / "rgb16.png")[:, 100, 100], expected, rtol=1e-5)
    # 16-bit grey PNG (mode I;16) and float TIFF (mode F): before, both were clipped to white.
    Image.fromarray(np.full((256, 256), 40000, dtype=np.uint16)).save(tmp_path / "grey16.png")
    Image.fromarray(np.full((256, 256), 0.5, dtype=np.float32)).save(tmp_path / "float.tif")
    for name, level in (("grey16.png", 40000 >> 8), ("float.tif", 128)):
        out = load_image(tmp_path / name)
        np.testing.assert_allclose(out[:, 100, 100], (level / 255.0 - MEAN) / STD, rtol=1e-5, err_msg=name)
    # A float TIFF out of [0, 1] is refused, so eval counts it as unreadable, not as read.
    Image.fromarray(np.full((256, 256), 3.5, dtype=np.float32)).save(tmp_path / "hdr.tif")
    with pytest.raises(UnreadableImage, match=r"mode F\) with values from 3.5 to 3.5"):
        load_image(tmp_path / "hdr.tif")
