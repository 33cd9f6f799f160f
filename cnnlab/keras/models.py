"""`Sequential`: a stack of Keras-style layers, as ``keras.Sequential``.

The layers are children of the Module under their Keras names, so ``state_dict()``
keys read ``conv2d.kernel``, ``dense.bias``; ``get_weights()`` lists every layer's
weights in order, in Keras' layout.
"""
from __future__ import annotations

import inspect

import numpy as np

from cnnlab.autograd import Tensor
from cnnlab.keras.layers.base import Layer
from cnnlab.nn.modules.module import Module

__all__ = ["Sequential"]


def _accepts_training(layer) -> bool:
    call = getattr(layer, "call", None)
    return call is not None and "training" in inspect.signature(call).parameters


class Sequential(Layer):
    """Layers applied one after the other, as ``keras.Sequential``.

    Args:
        layers (list): Keras-style layers (or any cnnlab Module, which then can't take part in
            shape inference). Default: None (empty; use `add`).
        name (str): Default: 'sequential', 'sequential_1', ...

    The layers are built on the first call (or by ``build(input_shape)``); build before
    giving ``model.parameters()`` to an optimizer, since an unbuilt model has none.

    Example:
        >>> model = Sequential([Conv2D(8, 3, padding="same", activation="relu"), Flatten(), Dense(10)])
        >>> model.build((None, 28, 28, 1))                    # weights from the shape alone
        >>> model.compute_output_shape((None, 28, 28, 1))
        (None, 10)
        >>> model.count_params()
        62810
    """

    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        for layer in layers or ():
            self.add(layer)

    @property
    def layers(self) -> list:
        """The layers, in order."""
        return list(self._modules.values())

    def add(self, layer) -> None:
        """Append a layer; names must be unique within the model (they key the state_dict)."""
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential: Only instances of `Layer` (or cnnlab Modules) can be added to a "
                            f"Sequential model. Received: {layer!r} (of type {type(layer).__name__})")
        key = layer.name if isinstance(layer, Layer) else str(len(self._modules))
        if key in self._modules:
            raise ValueError(f"Sequential: All layers added to a Sequential model should have unique names. "
                             f"Name '{key}' is already the name of a layer in this model. Update the `name` "
                             "argument to pass a unique name.")
        self.add_module(key, layer)
        self.built = False

    def build(self, input_shape=None) -> None:
        """Build every layer from `input_shape` alone (shape inference, no compute)."""
        shape = tuple(input_shape)
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: cannot build {type(layer).__name__} from a shape (it is not a "
                                "Keras-style Layer); call the model on an input instead")
            if not layer.built:
                if layer.input_spec is not None:
                    layer.input_spec.check(shape, layer)
                layer.build(shape)
                layer.built = True
            shape = layer.compute_output_shape(shape)
        super().build(input_shape)

    def forward(self, inputs, training=None):
        x = inputs if isinstance(inputs, Tensor) else Tensor(np.asarray(inputs))
        for layer in self.layers:
            x = layer(x, training=training) if training is not None and _accepts_training(layer) else layer(x)
        self.built = True
        return x

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: {type(layer).__name__} has no compute_output_shape (it is not a "
                                "Keras-style Layer)")
            shape = layer.compute_output_shape(shape)
        return shape

    def extra_repr(self) -> str:
        return f"name={self.name!r}, built={self.built}"
