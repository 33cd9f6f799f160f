"""`one_hot` (as ``torch.nn.functional.one_hot``) and the soft Dice loss of segmentation, which PyTorch lacks.

    dice_loss   p = softmax(x) over the class dim, g = one_hot(y) moved to the class dim;
                for each class c, with sums over the batch and every pixel (MONAI's DiceLoss with
                softmax=True, to_onehot_y=True, batch=True, and smooth_nr = smooth_dr = smooth):
                    D_c = (2·Σ p_c·g_c + smooth) / (Σ p_c + Σ g_c + smooth)
                ℓ_c = 1 − D_c; 'mean' averages ℓ over the classes, 'sum' adds them up, 'none' gives (C,)

Dice weighs each class by its own size, so a small class (a digit's few pixels) counts as much as
the background that covers most of the image; cross-entropy weighs every pixel alike. Composed
from softmax and reductions: its backward is autograd's.
"""
from __future__ import annotations

import numbers

import numpy as np

from cnnlab.autograd import Tensor
from cnnlab.nn.functional._util import check_tensor
from cnnlab.nn.functional.reduction import softmax

__all__ = ["one_hot", "dice_loss"]


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape ``tensor.shape + (num_classes,)``: 1 at each index, 0 elsewhere, as PyTorch's.

    Args:
        tensor: class indices >= 0, any integer dtype.
        num_classes: the length of the new last dim; -1: one more than the largest index.
    """
    check_tensor("one_hot", tensor, "tensor", floating=False)
    if tensor.dtype.kind not in "iu":
        raise TypeError(f"one_hot: tensor must hold integer class indices, got dtype {tensor.dtype}")
    t = tensor.data
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 or an int >= 0, got {num_classes!r}")
    if num_classes == -1:
        if t.size == 0:
            raise ValueError("one_hot: can't infer num_classes (-1) from an empty tensor; give num_classes")
        num_classes = int(t.max()) + 1
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}) (num_classes={num_classes}), "
                         f"got values in [{t.min()}, {t.max()}]")
    return Tensor((t[..., None] == np.arange(num_classes)).astype(np.int64))


def dice_loss(input: Tensor, target: Tensor, *, smooth: float = 1.0, reduction: str = "mean") -> Tensor:
    """Soft Dice loss of class scores against class indices (see the module docstring).

    Args:
        input: unnormalised scores (logits) of C classes, C >= 1.
        target: integer class indices in [0, C).
        smooth: added to the numerator and the denominator of every D_c: a class absent from the
            target and the prediction then has D_c close to 1 (no loss); > 0. Default: 1.0.
        reduction: ``'none'`` (ℓ_c per class) | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape:
        input (N, C, d₁, ...); target (N, d₁, ...); output () or, with reduction='none', (C,).

    Example:
        >>> loss = F.cross_entropy(scores, masks) + F.dice_loss(scores, masks)   # (N, 11, H, W), (N, H, W)
    """
    check_tensor("dice_loss", input, "input", floating=False)
    check_tensor("dice_loss", target, "target", floating=False)
    if input.dtype.kind != "f":
        raise TypeError(f"dice_loss: input must be a floating point tensor, got dtype {input.dtype}")
    if input.ndim < 2:
        raise ValueError(f"dice_loss: input must be (N, C, d₁, ...) with a class dim 1, got shape {input.shape}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"dice_loss: target must hold integer class indices, got dtype {target.dtype}")
    if target.shape != input.shape[:1] + input.shape[2:]:
        raise ValueError(f"dice_loss: target has shape {target.shape}, but input of shape {input.shape} needs "
                         f"a target of shape {input.shape[:1] + input.shape[2:]} (input without its class dim 1)")
    if isinstance(smooth, bool) or not isinstance(smooth, numbers.Real) or not smooth > 0:
        raise ValueError(f"dice_loss: smooth must be a number > 0, got {smooth!r}")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"dice_loss: reduction must be one of ('none', 'mean', 'sum'), got {reduction!r}")
    C = input.shape[1]
    t = target.data
    if t.size and (t.min() < 0 or t.max() >= C):
        raise ValueError(f"dice_loss: target values must be class indices in [0, {C}), got values in "
                         f"[{t.min()}, {t.max()}]")
    axes = (0, *range(2, input.ndim))
    g = np.moveaxis(t[..., None] == np.arange(C), -1, 1).astype(input.dtype)   # (N, C, d₁, ...)
    p = softmax(input, dim=1)                                                   # (N, C, d₁, ...)
    dice = (2 * (p * Tensor(g)).sum(dim=axes) + smooth) / (p.sum(dim=axes) + g.sum(axis=axes) + smooth)  # (C,)
    losses = 1 - dice
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()
