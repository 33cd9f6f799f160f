"""explain.layer: one output element of a named layer of a model, checked against the layer's own output and a
naive sum; the errors name `layer` and `at`."""
import json

import numpy as np
import pytest

import cnnlab
from cnnlab import explain, nn
from cnnlab.viz import layer_outputs
from cnnlab.models import gapnet

from helpers import randomize


def _model():
    cnnlab.manual_seed(0)
    return randomize(nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1, stride=2), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
        nn.Conv2d(3, 4, 2, dilation=2, groups=1), nn.AvgPool2d(2, padding=1, count_include_pad=False),
        nn.AdaptiveAvgPool2d((2, 1)), nn.Flatten(), nn.Linear(8, 5), nn.Tanh(), nn.Softmax(dim=1)))


@pytest.fixture(scope="module")
def case():
    model = _model()
    image = np.random.default_rng(1).standard_normal((2, 15, 15)).astype(np.float32)
    return model, image, layer_outputs(model, image)


KINDS = {"0": "conv", "1": "batch_norm", "2": "pointwise", "3": "max_pool", "4": "conv", "5": "avg_pool",
         "6": "mean", "7": "flatten", "8": "linear", "9": "pointwise"}


@pytest.mark.parametrize("name", list(KINDS))
def test_every_element_of_every_kind_is_the_layers_own_output(case, name):
    model, image, outputs = case
    y = outputs[name]
    for at in np.ndindex(*y.shape):
        e = explain.layer(model, image, name, at)
        assert e.kind == KINDS[name] and e.at == at and e.output_shape == y.shape
        assert e.value == float(y[at]) and e.agrees, (name, at, e.formula)
        np.testing.assert_allclose(e.computed, y[at], rtol=1e-5, atol=1e-6)
        json.dumps(e.to_dict(), allow_nan=False)  # plain JSON: the -inf padding of max pooling is None


def test_conv_and_linear_terms_are_the_products_of_the_layers_input(case):
    model, image, outputs = case
    e = explain.layer(model, image, "4", (2, 1, 0))
    x_in = outputs["3"]
    naive = model[4].bias.data[2] + sum(x_in[t.channel, t.position[0], t.position[1]] * t.weight for t in e.element.terms)
    np.testing.assert_allclose(e.computed, naive, rtol=1e-5)
    assert [t.weight for t in e.element.terms] == model[4].weight.data[2].reshape(-1).tolist()
    lin = explain.layer(model, image, "8", (3,))
    np.testing.assert_allclose(lin.computed, outputs["7"] @ model[8].weight.data[3] + model[8].bias.data[3], rtol=1e-5)
    assert len(lin.terms) == 8 and lin.bias == pytest.approx(float(model[8].bias.data[3]))


def test_a_max_pool_explanation_names_the_winner_and_relu_the_value_before(case):
    model, image, outputs = case
    e = explain.layer(model, image, "3", (1, 1, 1))
    winner = e.element.winner
    assert outputs["2"][1][winner] == e.value == max(t.value for t in e.element.terms)
    r = explain.layer(model, image, "2", (0, 0, 0))
    assert r.terms[0].value == outputs["1"][0, 0, 0] and r.value == max(outputs["1"][0, 0, 0], 0)


def test_a_model_with_a_custom_forward_is_explained_too():
    model = randomize(gapnet(widths=(4,)))
    image = np.random.default_rng(0).standard_normal((1, 6, 6)).astype(np.float32)
    e = explain.layer(model, image, "gap", (3, 0, 0))
    assert e.kind == "mean" and len(e.terms) == 36 and e.agrees
    assert model.training  # the modes come back


@pytest.mark.parametrize("name, at, message", [
    ("9x", (0,), r"explain.layer: layer '9x' is not a layer of Sequential \(its layers: 0, 1, 2"),
    ("", (0,), r"layer '' is not a layer"),
    ("0", (0, 1), r"at must be \(channel, i, j\) for layer '0', whose output is \(3, 8, 8\), got \(0, 1\)"),
    ("0", (3, 0, 0), r"at \[3, 0, 0\] is outside the output \(3, 8, 8\) of layer '0'"),
    ("8", (True,), r"at must be 1 ints"),
    ("10", (0,), r"layer '10' is a Softmax, which has no explanation here"),
])
def test_errors_name_the_layer_or_the_position(case, name, at, message):
    model, image, _ = case
    with pytest.raises(ValueError, match=message):
        explain.layer(model, image, name, at)


def test_the_image_must_be_one_float_input(case):
    model, _, _ = case
    with pytest.raises(ValueError, match=r"image must be one floating-point input \(C, \*spatial\), got shape \(4,\)"):
        explain.layer(model, np.zeros(4, np.float32), "0", (0, 0, 0))
