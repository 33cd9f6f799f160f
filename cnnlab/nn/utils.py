"""Gradient clipping and flat parameter vectors, as ``torch.nn.utils``.

    total = ‖(‖g₁‖ₚ, ‖g₂‖ₚ, ...)‖ₚ     the p-norm of all gradients as one vector (p = inf: max |g|)
    g ← g · min(1, max_norm / (total + 1e-6))
"""
from __future__ import annotations

import types
import warnings

import numpy as np

from cnnlab import backend
from cnnlab.autograd import Tensor, no_grad
from cnnlab.nn import functional as F

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_",
           "parameters_to_vector", "vector_to_parameters"]


def _as_list(parameters, op: str) -> list:
    if isinstance(parameters, Tensor):
        return [parameters]
    is_generator = isinstance(parameters, types.GeneratorType)
    try:
        parameters = list(parameters)
    except TypeError:
        raise TypeError(f"{op}: expected a Tensor or an iterable of Tensors, got {type(parameters).__name__}") from None
    for p in parameters:
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: expected Tensors (parameters), got a {type(p).__name__}")
    if is_generator and not parameters:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    return parameters


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """The `norm_type`-norm of all `tensors` taken together as one vector (a 0-d Tensor)."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor(np.array(0.0, dtype=backend.get_default_dtype()))
    dtype = np.result_type(*[t.dtype for t in tensors])
    norms = np.array([np.linalg.norm(t.data.reshape(-1), ord=norm_type) for t in tensors], dtype=dtype)
    total = np.linalg.norm(norms, ord=norm_type).astype(dtype)  # (): the norm of the per-tensor norms
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           "so it cannot be clipped. To disable this error and scale the gradients by the "
                           "non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor(np.asarray(total))


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor) -> None:
    """Scale every ``p.grad`` in place by min(1, max_norm / (total_norm + 1e-6))."""
    parameters = _as_list(parameters, "clip_grads_with_norm_")
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    total = total_norm.data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    coef = np.minimum(float(max_norm) / (total + 1e-6), 1.0)  # NaN stays NaN, as in PyTorch
    with no_grad():
        for g in grads:
            g.mul_(coef.astype(g.dtype))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Clip the gradient norm of `parameters` in place, as ``torch.nn.utils.clip_grad_norm_``.

    The norm is taken over all gradients together, as one vector; when it exceeds
    `max_norm` every gradient is scaled by max_norm / (total_norm + 1e-6).

    Args:
        parameters: a Tensor or an iterable of Tensors (e.g. ``model.parameters()``).
        max_norm (float): the largest norm allowed.
        norm_type (float): p of the p-norm; ``float('inf')`` for the max norm. Default: 2.0.
        error_if_nonfinite (bool): raise if the total norm is nan or inf. Default: False.

    Returns:
        The total norm of the gradients before clipping, as a 0-d Tensor.

    Example:
        >>> loss.backward()
        >>> nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        >>> optimizer.step()
    """
    parameters = _as_list(parameters, "clip_grad_norm_")
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient in place to [-clip_value, clip_value], as ``torch.nn.utils.clip_grad_value_``."""
    parameters = _as_list(parameters, "clip_grad_value_")
    clip_value = float(clip_value)
    with no_grad():
        for p in parameters:
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-d tensor (differentiable)."""
    parameters = _as_list(parameters, "parameters_to_vector")
    return F.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of the 1-d `vec` into `parameters` (the inverse of `parameters_to_vector`)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a cnnlab Tensor, but got {type(vec).__name__}")
    parameters = _as_list(parameters, "vector_to_parameters")
    total = sum(p.numel() for p in parameters)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: vec must be 1-d with {total} elements (the parameters' total), "
                         f"got shape {vec.shape}")
    offset = 0
    with no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(vec.data[offset:offset + n].reshape(p.shape).astype(p.dtype))
            offset += n
