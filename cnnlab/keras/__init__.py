"""cnnlab.keras: Keras/TensorFlow conventions on cnnlab's ops, as ``keras`` 3.

Layers have Keras' names, arguments and defaults (``Conv2D(filters, kernel_size,
strides=1, padding='valid', data_format='channels_last', ...)``), are built lazily
from the first input, keep their weights in Keras' layout (conv kernels
(*kernel_size, in, filters)), so ``get_weights``/``set_weights`` exchange arrays with
Keras, and follow TensorFlow's 'same' padding for any stride. Underneath they are
cnnlab Modules: they train with ``cnnlab.optim`` and save with ``cnnlab.save``.

Example:
    >>> from cnnlab import keras
    >>> model = keras.Sequential([
    ...     keras.layers.Conv2D(32, 3, activation="relu"),
    ...     keras.layers.Flatten(),
    ...     keras.layers.Dense(10, activation="softmax"),
    ... ])
    >>> model(cnnlab.randn(4, 28, 28, 1)).shape
    (4, 10)
"""
from cnnlab.keras import initializers, layers
from cnnlab.keras.models import Sequential

__all__ = ["initializers", "layers", "Sequential"]
