"""cnnlab.keras BatchNormalization: Keras 3's formulas, weights and moving-average rule.

Oracles (no TensorFlow here): a NumPy transcription of Keras 3's BatchNormalization.call
(``ops.moments`` = mean and E[x²] − E[x]², the biased variance; moving = moving·momentum +
batch·(1 − momentum) for both statistics); torch's autograd on the same formula for every
gradient; torch.nn.functional.batch_norm to pin where PyTorch differs (its running_var takes
the unbiased variance).
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import cnnlab
from cnnlab.keras.layers.normalization import BatchNormalization

from helpers import gradcheck, numerical_grads
from oracle import against_torch

RTOL, ATOL = 1e-10, 1e-12


class KerasBN:
    """Keras 3's BatchNormalization.call, line for line in NumPy (float64)."""

    def __init__(self, C, axis=-1, momentum=0.99, epsilon=1e-3, gamma=None, beta=None):
        self.axis, self.momentum, self.epsilon = axis, momentum, epsilon
        self.gamma, self.beta = gamma, beta
        self.moving_mean, self.moving_variance = np.zeros(C), np.ones(C)

    def _shape(self, x):
        shape = [1] * x.ndim
        shape[self.axis] = x.shape[self.axis]
        return shape

    def __call__(self, x, training):
        axes = tuple(i for i in range(x.ndim) if i != self.axis % x.ndim)
        if training:
            mean = np.mean(x, axis=axes)
            variance = np.mean(np.square(x), axis=axes) - np.square(mean)   # keras ops.moments
            self.moving_mean = self.moving_mean * self.momentum + mean * (1.0 - self.momentum)
            self.moving_variance = self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        r = self._shape(x)
        y = (x - mean.reshape(r)) / np.sqrt(variance.reshape(r) + self.epsilon)
        if self.gamma is not None:
            y = y * self.gamma.reshape(r)
        if self.beta is not None:
            y = y + self.beta.reshape(r)
        return y


def torch_bn(torch, x, gamma, beta, axis, epsilon, mean=None, var=None):
    """The same formula in torch; with mean/var None the batch statistics (differentiable) are used."""
    axes = tuple(i for i in range(x.dim()) if i != axis % x.dim())
    shape = [1] * x.dim()
    shape[axis] = x.shape[axis]
    if mean is None:
        mean, var = x.mean(dim=axes), x.var(dim=axes, unbiased=False)
    y = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + epsilon)
    if gamma is not None:
        y = y * gamma.reshape(shape)
    return y if beta is None else y + beta.reshape(shape)


# ------------------------------------------------------------------ training, inference and the moving statistics
@pytest.mark.parametrize("shape, axis", [((8, 5, 4, 3), -1), ((6, 3, 4, 5), 1), ((10, 4), -1), ((4, 3, 5), 2),
                                         ((3, 4, 2, 5, 2), -2), ((2, 6, 3), 0)])
def test_training_and_inference_match_keras_formulas(shape, axis):
    rng = np.random.default_rng(len(shape) + axis)
    C = shape[axis]
    layer = BatchNormalization(axis=axis, momentum=0.9, dtype="float64")
    ref = KerasBN(C, axis=axis, momentum=0.9)
    for step in range(4):                                              # several steps, shifting statistics
        x = rng.standard_normal(shape) * (1 + step) + step - 1
        y = layer(cnnlab.Tensor(x))
        np.testing.assert_allclose(y.data, ref(x, training=True), rtol=RTOL, atol=ATOL, err_msg=f"step {step}")
        np.testing.assert_allclose(layer.moving_mean.data, ref.moving_mean, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(layer.moving_variance.data, ref.moving_variance, rtol=RTOL, atol=ATOL)
    # set random gamma/beta and check both modes again
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    layer.set_weights([gamma, beta, ref.moving_mean, ref.moving_variance])
    ref.gamma, ref.beta = gamma, beta
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(layer(cnnlab.Tensor(x), training=False).data, ref(x, training=False),
                               rtol=RTOL, atol=ATOL)
    moving = [w.copy() for w in layer.get_weights()[2:]]
    layer.eval()
    np.testing.assert_allclose(layer(cnnlab.Tensor(x)).data, ref(x, training=False), rtol=RTOL, atol=ATOL)
    for a, b in zip(layer.get_weights()[2:], moving):                  # inference leaves the moving stats alone
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(layer(cnnlab.Tensor(x), training=True).data, ref(x, training=True),
                               rtol=RTOL, atol=ATOL)                   # training=True overrides eval()
    np.testing.assert_allclose(layer.moving_variance.data, ref.moving_variance, rtol=RTOL, atol=ATOL)
    assert layer.compute_output_shape(shape) == shape


def test_default_momentum_epsilon_and_moving_variance_is_biased(torch):
    # Keras: moving_variance takes the BIASED batch variance; PyTorch's running_var the unbiased one
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)) * 2 + 1                            # m = 4 values per feature
    layer = BatchNormalization(dtype="float64")
    assert (layer.momentum, layer.epsilon) == (0.99, 1e-3)
    y = layer(cnnlab.Tensor(x))
    biased = x.var(axis=0)
    np.testing.assert_allclose(layer.moving_mean.data, 0.01 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.moving_variance.data, 0.99 + 0.01 * biased, rtol=1e-12)
    rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    yt = torch.nn.functional.batch_norm(torch.tensor(x), rm, rv, training=True, momentum=1 - 0.99, eps=1e-3)
    np.testing.assert_allclose(y.data, yt.numpy(), rtol=RTOL, atol=ATOL)   # the normalisation itself agrees
    np.testing.assert_allclose(layer.moving_mean.data, rm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.99 + 0.01 * biased * 4 / 3, rtol=1e-12)  # torch: unbiased
    assert not np.allclose(layer.moving_variance.data, rv.numpy(), rtol=1e-6)


def test_training_follows_module_mode_and_call_argument():
    x = cnnlab.randn(8, 4)
    layer = BatchNormalization()
    assert layer.training                                              # a fresh Module trains
    layer(x)
    after_one = layer.moving_mean.data.copy()
    assert np.any(after_one != 0)
    layer(x, training=False)
    np.testing.assert_array_equal(layer.moving_mean.data, after_one)
    layer.eval()
    layer(x)
    np.testing.assert_array_equal(layer.moving_mean.data, after_one)
    layer(x, training=True)
    assert np.any(layer.moving_mean.data != after_one)


def test_one_value_per_feature_gives_beta_as_keras():
    # Keras normalises a (1, C) batch in training to x̂ = 0 (σ² = 0): the output is beta, no error, no NaN
    layer = BatchNormalization(dtype="float64")
    layer.build((1, 3))
    layer.set_weights([np.full(3, 2.0), np.array([0.5, -1.0, 3.0]), np.zeros(3), np.ones(3)])
    y = layer(cnnlab.Tensor(np.array([[7.0, -2.0, 0.25]])))
    np.testing.assert_array_equal(y.data, [[0.5, -1.0, 3.0]])


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("shape, axis, training", [((6, 4, 3, 3), -1, True), ((5, 3, 4, 2), 1, True),
                                                   ((7, 4), -1, False), ((3, 4, 5), 1, False), ((4, 2, 5), 0, True)])
@pytest.mark.parametrize("center, scale", [(True, True), (False, True), (True, False)])
def test_gradients_against_torch(torch, shape, axis, training, center, scale):
    rng = np.random.default_rng(3)
    C = shape[axis]
    layer = BatchNormalization(axis=axis, center=center, scale=scale, epsilon=1e-2, dtype="float64")
    layer.build(shape)
    weights = [rng.standard_normal(C) for _ in range(scale + center)]
    moving = [rng.standard_normal(C), rng.random(C) + 0.5]
    layer.set_weights(weights + moving)
    x = rng.standard_normal(shape)
    wr = [torch.tensor(w, requires_grad=True) for w in weights]
    gamma = wr[0] if scale else None
    beta = wr[-1] if center else None
    mean, var = (None, None) if training else (torch.tensor(moving[0]), torch.tensor(moving[1]))
    assert len(layer.trainable_weights) == len(wr)
    against_torch(torch, lambda xt: layer(xt, training=training),
                  lambda xr: torch_bn(torch, xr, gamma, beta, axis, 1e-2, mean, var), [x], np.float64,
                  tol=dict(rtol=RTOL, atol=ATOL), params=list(zip(layer.trainable_weights, wr)), seed=rng,
                  require_grads=True)
    assert all(w.grad is None for w in layer.non_trainable_weights)


def test_gradcheck_without_torch():
    """Central differences (float64) for x, gamma and beta, in training and in inference."""
    rng = np.random.default_rng(4)
    for axis, shape, training in ((-1, (4, 2, 3), True), (1, (3, 2, 2, 2), True), (1, (3, 2, 4), False)):
        C = shape[axis]
        layer = BatchNormalization(axis=axis, dtype="float64")
        layer.build(shape)
        layer.train(training)
        moving = [rng.standard_normal(C), rng.random(C) + 0.5]
        x, gamma, beta = rng.standard_normal(shape), rng.standard_normal(C), rng.standard_normal(C)

        def fn(xt, g, b):                                              # fresh moving stats on every evaluation
            layer.set_weights([g.data, b.data] + moving)
            return layer(xt)

        gradcheck(lambda xt: fn(xt, cnnlab.Tensor(gamma), cnnlab.Tensor(beta)), x)
        layer.set_weights([gamma, beta] + moving)
        layer.zero_grad()                                              # gradcheck's own backward reached them
        y = layer(cnnlab.Tensor(x))
        upstream = rng.standard_normal(shape)
        y.backward(cnnlab.Tensor(upstream))
        num_gamma, num_beta = numerical_grads(lambda g, b: fn(cnnlab.Tensor(x), g, b), [gamma.copy(), beta.copy()],
                                              upstream)
        np.testing.assert_allclose(layer.gamma.grad.data, num_gamma, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(layer.beta.grad.data, num_beta, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------ weights, dtypes, config
def test_weights_order_shapes_and_names():
    layer = BatchNormalization(axis=1)
    layer(cnnlab.randn(4, 6, 3, 3))
    assert [w.shape for w in layer.get_weights()] == [(6,)] * 4
    names = list(layer.state_dict())
    assert names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w is v for w, v in zip(layer.weights, [layer.gamma, layer.beta, layer.moving_mean,
                                                   layer.moving_variance])] == [True] * 4
    assert layer.trainable_weights == [layer.gamma, layer.beta]
    assert [id(p) for p in layer.parameters()] == [id(layer.gamma), id(layer.beta)]
    assert layer.count_params() == 24
    init = BatchNormalization()
    init.build((None, 2))
    for w, expected in zip(init.get_weights(), ([1, 1], [0, 0], [0, 0], [1, 1])):
        np.testing.assert_array_equal(w, expected)
    no_center = BatchNormalization(center=False)
    no_center.build((None, 5))
    assert no_center.beta is None and len(no_center.get_weights()) == 3
    no_scale = BatchNormalization(scale=False, center=False)
    no_scale.build((None, 5))
    assert no_scale.gamma is None and list(no_scale.state_dict()) == ["moving_mean", "moving_variance"]
    custom = BatchNormalization(gamma_initializer="zeros",
                                moving_variance_initializer=lambda s, d=None: np.full(s, 4.0))
    custom.build((2, 3))
    np.testing.assert_array_equal(custom.get_weights()[0], [0, 0, 0])
    np.testing.assert_array_equal(custom.get_weights()[3], [4, 4, 4])


def test_float32_stays_float32():
    layer = BatchNormalization()
    x = cnnlab.randn(8, 4, 4, 3)
    y = layer(x)
    assert y.dtype == np.float32 and all(w.dtype == np.float32 for w in layer.get_weights())
    ref = KerasBN(3, momentum=0.99)
    np.testing.assert_allclose(y.data, ref(x.data.astype(np.float64), True), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.data, ref.moving_variance, rtol=1e-6)
    assert layer(cnnlab.randn(2, 4, 4, 3), training=False).dtype == np.float32


def test_config_repr_name_and_sequential(torch):
    from cnnlab.keras import Sequential
    from cnnlab.keras.layers.conv import Conv2D

    layer = BatchNormalization(name="bn", momentum=0.9)
    assert repr(layer) == ("BatchNormalization(name='bn', axis=-1, momentum=0.9, epsilon=0.001, center=True, "
                           "scale=True, built=False)")
    assert re.fullmatch(r"batch_normalization(_\d+)?", BatchNormalization().name)
    import cnnlab.keras.layers as L
    assert L.BatchNormalization is BatchNormalization
    model = Sequential([Conv2D(4, 3, data_format="channels_first"), BatchNormalization(axis=1)])
    model.build((None, 2, 6, 6))
    assert model.compute_output_shape((None, 2, 6, 6)) == (None, 4, 4, 4)
    x = cnnlab.randn(3, 2, 6, 6)
    before = model.get_weights()[-2].copy()
    model(x, training=False)                                           # Sequential passes training on
    np.testing.assert_array_equal(model.get_weights()[-2], before)
    model(x)
    assert np.any(model.get_weights()[-2] != before)


# ------------------------------------------------------------------ errors
def test_error_messages():
    with pytest.raises(TypeError, match=re.escape("BatchNormalization: `axis` must be an int (the feature axis). "
                                                  "Received: axis=(1, 2)")):
        BatchNormalization(axis=(1, 2))
    with pytest.raises(ValueError, match=re.escape("BatchNormalization: `momentum` must be a number in [0, 1]. "
                                                   "Received: momentum=1.5")):
        BatchNormalization(momentum=1.5)
    with pytest.raises(TypeError, match=re.escape("`momentum` must be a number in [0, 1]. Received: momentum='0.9'")):
        BatchNormalization(momentum="0.9")
    with pytest.raises(ValueError, match=re.escape("BatchNormalization: `epsilon` must be a positive number. "
                                                   "Received: epsilon=0")):
        BatchNormalization(epsilon=0)
    with pytest.raises(TypeError, match=re.escape("BatchNormalization: `center` must be True or False. "
                                                  "Received: center=1")):
        BatchNormalization(center=1)
    with pytest.raises(ValueError, match="BatchNormalization: Could not interpret initializer identifier: 'one'"):
        BatchNormalization(gamma_initializer="one")
    with pytest.raises(ValueError, match=re.escape("BatchNormalization: Invalid axis: 3 for an input of rank 2 "
                                                   "(shape (4, 5)); `axis` must be in [-2, 2).")):
        BatchNormalization(axis=3)(cnnlab.zeros(4, 5))
    with pytest.raises(ValueError, match="Invalid axis: -4 for an input of rank 3"):
        BatchNormalization(axis=-4).compute_output_shape((None, 2, 3))
    with pytest.raises(ValueError, match=re.escape("the size of the feature axis -1 must be known")):
        BatchNormalization().build((None, None))
    layer = BatchNormalization(name="bn")
    layer(cnnlab.zeros(2, 4, 4, 3))
    with pytest.raises(ValueError, match=re.escape("BatchNormalization: Input 0 of layer 'bn' is incompatible with "
                                                   "the layer: expected axis -1 of input shape to have value 3, but "
                                                   "received input with shape (2, 4, 4, 5)")):
        layer(cnnlab.zeros(2, 4, 4, 5))
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=3"):
        layer(cnnlab.zeros(2, 4, 3))
    with pytest.raises(TypeError, match="BatchNormalization: `training` must be True or False. Received: training=1"):
        layer(cnnlab.zeros(2, 4, 4, 3), training=1)
    fresh = BatchNormalization()
    with pytest.raises(TypeError, match="BatchNormalization: expected a floating point tensor, got dtype int64"):
        fresh(cnnlab.Tensor(np.zeros((2, 3), dtype=np.int64)))
    assert not fresh.built                                             # failed before building any weight


def test_docstring_examples():
    import doctest

    import cnnlab.keras.layers.normalization as N

    failed, attempted = doctest.testmod(N, extraglobs={"cnnlab": cnnlab})
    assert attempted > 0 and failed == 0
