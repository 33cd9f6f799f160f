"""cnnlab.data.superres: the luminance against a hand computation and scikit-image, the batched bicubic
resize against Pillow image by image, the patch and image sets (shapes, determinism, LR = shrunk HR),
the digits, and the photographs of the fixed split read from scikit-image's wheel with no network."""
from __future__ import annotations

import socket

import numpy as np
import pytest
from helpers import requires

from cnnlab.data import DataLoader
from cnnlab.data import superres as S
from cnnlab.data.transforms import use_generator

pytestmark = requires("PIL", "apps")


def pillow_resize(image, size):
    from PIL import Image

    return np.asarray(Image.fromarray(np.asarray(image, np.float32), mode="F").resize(size[::-1],
                                                                                      Image.Resampling.BICUBIC))


def test_luminance_by_hand():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]],
                    [[255, 255, 255], [0, 0, 0], [10, 200, 30]]], np.uint8)
    # Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255:
    # red 16 + 65.481 = 81.481; green 16 + 128.553 = 144.553; blue 16 + 24.966 = 40.966;
    # white 16 + 219 = 235; black 16; (10, 200, 30): 16 + (654.81 + 25710.6 + 748.98) / 255 = 122.331
    np.testing.assert_array_equal(S.luminance(rgb), [[81, 145, 41], [235, 16, 122]])
    # gray g counts as R = G = B = g: 16 + 219 g / 255; 128 -> 125.929, 1 -> 16.859, 254 -> 234.141
    np.testing.assert_array_equal(S.luminance(np.array([[0, 128, 1, 254, 255]], np.uint8)),
                                  [[16, 126, 17, 234, 235]])
    assert S.luminance(rgb).dtype == np.uint8


@requires("skimage", "apps")
def test_ycbcr_equals_scikit_image_and_round_trips():
    from skimage.color import rgb2ycbcr

    rgb = np.random.default_rng(0).integers(0, 256, (9, 7, 3), dtype=np.uint8)
    ycbcr = S.rgb_to_ycbcr(rgb)
    np.testing.assert_allclose(ycbcr, rgb2ycbcr(rgb), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(S.luminance(rgb), np.floor(ycbcr[..., 0] + 0.5))
    np.testing.assert_array_equal(S.ycbcr_to_rgb(ycbcr), rgb)
    assert S.rgb_to_ycbcr(rgb[..., 0]).shape == (9, 7, 3)          # gray as R = G = B


@pytest.mark.parametrize("shape,size", [((34, 34), (17, 17)), ((5, 51, 60), (17, 20)), ((3, 17, 20), (51, 60)),
                                        ((2, 9, 13), (9, 26)), ((4, 12, 8), (5, 8))])
def test_bicubic_resize_is_pillows_image_by_image(shape, size):
    x = np.random.default_rng(1).random(shape).astype(np.float32)
    got = S.bicubic_resize(x, size)
    want = np.stack([pillow_resize(a, size) for a in x.reshape(-1, *shape[-2:])]).reshape(got.shape)
    assert got.shape == shape[:-2] + size and got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_downscale_and_baseline_sizes_and_errors():
    hr = np.random.default_rng(2).random((12, 18)).astype(np.float32)
    lr = S.downscale(hr, 3)
    assert lr.shape == (4, 6)
    assert S.bicubic_baseline(lr, 3).shape == (12, 18)
    with pytest.raises(ValueError, match=r"downscale: the image's sides must be positive multiples of the "
                                         r"scale 2, got 12×17 \(modcrop it first\)"):
        S.downscale(hr[:, :17], 2)
    with pytest.raises(ValueError, match=r"bicubic_resize: images must be \(H, W\) or \(N, H, W\)"):
        S.bicubic_resize(np.zeros((1, 1, 4, 4)), (2, 2))
    with pytest.raises(ValueError, match="luminance: image must be uint8"):
        S.luminance(np.zeros((4, 4)))


def _images(seed=3):
    rng = np.random.default_rng(seed)
    return [rng.random((40, 52)).astype(np.float32), rng.random((61, 37)).astype(np.float32)]


@pytest.mark.parametrize("augment", [False, True])
def test_patches_are_aligned_crops_and_deterministic(augment):
    images = _images()
    ds = S.SRPatches(images, scale=3, patch_size=5, length=10, augment=augment)
    with use_generator(np.random.default_rng(0)):
        lr, hr = ds.get_batch(np.arange(10))
    with use_generator(np.random.default_rng(0)):
        again = ds.get_batch(np.arange(10))
    assert lr.shape == (10, 1, 5, 5) and hr.shape == (10, 1, 15, 15) and lr.dtype == hr.dtype == np.float32
    np.testing.assert_array_equal(lr, again[0])
    np.testing.assert_array_equal(hr, again[1])
    np.testing.assert_array_equal(lr[:, 0], S.downscale(hr[:, 0], 3))
    # each HR patch is a crop of a training image (with augment: one of its 8 flips and turns, a group,
    # so some flip or turn of the patch is the crop itself)
    views = [lambda p, k=k: np.rot90(p, k) for k in range(4)] + [lambda p, k=k: np.rot90(p[:, ::-1], k)
                                                                 for k in range(4)]
    for patch in hr[:, 0]:
        found = [(np.lib.stride_tricks.sliding_window_view(image, patch.shape) == view(patch)).all(axis=(-2, -1)).any()
                 for view in (views if augment else views[:1]) for image in images]
        assert any(found)


def test_patches_of_a_loader_are_fixed_by_its_seed_and_change_by_epoch():
    ds = S.SRPatches(_images(), scale=2, patch_size=6, length=8)

    def epoch(seed, k):
        loader = DataLoader(ds, batch_size=4, seed=seed)
        loader.set_epoch(k)
        return np.concatenate([hr.numpy() for _, hr in loader])

    np.testing.assert_array_equal(epoch(0, 1), epoch(0, 1))
    assert not np.array_equal(epoch(0, 0), epoch(0, 1))
    lr, hr = ds[3]
    assert lr.shape == (1, 6, 6) and hr.shape == (1, 12, 12)


def test_patches_check_their_arguments():
    with pytest.raises(ValueError, match=r"SRPatches: image 1 must be 2-d and at least 30×30 \(patch_size 10 × "
                                         r"scale 3\), got shape \(61, 29\)"):
        S.SRPatches([np.zeros((40, 40)), np.zeros((61, 29))], scale=3, patch_size=10)
    with pytest.raises(ValueError, match="SRPatches: scale must be an int >= 2, got 1"):
        S.SRPatches(_images(), scale=1)
    with pytest.raises(IndexError, match="SRPatches: index 8 is out of range for 8 patches"):
        S.SRPatches(_images(), scale=2, patch_size=6, length=8)[8]


def test_images_are_modcropped_y_and_their_shrinking():
    rng = np.random.default_rng(4)
    rgb, gray = rng.integers(0, 256, (7, 11, 3), dtype=np.uint8), rng.integers(0, 256, (9, 8), dtype=np.uint8)
    ds = S.SRImages([rgb, gray], scale=2, names=["a", "b"])
    (lr, hr), (lr2, hr2) = ds[0], ds[1]
    assert hr.shape == (1, 6, 10) and lr.shape == (1, 3, 5) and hr2.shape == (1, 8, 8) and lr2.shape == (1, 4, 4)
    np.testing.assert_array_equal(hr[0] * 255, S.luminance(rgb)[:6, :10].astype(np.float32))
    np.testing.assert_array_equal(lr[0], S.downscale(hr[0], 2))
    assert ds.get_batch([0, 1]) is None and ds.names == ["a", "b"]
    same = S.SRImages(rng.integers(0, 256, (3, 10, 10), dtype=np.uint8), scale=2)
    lr, hr = same.get_batch([2, 0])
    assert lr.shape == (2, 1, 5, 5) and hr.shape == (2, 1, 10, 10)
    np.testing.assert_array_equal(hr[0], same[2][1])


def test_mnist_digits_14_to_28():
    from cnnlab.data import MNIST

    ds = S.mnist_sr(train=False, limit=5)
    lr, hr = ds[4]
    assert len(ds) == 5 and lr.shape == (1, 14, 14) and hr.shape == (1, 28, 28)
    digit = MNIST(train=False).data[4].astype(np.float64)
    np.testing.assert_array_equal(hr[0] * 255, np.floor(16 + 219 * digit / 255 + 0.5).astype(np.float32))
    assert S.mnist_sr(train=False, scale=3, limit=2)[0][0].shape == (1, 9, 9)


@requires("skimage", "apps")
def test_the_split_reads_from_the_wheel_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("the test blocks the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert not set(S.SKIMAGE_TRAIN) & set(S.SKIMAGE_TEST)
    for name in S.SKIMAGE_TRAIN + S.SKIMAGE_TEST:
        image = S.skimage_photo(name)
        assert image.dtype == np.uint8 and image.ndim in (2, 3) and min(image.shape[:2]) >= 300, name
    test = S.skimage_sr(train=False, scale=3)
    assert test.names == list(S.SKIMAGE_TEST) and test.hr[1].shape == (300, 450)
    with pytest.raises(ValueError, match="skimage_photo: unknown photograph 'lily'"):
        S.skimage_photo("lily")
