"""Loss functions, as ``torch.nn.functional``; each returns per-element losses reduced by
``reduction='mean'|'sum'|'none'``. Notation: x the input, y the target, w a weight, C classes,
p = softmax(x) over the class dim, ε the label smoothing.

    nll_loss        ℓᵢ = −w[yᵢ]·xᵢ[yᵢ] (x holds log p); 'mean' divides by Σ w[yᵢ] over targets kept
    cross_entropy   class indices:       nll_loss(log_softmax(x), y), and with label smoothing
                                         (1 − ε)·that + ε/C·Σ_c −w[c]·log pᵢ[c] (same ignoring and divisor)
                    class probabilities: ℓᵢ = −Σ_c w[c]·qᵢ[c]·log pᵢ[c], q = (1 − ε)·y + ε/C;
                                         'mean' divides by the number of samples N·d₁·…, not by the weights
    mse_loss        ℓ = (x − y)²
    l1_loss         ℓ = |x − y|
    smooth_l1_loss  ℓ = ½(x − y)²/β if |x − y| < β else |x − y| − ½β   (β = 0: l1_loss)
    binary_cross_entropy              ℓ = −w·(y·log x + (1 − y)·log(1 − x)), each log clamped to >= −100
    binary_cross_entropy_with_logits  ℓ = w·((1 − y)·x + (1 + (pw − 1)·y)·softplus(−x)),
                                      softplus(−x) = −log σ(x) = log(1 + e^−|x|) + max(−x, 0): never overflows

The two binary cross-entropies are primitives with PyTorch's backward (BCE divides by max(x(1 − x), 1e-12)),
and so is cross_entropy with class indices and no label smoothing (`SoftmaxCrossEntropy`: log-sum-exp,
the pick of each target and the gradient p − onehot(y) in one op, as PyTorch fuses them too);
everything else is composed from log_softmax, indexing, elementwise ops and reductions.

Unlike PyTorch, mse_loss, l1_loss and smooth_l1_loss refuse a target whose shape differs from the
input's (PyTorch broadcasts them with a warning, which almost always hides a bug such as (N, 1)
against (N,)), and every float target must have the input's dtype (no silent float64 upcast).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from cnnlab.autograd import Function, Tensor, is_grad_enabled
from cnnlab.kernels import softmax_rows
from cnnlab.nn.functional._util import check_tensor
from cnnlab.nn.functional.elementwise import abs as _abs, where
from cnnlab.nn.functional.reduction import log_softmax

REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------- argument checks
def _check_reduction(op, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _check_float_input(op, input):
    check_tensor(op, input, "input", floating=False)
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a floating point tensor, got dtype {input.dtype}")


def _check_same_dtype(op, name, x, input):
    if x.dtype != input.dtype:
        raise TypeError(f"{op}: {name} has dtype {x.dtype}, but input has dtype {input.dtype}; they must match "
                        f"(convert one, e.g. {name}.to(input.dtype))")


def _check_pair(op, input, target):
    """Input and a target of the same shape and float dtype (the regression and binary losses)."""
    _check_float_input(op, input)
    check_tensor(op, target, "target", floating=False)
    if target.shape != input.shape:
        raise ValueError(f"{op}: target has shape {target.shape}, but input has shape {input.shape}; they must "
                         "be equal (cnnlab does not broadcast a loss target)")
    if target.dtype.kind != "f":
        raise TypeError(f"{op}: target must be a floating point tensor, got dtype {target.dtype}")
    _check_same_dtype(op, "target", target, input)


def _check_no_grad(op, name, w):
    if w is not None and w.requires_grad and is_grad_enabled():
        raise ValueError(f"{op}: {name} must not require grad (PyTorch does not differentiate {op} "
                         f"with respect to {name}); pass {name}.detach()")


def _check_broadcast_weight(op, name, w, input):
    """A weight that broadcasts to the input's shape without growing it."""
    if w is None:
        return
    check_tensor(op, w, name, floating=False)
    try:
        ok = np.broadcast_shapes(w.shape, input.shape) == input.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{op}: {name} of shape {w.shape} does not broadcast to the input's shape {input.shape}")
    _check_same_dtype(op, name, w, input)


def _check_class_weight(op, weight, C, input):
    if weight is None:
        return
    check_tensor(op, weight, "weight", floating=False)
    if weight.shape != (C,):
        raise ValueError(f"{op}: weight must have shape ({C},), one value per class, got {weight.shape}")
    _check_same_dtype(op, "weight", weight, input)


def _check_label_smoothing(label_smoothing) -> float:
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
        raise TypeError(f"cross_entropy: label_smoothing must be a float, got {type(label_smoothing).__name__}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    return float(label_smoothing)


def _check_class_target(op, input: Tensor, target: Tensor):
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class dim, got a 0-d tensor")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {target.dtype} (class "
                        "probabilities go to cross_entropy as a float target of the input's shape)")
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.shape != expected:
        raise ValueError(f"{op}: target has shape {target.shape}, but input of shape {input.shape} "
                         f"needs a target of shape {expected} (input without its class dim 1)")


def _check_nll(input, target, weight, ignore_index, reduction):
    """Every check of nll_loss (also run by cross_entropy before any work); returns C."""
    _check_reduction("nll_loss", reduction)
    _check_float_input("nll_loss", input)
    check_tensor("nll_loss", target, "target", floating=False)
    _check_class_target("nll_loss", input, target)
    C = input.shape[1] if input.ndim > 1 else input.shape[0]
    t = target.data.reshape(-1)
    keep = t != ignore_index
    bad = (t < 0) | (t >= C)
    if np.any(bad & keep):
        raise ValueError(f"nll_loss: target {t[bad & keep][0]} is out of bounds: targets must be in [0, {C}) "
                         f"(or equal to ignore_index={ignore_index})")
    _check_class_weight("nll_loss", weight, C, input)
    _check_no_grad("nll_loss", "weight", weight)
    return C


def _target_weights(target, weight, ignore_index, dtype):
    """w[yᵢ] per target (1 without weights), 0 where yᵢ = ignore_index; flat, and the safe class indices."""
    t = target.data.reshape(-1)
    keep = t != ignore_index
    safe_t = np.where(keep, t, 0)
    w = keep.astype(dtype) if weight is None else weight.data[safe_t] * keep   # (N·d₁·...,)
    return w, safe_t


def _mean(total: Tensor, divisor) -> Tensor:
    """total / divisor, where 0/0 is nan (as PyTorch) without NumPy's warning."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / divisor


# ---------------------------------------------------------------- class losses
class SoftmaxCrossEntropy(Function):
    """cross_entropy of class indices in one op: ℓᵢ = w[yᵢ]·(log Σ_c exp xᵢ[c] − xᵢ[yᵢ]) (with the max
    of xᵢ subtracted first), and dℓ/dxᵢ = w[yᵢ]·dℓᵢ·(pᵢ − onehot(yᵢ)), p = softmax(x) over the class dim.
    What ``nll_loss(log_softmax(x), y, w)`` computes, in two passes over x instead of about ten.

    Options: target (the safe class indices, the target's shape), weights (w[yᵢ], 0 where ignored,
    the target's shape), reduction."""

    fresh_grads = True

    @staticmethod
    def forward(ctx, x, target=None, weights=None, reduction="mean"):
        dim = 1 if x.ndim > 1 else 0
        picks = np.expand_dims(target, dim)                              # (N, 1, d₁, ...)
        ctx.loops = softmax_rows.loops_for(x, dim) if x.ndim == 2 else None   # compiled loops for (N, C)
        if ctx.loops:
            losses, e = softmax_rows.cross_entropy(ctx.loops, x, target)
            losses *= weights
        else:
            e = x - x.max(axis=dim, keepdims=True)
            picked = np.take_along_axis(e, picks, axis=dim)
            np.exp(e, out=e)
            total = e.sum(axis=dim, keepdims=True)
            losses = ((np.log(total) - picked) * np.expand_dims(weights, dim)).squeeze(dim)   # the target's shape
            e /= total                                                   # p = softmax(x)
        ctx.p, ctx.picks, ctx.weights, ctx.dim, ctx.reduction = e, picks, weights, dim, reduction
        if reduction == "none":
            return losses
        if reduction == "sum":
            return np.asarray(losses.sum(dtype=x.dtype))
        ctx.divisor = weights.sum(dtype=x.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):             # all ignored: nan, as PyTorch
            return np.asarray(losses.sum(dtype=x.dtype) / ctx.divisor)

    @staticmethod
    def backward(ctx, g):
        scale = ctx.weights * (g / ctx.divisor if ctx.reduction == "mean" else g)   # dℓ/dℓᵢ·w[yᵢ]
        if ctx.loops:
            return softmax_rows.cross_entropy_grad(ctx.loops, ctx.p, ctx.picks[:, 0], scale)
        scale = np.expand_dims(scale.astype(ctx.p.dtype, copy=False), ctx.dim)
        gx = ctx.p * scale
        np.put_along_axis(gx, ctx.picks, np.take_along_axis(gx, ctx.picks, axis=ctx.dim) - scale, axis=ctx.dim)
        return gx


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, *, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities, as ``torch.nn.functional.nll_loss``.

    ℓᵢ = −w[yᵢ]·xᵢ[yᵢ]; 'mean' is Σᵢ ℓᵢ / Σᵢ w[yᵢ] over the targets that are not ignore_index
    (nan when all are ignored, as PyTorch).

    Args:
        input: log-probabilities, e.g. ``log_softmax(scores, 1)``.
        target: integer class indices.
        weight: a rescaling weight per class, shape (C,); not differentiated (as PyTorch). Default: None.
        ignore_index: a target value that contributes nothing, to the loss nor to the divisor. Default: -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape:
        input (N, C) or (N, C, d₁, ...) or (C,); target (N,) or (N, d₁, ...) or () with values in [0, C)
        or equal to ignore_index; output () or, with reduction='none', the target's shape.
    """
    C = _check_nll(input, target, weight, ignore_index, reduction)
    w, safe_t = _target_weights(target, weight, ignore_index, input.dtype)
    logp = input.unsqueeze(0) if input.ndim == 1 else input
    logp = logp.permute(0, *range(2, logp.ndim), 1).reshape(-1, C)   # (N·d₁·..., C)
    picked = logp[np.arange(len(safe_t)), safe_t]                      # (N·d₁·...,)
    losses = -(picked * w)
    if reduction == "none":
        return losses.reshape(target.shape)
    if reduction == "sum":
        return losses.sum()
    return _mean(losses.sum(), w.sum())


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy on raw scores (logits), as ``torch.nn.functional.cross_entropy``.

    The target is either class indices (an integer tensor without the class dim) or class
    probabilities (a float tensor of the input's shape), told apart as PyTorch does: by shape.

    - Class indices: ℓᵢ = −w[yᵢ]·log pᵢ[yᵢ], computed with log-sum-exp so it never overflows, and
      with label smoothing ε: (1 − ε)·ℓᵢ + (ε/C)·Σ_c −w[c]·log pᵢ[c]; ignored targets give 0, and
      'mean' divides both parts by Σ w[yᵢ] over the targets kept (as ``nll_loss``).
    - Class probabilities: ℓᵢ = −Σ_c w[c]·qᵢ[c]·log pᵢ[c] with q = (1 − ε)·y + ε/C; 'mean' divides by
      the number of samples (N·d₁·…), whatever the weights. Here input, target and weight are all
      differentiated, and ignore_index must stay negative (PyTorch's rule).

    Errors about class-index targets name ``nll_loss``, which does that check.

    Args:
        input: unnormalised scores.
        target: class indices, or class probabilities (values in [0, 1] summing to 1 over the class dim).
        weight: a rescaling weight per class, shape (C,). Default: None.
        ignore_index: a class-index target value that is ignored. Default: -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        label_smoothing: ε in [0, 1]: the target becomes (1 − ε)·target + ε·uniform. Default: 0.0.
            (PyTorch ignores a negative ε; cnnlab refuses it.)

    Shape:
        input (N, C), (N, C, d₁, ...) or (C,); target (N,), (N, d₁, ...) or () for class indices, or
        the input's shape for probabilities; output () or, with reduction='none', (N,), (N, d₁, ...) or ().

    Example:
        >>> F.cross_entropy(cnnlab.tensor([[2.0, 0.0, -1.0]]), cnnlab.tensor([0]), label_smoothing=0.1)
        tensor(0.3365)
    """
    _check_float_input("cross_entropy", input)
    check_tensor("cross_entropy", target, "target", floating=False)
    eps = _check_label_smoothing(label_smoothing)
    if input.ndim > 0 and target.shape == input.shape:
        return _cross_entropy_probabilities(input, target, weight, ignore_index, reduction, eps)
    C = _check_nll(input, target, weight, ignore_index, reduction)
    dim = 1 if input.ndim > 1 else 0
    if eps == 0.0:
        w, safe_t = _target_weights(target, weight, ignore_index, input.dtype)
        return SoftmaxCrossEntropy.apply(input, target=safe_t.reshape(target.shape), weights=w.reshape(target.shape),
                                         reduction=reduction)
    logp = log_softmax(input, dim)
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    w, _ = _target_weights(target, weight, ignore_index, input.dtype)
    keep = (target.data != ignore_index).astype(input.dtype)             # the target's shape
    if weight is not None:
        logp = logp * (weight.reshape((C,) + (1,) * (input.ndim - 2)) if input.ndim > 2 else weight)
    smooth = -logp.sum(dim) * keep                                      # the target's shape
    if reduction == "sum":
        smooth = smooth.sum()
    elif reduction == "mean":
        smooth = _mean(smooth.sum(), w.sum())
    return nll * (1 - eps) + smooth * (eps / C)


def _cross_entropy_probabilities(input, target, weight, ignore_index, reduction, eps):
    op = "cross_entropy"
    _check_reduction(op, reduction)
    if target.dtype.kind != "f":
        raise TypeError(f"{op}: a target of the input's shape {input.shape} holds class probabilities and "
                        f"must be floating point, got dtype {target.dtype}")
    _check_same_dtype(op, "target", target, input)
    if ignore_index >= 0:
        raise ValueError(f"{op}: ignore_index is not supported for class-probability targets "
                         f"(it must be negative), got ignore_index={ignore_index}")
    dim = 1 if input.ndim > 1 else 0
    C = input.shape[dim]
    _check_class_weight(op, weight, C, input)
    q = target if eps == 0.0 else target * (1 - eps) + eps / C
    terms = log_softmax(input, dim) * q
    if weight is not None:
        terms = terms * (weight.reshape((C,) + (1,) * (input.ndim - 2)) if input.ndim > 2 else weight)
    if reduction == "none":
        return -terms.sum(dim)
    total = -terms.sum()
    if reduction == "sum":
        return total
    return _mean(total, input.data.size // C if C else 0)


# ---------------------------------------------------------------- regression losses
def _reduce(losses: Tensor, reduction: str, weight: Tensor | None = None) -> Tensor:
    """Apply an elementwise weight and the reduction; a weighted 'mean' is Σ w·ℓ / Σ w (PyTorch's rule)."""
    if weight is not None:
        losses = losses * weight
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if weight is not None:
        return _mean(losses.sum(), weight.sum())
    return _mean(losses.sum(), losses.data.size)


def _check_regression(op, input, target, reduction, weight=None):
    _check_reduction(op, reduction)
    _check_pair(op, input, target)
    if weight is not None:
        check_tensor(op, weight, "weight", floating=False)
        if weight.shape != input.shape:
            raise ValueError(f"{op}: weight has shape {weight.shape}, but input has shape {input.shape}; "
                             "they must be equal")
        _check_same_dtype(op, "weight", weight, input)


def mse_loss(input: Tensor, target: Tensor, *, reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error ℓ = (x − y)², as ``torch.nn.functional.mse_loss``.

    Args:
        input: predictions, any shape.
        target: same shape and dtype as input (a different shape is a ValueError; PyTorch would
            broadcast with a warning).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        weight: a weight per element, the input's shape; 'mean' is then Σ w·ℓ / Σ w. Default: None.

    Shape:
        input (*), target (*); output () or, with reduction='none', (*).
    """
    _check_regression("mse_loss", input, target, reduction, weight)
    d = input - target
    return _reduce(d * d, reduction, weight)


def l1_loss(input: Tensor, target: Tensor, *, reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ℓ = |x − y|, as ``torch.nn.functional.l1_loss``.

    Its gradient is sign(x − y), 0 at x = y (as PyTorch).

    Args:
        input: predictions, any shape.
        target: same shape and dtype as input (a different shape is a ValueError).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        weight: a weight per element, the input's shape; 'mean' is then Σ w·ℓ / Σ w. Default: None.

    Shape:
        input (*), target (*); output () or, with reduction='none', (*).
    """
    _check_regression("l1_loss", input, target, reduction, weight)
    return _reduce(_abs(input - target), reduction, weight)


def smooth_l1_loss(input: Tensor, target: Tensor, *, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1 (Huber divided by β): ½(x − y)²/β if |x − y| < β else |x − y| − ½β,
    as ``torch.nn.functional.smooth_l1_loss``.

    The gradient is (x − y)/β inside, ±1 outside (both meet at |x − y| = β); beta = 0 is l1_loss.

    Args:
        input: predictions, any shape.
        target: same shape and dtype as input (a different shape is a ValueError).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        beta: where the loss turns from quadratic to linear; >= 0. Default: 1.0.

    Shape:
        input (*), target (*); output () or, with reduction='none', (*).
    """
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
        raise TypeError(f"smooth_l1_loss: beta must be a float, got {type(beta).__name__}")
    if not (beta >= 0 and math.isfinite(beta)):
        raise ValueError(f"smooth_l1_loss: beta must be a finite number >= 0, got {beta}")
    _check_regression("smooth_l1_loss", input, target, reduction)
    beta = float(beta)                                   # a NumPy float64 would upcast float32 losses
    d = input - target
    if beta == 0.0:
        return _reduce(_abs(d), reduction)
    a = _abs(d)
    return _reduce(where(a.data < beta, d * d * (0.5 / beta), a - 0.5 * beta), reduction)


# ---------------------------------------------------------------- binary cross-entropy (primitives)
_BCE_EPS = float(np.float32(1e-12))  # PyTorch's EPSILON is the float 1e-12f (9.99999996e-13), also for float64


class BinaryCrossEntropy(Function):
    """ℓ = −w·(y·max(log x, −100) + (1 − y)·max(log(1 − x), −100)), elementwise."""

    @staticmethod
    def forward(ctx, x, y, w=None):
        with np.errstate(divide="ignore"):
            out = (y - 1) * np.maximum(np.log1p(-x), -100) - y * np.maximum(np.log(x), -100)
        ctx.x, ctx.y, ctx.w = x, y, w
        return out if w is None else out * w

    @staticmethod
    def backward(ctx, g):
        x, y, w = ctx.x, ctx.y, ctx.w
        if w is not None:
            g = g * w
        gx = g * (x - y) / np.maximum((1 - x) * x, _BCE_EPS) if ctx.needs_input_grad[0] else None
        gy = None
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gy = -g * np.log(x / (1 - x))             # −logit(x), unclamped (PyTorch's target gradient)
        return gx, gy, None


def _softplus_neg(x):
    """softplus(−x) = log(1 + e⁻ˣ) = −log σ(x), without overflow for any x."""
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)


class BinaryCrossEntropyWithLogits(Function):
    """ℓ = w·((1 − y)·x + (1 + (pw − 1)·y)·softplus(−x)), elementwise."""

    @staticmethod
    def forward(ctx, x, y, w=None, pw=None):
        sp = _softplus_neg(x)
        out = (1 - y) * x + (sp if pw is None else (1 + (pw - 1) * y) * sp)
        ctx.x, ctx.y, ctx.w, ctx.pw, ctx.sp = x, y, w, pw, sp
        return out if w is None else out * w

    @staticmethod
    def backward(ctx, g):
        x, y, w, pw = ctx.x, ctx.y, ctx.w, ctx.pw
        if w is not None:
            g = g * w
        gx = gy = None
        if ctx.needs_input_grad[0]:
            e = np.exp(-np.abs(x))
            s = np.where(x >= 0, 1 / (1 + e), e / (1 + e))   # σ(x)
            if pw is None:
                gx = g * (s - y)
            else:
                t = pw * y
                gx = g * ((t + 1 - y) * s - t)
        if ctx.needs_input_grad[1]:
            # d/dy: −x, or log σ(−x) − pw·log σ(x) = −softplus(x) + pw·softplus(−x)
            gy = -g * x if pw is None else g * (pw * ctx.sp - _softplus_neg(-x))
        return gx, gy, None, None


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities, as ``torch.nn.functional.binary_cross_entropy``.

    ℓ = −w·(y·log x + (1 − y)·log(1 − x)); each log is clamped to >= −100, so x = 0 or 1 gives a
    finite loss, and the input gradient w·(x − y)/max(x(1 − x), 1e-12) stays finite (both as PyTorch).
    Prefer `binary_cross_entropy_with_logits` on raw scores: it is exact where this one clamps.

    Args:
        input: probabilities in [0, 1] (checked).
        target: same shape and dtype as input, values in [0, 1] (checked); it is differentiated too.
        weight: a rescaling weight that broadcasts to the input's shape; not differentiated. Default: None.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; 'mean' divides by the number of elements. Default: ``'mean'``.

    Shape:
        input (*), target (*); output () or, with reduction='none', (*).
    """
    op = "binary_cross_entropy"
    _check_reduction(op, reduction)
    _check_pair(op, input, target)
    _check_broadcast_weight(op, "weight", weight, input)
    _check_no_grad(op, "weight", weight)
    for name, t in (("input", input), ("target", target)):
        if not np.all((t.data >= 0) & (t.data <= 1)):
            raise ValueError(f"{op}: all elements of {name} should be between 0 and 1, got values in "
                             f"[{np.min(t.data)}, {np.max(t.data)}]")
    losses = BinaryCrossEntropy.apply(input, target, None if weight is None else weight.data)
    return _reduce(losses, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None, *,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable step, as ``torch.nn.functional.binary_cross_entropy_with_logits``.

    ℓ = −w·(pw·y·log σ(x) + (1 − y)·log(1 − σ(x)))
      = w·((1 − y)·x + (1 + (pw − 1)·y)·softplus(−x)),
    with softplus(−x) = log(1 + e^−|x|) + max(−x, 0), finite for any logit (±1000 included).

    Args:
        input: raw scores (logits).
        target: same shape and dtype as input, usually in [0, 1] (not checked, as PyTorch); differentiated.
        weight: a rescaling weight that broadcasts to the input's shape; not differentiated. Default: None.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``; 'mean' divides by the number of elements. Default: ``'mean'``.
        pos_weight: weight of the positive term, broadcast against the input, e.g. shape (C,) for an
            input (N, C): pw > 1 raises recall. Not differentiated. Default: None.

    Shape:
        input (*), target (*); output () or, with reduction='none', (*).
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    _check_pair(op, input, target)
    for name, w in (("weight", weight), ("pos_weight", pos_weight)):
        _check_broadcast_weight(op, name, w, input)
        _check_no_grad(op, name, w)
    losses = BinaryCrossEntropyWithLogits.apply(input, target, None if weight is None else weight.data,
                                                None if pos_weight is None else pos_weight.data)
    return _reduce(losses, reduction)
