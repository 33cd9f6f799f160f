"""Transforms: hand-computed values, torch's pad / grid_sample as the oracle of torchvision's semantics,
the batch path against the one-image path, seeded reproducibility, and every argument check."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
from cnnlab.data import transforms as T
from cnnlab.data.transforms import affine, inverse_affine_matrix


def images(shape, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.random(shape).astype(dtype)
    return rng.integers(0, 256, shape).astype(dtype)


# ---------------------------------------------------------------- ToTensor / Normalize
def test_to_tensor_scales_uint8_and_moves_channels_first():
    img = np.array([[[0, 255, 51], [102, 1, 2]]], np.uint8)  # (H=1, W=2, C=3)
    t = T.ToTensor()(img)
    assert isinstance(t, cnnlab.Tensor) and t.shape == (3, 1, 2) and t.dtype == np.float32
    np.testing.assert_array_equal(t.data[:, 0, 0], np.float32([0, 255, 51]) / np.float32(255))
    np.testing.assert_array_equal(t.data[0, 0], np.float32([0, 102]) / np.float32(255))
    gray = T.ToTensor()(np.full((2, 3), 255, np.uint8))
    assert gray.shape == (1, 2, 3) and (gray.data == 1).all()
    other = T.ToTensor()(np.arange(6, dtype=np.int16).reshape(2, 3))  # torchvision: non-uint8 keeps dtype/values
    assert other.dtype == np.int16 and other.data.tolist() == [[[0, 1, 2], [3, 4, 5]]]


def test_to_tensor_matches_torch_division(torch):
    img = images((5, 7, 3))
    ours = T.ToTensor()(img).data
    ref = torch.from_numpy(img.transpose(2, 0, 1).copy()).float().div(255).numpy()
    np.testing.assert_array_equal(ours, ref)
    batch = T.ToTensor().apply_batch(np.stack([img, img[::-1]]))
    assert batch.shape == (2, 3, 5, 7) and batch.flags.c_contiguous
    np.testing.assert_array_equal(batch[0], ours)


def test_normalize_per_channel_and_dtypes(torch):
    for dtype in (np.float32, np.float64):
        x = images((3, 4, 5), dtype)
        mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        ours = T.Normalize(mean, std)(x)
        assert ours.dtype == dtype
        tx = torch.from_numpy(x)
        ref = tx.sub(torch.tensor(mean, dtype=tx.dtype)[:, None, None]).div(torch.tensor(std, dtype=tx.dtype)[:, None, None])
        np.testing.assert_array_equal(ours, ref.numpy())
    x = images((1, 2, 2), np.float64)
    np.testing.assert_allclose(T.Normalize(0.5, 0.25)(x), (x - 0.5) / 0.25, rtol=1e-15)
    t = T.Normalize((0.1307,), (0.3081,))(cnnlab.tensor(x.astype(np.float32)))
    assert isinstance(t, cnnlab.Tensor) and t.dtype == np.float32
    y = x.copy()
    out = T.Normalize(0.5, 0.25, inplace=True)(y)
    np.testing.assert_array_equal(out, y)


def test_normalize_errors():
    with pytest.raises(ValueError, match=r"Normalize: std must be non-zero .*got std=\(0.5, 0\)"):
        T.Normalize((0.1, 0.2), (0.5, 0))
    with pytest.raises(TypeError, match="Normalize: mean must be a number or a sequence of numbers"):
        T.Normalize("a", 1)
    with pytest.raises(ValueError, match="Normalize: mean has 2 values and std 3"):
        T.Normalize((0, 0), (1, 1, 1))
    with pytest.raises(TypeError, match="Normalize: input should be a float image .*got uint8"):
        T.Normalize(0.5, 0.5)(np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="Normalize: mean/std have 3 values, but the image has 1 channel"):
        T.Normalize((0, 0, 0), (1, 1, 1))(np.zeros((1, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"Normalize: expected a \(C, H, W\) image, got shape \(2, 2\)"):
        T.Normalize(0, 1)(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="std evaluated to zero after conversion to float32"):
        T.Normalize(0, 1e-50)(np.zeros((1, 2, 2), np.float32))


# ---------------------------------------------------------------- Pad
def test_pad_modes_by_hand():
    row = np.array([[1, 2, 3, 4]], np.uint8)  # (H=1, W=4)
    assert T.Pad((2, 0), padding_mode="reflect")(row).tolist() == [[3, 2, 1, 2, 3, 4, 3, 2]]
    assert T.Pad((2, 0), padding_mode="symmetric")(row).tolist() == [[2, 1, 1, 2, 3, 4, 4, 3]]
    assert T.Pad((2, 0), padding_mode="edge")(row).tolist() == [[1, 1, 1, 2, 3, 4, 4, 4]]
    assert T.Pad((1, 0), fill=9)(row).tolist() == [[9, 1, 2, 3, 4, 9]]
    out = T.Pad((1, 2, 3, 0))(row)  # left, top, right, bottom
    assert out.shape == (3, 8) and out[2].tolist() == [0, 1, 2, 3, 4, 0, 0, 0] and not out[:2].any()


@pytest.mark.parametrize("mode,torch_mode", [("constant", "constant"), ("edge", "replicate"), ("reflect", "reflect")])
def test_pad_matches_torch_on_float_chw(torch, mode, torch_mode):
    x = images((2, 3, 5, 6), np.float64)
    ours = T.Pad((1, 2, 3, 4), fill=0, padding_mode=mode).apply_batch(x)
    ref = torch.nn.functional.pad(torch.from_numpy(x), (1, 3, 2, 4), mode=torch_mode).numpy()
    np.testing.assert_array_equal(ours, ref)


def test_pad_per_channel_fill_in_both_layouts():
    hwc = images((2, 2, 3))
    out = T.Pad(1, fill=(10, 20, 30))(hwc)
    assert out.shape == (4, 4, 3) and out[0, 0].tolist() == [10, 20, 30] and (out[1:3, 1:3] == hwc).all()
    chw = images((3, 2, 2), np.float32)
    out = T.Pad(1, fill=(0.1, 0.2, 0.3))(chw)
    assert out.shape == (3, 4, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 0, 0], np.float32([0.1, 0.2, 0.3]))
    np.testing.assert_array_equal(out[:, 1:3, 1:3], chw)


def test_pad_errors():
    with pytest.raises(ValueError, match="Pad: padding must be an int or a 1, 2, or 4 element tuple, not a 3 element"):
        T.Pad((1, 2, 3))
    with pytest.raises(TypeError, match="Pad: padding must be an int or a tuple of 1, 2 or 4 ints, got 1.5"):
        T.Pad(1.5)
    with pytest.raises(ValueError, match=r"Pad: padding must be non-negative, got \(1, -1\)"):
        T.Pad((1, -1))
    with pytest.raises(ValueError, match="Pad: padding_mode should be one of constant, edge, reflect, symmetric, "
                                         "got 'wrap'"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(TypeError, match="Pad: fill must be a number or a tuple of numbers"):
        T.Pad(1, fill="red")
    with pytest.raises(ValueError, match="Pad: fill has 2 values, but the image has 3 channels"):
        T.Pad(1, fill=(1, 2))(images((2, 2, 3)))
    with pytest.raises(ValueError, match="Pad: fill=300 does not fit the image dtype uint8"):
        T.Pad(1, fill=300)(images((2, 2)))
    with pytest.raises(ValueError, match=r"Pad: an image must be .* got shape \(2,\)"):
        T.Pad(1)(np.zeros(2, np.uint8))


# ---------------------------------------------------------------- RandomCrop
@pytest.mark.parametrize("shape,dtype", [((4, 9, 8), np.uint8), ((4, 9, 8, 3), np.uint8), ((4, 2, 9, 8), np.float32),
                                         ((4, 9, 8), np.float64)])
def test_random_crop_takes_the_drawn_windows(shape, dtype):
    x = images(shape, dtype)
    crop = T.RandomCrop((5, 4), padding=2)
    with T.use_generator(np.random.default_rng(7)):
        out = crop.apply_batch(x)
    padded = T.Pad(2).apply_batch(x)
    rng = np.random.default_rng(7)
    top, left = rng.integers(0, 13 - 5 + 1, size=4), rng.integers(0, 12 - 4 + 1, size=4)
    for k in range(4):  # naive reference: slice each image at its own offset
        if dtype == np.uint8:
            expected = padded[k, top[k]:top[k] + 5, left[k]:left[k] + 4]
        else:
            expected = padded[k, ..., top[k]:top[k] + 5, left[k]:left[k] + 4]
        np.testing.assert_array_equal(out[k], expected)
    assert out.dtype == dtype


def test_random_crop_single_image_draws_top_then_left_as_torchvision():
    x = images((10, 10))
    with T.use_generator(np.random.default_rng(3)):
        out = T.RandomCrop(4)(x)
    rng = np.random.default_rng(3)
    i, j = rng.integers(0, 7), rng.integers(0, 7)
    np.testing.assert_array_equal(out, x[i:i + 4, j:j + 4])
    same = T.RandomCrop(10)
    assert same(x) is not None and (same(x) == x).all()  # full-size crop: the image itself, no draw


def test_random_crop_pad_if_needed_and_errors():
    x = images((3, 5))
    out = T.RandomCrop((6, 7), pad_if_needed=True, fill=1)(x)  # torchvision pads the whole shortfall on both sides
    assert out.shape == (6, 7)
    with pytest.raises(ValueError, match=r"RandomCrop: required crop size \(6, 6\) is larger than the input image "
                                         r"size \(3, 5\)"):
        T.RandomCrop(6)(x)
    with pytest.raises(ValueError, match=r"RandomCrop: size must be an int or a \(h, w\) pair of ints, got \(1, 2, 3\)"):
        T.RandomCrop((1, 2, 3))
    with pytest.raises(ValueError, match=r"RandomCrop: size must be positive, got \(0, 2\)"):
        T.RandomCrop((0, 2))
    with pytest.raises(ValueError, match="RandomCrop: padding_mode should be one of"):
        T.RandomCrop(2, padding_mode="zeros")


# ---------------------------------------------------------------- RandomHorizontalFlip
def test_horizontal_flip():
    x = images((6, 3, 4, 3))
    assert (T.RandomHorizontalFlip(p=0).apply_batch(x) == x).all()
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1).apply_batch(x), x[:, :, ::-1])
    chw = images((6, 2, 3, 4), np.float32)
    with T.use_generator(np.random.default_rng(1)):
        out = T.RandomHorizontalFlip().apply_batch(chw)
    flips = np.random.default_rng(1).random(6) < 0.5
    assert 0 < flips.sum() < 6
    for k in range(6):
        np.testing.assert_array_equal(out[k], chw[k, :, :, ::-1] if flips[k] else chw[k])
    with pytest.raises(ValueError, match=r"RandomHorizontalFlip: p must be a probability in \[0, 1\], got 1.5"):
        T.RandomHorizontalFlip(1.5)


# ---------------------------------------------------------------- RandomAffine
def torchvision_affine(torch, img, matrix, mode, fill):
    """torchvision's tensor affine (v1): its grid, grid_sample(align_corners=False), its fill mask."""
    n, c, h, w = img.shape
    theta = torch.tensor(matrix, dtype=img.dtype).reshape(1, 2, 3)
    base = torch.empty(1, h, w, 3, dtype=img.dtype)
    base[..., 0].copy_(torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, steps=w))
    base[..., 1].copy_(torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, steps=h).unsqueeze_(-1))
    base[..., 2].fill_(1)
    grid = base.view(1, h * w, 3).bmm(theta.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h], dtype=img.dtype))
    x = torch.cat((img, torch.ones((n, 1, h, w), dtype=img.dtype)), 1)
    out = torch.nn.functional.grid_sample(x, grid.view(1, h, w, 2), mode=mode, padding_mode="zeros",
                                          align_corners=False)
    mask, out = out[:, -1:].expand(n, c, h, w), out[:, :-1]
    fill_img = torch.full_like(out, float(fill))
    if mode == "nearest":
        return torch.where(mask < 0.5, fill_img, out)
    return out * mask + (1.0 - mask) * fill_img


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_affine_matches_torchvision_grid_sample(torch, mode, dtype):
    rng = np.random.default_rng(0)
    for _ in range(30):
        h, w = (int(v) for v in rng.integers(3, 12, 2))
        x = rng.random((1, 2, h, w)).astype(dtype)
        p = {"angle": rng.uniform(-40, 40, 1), "tx": np.round(rng.uniform(-3, 3, 1)),
             "ty": np.round(rng.uniform(-3, 3, 1)), "scale": rng.uniform(0.7, 1.3, 1),
             "shear_x": rng.uniform(-10, 10, 1), "shear_y": rng.uniform(-10, 10, 1)}
        m = inverse_affine_matrix(**p)
        ours = affine(x, m, mode, 0.25)
        ref = torchvision_affine(torch, torch.from_numpy(x), m[0].ravel().tolist(), mode, 0.25).numpy()
        if mode == "nearest":
            np.testing.assert_array_equal(ours, ref)
        else:
            np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6 if dtype == np.float32 else 1e-14)


def test_affine_by_hand_rotation_translation_and_uint8():
    x = images((1, 5, 5))  # uint8 (N, H, W)
    rot = affine(x, inverse_affine_matrix(np.array([90.0]), 0, 0, 1, 0, 0))
    np.testing.assert_array_equal(rot[0], np.rot90(x[0], -1))  # torchvision's affine: positive angles turn clockwise
    shift = affine(x, inverse_affine_matrix(np.zeros(1), np.array([2.0]), np.array([-1.0]), 1, 0, 0), fill=7)
    expected = np.full((5, 5), 7, np.uint8)
    expected[:4, 2:] = x[0, 1:, :3]  # output (i, j) reads input (i + 1, j - 2)
    np.testing.assert_array_equal(shift[0], expected)
    half = affine(np.array([[[0, 100]]], np.uint8), inverse_affine_matrix(np.zeros(1), 0, 0, np.array([2.0]), 0, 0),
                  "bilinear")
    assert half.dtype == np.uint8 and half.tolist() == [[[25, 75]]]  # sampled at x = 0.25 and 0.75


def test_random_affine_draws_like_torchvision_and_applies_per_image():
    t = T.RandomAffine(10, translate=(0.1, 0.2), scale=(0.9, 1.1))
    p = t.get_params(np.random.default_rng(0), 1000, height=20, width=30)
    assert (np.abs(p["angle"]) <= 10).all() and (np.abs(p["tx"]) <= 3).all() and (np.abs(p["ty"]) <= 4).all()
    assert set(np.unique(p["tx"])) == {-3, -2, -1, 0, 1, 2, 3} and (p["scale"] >= 0.9).all()
    assert (p["shear_x"] == 0).all() and (p["shear_y"] == 0).all()
    x = images((3, 8, 8, 3))
    with T.use_generator(np.random.default_rng(5)):
        out = t.apply_batch(x)
    q = t.get_params(np.random.default_rng(5), 3, 8, 8)
    np.testing.assert_array_equal(out, affine(x, inverse_affine_matrix(**q)))
    assert T.RandomAffine(0)(x[0]).tolist() == x[0].tolist()  # degrees=0: identity


def test_random_affine_errors_and_repr():
    with pytest.raises(ValueError, match="RandomAffine: if degrees is a single number, it must be non-negative"):
        T.RandomAffine(-1)
    with pytest.raises(ValueError, match="RandomAffine: degrees must be a number or a sequence of 2 numbers"):
        T.RandomAffine((1, 2, 3))
    with pytest.raises(ValueError, match="RandomAffine: translate should be a sequence of length 2"):
        T.RandomAffine(0, translate=0.1)
    with pytest.raises(ValueError, match="RandomAffine: translation values should be between 0 and 1"):
        T.RandomAffine(0, translate=(0.1, 1.5))
    with pytest.raises(ValueError, match="RandomAffine: scale values should be positive"):
        T.RandomAffine(0, scale=(0, 1))
    with pytest.raises(ValueError, match="RandomAffine: shear must be a number or a sequence of 2 or 4 numbers"):
        T.RandomAffine(0, shear=(1, 2, 3))
    with pytest.raises(ValueError, match="RandomAffine: interpolation must be 'nearest' or 'bilinear'"):
        T.RandomAffine(0, interpolation="bicubic")
    with pytest.raises(ValueError, match=r"affine: matrices must be \(N, 2, 3\) with N = 2 images, got shape \(1, 2, 3\)"):
        affine(images((2, 4, 4)), np.zeros((1, 2, 3)))
    assert repr(T.RandomAffine(10, translate=(0.1, 0.1))) == "RandomAffine(degrees=[-10.0, 10.0], translate=(0.1, 0.1))"


# ---------------------------------------------------------------- Compose, batches, seeds
def test_compose_repr_and_batch_support():
    t = T.Compose([T.RandomCrop(28, padding=2), T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    assert repr(t) == ("Compose(\n    RandomCrop(size=(28, 28), padding=2)\n    ToTensor()\n"
                       "    Normalize(mean=(0.1307,), std=(0.3081,))\n)")
    assert t.supports_batch and T.supports_batch(None)
    assert not T.Compose([T.ToTensor(), lambda x: x]).supports_batch
    with pytest.raises(TypeError, match="Compose: transforms must be a list of callables"):
        T.Compose([1])


def test_deterministic_batch_equals_per_image():
    x = images((5, 6, 7, 3))
    t = T.Compose([T.Pad((1, 2), padding_mode="symmetric"), T.ToTensor(), T.Normalize((0.5, 0.4, 0.3), (0.2, 0.3, 0.4))])
    batch = t.apply_batch(x)
    for k in range(5):
        np.testing.assert_array_equal(batch[k], t(x[k]).data)


def test_seeded_random_transforms_reproduce():
    x = images((16, 12, 12))
    t = T.Compose([T.RandomCrop(10, padding=1), T.RandomHorizontalFlip(), T.RandomAffine(15, translate=(0.1, 0.1))])
    with T.use_generator(np.random.default_rng(42)):
        a = t.apply_batch(x)
    with T.use_generator(np.random.default_rng(42)):
        b = t.apply_batch(x)
    with T.use_generator(np.random.default_rng(43)):
        c = t.apply_batch(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    cnnlab.manual_seed(0)  # outside a loader: cnnlab's generator
    d = [t(img) for img in x]
    cnnlab.manual_seed(0)
    e = [t(img) for img in x]
    assert all(np.array_equal(u, v) for u, v in zip(d, e))
    with pytest.raises(TypeError, match="use_generator: generator must be a numpy.random.Generator"):
        with T.use_generator(0):
            pass
