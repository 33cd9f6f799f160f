"""cnnlab: a convolutional neural network system you can read from end to end.

Tensors with reverse-mode autograd on NumPy, and PyTorch's names, defaults,
shapes and numbers. The public names mirror ``torch``: `cnnlab.tensor`,
`cnnlab.Tensor`, `cnnlab.no_grad`, `cnnlab.manual_seed`, `cnnlab.nn`,
`cnnlab.nn.functional`, `cnnlab.optim`, `cnnlab.save`, `cnnlab.load`, `cnnlab.summary`.
"""
from cnnlab.backend import get_default_dtype, manual_seed, set_default_dtype
from cnnlab import runtime, tuning
from cnnlab.runtime import get_num_threads, set_num_threads
from cnnlab.autograd import Function, Tensor, enable_grad, is_grad_enabled, no_grad
from cnnlab.creation import (
    arange, bool, empty, float16, float32, float64, from_numpy, full, int8, int16, int32, int64, linspace, ones,
    ones_like, rand, randint, randn, randperm, tensor, uint8, zeros, zeros_like,
)
from cnnlab import nn  # noqa: E402
from cnnlab.io import load, save  # noqa: E402
from cnnlab import optim  # noqa: E402
from cnnlab import keras  # noqa: E402  (Keras/TensorFlow conventions: cnnlab.keras.layers)
from cnnlab.tools.summary import Summary, receptive_field, summary  # noqa: E402  (cnnlab.summary is the function)
from cnnlab.nn.functional import (  # the tensor math of `torch.*`
    abs, add, amax, amin, argmax, argmin, cat, chunk, clamp, clone, div, exp, flatten, log, log_softmax, matmul,
    max, maximum, mean, min, minimum, mul, neg, permute, pow, relu, reshape, sigmoid, softmax, split, sqrt,
    squeeze, stack, std, sub, sum, tanh, transpose, unsqueeze, var, where,
)

__version__ = "0.1.0"
