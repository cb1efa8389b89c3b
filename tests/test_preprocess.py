import numpy as np
from PIL import Image

from trtbench.preprocess import MEAN, STD, preprocess


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
