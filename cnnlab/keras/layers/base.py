"""`Layer`: the base of cnnlab's Keras-style layers, and the argument rules they share.

A Keras layer differs from a PyTorch module in four ways, and this base provides each:

1. It is built lazily. ``Conv2D(8, 3)`` does not know its input channels; the first
   call runs ``build(input_shape)``, which creates the weights with ``add_weight``
   (and sets ``built``). ``layer.build(shape)`` may also be called by hand.
2. Weights are in Keras' layout and order: a conv kernel is (*kernel_size,
   in_channels/groups, filters) (HWIO), a Dense kernel (in, units), and
   ``get_weights()``/``set_weights()`` list trainable weights, then non-trainable
   ones (kernel, bias; gamma, beta, moving_mean, moving_variance). They are still
   cnnlab Parameters registered on the Module, so they train with ``cnnlab.optim``
   and appear in ``state_dict()`` under their Keras names (``kernel``, ``bias``).
3. Shapes are inferred apart from compute: ``compute_output_shape(input_shape)``
   works on tuples of ints (None for an unknown batch size), for summaries and
   receptive-field tools.
4. Images are channels_last by default: (N, *spatial, C). The functional ops are
   PyTorch's (N, C, *spatial), so a layer converts with `to_channels_first` /
   `to_data_format` (a `permute` each way) around the op.

Argument errors follow Keras' wording (the rule, then ``Received: ...``) prefixed with
the layer class, e.g. ``Conv2D: The `strides` argument must be a tuple of 2 positive
integers. Received: strides=(0, 1)``.

Padding rules shared by conv and pooling layers (TensorFlow's, for one spatial axis
of size n, kernel k, stride s, dilation d):

    'valid'   o = ⌊(n − d(k−1) − 1)/s⌋ + 1, no padding
    'same'    o = ⌈n/s⌉, total padding max((o−1)s + d(k−1) + 1 − n, 0), before = total // 2,
              the odd pixel at the end (``shapes.same_padding_tf``)
    'causal'  (Conv1D) o = ⌈n/s⌉, d(k−1) zeros before, none after
"""
from __future__ import annotations

import collections
import re

import numpy as np

from cnnlab import arguments, backend, shapes
from cnnlab.autograd import Tensor, no_grad
from cnnlab.keras import initializers
from cnnlab.nn import functional as F
from cnnlab.nn.modules._utils import float_dtype
from cnnlab.nn.modules.module import Module
from cnnlab.nn.parameter import Parameter

__all__ = ["Layer", "InputSpec", "ACTIVATIONS", "get_activation", "standardize_data_format",
           "standardize_tuple", "standardize_padding", "tf_output_size", "tf_padding", "pad_spatial",
           "check_bool", "check_positive_int"]


# ------------------------------------------------------------------ activations
def linear(x):
    """The identity: Keras' 'linear' activation (and what ``activation=None`` means)."""
    return x


def softmax(x):
    """Keras' softmax: over the last axis."""
    return F.softmax(x, -1)


def log_softmax(x):
    """Keras' log_softmax: over the last axis."""
    return F.log_softmax(x, -1)


def leaky_relu(x):
    """Keras' leaky_relu: negative slope 0.2 (PyTorch's default is 0.01)."""
    return F.leaky_relu(x, 0.2)


#: Keras activation names -> cnnlab functions with Keras' defaults (add more here as cnnlab gains them).
ACTIVATIONS = {
    "linear": linear,
    "relu": F.relu,
    "relu6": F.relu6,
    "leaky_relu": leaky_relu,
    "elu": F.elu,                   # alpha = 1
    "gelu": F.gelu,                 # exact (erf), Keras' approximate=False
    "silu": F.silu,
    "swish": F.silu,
    "hard_silu": F.hardswish,       # x·relu6(x + 3)/6
    "hard_swish": F.hardswish,
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
}


def get_activation(identifier, *, op="activations.get"):
    """A function Tensor -> Tensor from a Keras activation name, None ('linear') or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str) and identifier in ACTIVATIONS:
        return ACTIVATIONS[identifier]
    if callable(identifier) and not isinstance(identifier, str):
        return identifier
    raise ValueError(f"{op}: Could not interpret activation function identifier: {identifier!r} "
                     f"(known names: {', '.join(sorted(ACTIVATIONS))}, None, or a callable)")


def activation_name(fn):
    for name, f in ACTIVATIONS.items():
        if f is fn:
            return name
    return getattr(fn, "__name__", repr(fn))


# ------------------------------------------------------------------ argument rules
def check_positive_int(value, name, op, message=None):
    """`value` as an int > 0, or TypeError/ValueError in Keras' words."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: Invalid value for argument `{name}`. Expected a strictly positive integer. "
                        f"Received: {name}={value!r} ({type(value).__name__})")
    if value <= 0:
        raise ValueError(message or f"{op}: Invalid value for argument `{name}`. Expected a strictly positive "
                                    f"value. Received {name}={value}.")
    return int(value)


def check_bool(value, name, op):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: `{name}` must be True or False. Received: {name}={value!r}")
    return bool(value)


def standardize_tuple(value, n, name, op, allow_zero=False):
    """An int or n ints -> an n-tuple of ints, each > 0 (>= 0 with allow_zero), as Keras' helper.

    Example:
        >>> standardize_tuple(3, 2, "kernel_size", "Conv2D")
        (3, 3)
    """
    values = arguments.ntuple(value, n, op=op, arg=name)
    bad = sorted({v for v in values if (v < 0 if allow_zero else v <= 0)})
    if bad:
        rule = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{op}: The `{name}` argument must be a tuple of {n} {rule} integer{'s' * (n > 1)}. "
                         f"Received: {name}={value!r}")
    return values


def standardize_data_format(value, op):
    """None -> 'channels_last' (Keras' default image_data_format); else the lower-cased name, checked."""
    if value is None:
        return "channels_last"
    fmt = str(value).lower()
    if fmt not in ("channels_first", "channels_last"):
        raise ValueError(f"{op}: The `data_format` argument must be one of {{'channels_first', 'channels_last'}}. "
                         f"Received: data_format={value!r}")
    return fmt


def standardize_padding(value, op, allow_causal=False):
    """'valid' or 'same' (or 'causal' where allowed), case-insensitive, as Keras."""
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"{op}: The `padding` argument must be one of {allowed}. Received: padding={value!r}")
    return value.lower()


def tf_output_size(n, kernel_size, stride, dilation, padding, *, op, input_shape=None):
    """TensorFlow's output size along one axis for 'valid', 'same' or 'causal' (None stays None)."""
    if n is None:
        return None
    if padding in ("same", "causal"):
        return shapes.same_padding_tf(n, kernel_size, stride, dilation, op=op)[0]
    try:
        return shapes.valid_output_size_tf(n, kernel_size, stride, dilation, op=op)
    except ValueError:
        raise ValueError(f"{op}: Computed output size would be zero or negative. Received inputs "
                         f"shape={input_shape}, kernel_size={kernel_size}, dilation_rate={dilation}, "
                         f"strides={stride}, padding={padding} (a 'valid' window of d·(k−1)+1 = "
                         f"{dilation * (kernel_size - 1) + 1} must fit in the input size {n})") from None


def tf_padding(spatial, kernel_size, strides, dilation_rate, padding, *, op):
    """The explicit (before, after) zeros per spatial axis that make 'same'/'causal' a 'valid' op."""
    if padding == "valid":
        return [(0, 0)] * len(spatial)
    if padding == "causal":
        return [(d * (k - 1), 0) for k, d in zip(kernel_size, dilation_rate)]
    return [shapes.same_padding_tf(n, k, s, d, op=op)[1:]
            for n, k, s, d in zip(spatial, kernel_size, strides, dilation_rate)]


def pad_spatial(x, pads, value=None):
    """Pad the spatial axes of a channels_first tensor (N, C, *spatial) by (before, after) pairs.

    Pads with zeros, or with `value` (e.g. -inf for TF's 'same' max pooling); a negative
    amount crops instead (F.pad's rule); all-zero pads return `x` itself.
    """
    if not any(a or b for a, b in pads):
        return x
    return F.pad(x, tuple(v for pair in reversed(pads) for v in pair), value=value)  # F.pad: last axis first


# ------------------------------------------------------------------ input spec
class InputSpec:
    """What a layer accepts: a rank (ndim or min_ndim) and fixed sizes of some axes, as Keras' ``InputSpec``."""

    def __init__(self, ndim=None, min_ndim=None, axes=None):
        self.ndim, self.min_ndim, self.axes = ndim, min_ndim, dict(axes or {})

    def check(self, shape, layer):
        shape = tuple(shape)
        head = f"{type(layer).__name__}: Input 0 of layer '{layer.name}' is incompatible with the layer:"
        if self.ndim is not None and len(shape) != self.ndim:
            raise ValueError(f"{head} expected ndim={self.ndim}, found ndim={len(shape)}. "
                             f"Full shape received: {shape}")
        if self.min_ndim is not None and len(shape) < self.min_ndim:
            raise ValueError(f"{head} expected min_ndim={self.min_ndim}, found ndim={len(shape)}. "
                             f"Full shape received: {shape}")
        for axis, value in self.axes.items():
            if shape[axis] is not None and shape[axis] != value:
                raise ValueError(f"{head} expected axis {axis} of input shape to have value {value}, "
                                 f"but received input with shape {shape}")


_name_uids = collections.defaultdict(int)


def _auto_name(cls_name: str) -> str:
    """'Conv2DTranspose' -> 'conv2d_transpose', then 'conv2d_transpose_1', ... (Keras' naming)."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", cls_name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    uid = _name_uids[name]
    _name_uids[name] += 1
    return name if uid == 0 else f"{name}_{uid}"


# ------------------------------------------------------------------ Layer
class Layer(Module):
    """Base of the Keras-style layers: lazy build, Keras weight layout, shape inference, data formats.

    A subclass defines ``build(input_shape)`` (create weights with `add_weight`, then call
    ``super().build(input_shape)``), ``call(inputs)`` and ``compute_output_shape(input_shape)``.
    Calling the layer (``layer(x)``) checks `input_spec`, builds on the first call, and runs
    ``call``; it is a `Module`, so hooks, ``state_dict`` and ``parameters()`` work as usual.

    Args:
        name (str): the layer's name (used in messages and as its key in a Sequential).
            Default: Keras' automatic name, the snake_case class name with a counter
            ('conv2d', 'conv2d_1', ...).
        dtype: dtype of the weights. Default: None, which means the dtype of the first
            input (float inputs), or cnnlab's default dtype (float32) when built by hand.

    Attributes:
        built (bool): whether the weights exist.
        input_spec (InputSpec or None): the rank and axis sizes the layer accepts.
        weights: list of the weight tensors in Keras' order (trainable, then non-trainable).
    """

    def __init__(self, *, name=None, dtype=None):
        super().__init__()
        op = type(self).__name__
        if name is not None and (not isinstance(name, str) or not name or "." in name):
            raise ValueError(f"{op}: `name` must be a non-empty string without '.'. Received: name={name!r}")
        self.name = name if name is not None else _auto_name(op)
        self._dtype = None if dtype is None else float_dtype(dtype, op)
        self._weight_dtype = None
        self.built = False
        self.input_spec = None

    # ---------------------------------------------------------------- building
    def build(self, input_shape) -> None:
        """Create the weights for inputs of `input_shape`; subclasses call this at their end (sets ``built``)."""
        self.built = True

    def add_weight(self, name, shape, initializer="glorot_uniform", trainable=True, dtype=None) -> Tensor:
        """Create, initialise and register a weight, as Keras' ``Layer.add_weight``.

        A trainable weight becomes a Parameter (optimised, in ``parameters()``), a non-trainable
        one a buffer (e.g. a batch norm's moving mean); both are in ``state_dict()`` and in
        ``weights`` under `name`.

        Args:
            name (str): attribute and state_dict name ('kernel', 'bias', 'moving_mean', ...).
            shape (tuple): in Keras' layout.
            initializer: a name from ``cnnlab.keras.initializers`` or a callable fn(shape, dtype).
            trainable (bool): Parameter (True) or buffer (False).
            dtype: Default: the layer's weight dtype (see the class Args).
        """
        dtype = dtype or self._weight_dtype or self._dtype or backend.get_default_dtype()
        shape = tuple(int(n) for n in shape)
        values = initializers.get(initializer, op=type(self).__name__)(shape, dtype)
        values = np.asarray(values.data if isinstance(values, Tensor) else values, dtype=dtype)
        if values.shape != shape:
            raise ValueError(f"{type(self).__name__}: the initializer of weight '{name}' returned shape "
                             f"{values.shape}, expected {shape}")
        if trainable:
            setattr(self, name, Parameter(values))
        else:
            self.register_buffer(name, Tensor(values))
        return getattr(self, name)

    def _maybe_build(self, x: Tensor) -> None:
        if self.built:
            return
        self._weight_dtype = self._dtype or (x.dtype if x.dtype.kind == "f" else backend.get_default_dtype())
        self.build(tuple(x.shape))
        self.built = True

    # ---------------------------------------------------------------- calling
    def forward(self, inputs, *args, **kwargs):
        """Check the input, build on the first call, then run ``call`` (what ``layer(x)`` does)."""
        x = inputs if isinstance(inputs, Tensor) else Tensor(np.asarray(inputs))
        if self.input_spec is not None:
            self.input_spec.check(x.shape, self)
        if not self.built:
            self._maybe_build(x)
            if self.input_spec is not None:
                self.input_spec.check(x.shape, self)
        return self.call(x, *args, **kwargs)

    def call(self, inputs, *args, **kwargs):  # pragma: no cover - abstract
        """The computation on a built layer; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} does not define call()")

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (a tuple; None for unknown sizes), without computing."""
        raise NotImplementedError(f"{type(self).__name__} does not define compute_output_shape()")

    def output_shape(self, input_shape) -> tuple:
        """`compute_output_shape` as a tuple: the name `cnnlab.summary` reads on every layer (`Module.output_shape`)."""
        return tuple(self.compute_output_shape(tuple(input_shape)))

    # ---------------------------------------------------------------- weights
    @property
    def trainable_weights(self) -> list:
        """The Parameters of this layer and its sub-layers, in creation order."""
        return [w for w in self.weights if isinstance(w, Parameter)]

    @property
    def non_trainable_weights(self) -> list:
        """The buffers created with ``add_weight(trainable=False)``, in creation order."""
        return [w for w in self.weights if not isinstance(w, Parameter)]

    @property
    def weights(self) -> list:
        """Every weight in Keras' order: own trainable, own non-trainable, then each sub-layer's."""
        own = [p for p in self._parameters.values() if p is not None]
        own += [b for k, b in self._buffers.items() if b is not None and k not in self._non_persistent_buffers_set]
        for child in self._modules.values():
            if isinstance(child, Layer):
                own += child.weights
            elif child is not None:
                own += list(child.parameters()) + list(child.buffers())
        return own

    def get_weights(self) -> list:
        """Copies of the weights as NumPy arrays, in Keras' layout and order (kernel, then bias)."""
        return [np.array(w.data, copy=True) for w in self.weights]

    def set_weights(self, weights) -> None:
        """Copy a list of arrays (Keras' layout and order) into the weights; all are checked before any is copied."""
        layer_weights = self.weights
        if not isinstance(weights, (list, tuple)) or len(layer_weights) != len(weights):
            got = f"a weight list of length {len(weights)}" if isinstance(weights, (list, tuple)) \
                else f"a {type(weights).__name__}"
            raise ValueError(f"{type(self).__name__}: You called `set_weights(weights)` on layer '{self.name}' "
                             f"with {got}, but the layer was expecting {len(layer_weights)} weights"
                             + ("" if self.built else " (it is not built yet: call it once, or build(input_shape))"))
        arrays = [np.asarray(w.data if isinstance(w, Tensor) else w) for w in weights]
        for variable, value in zip(layer_weights, arrays):
            if variable.shape != value.shape:
                raise ValueError(f"Layer {self.name} weight shape {variable.shape} is not compatible with "
                                 f"provided weight shape {value.shape}.")
        with no_grad():
            for variable, value in zip(layer_weights, arrays):
                variable.copy_(value.astype(variable.dtype, copy=False))

    def count_params(self) -> int:
        """The number of scalars in the weights (the layer must be built)."""
        if not self.built:
            raise ValueError(f"{type(self).__name__}: You tried to call `count_params` on layer '{self.name}', "
                             "but the layer isn't built. You can build it manually via: `layer.build(input_shape)`.")
        return sum(int(w.data.size) for w in self.weights)

    # ---------------------------------------------------------------- data formats
    def to_channels_first(self, x: Tensor) -> Tensor:
        """(N, *spatial, C) -> (N, C, *spatial) for channels_last layers; channels_first input unchanged."""
        if getattr(self, "data_format", "channels_first") == "channels_first":
            return x
        D = x.ndim - 2
        return F.permute(x, (0, D + 1) + tuple(range(1, D + 1)))          # (N, C, *spatial)

    def to_data_format(self, y: Tensor) -> Tensor:
        """The inverse of `to_channels_first`: (N, C, *spatial) -> the layer's data format."""
        if getattr(self, "data_format", "channels_first") == "channels_first":
            return y
        D = y.ndim - 2
        return F.permute(y, (0,) + tuple(range(2, D + 2)) + (1,))         # (N, *spatial, C)

    def split_shape(self, input_shape):
        """(batch, spatial, channels) of an input shape in the layer's data format."""
        input_shape = tuple(input_shape)
        if self.data_format == "channels_first":
            return input_shape[0], input_shape[2:], input_shape[1]
        return input_shape[0], input_shape[1:-1], input_shape[-1]

    def join_shape(self, batch, spatial, channels):
        """The inverse of `split_shape`."""
        if self.data_format == "channels_first":
            return (batch, channels) + tuple(spatial)
        return (batch,) + tuple(spatial) + (channels,)

    # ---------------------------------------------------------------- printing
    def _get_name(self) -> str:
        return type(self).__name__

    def get_config(self) -> dict:
        """The constructor arguments (Keras' names), for printing and rebuilding."""
        return {"name": self.name}

    def extra_repr(self) -> str:
        config = {k: v for k, v in self.get_config().items() if k != "name"}
        items = [f"name={self.name!r}"] + [f"{k}={v!r}" for k, v in config.items()]
        return ", ".join(items) + f", built={self.built}"
