"""cnnlab.summary and cnnlab.receptive_field: parameters and shapes against the zoo's torch twins, MACs
against the closed form and torch.utils.flop_counter, receptive fields against published values and
against the gradient's support (which input pixels an output unit depends on)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from zoo_twins import (torch_alexnet, torch_alexnet_2012, torch_espcn, torch_forward, torch_gapnet, torch_lenet,
                       torch_resnet, torch_resnet_cifar, torch_srcnn, torch_vgg)

import cnnlab
from cnnlab import keras, models, nn
from cnnlab.models.vgg import CONFIGS
from cnnlab.tools.summary import Region, Summary, receptive_field, summary

ZOO = {  # name -> (ours, torch twin, input size): small inputs, the parameters do not depend on them
    "lenet5": (lambda: models.lenet5(), lambda t: torch_lenet(t, t.nn.ReLU, t.nn.MaxPool2d), (2, 1, 28, 28)),
    "lenet5-classic": (lambda: models.lenet5("classic"), lambda t: torch_lenet(t, t.nn.Tanh, t.nn.AvgPool2d),
                       (1, 1, 28, 28)),
    "alexnet": (lambda: models.alexnet(), torch_alexnet, (1, 3, 64, 64)),
    "alexnet-2012": (lambda: models.alexnet("2012"), torch_alexnet_2012, (1, 3, 227, 227)),
    "gapnet": (lambda: models.gapnet(), torch_gapnet, (2, 1, 28, 28)),
    "resnet18": (lambda: models.resnet18(), lambda t: torch_resnet(t, [2, 2, 2, 2]), (1, 3, 32, 32)),
    "resnet34": (lambda: models.resnet34(), lambda t: torch_resnet(t, [3, 4, 6, 3]), (1, 3, 32, 32)),
    "resnet_cifar": (lambda: models.resnet_cifar(20), lambda t: torch_resnet_cifar(t, 20), (1, 3, 32, 32)),
    "srcnn": (lambda: models.srcnn(scale=3), lambda t: torch_srcnn(t, 3), (1, 1, 16, 16)),
    "espcn": (lambda: models.espcn(), lambda t: torch_espcn(t, 2), (1, 1, 16, 16)),
    **{f"vgg{d}{'_bn' * bn}": (lambda d=d, bn=bn: getattr(models, f"vgg{d}")(batch_norm=bn),
                               lambda t, d=d, bn=bn: torch_vgg(t, CONFIGS[d], bn), (1, 3, 32, 32))
       for d in (11, 13, 16, 19) for bn in (False, True)},
}


def torch_calls(torch, twin, input_size):
    """name -> [(output shape, parameters)] of each call of each leaf module of the twin."""
    calls = {}

    def hook(name):
        def record(module, args, output):
            calls.setdefault(name, []).append((tuple(output.shape), sum(p.numel() for p in module.parameters())))
        return record

    for name, module in twin.named_modules():
        if not list(module.children()):
            module.register_forward_hook(hook(name))
    twin.eval()
    with torch.no_grad():
        torch_forward(torch, twin, torch.zeros(input_size))
    return calls


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_parameters_and_output_shapes_equal_torch(torch, name):
    ours, twin, size = ZOO[name]
    theirs = twin(torch)
    s = summary(ours(), size)
    expected = torch_calls(torch, theirs, size)
    got = {}
    for row in s.rows:
        got.setdefault(row["name"], []).append((row["output_shape"], row["params"]))
    assert got == expected
    assert s.total_params == sum(p.numel() for p in theirs.parameters()) == sum(r["params"] for r in s.rows)
    assert s.trainable_params == s.total_params


def closed_form_macs(row, module):
    N, out = row["output_shape"][0], row["output_shape"]
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return N * module.out_channels * (module.in_channels // module.groups) * math.prod(module.kernel_size) * \
            math.prod(out[2:])
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        return N * module.in_channels * (module.out_channels // module.groups) * math.prod(module.kernel_size) * \
            math.prod(row["input_shape"][2:])
    if isinstance(module, nn.Linear):
        return math.prod(out[:-1]) * module.in_features * module.out_features
    return 0


@pytest.mark.parametrize("name", ["alexnet-2012", "resnet18", "gapnet", "vgg11_bn"])
def test_macs_equal_the_closed_form_per_layer(name):
    model = ZOO[name][0]()
    s = summary(model, ZOO[name][2])
    for row, call in zip(s.rows, s.calls):
        assert row["macs"] == closed_form_macs(row, call.module), row["name"]
        assert row["flops"] == 2 * row["macs"]
    assert s.total_macs == sum(r["macs"] for r in s.rows) and s.total_flops == 2 * s.total_macs
    assert any(r["macs"] for r in s.rows)


def test_alexnet_conv1_at_227_is_105415200_macs():
    s = summary(models.alexnet("2012"), (1, 3, 227, 227))
    assert s.rows[0]["name"] == "features.0" and s.rows[0]["output_shape"] == (1, 96, 55, 55)
    assert s.rows[0]["macs"] == 105_415_200 and s.rows[0]["flops"] == 210_830_400
    assert s.method == "forward pass"


@pytest.mark.parametrize("ours,build,size", [
    (lambda: nn.Conv2d(4, 6, (3, 5), stride=2, padding=(1, 2), dilation=(2, 1), groups=2),
     lambda t: t.nn.Conv2d(4, 6, (3, 5), stride=2, padding=(1, 2), dilation=(2, 1), groups=2), (2, 4, 11, 13)),
    (lambda: nn.Conv1d(3, 8, 5, padding="same"), lambda t: t.nn.Conv1d(3, 8, 5, padding="same"), (2, 3, 17)),
    (lambda: nn.Conv3d(2, 4, 3, stride=(1, 2, 2)), lambda t: t.nn.Conv3d(2, 4, 3, stride=(1, 2, 2)), (1, 2, 6, 7, 8)),
    (lambda: nn.ConvTranspose2d(6, 4, 4, stride=2, padding=1, groups=2),
     lambda t: t.nn.ConvTranspose2d(6, 4, 4, stride=2, padding=1, groups=2), (2, 6, 5, 7)),
    (lambda: nn.Linear(20, 7), lambda t: t.nn.Linear(20, 7), (3, 5, 20)),
])
def test_macs_equal_torch_flop_counter(torch, ours, build, size):
    from torch.utils.flop_counter import FlopCounterMode

    layer = build(torch)
    with FlopCounterMode(display=False) as counter:
        out = layer(torch.zeros(size))
    row = summary(nn.Sequential(ours()), size).rows[0]
    assert row["macs"] == counter.get_total_flops() // 2 > 0
    assert row["output_shape"] == tuple(out.shape)


def test_the_lectures_conv_locally_connected_and_dense_layer():
    """55×55×3 -> 55×55×96 with 11×11 filters, padding 5: 34,944 shared, 105,705,600 unshared, 2,635,670,400 dense."""
    row = summary(nn.Sequential(nn.Conv2d(3, 96, 11, padding=5)), (1, 3, 55, 55)).rows[0]
    assert row["output_shape"] == (1, 96, 55, 55)
    assert (row["params"], row["unshared_params"], row["dense_params"]) == (34_944, 105_705_600, 2_635_670_400)
    no_bias = summary(nn.Sequential(nn.Conv2d(3, 96, 11, padding=5, bias=False)), (1, 3, 55, 55)).rows[0]
    assert no_bias["unshared_params"] == 363 * 96 * 55 * 55 and no_bias["dense_params"] == 9075 * 290_400
    assert summary(nn.Sequential(nn.ReLU()), (1, 3, 5, 5)).rows[0]["dense_params"] is None


def test_vgg16_pool5_matches_the_published_receptive_field():
    """google-research/receptive_field's table: vgg_16 212, effective stride 32, effective padding 90."""
    s = summary(models.vgg16(), (1, 3, 32, 32))
    pool5 = next(r for r in s.rows if r["name"] == "features.30")
    assert pool5["layer_type"] == "MaxPool2d"
    assert (pool5["receptive_field"], pool5["effective_stride"], pool5["effective_padding"]) == \
           ((212, 212), (32, 32), (90, 90))


def test_lenet5_receptive_fields_after_c1_s2_c3_s4():
    s = summary(models.lenet5(), (1, 1, 28, 28))
    assert s.method == "shape inference"
    assert [s.rows[i]["receptive_field"] for i in (0, 2, 3, 5)] == [(5, 5), (6, 6), (14, 14), (16, 16)]
    assert [s.rows[i]["effective_stride"] for i in (0, 2, 3, 5)] == [(1, 1), (2, 2), (2, 2), (4, 4)]
    assert s.rows[6]["receptive_field"] is None   # after Flatten a unit sees the whole input


def test_dilation_and_per_axis_windows():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, dilation=(1, 2), padding=(1, 2)), nn.Conv2d(2, 2, 3, dilation=4,
                                                                                       padding=4))
    rows = summary(net, (1, 1, 20, 20)).rows
    assert rows[0]["receptive_field"] == (3, 5) and rows[0]["padding_per_side"] == ((1, 1), (2, 2))
    assert rows[1]["receptive_field"] == (11, 13) and rows[1]["effective_padding"] == (5, 6)
    assert rows[1]["dilation"] == (4, 4)


def test_ceil_mode_pooling_runs_past_the_input_and_is_clipped():
    net = nn.Sequential(nn.MaxPool2d(2, ceil_mode=True))
    s = summary(net, (1, 1, 5, 5))
    assert s.rows[0]["output_shape"] == (1, 1, 3, 3) and s.rows[0]["receptive_field"] == (2, 2)
    r = receptive_field(net, (1, 1, 5, 5), (0, 2, 1))
    assert isinstance(r, Region) and r.layer is None
    assert (r.start, r.end, r.clipped_start, r.clipped_end) == ((4, 2), (5, 3), (4, 2), (4, 3))
    assert r.slices == (slice(4, 5), slice(2, 4))


def test_one_and_three_dimensional_stacks():
    net1 = nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.MaxPool1d(3, 2, 1), nn.Conv1d(4, 4, 3, dilation=2),
                         nn.AvgPool1d(2))
    rows = summary(net1, (2, 1, 40)).rows
    assert [r["receptive_field"] for r in rows] == [(5,), (7,), (15,), (17,)]
    assert rows[-1]["output_shape"] == (2, 4, 8) and rows[-1]["effective_stride"] == (4,)
    net3 = nn.Sequential(nn.Conv3d(1, 2, (3, 1, 5), padding=(1, 0, 2)), nn.MaxPool3d((1, 2, 2)))
    rows = summary(net3, (1, 1, 4, 8, 8)).rows
    assert rows[1]["receptive_field"] == (3, 2, 6) and rows[1]["effective_stride"] == (1, 2, 2)
    assert rows[1]["effective_padding"] == (1, 0, 2) and rows[1]["output_shape"] == (1, 2, 4, 4, 4)


def test_transposed_conv_follows_the_zero_inserted_rule():
    net = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1))
    s = summary(net, (1, 1, 8, 8))
    assert s.rows[1]["output_shape"] == (1, 1, 8, 8)
    assert (s.rows[1]["receptive_field"], s.rows[1]["effective_stride"], s.rows[1]["effective_padding"]) == \
           ((6, 6), (1, 1), (3, 3))
    half = summary(nn.Sequential(nn.ConvTranspose1d(1, 1, 3, stride=2)), (1, 1, 5)).rows[0]
    assert half["effective_stride"] == (cnnlab.shapes.Fraction(1, 2),) and half["receptive_field"] == (2,)


def gradient_support(model, input_size, layer, unit):
    """(first, last) input pixel per axis with a non-zero gradient of one unit of `layer`'s output."""
    got = {}
    module = model.get_submodule(layer)
    handle = module.register_forward_hook(lambda m, args, out: got.setdefault("out", out))
    x = cnnlab.ones(*input_size, dtype=cnnlab.float64).requires_grad_()
    model(x)
    handle.remove()
    out = got["out"]
    upstream = np.zeros(out.shape)
    upstream[(0,) + tuple(unit)] = 1.0
    out.backward(cnnlab.tensor(upstream))
    nonzero = np.nonzero(np.abs(x.grad.data[0]).sum(axis=0))
    return tuple(int(a.min()) for a in nonzero), tuple(int(a.max()) for a in nonzero)


def positive(model):
    """All weights positive, BN the identity: on an input of ones every unit depends on its whole region."""
    model.double().eval()
    rng = np.random.default_rng(0)
    with cnnlab.no_grad():
        for name, p in model.named_parameters():
            p.copy_(rng.uniform(0.5, 1.0, p.shape) / p[0].numel() if p.ndim > 1 else np.ones(p.shape))
    return model


@pytest.mark.parametrize("layer,unit", [("layer1.0.conv2", (0, 0, 0)), ("layer2.0.bn2", (3, 5, 2)),
                                        ("layer3.0.conv2", (1, 3, 3)), ("layer3.0.conv1", (0, 7, 0))])
def test_resnet_receptive_fields_through_the_graph_equal_the_gradients_support(layer, unit):
    model = positive(models.resnet_cifar(8))
    r = receptive_field(model, (1, 3, 32, 32), unit, layer=layer)
    assert (r.clipped_start, r.clipped_end) == gradient_support(model, (1, 3, 32, 32), layer, unit)
    assert r.notes == ()


def test_resnet18_receptive_field_and_the_last_block():
    s = summary(models.resnet18(), (1, 3, 32, 32))
    last = next(r for r in s.rows if r["name"] == "layer4.1.bn2")
    assert (last["receptive_field"], last["effective_stride"], last["effective_padding"]) == \
           ((435, 435), (32, 32), (217, 217))
    down = next(r for r in s.rows if r["name"] == "layer2.0.downsample.0")
    assert down["receptive_field"] == (43, 43) and down["effective_stride"] == (8, 8)
    assert s.notes == []


def test_lenet5_classic_regions_equal_the_gradients_support():
    model = positive(models.lenet5("classic"))
    for layer, unit in (("0", (0, 0, 27)), ("2", (5, 6, 3)), ("3", (0, 4, 9)), ("5", (15, 4, 0))):
        r = receptive_field(model, (1, 1, 28, 28), unit, layer=layer)
        assert (r.clipped_start, r.clipped_end) == gradient_support(model, (1, 1, 28, 28), layer, unit)


class TwoPaths(nn.Module):
    """A 3×3 conv beside a 2×2 'same' conv (padding 0 before, 1 after): their centers differ by half a pixel."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 2, padding="same")
        self.c = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        return self.c(self.a(x) + self.b(x))


def test_misaligned_paths_get_a_note_and_the_field_that_covers_both():
    s = summary(TwoPaths(), (1, 1, 8, 8))
    assert s.rows[-1]["receptive_field"] == (3, 3) and s.rows[-1]["effective_padding"] == (1, 1)
    assert len(s.notes) == 1 and "misaligned paths meet in Add before 'c'" in s.notes[0]
    assert "Note: misaligned paths" in str(s)


class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3)

    def forward(self, x):
        return self.conv(self.conv(x))


def test_a_layer_used_twice_has_a_row_per_call_and_its_parameters_once():
    s = summary(Twice(), (1, 2, 9, 9))
    assert [r["name"] for r in s.rows] == ["conv", "conv"]
    assert [r["params"] for r in s.rows] == [38, 0] and s.total_params == 38
    assert [r["receptive_field"] for r in s.rows] == [(3, 3), (5, 5)]
    relu = nn.ReLU()
    seq = summary(nn.Sequential(nn.Conv2d(1, 2, 3), relu, nn.Conv2d(2, 2, 3), relu), (1, 1, 8, 8))
    assert [r["name"] for r in seq.rows] == ["0", "1", "2", "3"] and seq.total_params == 20 + 38


def test_keras_sequential_by_shape_inference():
    model = keras.Sequential([keras.layers.Conv2D(8, 3, padding="same"), keras.layers.MaxPooling2D(),
                              keras.layers.Conv2D(4, 2, strides=2, padding="same"), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    s = summary(model, (2, 28, 28, 1))
    assert s.method == "shape inference" and model.built
    assert [r["output_shape"] for r in s.rows] == [(2, 28, 28, 8), (2, 14, 14, 8), (2, 7, 7, 4), (2, 196), (2, 10)]
    assert s.total_params == model.count_params() == 80 + 132 + 1970
    assert [r["receptive_field"] for r in s.rows[:3]] == [(3, 3), (4, 4), (6, 6)]
    assert s.rows[0]["macs"] == 2 * 28 * 28 * 8 * 9 and s.rows[4]["macs"] == 2 * 196 * 10
    assert s.rows[2]["padding_per_side"] == ((0, 0), (0, 0)) and s.rows[0]["padding"] == "same"


def test_adaptive_pooling_of_uneven_bins_has_no_field():
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.AdaptiveAvgPool2d(4))
    s = summary(net, (1, 1, 11, 11))
    assert s.rows[1]["output_shape"] == (1, 1, 4, 4) and s.rows[1]["receptive_field"] is None
    assert "windows of different sizes" in s.notes[0]
    with pytest.raises(ValueError, match=r"receptive_field: the receptive field of the model's output is not "
                                         r"defined: '1' \(AdaptiveAvgPool2d\): adaptive pooling"):
        receptive_field(net, (1, 1, 11, 11), (0, 0, 0))
    even = summary(nn.Sequential(nn.AdaptiveMaxPool2d((2, 4))), (1, 1, 8, 8)).rows[0]
    assert even["receptive_field"] == (4, 2) and even["effective_stride"] == (4, 2)


def test_table_footer_totals_memory_and_json():
    s = summary(models.lenet5(), (4, 1, 28, 28))
    text = str(s)
    assert all(len(line) <= 120 for line in text.splitlines())
    assert "Total params: 61,706" in text and "Total MACs: 1,666,080" in text and "FLOPs: 3,332,160" in text
    assert "FLOPs = 2·MACs" in text and "Araujo" in text and "(batch of 4)" in text
    assert s.total_macs == 4 * 416_520 and s.param_bytes == 4 * 61_706 and s.input_bytes == 4 * 784 * 4
    assert s.activation_bytes == 4 * sum(math.prod(r["output_shape"]) for r in s.rows)
    d = json.loads(json.dumps(s.to_dict()))
    assert d["total_params"] == 61_706 and d["rows"][0]["output_shape"] == [4, 6, 28, 28]
    assert d["rows"][0]["padding_per_side"] == [[2, 2], [2, 2]] and d["rows"][0]["kernel_size"] == [5, 5]
    assert isinstance(s, Summary) and "Summary(12 rows, total_params=61,706" in repr(s)
    wide = summary(models.lenet5(), (1, 1, 28, 28), dtype=cnnlab.float64)
    assert wide.activation_bytes == 2 * s.activation_bytes // 4 and wide.dtype == np.float64
    assert cnnlab.summary is summary and cnnlab.Summary is Summary and cnnlab.receptive_field is receptive_field


def test_summary_leaves_the_modes_as_they_were():
    model = models.resnet_cifar(8)
    model.layer1.eval()
    summary(model, (1, 3, 16, 16))
    assert model.training and not model.layer1.training and model.layer2.training


@pytest.mark.parametrize("args,error,message", [
    ((models.lenet5(), (1, 28, 28, 1)), ValueError, r"summary: input_size \(1, 28, 28, 1\) does not fit layer '0': "
                                                    r"Conv2d: input shape \(1, 28, 28, 1\) has 28 channels"),
    ((models.lenet5(), (1,)), ValueError, r"summary: input_size must be a tuple \(N, C, \*spatial\) of at least 2"),
    ((models.lenet5(), "1 1 28 28"), ValueError, "summary: input_size must be a tuple"),
    ((models.lenet5(), (1, 1, 0, 28)), ValueError, "summary: input_size must be positive, got input_size=0"),
    ((models.lenet5(), (1, 1, 28.0, 28)), TypeError, "summary: input_size must be an int"),
    ((models.resnet18(), (1, 1, 8, 8)), ValueError, r"summary: input_size \(1, 1, 8, 8\) does not fit the model: "),
    (("lenet5", (1, 1, 28, 28)), TypeError, "summary: model must be a cnnlab nn.Module, got str"),
])
def test_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        summary(*args)


def test_bad_dtype():
    with pytest.raises(TypeError, match="summary: dtype must be a floating point dtype such as cnnlab.float32, "
                                        "got 'int64'"):
        summary(models.lenet5(), (1, 1, 28, 28), dtype="int64")


@pytest.mark.parametrize("unit,layer,message", [
    ((0, 0, 0), "conv9", r"receptive_field: no layer named 'conv9'; the layers are 0, 1, 2"),
    ((0, 0), "3", r"receptive_field: unit must be \(channel, \*position\) with 3 ints for layer '3' of shape "
                  r"\(1, 16, 10, 10\), got \(0, 0\)"),
    ((0, 10, 0), "3", r"receptive_field: unit \(0, 10, 0\) is outside layer '3', whose \(channels, \*positions\) "
                      r"are \(16, 10, 10\)"),
    ((16, 0, 0), "3", r"unit \(16, 0, 0\) is outside"),
    ((0,), None, r"receptive_field: the model's output has no spatial axes \(its shape is \(1, 10\)\)"),
    ((0,), "7", r"layer '7' has no spatial axes"),
])
def test_receptive_field_bad_units_and_layers(unit, layer, message):
    with pytest.raises(ValueError, match=message):
        receptive_field(models.lenet5(), (1, 1, 28, 28), unit, layer=layer)


def test_receptive_field_layer_must_be_a_name():
    with pytest.raises(TypeError, match="receptive_field: layer must be a layer's name"):
        receptive_field(models.lenet5(), (1, 1, 28, 28), (0, 0, 0), layer=3)
    with pytest.raises(TypeError, match="receptive_field: unit must be an int"):
        receptive_field(models.lenet5(), (1, 1, 28, 28), (0, 0.5, 0), layer="3")


def test_receptive_field_of_vgg16_units():
    features = models.vgg16().features   # a Sequential: by shape inference, nothing is computed
    r = receptive_field(features, (1, 3, 224, 224), (0, 6, 0), layer="30")
    assert (r.start, r.end) == ((102, -90), (313, 121))
    assert (r.clipped_start, r.clipped_end) == ((102, 0), (223, 121))


def test_docstring_examples():
    import doctest

    import cnnlab.tools.summary as module

    result = doctest.testmod(module, extraglobs={"cnnlab": cnnlab}, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 6 and result.failed == 0
