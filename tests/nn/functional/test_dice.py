"""one_hot against PyTorch; dice_loss against the same formula in PyTorch (values and gradients), a naive
loop over classes, float64 finite differences, and its errors."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import gradcheck
from oracle import against_torch

import cnnlab
import cnnlab.nn.functional as F


def torch_dice(torch, x, y, smooth=1.0, reduction="mean"):
    p = torch.softmax(x, 1)
    g = torch.nn.functional.one_hot(y, x.shape[1]).movedim(-1, 1).to(x.dtype)
    axes = (0, *range(2, x.ndim))
    losses = 1 - (2 * (p * g).sum(axes) + smooth) / (p.sum(axes) + g.sum(axes) + smooth)
    return losses if reduction == "none" else losses.sum() if reduction == "sum" else losses.mean()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (4, 3), (2, 5, 7)])
def test_dice_loss_against_torch(torch, dtype, reduction, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 2
    y = rng.integers(0, shape[1] - 1, shape[:1] + shape[2:])   # the last class never in the target
    against_torch(torch, lambda a, b: F.dice_loss(a, b, smooth=0.5, reduction=reduction),
                  lambda a, b: torch_dice(torch, a, b, 0.5, reduction), [x, y], dtype)


def test_dice_loss_against_a_loop_over_classes_and_finite_differences():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, 3, 4, 4)), rng.integers(0, 3, (2, 4, 4))
    p = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    want = []
    for c in range(3):
        inter = sum(p[n, c, i, j] for n in range(2) for i in range(4) for j in range(4) if y[n, i, j] == c)
        want.append(1 - (2 * inter + 1) / (p[:, c].sum() + (y == c).sum() + 1))
    got = F.dice_loss(cnnlab.tensor(x), cnnlab.tensor(y), reduction="none")
    np.testing.assert_allclose(got.data, want, rtol=1e-13)
    gradcheck(lambda a: F.dice_loss(a, cnnlab.tensor(y)), x)
    gradcheck(lambda a: F.dice_loss(a, cnnlab.tensor(y), smooth=1e-3, reduction="none"), x)


def test_a_perfect_prediction_has_almost_no_loss():
    y = np.array([[0, 1], [2, 2]])[None]
    x = np.moveaxis(np.eye(3)[y] * 40.0, -1, 1)  # (1, 3, 2, 2): the right class far ahead
    assert F.dice_loss(cnnlab.tensor(x), cnnlab.tensor(y)).item() < 1e-12


def test_one_hot_against_torch(torch):
    t = np.array([[0, 3], [2, 1]])
    got = F.one_hot(cnnlab.tensor(t), 5)
    want = torch.nn.functional.one_hot(torch.tensor(t), 5).numpy()
    assert got.dtype == np.int64 and got.shape == (2, 2, 5)
    np.testing.assert_array_equal(got.data, want)
    np.testing.assert_array_equal(F.one_hot(cnnlab.tensor(t)).data, torch.nn.functional.one_hot(torch.tensor(t)))


@pytest.mark.parametrize("call, error, match", [
    (lambda: F.one_hot(cnnlab.tensor([0.5])), TypeError, "one_hot: tensor must hold integer class indices"),
    (lambda: F.one_hot(cnnlab.tensor([0, 4]), 3), ValueError,
     r"one_hot: class values must be in \[0, 3\) \(num_classes=3\), got values in \[0, 4\]"),
    (lambda: F.one_hot(cnnlab.tensor(np.zeros(0, np.int64))), ValueError, "one_hot: can't infer num_classes"),
    (lambda: F.dice_loss(cnnlab.randn(2, 3, 4), cnnlab.tensor(np.zeros((2, 3), np.int64))), ValueError,
     r"dice_loss: target has shape \(2, 3\), but input of shape \(2, 3, 4\) needs a target of shape \(2, 4\)"),
    (lambda: F.dice_loss(cnnlab.randn(2, 3), cnnlab.tensor([0, 3])), ValueError,
     r"dice_loss: target values must be class indices in \[0, 3\), got values in \[0, 3\]"),
    (lambda: F.dice_loss(cnnlab.randn(2, 3), cnnlab.tensor([0.0, 1.0])), TypeError,
     "dice_loss: target must hold integer class indices, got dtype float32"),
    (lambda: F.dice_loss(cnnlab.randn(2, 3), cnnlab.tensor([0, 1]), smooth=0), ValueError,
     "dice_loss: smooth must be a number > 0, got 0"),
    (lambda: F.dice_loss(cnnlab.randn(2, 3), cnnlab.tensor([0, 1]), reduction="avg"), ValueError,
     "dice_loss: reduction must be one of"),
    (lambda: F.dice_loss(cnnlab.randn(3), cnnlab.tensor(1)), ValueError, "dice_loss: input must be"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
