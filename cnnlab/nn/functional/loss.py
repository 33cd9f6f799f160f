"""Loss functions, composed from log_softmax, indexing and reductions (so their gradients are too).

    nll_loss        ℓᵢ = −w[yᵢ]·log pᵢ[yᵢ];  'mean' divides by Σ w[yᵢ] over targets not ignored
    cross_entropy   nll_loss(log_softmax(x, dim=1), y)
"""
from __future__ import annotations

import numpy as np

from cnnlab.autograd import Tensor
from cnnlab.nn.functional.reduction import log_softmax

REDUCTIONS = ("none", "mean", "sum")


def _check_class_target(op, input: Tensor, target: Tensor):
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dim, got a 0-d tensor")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {target.dtype} "
                        "(class probabilities are not supported here)")
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.shape != expected:
        raise ValueError(f"{op}: target has shape {target.shape}, but input of shape {input.shape} "
                         f"needs a target of shape {expected} (input without its class dim 1)")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities, as ``torch.nn.functional.nll_loss``.

    Shape:
        input (N, C) or (N, C, d₁, ...) or (C,); target (N,) or (N, d₁, ...) or () with values in [0, C)
        or equal to ignore_index; output () or, with reduction='none', the target's shape.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"nll_loss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    _check_class_target("nll_loss", input, target)
    C = input.shape[1] if input.ndim > 1 else input.shape[0]
    t = target.data.reshape(-1)
    keep = t != ignore_index
    if np.any((t[keep] < 0) | (t[keep] >= C)):
        bad = t[keep][(t[keep] < 0) | (t[keep] >= C)][0]
        raise ValueError(f"nll_loss: target {bad} is out of bounds: targets must be in [0, {C}) "
                         f"(or equal to ignore_index={ignore_index})")
    if weight is not None and weight.shape != (C,):
        raise ValueError(f"nll_loss: weight must have shape ({C},), got {weight.shape}")
    logp = input.unsqueeze(0) if input.ndim == 1 else input
    logp = logp.permute(0, *range(2, logp.ndim), 1).reshape(-1, C)   # (N·d₁·..., C)
    safe_t = np.where(keep, t, 0)
    w = keep.astype(input.dtype) if weight is None else weight.data[safe_t] * keep   # (N·d₁·...,)
    picked = logp[np.arange(len(t)), safe_t]                           # (N·d₁·...,)
    losses = -(picked * w)
    if reduction == "none":
        return losses.reshape(target.shape)
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / w.sum()  # 0/0 = nan when every target is ignored, as PyTorch


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100,
                  reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy on raw scores (logits) and class indices, as ``torch.nn.functional.cross_entropy``.

    ℓᵢ = −w[yᵢ]·(xᵢ[yᵢ] − log Σ_c exp xᵢ[c]), computed with log-sum-exp so it never overflows.
    """
    return nll_loss(log_softmax(input, 1 if input.ndim > 1 else 0), target, weight, ignore_index, reduction)
