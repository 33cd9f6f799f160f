"""Batch normalization layers: `BatchNorm1d`, `BatchNorm2d`, `BatchNorm3d` (one `BatchNormBase` base, which
`cnnlab.distributed.SyncBatchNorm` extends too)."""
from __future__ import annotations

import numpy as np

from cnnlab import arguments
from cnnlab.autograd import Tensor, no_grad
from cnnlab.nn import init
from cnnlab.nn.functional.normalization import batch_norm
from cnnlab.nn.modules._utils import float_dtype
from cnnlab.nn.modules.module import Module, same_shape
from cnnlab.nn.parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]


def _number(value, name, layer, allow_none=False):
    if allow_none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        kind = "a number or None" if allow_none else "a number"
        raise TypeError(f"{layer}: {name} must be {kind}, got {type(value).__name__} {value!r}")
    return value  # kept as given, so that the repr shows it as PyTorch's does


class BatchNormBase(Module):
    """What BatchNorm1d/2d/3d share; they differ only in the input ranks they accept."""

    _ranks: tuple = ()

    output_shape = same_shape

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=None, *, bias: bool = True):
        super().__init__()
        name = type(self).__name__
        self.num_features = arguments.positive_int(num_features, op=name, arg="num_features")
        self.eps = _number(eps, "eps", name)
        if self.eps < 0:
            raise ValueError(f"{name}: eps must be non-negative, got {eps}")
        self.momentum = _number(momentum, "momentum", name, allow_none=True)
        self.affine = arguments.boolean(affine, op=name, arg="affine")
        self.track_running_stats = arguments.boolean(track_running_stats, op=name, arg="track_running_stats")
        dt = float_dtype(dtype, name)
        if self.affine:
            self.weight = Parameter(np.empty(self.num_features, dtype=dt))
            if arguments.boolean(bias, op=name, arg="bias"):
                self.bias = Parameter(np.empty(self.num_features, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """running_mean ← 0, running_var ← 1, num_batches_tracked ← 0 (when tracked)."""
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics, and γ ← 1, β ← 0 (PyTorch's init)."""
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def momentum_factor(self) -> float:
        """The weight of a new training batch in the running estimates: momentum, or 1/n for the
        cumulative average (momentum=None), n counting this batch."""
        if self.momentum is None:
            return 1.0 / float(self.num_batches_tracked.item() + 1)
        return self.momentum

    def _check_input_dim(self, input) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}: input must be a Tensor, got {type(input).__name__}")
        if input.ndim not in self._ranks:
            expected = " or ".join(f"{r}D" for r in self._ranks)
            raise ValueError(f"{type(self).__name__}: expected {expected} input (got {input.ndim}D input)")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        # batch statistics in training, and in eval when there are no running statistics
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats  # buffers to read (eval) or update (training)
        running_mean, running_var = (self.running_mean, self.running_var) if track else (None, None)
        counting = self.training and self.track_running_stats
        factor = self.momentum_factor() if counting else 0.0
        y = batch_norm(input, running_mean, running_var, self.weight, self.bias, use_batch_stats, factor, self.eps)
        if counting:  # after batch_norm's checks: a bad batch does not count as tracked
            with no_grad():
                self.num_batches_tracked.add_(1)
        return y

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


_DOC = """Batch normalization over a {what} input, as ``torch.nn.{name}``.

    y = (x − E[x]) / √(Var[x] + ε) · γ + β, per channel c, where in training E and
    Var are the mean and the biased variance of channel c over {over}; the
    running estimates are updated with the unbiased variance:

        running ← (1 − momentum)·running + momentum·batch_statistic

    (momentum=None: a cumulative average, momentum = 1/num_batches_tracked). In
    eval mode the running estimates are used, unless track_running_stats=False:
    then the batch statistics are always used and nothing is tracked.

    Args:
        num_features (int): C, the number of channels.
        eps (float): ε added to the variance. Default: 1e-5.
        momentum (float or None): weight of the new batch in the running estimates. Default: 0.1.
        affine (bool): learn γ and β. Default: True.
        track_running_stats (bool): keep running_mean, running_var, num_batches_tracked. Default: True.
        dtype: dtype of the parameters and running statistics. Default: None (float32).
        bias (bool, keyword-only): learn β (with affine=True). Default: True.

    Shape:
        - Input: {shape}.
        - Output: the same shape.

    Attributes:
        weight (Parameter): γ, shape (C,), initialised to 1 (None if affine=False).
        bias (Parameter): β, shape (C,), initialised to 0.
        running_mean, running_var: buffers of shape (C,), initialised to 0 and 1.
        num_batches_tracked: int64 buffer, the number of training batches seen.

    Example:
        >>> m = nn.{name}(16)
        >>> m(cnnlab.randn({example})).shape
        {example_out}
    """


class BatchNorm1d(BatchNormBase):
    __doc__ = _DOC.format(what="2-d or 3-d", name="BatchNorm1d", over="N (and L)", shape="(N, C) or (N, C, L)",
                          example="8, 16, 10", example_out="(8, 16, 10)")
    _ranks = (2, 3)


class BatchNorm2d(BatchNormBase):
    __doc__ = _DOC.format(what="4-d", name="BatchNorm2d", over="N, H and W", shape="(N, C, H, W)",
                          example="8, 16, 5, 5", example_out="(8, 16, 5, 5)")
    _ranks = (4,)


class BatchNorm3d(BatchNormBase):
    __doc__ = _DOC.format(what="5-d", name="BatchNorm3d", over="N, D, H and W", shape="(N, C, D, H, W)",
                          example="2, 16, 3, 5, 5", example_out="(2, 16, 3, 5, 5)")
    _ranks = (5,)
