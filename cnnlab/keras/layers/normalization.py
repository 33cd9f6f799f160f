"""Keras' BatchNormalization layer, with Keras 3's weights, defaults and moving-average rule.

Notation: x the input, `axis` the feature axis (C values), μ and σ² the batch mean and the
BIASED batch variance Σ(x − μ)²/m over every axis but `axis` (m values per feature), γ (gamma),
β (beta), ε (epsilon), and the momentum.

    training    y = γ·(x − μ)/√(σ² + ε) + β
                moving_mean     ← moving_mean·momentum     + μ·(1 − momentum)
                moving_variance ← moving_variance·momentum + σ²·(1 − momentum)
    inference   y = γ·(x − moving_mean)/√(moving_variance + ε) + β

Keras 3 (``keras/src/layers/normalization/batch_normalization.py``) takes μ and σ² from
``ops.moments``, whose variance is E[x²] − E[x]² (mean of squares minus squared mean) in every
backend: the biased variance, used BOTH to normalise and to update ``moving_variance``. PyTorch
instead puts the unbiased σ²·m/(m − 1) into its running_var (and its momentum is Keras'
1 − momentum), so ``F.batch_norm``'s running-stat update is not Keras'. This layer therefore
computes μ and σ² itself (two-pass, the same numbers as E[x²] − E[x]² up to rounding, without
its cancellation), updates the moving statistics under ``no_grad``, and normalises with cnnlab's
`BatchNorm` primitive (the op inside ``F.batch_norm``), whose backward includes the dependence
of μ and σ² on x in training, and treats the moving statistics as constants in inference.

Any `axis` works without moving data: an input (…pre…, C, …post…) is viewed as (Πpre, C, Πpost),
the (N, C, L) layout of the primitive.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from cnnlab.autograd import Tensor, no_grad
from cnnlab.keras import initializers
from cnnlab.keras.layers.base import InputSpec, Layer, check_bool
from cnnlab.nn import functional as F
from cnnlab.nn.functional._util import check_float
from cnnlab.nn.functional.normalization import BatchNorm

__all__ = ["BatchNormalization"]


class BatchNormalization(Layer):
    """Batch normalization, as ``keras.layers.BatchNormalization`` (Keras 3).

    Normalises each feature (each index along `axis`) with the batch's mean and biased variance
    while training, and with the moving averages at inference, then scales by gamma and shifts
    by beta (see the module docstring for the formulas, and why they differ from PyTorch's).

    Training mode follows the Module's mode (``layer.train()`` / ``layer.eval()``; a fresh layer,
    like every cnnlab Module, is in training mode), or the `training` argument of the call:
    ``layer(x, training=False)``. NOTE: Keras' own default for a direct call is inference
    (training=None counts as False outside ``fit``); call ``layer.eval()`` or pass
    ``training=False`` to get that. Every training call updates the moving statistics.

    Args:
        axis (int): the feature axis, e.g. -1 for channels_last images, 1 after a channels_first
            conv. Statistics are taken over all other axes. Default: -1.
        momentum (float): weight of the old value in the moving averages, in [0, 1]
            (PyTorch's momentum is 1 − this). Default: 0.99.
        epsilon (float): ε > 0 added to the variance. Default: 1e-3 (PyTorch's is 1e-5).
        center (bool): add beta. Default: True.
        scale (bool): multiply by gamma. Default: True.
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer:
            initializer names (``cnnlab.keras.initializers``) or callables.
            Default: 'zeros', 'ones', 'zeros', 'ones'.
        name (str), dtype: see `Layer`.

    Shape:
        - Input: any rank ≥ 1; C = input_shape[axis].
        - Output: the same shape.

    Attributes:
        gamma (Parameter or None): (C,), if scale.
        beta (Parameter or None): (C,), if center.
        moving_mean, moving_variance (buffers): (C,), non-trainable.
        ``get_weights()`` order: gamma, beta, moving_mean, moving_variance (Keras').

    Example:
        >>> bn = BatchNormalization()
        >>> y = bn(cnnlab.randn(16, 8, 8, 32))                      # training: batch statistics
        >>> [w.shape for w in bn.get_weights()]
        [(32,), (32,), (32,), (32,)]
        >>> bn.eval()(cnnlab.randn(1, 8, 8, 32)).shape             # inference: moving statistics
        (1, 8, 8, 32)
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        op = type(self).__name__
        if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{op}: `axis` must be an int (the feature axis). Received: axis={axis!r}")
        self.axis = int(axis)
        self.momentum = self._number(momentum, "momentum", lambda v: 0 <= v <= 1, "a number in [0, 1]")
        self.epsilon = self._number(epsilon, "epsilon", lambda v: v > 0, "a positive number")
        self.center = check_bool(center, "center", op)
        self.scale = check_bool(scale, "scale", op)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer
        for identifier in (beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer):
            initializers.get(identifier, op=op)                 # a bad name fails here, as in Keras

    def _number(self, value, name, ok, rule):
        op = type(self).__name__
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{op}: `{name}` must be {rule}. Received: {name}={value!r}")
        if not (math.isfinite(value) and ok(value)):
            raise ValueError(f"{op}: `{name}` must be {rule}. Received: {name}={value!r}")
        return float(value)                                     # a Python float never upcasts float32

    def _feature_axis(self, input_shape) -> int:
        """`axis` as a non-negative index into `input_shape`, checked."""
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"{type(self).__name__}: Invalid axis: {self.axis} for an input of rank {ndim} "
                             f"(shape {tuple(input_shape)}); `axis` must be in [-{ndim}, {ndim}).")
        return self.axis % ndim

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        channels = input_shape[self._feature_axis(input_shape)]
        if channels is None:
            raise ValueError(f"{type(self).__name__}: the size of the feature axis {self.axis} must be known to "
                             f"build the layer. Received: input_shape={input_shape}")
        shape = (int(channels),)
        for name, wanted, init in (("gamma", self.scale, self.gamma_initializer),
                                   ("beta", self.center, self.beta_initializer)):
            if wanted:
                self.add_weight(name, shape, init)
            else:
                self.register_parameter(name, None)
        self.add_weight("moving_mean", shape, self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", shape, self.moving_variance_initializer, trainable=False)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: int(channels)})
        super().build(input_shape)

    def forward(self, inputs, training=None):
        """Check the input's dtype (before the first call builds the weights), then `Layer.forward`."""
        x = inputs if isinstance(inputs, Tensor) else Tensor(np.asarray(inputs))
        check_float(x.data, type(self).__name__)
        return super().forward(x, training=training)

    def call(self, inputs, training=None):
        op = type(self).__name__
        training = self.training if training is None else check_bool(training, "training", op)
        a = self._feature_axis(inputs.shape)
        dt = inputs.dtype
        C = inputs.shape[a]
        x = F.reshape(inputs, (math.prod(inputs.shape[:a]), C, math.prod(inputs.shape[a + 1:])))  # (P, C, Q)
        gamma, beta = (None if w is None else (w if w.dtype == dt else F.cast(w, dt)) for w in (self.gamma, self.beta))
        if training:
            x3 = x.data
            m = x3.shape[0] * x3.shape[2]
            mean = x3.sum(axis=2).sum(axis=0) / m                              # (C,) μ
            d = x3 - mean[:, None]                                             # (P, C, Q)
            np.square(d, out=d)
            var = d.sum(axis=2).sum(axis=0) / m                                # (C,) biased σ², as keras ops.moments
            mom = self.momentum
            with no_grad():
                self.moving_mean.copy_(self.moving_mean.data.astype(dt) * mom + mean * (1.0 - mom))
                self.moving_variance.copy_(self.moving_variance.data.astype(dt) * mom + var * (1.0 - mom))
            y = BatchNorm.apply(x, gamma, beta, mean=mean, var=var, eps=self.epsilon, batch_stats=True)
        else:
            mean = self.moving_mean.data.astype(dt, copy=True)                 # copies: the backward keeps them
            var = self.moving_variance.data.astype(dt, copy=True)
            y = BatchNorm.apply(x, gamma, beta, mean=mean, var=var, eps=self.epsilon, batch_stats=False)
        return F.reshape(y, inputs.shape)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self._feature_axis(input_shape)
        if self.built:
            self.input_spec.check(input_shape, self)
        return input_shape

    def get_config(self):
        return {"name": self.name, "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale}
