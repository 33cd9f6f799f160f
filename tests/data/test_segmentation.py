"""MNISTSegmentation: the same canvases from the same seed, the label rules, the split's digits, the loader."""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab.data import MNIST, DataLoader, MNISTSegmentation
from cnnlab.data import transforms as T


@pytest.fixture(scope="module")
def test_canvases():
    return MNISTSegmentation(train=False, size=40, seed=3)


def test_the_same_seed_gives_the_same_canvases_and_a_prefix_does_not_depend_on_the_size(test_canvases):
    again = MNISTSegmentation(train=False, size=15, seed=3)
    np.testing.assert_array_equal(again.data, test_canvases.data[:15])
    np.testing.assert_array_equal(again.masks, test_canvases.masks[:15])
    assert again.digits == test_canvases.digits[:15]
    other = MNISTSegmentation(train=False, size=15, seed=4)
    assert not np.array_equal(other.data, again.data)


def test_every_digit_is_an_image_of_its_split_in_its_own_box_and_labelled_by_the_threshold(test_canvases):
    source = MNIST(train=False)
    ds = test_canvases
    counts = [len(d) for d in ds.digits]
    assert min(counts) >= 1 and max(counts) <= 3 and len(set(counts)) > 1
    for canvas, mask, digits in zip(ds.data, ds.masks, ds.digits):
        covered = np.zeros(canvas.shape, bool)
        for index, digit, top, left, h, w in digits:
            image = source.data[index]
            rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
            np.testing.assert_array_equal(canvas[top:top + h, left:left + w],
                                          image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
            assert digit == source.targets[index]
            box = canvas[top:top + h, left:left + w]
            np.testing.assert_array_equal(mask[top:top + h, left:left + w], np.where(box > 127, 1 + digit, 0))
            grown = np.zeros(canvas.shape, bool)
            grown[max(top - 1, 0):top + h + 1, max(left - 1, 0):left + w + 1] = True
            assert not (grown & covered).any()   # boxes at least one pixel apart
            covered[top:top + h, left:left + w] = True
        assert not canvas[~covered].any() and not mask[~covered].any()


def test_training_canvases_take_training_digits_and_the_threshold_is_a_setting():
    train = MNISTSegmentation(train=True, size=5, threshold=200)
    source = MNIST(train=True)
    for canvas, mask, digits in zip(train.data, train.masks, train.digits):
        for index, digit, top, left, h, w in digits:
            assert digit == source.targets[index] and canvas[top:top + h, left:left + w].max() == \
                source.data[index].max()
            box = canvas[top:top + h, left:left + w]
            np.testing.assert_array_equal(mask[top:top + h, left:left + w] > 0, box > 200)
    assert len(MNISTSegmentation.classes) == 11 and MNISTSegmentation.classes[0] == "background"
    assert MNISTSegmentation.SIZES == {True: 10000, False: 2000}


def test_samples_and_batches_through_the_loader(test_canvases):
    ds = MNISTSegmentation(train=False, size=6, seed=3,
                           transform=T.Compose([T.ToTensor(), T.Normalize(MNISTSegmentation.MEAN,
                                                                           MNISTSegmentation.STD)]))
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert x.shape == (4, 1, 64, 64) and x.dtype == np.float32 and y.shape == (4, 64, 64) and y.dtype == np.int64
    expected = (test_canvases.data[:4, None] / np.float32(255) - np.float32(0.0503)) / np.float32(0.2015)
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(y.numpy(), test_canvases.masks[:4])
    canvas, mask = test_canvases[2]
    assert canvas.dtype == np.uint8 and mask.dtype == np.int64 and (mask == test_canvases.masks[2]).all()
    assert "Split: Test" in repr(test_canvases) and len(test_canvases) == 40


@pytest.mark.parametrize("kwargs, match", [
    ({"size": 0}, "size must be an int >= 1, got 0"),
    ({"max_digits": 4}, r"max_digits must be an int in \[1, 3\], got 4"),
    ({"threshold": 255}, r"threshold must be an int in \[0, 254\], got 255"),
    ({"canvas_size": 20}, "canvas_size must be an int >= 28, got 20"),
    ({"seed": 1.5}, "seed must be an int >= 0, got 1.5"),
])
def test_bad_settings_are_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=f"MNISTSegmentation: {match}"):
        MNISTSegmentation(train=False, **kwargs)
    with pytest.raises(TypeError, match="MNISTSegmentation: transform must be callable, got int"):
        MNISTSegmentation(train=False, size=1, transform=3)
