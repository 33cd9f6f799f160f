"""Keras' core layers: Dense, Flatten, Activation, Dropout.

    Dense        y = activation(x @ kernel + bias), kernel (in, units), on the last axis
    Flatten      (N, d1, ..., dk) -> (N, d1·...·dk); channels_first input is first moved to
                 channels_last, so that the features come out in Keras' order
    Activation   y = activation(x)
    Dropout      y = x·mask/(1 − rate) while training (mask ~ Bernoulli(1 − rate)), else x
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from cnnlab import backend
from cnnlab.keras.layers.base import (
    InputSpec, Layer, activation_name, check_bool, get_activation, standardize_data_format,
)
from cnnlab.nn import functional as F

__all__ = ["Dense", "Flatten", "Activation", "Dropout"]


class Dense(Layer):
    """A fully connected layer, as ``keras.layers.Dense``: y = activation(x @ kernel + bias).

    Applied to the last axis, so a (N, T, d) input gives (N, T, units).

    Args:
        units (int): output size.
        activation: a Keras name ('relu', 'sigmoid', 'softmax', ...: ``base.ACTIVATIONS``), None or a callable.
            Default: None.
        use_bias (bool): Default: True.
        kernel_initializer, bias_initializer: Default: 'glorot_uniform' and 'zeros'.
        name (str), dtype: see `Layer`.

    Shape:
        - Input: (N, ..., in) (at least 2 dims).
        - Output: (N, ..., units).

    Attributes:
        kernel (Parameter): (in, units) — the transpose of torch.nn.Linear's weight.
        bias (Parameter or None): (units,).

    Example:
        >>> layer = Dense(10, activation="softmax")
        >>> layer(cnnlab.randn(32, 784)).shape
        (32, 10)
        >>> [w.shape for w in layer.get_weights()]
        [(784, 10), (10,)]
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: Received an invalid value for `units`, expected a positive integer. "
                             f"Received: units={units!r}")
        self.units = int(units)
        self.activation = get_activation(activation, op="Dense")
        self.use_bias = check_bool(use_bias, "use_bias", "Dense")
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.input_spec = InputSpec(min_ndim=2)

    def build(self, input_shape):
        features = tuple(input_shape)[-1]
        self.add_weight("kernel", (features, self.units), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer)
        else:
            self.register_parameter("bias", None)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: features})
        super().build(input_shape)

    def call(self, inputs):
        y = F.matmul(inputs, self.kernel)                                   # (N, ..., units)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        InputSpec(min_ndim=2).check(input_shape, self)
        return input_shape[:-1] + (self.units,)

    def get_config(self):
        return {"name": self.name, "units": self.units, "activation": activation_name(self.activation),
                "use_bias": self.use_bias}


class Flatten(Layer):
    """Flatten all but the batch axis, as ``keras.layers.Flatten``.

    With ``data_format='channels_first'`` a (N, C, *spatial) input is first transposed to
    (N, *spatial, C), as Keras does, so a Dense layer after it sees the features in the same
    order for both data formats (and weights move between them unchanged).

    Args:
        data_format (str): 'channels_last' or 'channels_first'. Default: None ('channels_last').
        name (str): see `Layer`.

    Shape:
        (N, d1, ..., dk) -> (N, d1·...·dk); (N,) -> (N, 1).

    Example:
        >>> Flatten()(cnnlab.randn(8, 7, 7, 64)).shape
        (8, 3136)
    """

    def __init__(self, data_format=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.data_format = standardize_data_format(data_format, "Flatten")
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        x = inputs
        if self.data_format == "channels_first" and x.ndim > 2:
            x = F.permute(x, (0,) + tuple(range(2, x.ndim)) + (1,))         # (N, *spatial, C)
        return F.reshape(x, (x.shape[0], math.prod(x.shape[1:])))

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        InputSpec(min_ndim=1).check(input_shape, self)
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))

    def get_config(self):
        return {"name": self.name, "data_format": self.data_format}


class Activation(Layer):
    """Apply an activation function, as ``keras.layers.Activation``.

    Args:
        activation: a Keras name (``base.ACTIVATIONS``; 'softmax' is over the last axis), None or a callable.
        name (str): see `Layer`.

    Shape:
        output shape = input shape.
    """

    def __init__(self, activation, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.activation = get_activation(activation, op="Activation")

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {"name": self.name, "activation": activation_name(self.activation)}


class Dropout(Layer):
    """Randomly zero inputs while training and scale the rest by 1/(1 − rate), as ``keras.layers.Dropout``.

    Training follows the Module's mode (``layer.train()`` / ``layer.eval()``; a fresh layer is in
    training mode, as every cnnlab Module), or the `training` argument of the call, as in Keras:
    ``layer(x, training=False)``. Outside training the input itself is returned.

    Args:
        rate (float): fraction of the inputs to drop, in [0, 1].
        noise_shape (tuple or None): shape of the mask, broadcast over the input; None entries take
            the input's size, e.g. (None, 1, 1, None) drops whole channels of (N, H, W, C) input.
            Default: None (one mask value per element).
        seed (int or None): seed of a generator owned by this layer (reproducible masks); None draws
            from cnnlab's generator (``cnnlab.manual_seed``). Default: None.
        name (str): see `Layer`.

    Shape:
        output shape = input shape.
    """

    def __init__(self, rate, noise_shape=None, seed=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate <= 1:
            raise ValueError(f"Dropout: Invalid value received for argument `rate`. Expected a float value "
                             f"between 0 and 1. Received: rate={rate!r}")
        self.rate = float(rate)
        self.noise_shape = self._validate_noise_shape(noise_shape)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"Dropout: `seed` must be an int or None. Received: seed={seed!r}")
        self.seed = seed
        self._generator = None if seed is None else np.random.default_rng(int(seed))

    @staticmethod
    def _validate_noise_shape(noise_shape):
        if noise_shape is None:
            return None
        if isinstance(noise_shape, str) or not isinstance(noise_shape, (tuple, list)):
            raise ValueError(f"Dropout: Invalid value received for argument `noise_shape`. Expected a tuple or "
                             f"list of integers. Received: noise_shape={noise_shape!r}")
        for i, dim in enumerate(noise_shape):
            if dim is not None and (isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim <= 0):
                raise ValueError(f"Dropout: Invalid value received for argument `noise_shape`. Expected all "
                                 f"dimensions to be positive integers or None. Received element at index {i}: "
                                 f"{dim!r}")
        return tuple(noise_shape)

    def _concrete_noise_shape(self, shape):
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape):
            raise ValueError(f"Dropout: `noise_shape` {self.noise_shape} must have one entry per input dim; "
                             f"the input has shape {shape}")
        concrete = tuple(n if m is None else m for n, m in zip(shape, self.noise_shape))
        if any(m not in (1, n) for n, m in zip(shape, concrete)):
            raise ValueError(f"Dropout: `noise_shape` {self.noise_shape} does not broadcast to the input shape "
                             f"{shape} (each entry must be None, 1 or the input's size)")
        return concrete

    def call(self, inputs, training=None):
        training = self.training if training is None else check_bool(training, "training", "Dropout")
        if not training or self.rate == 0:
            return inputs
        if self.noise_shape is None and self._generator is None:
            return F.dropout(inputs, self.rate, True)
        shape = self._concrete_noise_shape(inputs.shape)
        dt = inputs.dtype
        gen = self._generator or backend.generator()
        keep = (gen.random(shape, dtype=np.float32) >= self.rate).astype(dt)      # 1 with probability 1 − rate
        keep *= dt.type(0) if self.rate == 1 else dt.type(1) / dt.type(1 - self.rate)
        return F.mul(inputs, keep)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {"name": self.name, "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}

