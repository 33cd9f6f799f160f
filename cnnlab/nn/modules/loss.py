"""Loss layers, as ``torch.nn``: `CrossEntropyLoss`, `NLLLoss`, `MSELoss`, `L1Loss`, `SmoothL1Loss`,
`BCELoss`, `BCEWithLogitsLoss`. Each holds its settings (weights as buffers, as PyTorch, so they are
in ``state_dict()`` and move with ``.to()``) and calls its function in `nn.functional.loss`, where
the formulas are. ``loss_fn(input, target)`` returns the loss.

PyTorch's deprecated ``size_average`` and ``reduce`` arguments are not taken; the arguments after
the weight are keyword-only, so that a PyTorch-style positional call fails loudly instead of binding
the wrong argument. Their reprs are PyTorch's: ``CrossEntropyLoss()`` whatever the settings.
"""
from __future__ import annotations

import numbers

from cnnlab import arguments
from cnnlab.autograd import Tensor
from cnnlab.nn.functional import loss as L
from cnnlab.nn.modules.module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss"]


class _Loss(Module):
    """Base of the loss layers: validates and stores ``reduction``."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in L.REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {L.REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with an optional ``weight`` buffer."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _tensor_or_none(weight, "weight", type(self).__name__))


def _tensor_or_none(value, name: str, layer: str):
    if value is not None and not isinstance(value, Tensor):
        raise TypeError(f"{layer}: {name} must be a Tensor or None, got {type(value).__name__}")
    return value


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities, as ``torch.nn.NLLLoss``: ℓᵢ = −w[yᵢ]·xᵢ[yᵢ].

    Put a `LogSoftmax` in front of it (or use `CrossEntropyLoss` on raw scores).

    Args:
        weight (Tensor, optional): a rescaling weight per class, shape (C,). Default: None.
        ignore_index (int): a target value that contributes nothing. Default: -100.
        reduction (str): ``'none'`` | ``'mean'`` | ``'sum'``; 'mean' divides by Σ w[yᵢ] over the targets
            kept. Default: ``'mean'``.

    Shape:
        - Input: (N, C), (N, C, d₁, ...) or (C,), log-probabilities.
        - Target: (N,), (N, d₁, ...) or (), class indices in [0, C).
        - Output: () or, with reduction='none', the target's shape.

    Example:
        >>> loss = nn.NLLLoss()(nn.LogSoftmax(dim=1)(cnnlab.randn(3, 5)), cnnlab.tensor([1, 0, 4]))
    """

    def __init__(self, weight: Tensor | None = None, *, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(weight, reduction)
        self.ignore_index = arguments.integer(ignore_index, op="NLLLoss", arg="ignore_index")

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy between raw scores and class indices or class probabilities, as
    ``torch.nn.CrossEntropyLoss``.

    For class indices ℓᵢ = −w[yᵢ]·log softmax(xᵢ)[yᵢ]; for probabilities (a float target of the
    input's shape) ℓᵢ = −Σ_c w[c]·yᵢ[c]·log softmax(xᵢ)[c]. Label smoothing ε mixes the target with
    the uniform distribution: (1 − ε)·target + ε/C. See `cnnlab.nn.functional.cross_entropy` for how
    the weights, ignore_index and 'mean' combine (exactly as PyTorch).

    Args:
        weight (Tensor, optional): a rescaling weight per class, shape (C,). Default: None.
        ignore_index (int): a class-index target that is ignored. Default: -100.
        reduction (str): ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        label_smoothing (float): ε in [0, 1]. Default: 0.0.

    Shape:
        - Input: (N, C), (N, C, d₁, ...) or (C,), unnormalised scores.
        - Target: (N,), (N, d₁, ...) or () class indices in [0, C); or the input's shape, probabilities.
        - Output: () or, with reduction='none', (N,), (N, d₁, ...) or ().

    Example:
        >>> loss = nn.CrossEntropyLoss(label_smoothing=0.1)(cnnlab.randn(3, 5), cnnlab.tensor([1, 0, 4]))
    """

    def __init__(self, weight: Tensor | None = None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, reduction)
        self.ignore_index = arguments.integer(ignore_index, op="CrossEntropyLoss", arg="ignore_index")
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
            raise TypeError(f"CrossEntropyLoss: label_smoothing must be a float, got {type(label_smoothing).__name__}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class MSELoss(_Loss):
    """Mean squared error ℓ = (x − y)², as ``torch.nn.MSELoss``.

    Args:
        reduction (str): ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the same shape (a different one is a ValueError; PyTorch would broadcast).
        - Output: () or, with reduction='none', (*).

    Example:
        >>> nn.MSELoss()(cnnlab.tensor([1.0, 2.0]), cnnlab.tensor([1.0, 4.0]))
        tensor(2.)
    """

    def __init__(self, *, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ℓ = |x − y|, as ``torch.nn.L1Loss``.

    Args:
        reduction (str): ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the same shape (a different one is a ValueError).
        - Output: () or, with reduction='none', (*).

    Example:
        >>> nn.L1Loss()(cnnlab.tensor([1.0, 2.0]), cnnlab.tensor([1.0, 4.0]))
        tensor(1.)
    """

    def __init__(self, *, reduction: str = "mean"):
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Smooth L1 loss: ½(x − y)²/β if |x − y| < β else |x − y| − ½β, as ``torch.nn.SmoothL1Loss``.

    Args:
        reduction (str): ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        beta (float): where the loss turns from quadratic to linear; >= 0, and 0 gives L1Loss. Default: 1.0.

    Shape:
        - Input: (*), any shape.
        - Target: (*), the same shape (a different one is a ValueError).
        - Output: () or, with reduction='none', (*).

    Example:
        >>> nn.SmoothL1Loss(beta=0.5)(cnnlab.tensor([0.0, 0.0]), cnnlab.tensor([0.25, 2.0]))
        tensor(0.9062)
    """

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0):
        super().__init__(reduction)
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real):
            raise TypeError(f"SmoothL1Loss: beta must be a float, got {type(beta).__name__}")
        if not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities ℓ = −w·(y·log x + (1 − y)·log(1 − x)), as ``torch.nn.BCELoss``.

    The logs are clamped to >= −100, as PyTorch. On raw scores, `BCEWithLogitsLoss` is the stable choice.

    Args:
        weight (Tensor, optional): a rescaling weight that broadcasts to the input's shape. Default: None.
        reduction (str): ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape:
        - Input: (*), probabilities in [0, 1].
        - Target: (*), the same shape, values in [0, 1].
        - Output: () or, with reduction='none', (*).

    Example:
        >>> nn.BCELoss()(cnnlab.tensor([0.5]), cnnlab.tensor([1.0]))
        tensor(0.6931)
    """

    def __init__(self, weight: Tensor | None = None, *, reduction: str = "mean"):
        super().__init__(weight, reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid and binary cross-entropy in one numerically stable step, as ``torch.nn.BCEWithLogitsLoss``.

    ℓ = w·((1 − y)·x + (1 + (pw − 1)·y)·log(1 + e⁻ˣ)), computed without overflow for any logit.

    Args:
        weight (Tensor, optional): a rescaling weight that broadcasts to the input's shape. Default: None.
        reduction (str): ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        pos_weight (Tensor, optional): weight of the positive term, broadcast against the input
            (shape (C,) for an input (N, C)). Default: None.

    Shape:
        - Input: (*), raw scores.
        - Target: (*), the same shape.
        - Output: () or, with reduction='none', (*).

    Example:
        >>> nn.BCEWithLogitsLoss()(cnnlab.tensor([0.0]), cnnlab.tensor([1.0]))
        tensor(0.6931)
    """

    def __init__(self, weight: Tensor | None = None, *, reduction: str = "mean", pos_weight: Tensor | None = None):
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", _tensor_or_none(pos_weight, "pos_weight", "BCEWithLogitsLoss"))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return L.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
