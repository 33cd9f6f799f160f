"""cnnlab.keras core layers (Dense, Flatten, Activation, Dropout), the Layer base and Sequential."""
from __future__ import annotations

import re

import numpy as np
import pytest

import cnnlab
from cnnlab.keras import Sequential
from cnnlab.keras.layers import base
from cnnlab.keras.layers.conv import Conv2D
from cnnlab.keras.layers.core import Activation, Dense, Dropout, Flatten

from helpers import gradcheck
from oracle import against_torch

RTOL, ATOL = 1e-10, 1e-12
TOL = dict(rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------ Dense
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5), (2, 1, 3, 5)])
@pytest.mark.parametrize("activation", [None, "relu", "sigmoid", "tanh", "softmax", "linear"])
def test_dense_against_torch(torch, shape, activation):
    rng = np.random.default_rng(len(shape))
    layer = Dense(3, activation=activation, dtype="float64")
    x = rng.standard_normal(shape)
    layer(cnnlab.Tensor(x))
    kernel, bias = rng.standard_normal((5, 3)), rng.standard_normal(3)
    layer.set_weights([kernel, bias])
    kr, br = (torch.tensor(a, requires_grad=True) for a in (kernel, bias))
    act = {None: lambda t: t, "linear": lambda t: t, "relu": torch.relu, "sigmoid": torch.sigmoid,
           "tanh": torch.tanh, "softmax": lambda t: torch.softmax(t, -1)}[activation]
    out, _ = against_torch(torch, layer, lambda xr: act(xr @ kr + br), [x], np.float64, tol=TOL,
                           params=[(layer.kernel, kr), (layer.bias, br)], seed=rng, require_grads=True)
    assert layer.compute_output_shape(shape) == out.shape == shape[:-1] + (3,)


def test_dense_weights_layout_gradcheck_and_errors():
    layer = Dense(4, use_bias=False, name="dense")
    assert layer.compute_output_shape((None, 7)) == (None, 4)
    layer(cnnlab.zeros(2, 7))
    assert [w.shape for w in layer.get_weights()] == [(7, 4)]        # (in, units): torch's weight transposed
    assert layer.kernel.dtype == np.float32 and layer.count_params() == 28
    with pytest.raises(ValueError, match=re.escape("Layer dense weight shape (7, 4) is not compatible with "
                                                   "provided weight shape (4, 7).")):
        layer.set_weights([np.zeros((4, 7))])
    with pytest.raises(ValueError, match=re.escape("expected axis -1 of input shape to have value 7, but received "
                                                   "input with shape (2, 6)")):
        layer(cnnlab.zeros(2, 6))
    with pytest.raises(ValueError, match=re.escape("Dense: Input 0 of layer 'dense' is incompatible with the layer: "
                                                   "expected min_ndim=2, found ndim=1. Full shape received: (7,)")):
        layer(cnnlab.zeros(7))
    with pytest.raises(ValueError, match=re.escape("Dense: Received an invalid value for `units`, expected a "
                                                   "positive integer. Received: units=0")):
        Dense(0)
    with pytest.raises(TypeError, match=re.escape("Dense: `use_bias` must be True or False. Received: use_bias=1")):
        Dense(3, use_bias=1)
    rng = np.random.default_rng(0)
    layer = Dense(3, activation="softmax", dtype="float64")
    layer.build((None, 4))
    layer.set_weights([rng.standard_normal((4, 3)), rng.standard_normal(3)])
    gradcheck(layer, rng.standard_normal((2, 4)))


# ------------------------------------------------------------------ Flatten, Activation
def test_flatten_data_formats():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    y = Flatten()(cnnlab.Tensor(x))
    np.testing.assert_array_equal(y.data, x.reshape(2, 60))
    # channels_first: (N, C, H, W) is moved to (N, H, W, C) first, as Keras does
    y = Flatten(data_format="channels_first")(cnnlab.Tensor(x))
    np.testing.assert_array_equal(y.data, x.transpose(0, 2, 3, 1).reshape(2, 60))
    assert Flatten(data_format="channels_first")(cnnlab.zeros(4, 3)).shape == (4, 3)
    assert Flatten()(cnnlab.zeros(4)).shape == (4, 1)
    assert Flatten().compute_output_shape((None, 7, 7, 64)) == (None, 3136)
    assert Flatten().compute_output_shape((None, None, 64)) == (None, None)
    assert Flatten().compute_output_shape((8,)) == (8, 1)
    xt = cnnlab.Tensor(x.copy(), requires_grad=True)
    out = Flatten(data_format="channels_first")(xt)
    g = np.random.default_rng(0).standard_normal(out.shape)
    out.backward(cnnlab.Tensor(g))
    np.testing.assert_array_equal(xt.grad.data, g.reshape(2, 4, 5, 3).transpose(0, 3, 1, 2))


def test_flatten_keeps_dense_weights_valid_across_data_formats():
    rng = np.random.default_rng(1)
    x_last = rng.standard_normal((2, 3, 3, 4))
    a = Sequential([Flatten(), Dense(2, dtype="float64")])
    b = Sequential([Flatten(data_format="channels_first"), Dense(2, dtype="float64")])
    a(cnnlab.Tensor(x_last))
    b(cnnlab.Tensor(x_last.transpose(0, 3, 1, 2)))
    b.set_weights(a.get_weights())
    np.testing.assert_allclose(a(cnnlab.Tensor(x_last)).data,
                               b(cnnlab.Tensor(x_last.transpose(0, 3, 1, 2))).data, rtol=RTOL)


def test_activation_layer():
    x = cnnlab.Tensor(np.array([[-1.0, 0.5, 2.0]]))
    np.testing.assert_allclose(Activation("relu")(x).data, [[0, 0.5, 2]])
    np.testing.assert_allclose(Activation("softmax")(x).data.sum(-1), [1.0])
    np.testing.assert_array_equal(Activation(None)(x).data, x.data)
    np.testing.assert_array_equal(Activation(lambda t: t * 2)(x).data, 2 * x.data)
    assert Activation("tanh").compute_output_shape((None, 3)) == (None, 3)
    with pytest.raises(ValueError, match="Activation: Could not interpret activation function identifier: 'foo'"):
        Activation("foo")
    assert set(base.ACTIVATIONS) >= {"relu", "sigmoid", "tanh", "softmax", "linear"}


@pytest.mark.parametrize("name", sorted(base.ACTIVATIONS))
def test_activation_names_with_keras_defaults(torch, name):
    """Each name against torch with Keras' defaults (leaky_relu slope 0.2, gelu exact, softmax on the last axis)."""
    tF = torch.nn.functional
    ref = {"linear": lambda t: t, "relu": torch.relu, "relu6": tF.relu6, "leaky_relu": lambda t: tF.leaky_relu(t, 0.2),
           "elu": tF.elu, "gelu": tF.gelu, "silu": tF.silu, "swish": tF.silu, "hard_silu": tF.hardswish,
           "hard_swish": tF.hardswish, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
           "softmax": lambda t: torch.softmax(t, -1), "log_softmax": lambda t: torch.log_softmax(t, -1)}[name]
    x = np.random.default_rng(0).uniform(-5, 5, size=(3, 4, 5))
    against_torch(torch, Activation(name), ref, [x], np.float64, tol=TOL, seed=1, require_grads=True)


# ------------------------------------------------------------------ Dropout
def test_dropout_training_and_inference():
    x = cnnlab.ones(200, 100)
    layer = Dropout(0.3)
    cnnlab.manual_seed(0)
    y = layer(x)                                                       # a fresh Module is in training mode
    values = np.unique(y.data)
    np.testing.assert_allclose(values, [0, 1 / 0.7], rtol=1e-6)
    assert abs((y.data == 0).mean() - 0.3) < 0.02 and y.dtype == np.float32
    assert layer(x, training=False) is x
    layer.eval()
    assert layer(x) is x
    assert np.any(layer(x, training=True).data == 0)                  # the call argument wins, as in Keras
    assert Dropout(0.0)(x) is x
    np.testing.assert_array_equal(Dropout(1.0, seed=1)(x).data, 0)
    np.testing.assert_array_equal(Dropout(1.0)(x).data, 0)
    assert layer.compute_output_shape((None, 5)) == (None, 5)


def test_dropout_noise_shape_seed_and_gradient():
    x = cnnlab.Tensor(np.ones((4, 5, 5, 8)), requires_grad=True)
    layer = Dropout(0.5, noise_shape=(None, 1, 1, None), seed=7)
    y = layer(x)
    per_channel = y.data.reshape(4, 25, 8)
    assert np.all(per_channel == per_channel[:, :1])                  # whole channels dropped together
    assert set(np.unique(y.data)) <= {0.0, 2.0} and y.dtype == np.float64
    y.backward(cnnlab.Tensor(np.ones(y.shape)))
    np.testing.assert_array_equal(x.grad.data, y.data)                 # d(x·mask/(1−p))/dx = mask/(1−p)
    a = Dropout(0.5, seed=3)(cnnlab.ones(10, 10)).data
    b = Dropout(0.5, seed=3)(cnnlab.ones(10, 10)).data
    np.testing.assert_array_equal(a, b)                                # same seed, same masks
    with pytest.raises(ValueError, match=re.escape("Dropout: Invalid value received for argument `rate`. Expected a "
                                                   "float value between 0 and 1. Received: rate=1.5")):
        Dropout(1.5)
    with pytest.raises(ValueError, match="Expected all dimensions to be positive integers or None. Received "
                                         "element at index 1: 0"):
        Dropout(0.5, noise_shape=(None, 0))
    with pytest.raises(ValueError, match="does not broadcast to the input shape"):
        Dropout(0.5, noise_shape=(2, 3))(cnnlab.ones(4, 3))
    with pytest.raises(TypeError, match="`training` must be True or False"):
        Dropout(0.5)(cnnlab.ones(2), training="yes")


# ------------------------------------------------------------------ Layer base and Sequential
def test_sequential_build_shapes_weights_and_state_dict():
    model = Sequential([Conv2D(8, 3, padding="same", activation="relu", name="conv"), Flatten(name="flat"),
                        Dense(10, name="out")], name="net")
    assert not model.built
    model.build((None, 28, 28, 1))                                     # from the shape alone
    assert all(layer.built for layer in model.layers)
    assert model.compute_output_shape((None, 28, 28, 1)) == (None, 10)
    assert [w.shape for w in model.get_weights()] == [(3, 3, 1, 8), (8,), (6272, 10), (10,)]
    assert model.count_params() == 80 + 62730
    assert list(model.state_dict()) == ["conv.kernel", "conv.bias", "out.kernel", "out.bias"]
    assert model(cnnlab.randn(2, 28, 28, 1)).shape == (2, 10)
    other = Sequential([Conv2D(8, 3, padding="same", activation="relu"), Flatten(), Dense(10)])
    other.build((None, 28, 28, 1))
    other.set_weights(model.get_weights())
    x = cnnlab.randn(2, 28, 28, 1)
    np.testing.assert_array_equal(other(x).data, model(x).data)
    with pytest.raises(ValueError, match="All layers added to a Sequential model should have unique names. Name "
                                         "'conv' is already the name of a layer in this model"):
        model.add(Conv2D(1, 1, name="conv"))
    with pytest.raises(TypeError, match="Only instances of `Layer`"):
        model.add("dense")


def test_sequential_trains_and_passes_training():
    cnnlab.manual_seed(0)
    model = Sequential([Dense(16, activation="tanh"), Dropout(0.5), Dense(1)])
    x, t = cnnlab.randn(64, 3), cnnlab.randn(64, 1)
    model.build((None, 3))                                             # the weights must exist before the optimizer
    opt = cnnlab.optim.Adam(model.parameters(), lr=0.01)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = ((model(x) - t) ** 2).mean()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    model.eval()
    assert ((model(x) - t) ** 2).mean().item() < first
    np.testing.assert_array_equal(model(x).data, model(x, training=False).data)
    model.train()
    a = model(x, training=False).data
    np.testing.assert_array_equal(a, model(x, training=False).data)   # no dropout when training=False


def test_layer_base_add_weight_buffers_and_dtype():
    class Scale(base.Layer):
        """A toy layer with a trainable and a non-trainable weight, as a BatchNormalization would have."""

        def build(self, input_shape):
            self.add_weight("gamma", (input_shape[-1],), "ones")
            self.add_weight("moving_mean", (input_shape[-1],), "zeros", trainable=False)
            super().build(input_shape)

        def call(self, x):
            return x * self.gamma + self.moving_mean

    layer = Scale()
    assert layer.name.startswith("scale")
    y = layer(cnnlab.zeros(2, 3, dtype=cnnlab.float64) + 1)            # weights take the input's dtype
    assert y.dtype == np.float64 and layer.gamma.dtype == np.float64
    assert [w.shape for w in layer.weights] == [(3,), (3,)]
    assert [type(w).__name__ for w in layer.trainable_weights] == ["Parameter"]
    assert len(layer.non_trainable_weights) == 1
    assert list(layer.state_dict()) == ["gamma", "moving_mean"]
    assert [n for n, _ in layer.named_parameters()] == ["gamma"]       # moving_mean is not optimised
    layer.set_weights([np.full(3, 2.0), np.full(3, 0.5)])
    np.testing.assert_array_equal(layer(cnnlab.ones(1, 3, dtype=cnnlab.float64)).data, [[2.5, 2.5, 2.5]])
    with pytest.raises(ValueError, match="You tried to call `count_params` on layer 'x', but the layer isn't built"):
        Scale(name="x").count_params()
    with pytest.raises(ValueError, match="`name` must be a non-empty string without '.'"):
        Scale(name="a.b")
    assert Dense(2, dtype="float64").build((None, 3)) is None
