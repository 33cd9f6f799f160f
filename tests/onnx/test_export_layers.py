"""Each layer exported by cnnlab.onnx.export (the writers of cnnlab/onnx/export_layers.py) and run by
onnxruntime, the oracle, against cnnlab's own output; and the layers ONNX cannot express, refused by name."""
import math

import numpy as np
import pytest

import cnnlab
import cnnlab.onnx
from cnnlab import nn
from cnnlab.onnx.export_layers import LAYERS
from cnnlab.onnx.export_ops import ExportError

from helpers import Lambda, random_inputs, randomize
from oracle import against_onnxruntime

pytestmark = pytest.mark.usefixtures("onnx")   # every test here needs the onnx package (skipped only outside CI)


def check(onnxruntime, tmp_path, model, *shape, opset=17, seed=0, tol=None):
    """Export `model` and run it in onnxruntime at batch 2 and batch 1; returns the ModelProto."""
    return against_onnxruntime(onnxruntime, model, random_inputs(*shape, seed=seed), tmp_path / "m.onnx", opset=opset,
                               tol=tol)


def _ops(proto):
    return [n.op_type for n in proto.graph.node]


# ---------------------------------------------------------------- convolution
@pytest.mark.parametrize("layer, shape", [
    (nn.Conv1d(3, 4, 3), (2, 3, 11)),
    (nn.Conv1d(4, 6, 4, stride=2, padding=3, dilation=2, groups=2, bias=False), (2, 4, 17)),
    (nn.Conv2d(3, 6, (3, 5), stride=(2, 1), padding=(1, 2)), (2, 3, 9, 10)),
    (nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=4), (2, 4, 8, 8)),       # depthwise, dilated
    (nn.Conv2d(3, 4, 4, padding="same"), (2, 3, 7, 8)),                        # asymmetric: 1 before, 2 after
    (nn.Conv2d(3, 4, (2, 5), padding="same", dilation=(3, 1)), (2, 3, 9, 9)),
    (nn.Conv2d(3, 4, 3, padding="valid"), (2, 3, 6, 6)),
    (nn.Conv3d(2, 4, (3, 2, 3), stride=(1, 2, 1), padding=(1, 0, 1)), (2, 2, 5, 6, 5)),
])
def test_conv(onnxruntime, tmp_path, layer, shape):
    proto = check(onnxruntime, tmp_path, randomize(layer), *shape)
    assert _ops(proto) == ["Conv", "Identity"]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("opset", [17, 19])
def test_conv_padding_modes(onnxruntime, tmp_path, mode, opset):
    layer = randomize(nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode))
    proto = check(onnxruntime, tmp_path, layer, 2, 2, 6, 7, opset=opset)
    assert _ops(proto)[-2:] == ["Conv", "Identity"]
    gathers = mode == "circular" and opset < 19   # no 'wrap' mode before opset 19
    assert ("Gather" in _ops(proto)) == gathers and ("Pad" in _ops(proto)) == (not gathers)


@pytest.mark.parametrize("layer, shape", [
    (nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1, output_padding=1), (2, 3, 7)),
    (nn.ConvTranspose2d(4, 6, (3, 4), stride=(2, 3), padding=(1, 2), output_padding=(1, 2), groups=2,
                        dilation=(1, 2)), (2, 4, 5, 6)),
    (nn.ConvTranspose2d(2, 3, 3, bias=False), (2, 2, 4, 4)),
    (nn.ConvTranspose3d(2, 2, 2, stride=2, output_padding=1, dilation=2), (2, 2, 3, 3, 3)),
])
def test_conv_transpose(onnxruntime, tmp_path, layer, shape):
    proto = check(onnxruntime, tmp_path, randomize(layer), *shape)
    assert _ops(proto) == ["ConvTranspose", "Identity"]


def test_conv_transpose_output_size(onnxruntime, tmp_path):
    """forward(x, output_size=...) picks the output_padding: read off the traced output."""
    model = Lambda(lambda self, x: self.layers[0](x, output_size=(10, 11)), nn.ConvTranspose2d(2, 3, 3, stride=2))
    check(onnxruntime, tmp_path, randomize(model), 2, 2, 4, 5)


@pytest.mark.parametrize("modulated", [False, True])
def test_deform_conv(onnxruntime, tmp_path, modulated):
    layer = randomize(nn.DeformConv2d(4, 6, 3, stride=(1, 2), padding=1, dilation=(2, 1), groups=2,
                                       offset_groups=2, modulated=modulated))
    proto = check(onnxruntime, tmp_path, layer, 2, 4, 7, 8, opset=19)
    assert "DeformConv" in _ops(proto)
    assert {"weight", "bias", "conv_offset.weight", "conv_offset.bias"} <= {i.name for i in proto.graph.initializer}


def test_deform_conv_needs_opset_19(tmp_path):
    with pytest.raises(ExportError, match=r"export: DeformConv2d cannot be exported to ONNX: ONNX's DeformConv needs "
                                          r"opset 19 or later, got opset=17"):
        cnnlab.onnx.export(nn.DeformConv2d(2, 2, 3), cnnlab.randn(1, 2, 5, 5), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("layer, shape, op", [
    (nn.Linear(5, 3), (2, 5), "Gemm"),
    (nn.Linear(5, 3, bias=False), (2, 5), "Gemm"),
    (nn.Linear(5, 3), (2, 4, 5), "MatMul"),
    (nn.Linear(5, 3, bias=False), (2, 4, 5), "MatMul"),
])
def test_linear(onnxruntime, tmp_path, layer, shape, op):
    proto = check(onnxruntime, tmp_path, randomize(layer), *shape)
    assert op in _ops(proto)
    assert {i.name for i in proto.graph.initializer} == set(layer.state_dict())


@pytest.mark.parametrize("layer, op", [
    (nn.Flatten(), "Flatten"), (nn.Flatten(2), "Reshape"), (nn.Flatten(1, 2), "Reshape"), (nn.Flatten(0, 1), "Reshape"),
])
def test_flatten(onnxruntime, tmp_path, layer, op):
    proto = check(onnxruntime, tmp_path, layer, 2, 3, 4, 5)
    assert _ops(proto) == [op, "Identity"]


# ---------------------------------------------------------------- activations
@pytest.mark.parametrize("layer", [
    nn.ReLU(), nn.ReLU(inplace=True), nn.Sigmoid(), nn.Tanh(), nn.ReLU6(), nn.LeakyReLU(0.2), nn.ELU(0.7),
    nn.GELU(), nn.GELU("tanh"), nn.SiLU(), nn.Hardswish(), nn.Softmax(dim=1), nn.Softmax(dim=-1), nn.LogSoftmax(dim=1),
], ids=repr)
def test_activations(onnxruntime, tmp_path, layer):
    x = [a * 4 for a in random_inputs(2, 5, 3)]   # past ReLU6's 6 and the kinks of Hardswish
    against_onnxruntime(onnxruntime, layer, x, tmp_path / "m.onnx")


@pytest.mark.parametrize("shape, dim", [((2, 5), 1), ((2, 3, 4, 5), 1)])
def test_softmax_implicit_dim(onnxruntime, tmp_path, shape, dim):
    with pytest.warns(UserWarning):
        proto = check(onnxruntime, tmp_path, nn.Softmax(), *shape)
    assert proto.graph.node[0].attribute[0].i == dim


# ---------------------------------------------------------------- normalization
@pytest.mark.parametrize("layer, shape", [
    (nn.BatchNorm1d(4), (2, 4)), (nn.BatchNorm1d(4), (2, 4, 6)), (nn.BatchNorm2d(3, eps=1e-3), (2, 3, 5, 5)),
    (nn.BatchNorm3d(2), (2, 2, 3, 4, 3)), (nn.BatchNorm2d(3, affine=False), (2, 3, 4, 4)),
])
def test_batch_norm_in_eval_mode(onnxruntime, tmp_path, layer, shape):
    layer = randomize(layer)
    proto = check(onnxruntime, tmp_path, layer, *shape)
    assert _ops(proto) == ["BatchNormalization", "Identity"]


def test_batch_norm_without_running_stats_is_refused(tmp_path):
    with pytest.raises(ExportError, match=r"export: BatchNorm2d cannot be exported to ONNX: with "
                                          r"track_running_stats=False it normalises with the batch's own"):
        cnnlab.onnx.export(nn.BatchNorm2d(3, track_running_stats=False), cnnlab.randn(2, 3, 4, 4), tmp_path / "m")


@pytest.mark.parametrize("size", [1, 3, 5])
def test_local_response_norm(onnxruntime, tmp_path, size):
    proto = check(onnxruntime, tmp_path, nn.LocalResponseNorm(size, alpha=0.3, beta=0.6, k=1.5), 2, 7, 4, 4)
    assert _ops(proto) == ["LRN", "Identity"]


def test_local_response_norm_of_even_size_is_refused(tmp_path):
    with pytest.raises(ExportError, match=r"export: LocalResponseNorm cannot be exported to ONNX: an even size "
                                          r"\(size=4\) puts PyTorch's window at c-2..c\+1 but ONNX's LRN at c-1..c\+2"):
        cnnlab.onnx.export(nn.LocalResponseNorm(4), cnnlab.randn(2, 6, 3, 3), tmp_path / "m.onnx")


def test_layer_norm(onnxruntime, tmp_path):
    check(onnxruntime, tmp_path, randomize(nn.LayerNorm((4, 5))), 2, 3, 4, 5)
    check(onnxruntime, tmp_path, nn.LayerNorm(5, elementwise_affine=False), 2, 3, 5)


def test_dropout_is_the_identity(onnxruntime, tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Dropout(0.5), nn.Dropout2d(0.3), nn.AlphaDropout(0.2), nn.ReLU())
    proto = check(onnxruntime, tmp_path, randomize(model), 2, 3, 4, 4)
    assert _ops(proto) == ["Conv", "Relu", "Identity"]


# ---------------------------------------------------------------- pooling
@pytest.mark.parametrize("layer, shape", [
    (nn.MaxPool1d(3, 2, padding=1), (2, 3, 10)),
    (nn.MaxPool1d(2, 3, ceil_mode=True), (2, 3, 10)),
    (nn.MaxPool2d(2), (2, 3, 7, 7)),
    (nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), (2, 3, 8, 9)),   # PyTorch's last-window rule
    (nn.MaxPool2d((2, 3), (2, 1), padding=(1, 1), dilation=(2, 1)), (2, 2, 9, 8)),
    (nn.MaxPool2d(3, 2, dilation=2, ceil_mode=True), (2, 2, 10, 11)),
    (nn.MaxPool3d(2, padding=1, ceil_mode=True), (2, 2, 5, 4, 5)),
])
def test_max_pool(onnxruntime, tmp_path, layer, shape):
    proto = check(onnxruntime, tmp_path, layer, *shape)
    assert _ops(proto) == ["MaxPool", "Identity"]
    assert all(a.name != "ceil_mode" for a in proto.graph.node[0].attribute)   # written as end padding


@pytest.mark.parametrize("D, kernel, stride, padding, n", [
    (1, 2, 2, 0, 8), (2, 2, 2, 0, 6), (2, 3, 2, 1, 7), (2, 3, 2, 0, 7), (3, 2, 2, 0, 4),
])
def test_max_pool_indices_feed_max_unpool(onnxruntime, tmp_path, D, kernel, stride, padding, n):
    pool = getattr(nn, f"MaxPool{D}d")(kernel, stride, padding, return_indices=True)
    unpool = getattr(nn, f"MaxUnpool{D}d")(kernel, stride, padding)
    model = Lambda(lambda self, x: self.layers[1](*self.layers[0](x)), pool, unpool)
    proto = check(onnxruntime, tmp_path, model, 2, 3, *(n,) * D)
    assert {"MaxPool", "Mod", "MaxUnpool"} <= set(_ops(proto))


@pytest.mark.parametrize("n", [(7, 9), (6, 8)])
def test_max_unpool_output_size(onnxruntime, tmp_path, n):
    """output_size (7, 9): from a 7×9 plane, ONNX's indices are already right; from 6×8, they are re-based."""
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    model = Lambda(lambda self, x: self.layers[1](*self.layers[0](x), (7, 9)), pool, unpool)
    proto = check(onnxruntime, tmp_path, model, 2, 2, *n)
    assert ("Div" in _ops(proto)) == (n == (6, 8))


def test_max_unpool_needs_indices_of_a_max_pool(tmp_path):
    unpool = nn.MaxUnpool2d(2)
    model = Lambda(lambda self, x: self.layers[0](x, (x * 0).long()), unpool)
    with pytest.raises(ExportError, match=r"MaxUnpool2d 'layers.0' cannot be exported to ONNX: its indices must come "
                                          r"from a MaxPool of the same model"):
        cnnlab.onnx.export(model, cnnlab.randn(1, 1, 2, 2), tmp_path / "m.onnx")


@pytest.mark.parametrize("layer, shape", [
    (nn.AvgPool1d(3, 2, padding=1), (2, 3, 10)),
    (nn.AvgPool1d(3, 2, padding=1, count_include_pad=False), (2, 3, 10)),
    (nn.AvgPool1d(2, 3, ceil_mode=True), (2, 3, 10)),
    (nn.AvgPool2d(2), (2, 3, 6, 6)),
    (nn.AvgPool2d(3, 2, padding=1, ceil_mode=True), (2, 3, 8, 9)),                           # pad counted, overhang not
    (nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False), (2, 3, 8, 9)),
    (nn.AvgPool2d((3, 2), (2, 3), padding=(1, 0), count_include_pad=False), (2, 2, 7, 8)),
    (nn.AvgPool3d(2, padding=1, ceil_mode=True), (2, 2, 5, 4, 5)),
])
def test_avg_pool(onnxruntime, tmp_path, layer, shape):
    proto = check(onnxruntime, tmp_path, layer, *shape)
    assert "AveragePool" in _ops(proto)


def test_avg_pool_divisor_override_is_refused(tmp_path):
    with pytest.raises(ExportError, match=r"export: AvgPool2d cannot be exported to ONNX: ONNX's AveragePool has no "
                                          r"divisor_override"):
        cnnlab.onnx.export(nn.AvgPool2d(2, divisor_override=3), cnnlab.randn(1, 1, 4, 4), tmp_path / "m.onnx")


@pytest.mark.parametrize("layer, shape, op", [
    (nn.LPPool1d(2, 3, 2), (2, 3, 10), "LpPool"),
    (nn.LPPool2d(2, 2), (2, 3, 6, 6), "LpPool"),
    (nn.LPPool2d(4, (2, 3), (1, 2)), (2, 3, 6, 7), "LpPool"),
    (nn.LPPool2d(3, 2), (2, 3, 6, 6), "Pow"),                 # x^3 of negative x: PyTorch's composition
    (nn.LPPool2d(2, 3, 2, ceil_mode=True), (2, 3, 8, 8), "Pow"),  # the overhang's average times k, as PyTorch
    (nn.LPPool1d(1.5, 2), (2, 3, 8), "Pow"),
    (nn.LPPool2d(math.inf, 2), (2, 2, 6, 6), "MaxPool"),
    (nn.LPPool3d(2, 2), (2, 2, 4, 4, 4), "LpPool"),
])
def test_lp_pool(onnxruntime, tmp_path, layer, shape, op):
    x = [np.abs(a) + 0.5 for a in random_inputs(*shape)]
    if layer.norm_type == 3:       # one small negative element per window: x^3 is not |x|^3, the sum stays > 0
        for a in x:
            a[..., ::2, ::2] *= -0.1
    proto = against_onnxruntime(onnxruntime, layer, x, tmp_path / "m.onnx")
    assert op in _ops(proto)


@pytest.mark.parametrize("layer, shape, op", [
    (nn.AdaptiveAvgPool2d(1), (2, 3, 5, 7), "GlobalAveragePool"),
    (nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 6, 9), "AveragePool"),
    (nn.AdaptiveAvgPool2d((3, 4)), (2, 3, 7, 5), "MatMul"),       # bins of unequal length
    (nn.AdaptiveAvgPool2d((7, 7)), (2, 3, 1, 1), "MatMul"),       # VGG on a small input: replicated
    (nn.AdaptiveAvgPool2d((None, 2)), (2, 3, 5, 5), "MatMul"),
    (nn.AdaptiveAvgPool1d(3), (2, 3, 7), "MatMul"),
    (nn.AdaptiveAvgPool3d((1, 2, 3)), (2, 2, 3, 4, 5), "MatMul"),
])
def test_adaptive_avg_pool(onnxruntime, tmp_path, layer, shape, op):
    proto = check(onnxruntime, tmp_path, layer, *shape)
    assert op in _ops(proto)


@pytest.mark.parametrize("layer, shape, op", [
    (nn.AdaptiveMaxPool2d(1), (2, 3, 5, 7), "GlobalMaxPool"),
    (nn.AdaptiveMaxPool2d((2, 3)), (2, 3, 6, 9), "MaxPool"),
    (nn.AdaptiveMaxPool2d((3, 4)), (2, 3, 7, 5), "ReduceMax"),
    (nn.AdaptiveMaxPool1d(3), (2, 3, 7), "ReduceMax"),
    (nn.AdaptiveMaxPool3d((2, 1, 3)), (2, 2, 3, 4, 5), "ReduceMax"),
])
@pytest.mark.parametrize("opset", [17, 18])
def test_adaptive_max_pool(onnxruntime, tmp_path, layer, shape, op, opset):
    proto = check(onnxruntime, tmp_path, layer, *shape, opset=opset)
    assert op in _ops(proto)


def test_adaptive_max_pool_indices_are_refused(tmp_path):
    model = Lambda(lambda self, x: self.layers[0](x)[0], nn.AdaptiveMaxPool2d(2, return_indices=True))
    with pytest.raises(ExportError, match=r"AdaptiveMaxPool2d 'layers.0' cannot be exported to ONNX: "
                                          r"return_indices=True has no ONNX form for adaptive bins"):
        cnnlab.onnx.export(model, cnnlab.randn(1, 1, 4, 4), tmp_path / "m.onnx")


# ---------------------------------------------------------------- padding
@pytest.mark.parametrize("layer, shape", [
    (nn.ZeroPad2d((1, 2, 0, 3)), (2, 3, 4, 5)),
    (nn.ConstantPad1d((2, 1), 1.5), (2, 3, 4)),
    (nn.ConstantPad2d((-1, 2, 1, -2), -0.5), (2, 3, 5, 6)),      # negative pads crop
    (nn.ConstantPad3d(1, 2.0), (2, 2, 3, 3, 3)),
    (nn.ReflectionPad1d((3, 1)), (2, 3, 5)),
    (nn.ReflectionPad2d((1, 2, 2, 0)), (2, 3, 4, 5)),
    (nn.ReflectionPad2d((-1, 2, 1, 1)), (2, 3, 4, 5)),          # a crop in a non-constant mode: Gather
    (nn.ReflectionPad3d(1), (2, 2, 3, 3, 3)),
    (nn.ReplicationPad1d((0, 3)), (2, 3, 4)),
    (nn.ReplicationPad2d((2, 1, 0, 2)), (2, 3, 4, 5)),
    (nn.ReplicationPad3d((1, 0, 0, 1, 2, 0)), (2, 2, 3, 3, 3)),
    (nn.CircularPad1d((2, 1)), (2, 3, 4)),
    (nn.CircularPad2d((1, 2, 3, 0)), (2, 3, 4, 5)),
    (nn.CircularPad3d(1), (2, 2, 3, 3, 3)),
], ids=repr)
@pytest.mark.parametrize("opset", [17, 19])
def test_padding_layers(onnxruntime, tmp_path, layer, shape, opset):
    check(onnxruntime, tmp_path, layer, *shape, opset=opset)


def test_the_table_holds_layer_classes():
    assert all(isinstance(layer, type) and issubclass(layer, nn.Module) for layer in LAYERS)
    assert nn.Conv2d in LAYERS and nn.Dropout not in LAYERS   # dropout in eval returns its input
