"""Images as bytes and drawn digits: decode_image (no bomb, nothing but images), resize_pixels, center_digit;
strip_checkpoint (what cnnlab serve ships)."""
import io

import numpy as np
import pytest

from cnnlab.train import (TrainConfig, center_digit, convert_pixels, decode_image, load_checkpoint, model_from_checkpoint,
                          read_image, resize_pixels, strip_checkpoint, train)

from helpers import requires

pytestmark = requires("PIL", "train")


def _png(array) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_decoding_bytes_and_resizing_is_what_read_image_does_with_the_file(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    (tmp_path / "x.png").write_bytes(_png(rgb))
    for channels in (1, 3):
        decoded = decode_image(_png(rgb), channels)
        assert decoded.shape == ((40, 30) if channels == 1 else (40, 30, 3))
        np.testing.assert_array_equal(resize_pixels(decoded, 28), read_image(tmp_path / "x.png", channels, 28))
        np.testing.assert_array_equal(resize_pixels(convert_pixels(rgb, channels), 28),
                                      read_image(tmp_path / "x.png", channels, 28))
    gray = convert_pixels(rgb, 1)
    np.testing.assert_array_equal(convert_pixels(gray, 3), np.repeat(gray[:, :, None], 3, axis=2))


def test_what_is_not_an_image_and_a_decompression_bomb_are_refused_before_decoding():
    with pytest.raises(ValueError, match=r"decode_image: the bytes are not an image file that Pillow reads"):
        decode_image(b"%PDF-1.4 not an image", 1)
    with pytest.raises(ValueError, match=r"decode_image: the image can't be decoded"):
        decode_image(_png(np.random.default_rng(0).integers(0, 256, (30, 30), dtype=np.uint8))[:200], 1)   # truncated
    big = _png(np.zeros((300, 300), np.uint8))   # a few hundred bytes that hold 90,000 pixels
    with pytest.raises(ValueError, match=r"decode_image: the image is 300×300 pixels, more than the 10,000 allowed"):
        decode_image(big, 1, max_pixels=10_000)
    with pytest.raises(TypeError, match="decode_image: data must be bytes, got str"):
        decode_image("x.png", 1)


def test_center_digit_puts_the_box_in_20x20_and_the_centre_of_mass_in_the_middle():
    canvas = np.zeros((280, 280), np.uint8)
    canvas[30:130, 200:250] = 255                      # a block in the top right corner, twice as high as wide
    out = center_digit(canvas)
    rows, cols = np.nonzero(out)
    assert out.shape == (28, 28) and rows.max() - rows.min() + 1 == 20 and cols.max() - cols.min() + 1 == 10
    mass = out.astype(float)
    centre = [(mass.sum(axis=1 - a) * np.arange(28)).sum() / mass.sum() for a in (0, 1)]
    np.testing.assert_allclose(centre, [13.5, 13.5], atol=0.5)
    np.testing.assert_array_equal(center_digit(np.zeros((50, 50), np.uint8)), np.zeros((28, 28), np.uint8))


@pytest.mark.parametrize("pixels, message", [
    (np.zeros((4, 4), np.float32), r"center_digit: pixels must be a uint8 image \(H, W\) or \(H, W, 3\), got shape "
                                   r"\(4, 4\) and dtype float32"),
    (np.zeros((4, 4, 3), np.uint8), r"center_digit: pixels must be one gray digit \(H, W\), got shape \(4, 4, 3\)"),
])
def test_center_digit_errors(pixels, message):
    with pytest.raises(ValueError, match=message):
        center_digit(pixels)


def test_a_stripped_checkpoint_is_a_third_of_the_size_loads_and_refuses_to_resume(tmp_path):
    out = tmp_path / "run"
    train(TrainConfig(epochs=1, limit_train=128, limit_test=64, batch_size=64, out=str(out)), log=None, progress=False)
    small = strip_checkpoint(out, tmp_path / "small.safetensors")
    assert small.stat().st_size < 0.4 * (out / "checkpoint.safetensors").stat().st_size
    ckpt, full = load_checkpoint(small), load_checkpoint(out)
    assert ckpt["optimizer"] is None and ckpt["metrics"] == full["metrics"] and ckpt["config"] == full["config"]
    model, _ = model_from_checkpoint(ckpt)
    for key, value in model_from_checkpoint(full)[0].state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[key].data, value.data)
    (tmp_path / "resume").mkdir()
    (tmp_path / "resume" / "checkpoint.safetensors").write_bytes(small.read_bytes())
    config = TrainConfig(epochs=1, limit_train=128, limit_test=64, batch_size=64, out=str(tmp_path / "resume"))
    with pytest.raises(ValueError, match=r"resume: .* holds no optimizer state \(strip_checkpoint took it out\)"):
        train(config, resume=True, log=None, progress=False)
