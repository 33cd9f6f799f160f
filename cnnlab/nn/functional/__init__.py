"""The ops of cnnlab, as ``torch.nn.functional`` (and the tensor math of ``torch``).

One family per file: `elementwise`, `reduction`, `shape`, `linear`, `loss`. Each
primitive is a `cnnlab.autograd.Function`; everything else is composed.
Importing this package also puts the Tensor's operators and methods (``x + y``,
``x.sum()``, ...) on `cnnlab.Tensor`: the table in `tensor_methods`.
"""
from cnnlab.nn.functional.elementwise import (
    abs, add, cast, clamp, clone, div, exp, log, maximum, minimum, mul, neg, pow, relu, sigmoid, sqrt, sub,
    tanh, where,
)
from cnnlab.nn.functional.adaptive_pooling import (
    adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d, adaptive_max_pool1d, adaptive_max_pool2d,
    adaptive_max_pool3d, global_avg_pool, global_max_pool,
)
from cnnlab.nn.functional.activation import elu, gelu, hardswish, leaky_relu, relu6, silu
from cnnlab.nn.functional.conv import (
    conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
)
from cnnlab.nn.functional.deform_conv import deform_conv2d
from cnnlab.nn.functional.dice import dice_loss, one_hot
from cnnlab.nn.functional.dropout import alpha_dropout, dropout, dropout1d, dropout2d, dropout3d
from cnnlab.nn.functional.linear import linear, matmul
from cnnlab.nn.functional.loss import (
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, l1_loss, mse_loss, nll_loss, smooth_l1_loss,
)
from cnnlab.nn.functional.normalization import batch_norm, group_norm, layer_norm, local_response_norm
from cnnlab.nn.functional.padding import pad
from cnnlab.nn.functional.interpolation import interpolate, pixel_shuffle, pixel_unshuffle, upsample
from cnnlab.nn.functional.pooling import (
    avg_pool1d, avg_pool2d, avg_pool3d, lp_pool1d, lp_pool2d, lp_pool3d, max_pool1d, max_pool2d, max_pool3d,
)
from cnnlab.nn.functional.unpooling import max_unpool1d, max_unpool2d, max_unpool3d
from cnnlab.nn.functional.reduction import (
    amax, amin, argmax, argmin, log_softmax, max, mean, min, softmax, std, sum, var,
)
from cnnlab.nn.functional.shape import (
    cat, chunk, expand, flatten, getitem, permute, reshape, split, squeeze, stack, transpose, unsqueeze,
)
from cnnlab.nn.functional import tensor_methods

tensor_methods.install()  # the Tensor's operators and methods: x + y, x.sum(), x.reshape(...), ...
