"""cnnlab/onnx/convert_layers.py: each layer op as one ONNX node, against ONNX's reference evaluator."""
import numpy as np
import pytest

import cnnlab
from cnnlab import nn
from cnnlab.onnx import load
from cnnlab.onnx.convert_layers import LAYERS, auto_pads, onnx_pads
from cnnlab.onnx.graph import Call, Padded
from oracle import against_onnx, onnx_model


def rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def only(net):
    (module,) = list(net.nodes)
    return module


# ---------------------------------------------------------------- padding
def test_auto_pads_puts_the_odd_pixel_at_the_end_or_the_beginning():
    assert auto_pads("SAME_UPPER", (6,), (4,), (1,), (1,)) == ((1, 2),)
    assert auto_pads("SAME_LOWER", (6,), (4,), (1,), (1,)) == ((2, 1),)
    assert auto_pads("SAME_UPPER", (7, 8), (3, 3), (2, 2), (1, 2)) == ((1, 1), (1, 2))
    assert auto_pads("VALID", (7, 8), (3, 3), (2, 2), (1, 1)) == ((0, 0), (0, 0))


class _Attrs:
    """The part of a Node that onnx_pads reads."""

    def __init__(self, **attrs):
        self.attrs = attrs

    def attr(self, name, default=None):
        return self.attrs.get(name, default)

    def ints(self, name, n, default):
        return tuple(self.attrs.get(name, default))

    def fail(self, message):
        raise ValueError(message)


def test_onnx_pads_reads_begin_end_order_and_auto_pad():
    assert onnx_pads(_Attrs(pads=[1, 2, 3, 4]), 2, (3, 3), (1, 1), (1, 1)) == ((1, 3), (2, 4))
    assert onnx_pads(_Attrs(), 2, (3, 3), (1, 1), (1, 1)) == ((0, 0), (0, 0))
    assert onnx_pads(_Attrs(auto_pad="VALID", pads=[1, 1, 1, 1]), 2, (3, 3), (1, 1), (1, 1)) == ((0, 0), (0, 0))
    same = onnx_pads(_Attrs(auto_pad="SAME_LOWER"), 1, (4,), (1,), (1,))
    assert same((6,)) == ((2, 1),)
    with pytest.raises(ValueError, match="auto_pad must be NOTSET, VALID, SAME_UPPER or SAME_LOWER, got 'SAME'"):
        onnx_pads(_Attrs(auto_pad="SAME"), 1, (4,), (1,), (1,))
    with pytest.raises(ValueError, match=r"pads must be non-negative, got \[-1, 0\]"):
        onnx_pads(_Attrs(pads=[-1, 0]), 1, (4,), (1,), (1,))


# ---------------------------------------------------------------- convolutions
CONV_CASES = [
    dict(x=(2, 3, 7, 8), w=(4, 3, 3, 3), pads=[1, 1, 1, 1]),
    dict(x=(2, 3, 7, 8), w=(4, 3, 3, 3), bias=False, kernel_shape=[3, 3]),
    dict(x=(2, 4, 9, 8), w=(6, 2, 3, 2), group=2, dilations=[2, 1], strides=[2, 1], pads=[0, 1, 2, 0]),
    dict(x=(1, 2, 9, 10), w=(3, 2, 4, 4), strides=[2, 2], auto_pad="SAME_UPPER"),
    dict(x=(1, 2, 9, 10), w=(3, 2, 4, 4), strides=[2, 3], auto_pad="SAME_LOWER"),
    dict(x=(1, 2, 9, 10), w=(3, 2, 3, 3), strides=[2, 2], auto_pad="VALID"),
    dict(x=(2, 3, 11), w=(2, 3, 3), strides=[2], pads=[2, 1]),
    dict(x=(1, 2, 5, 6, 4), w=(2, 2, 3, 2, 2), pads=[1, 0, 1, 1, 1, 0]),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv(check_node, case):
    case = dict(case)
    x, w, bias = rand(0, *case.pop("x")), rand(1, *case.pop("w")), case.pop("bias", True)
    inputs = {"x": x, "w": w, "b": rand(2, w.shape[0]) if bias else None}
    net = check_node("Conv", inputs, initializers=("w", "b"), **case)
    module = only(net)
    layer = module.layer if isinstance(module, Padded) else module
    assert isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) and layer.weight.shape == w.shape
    symmetric = case.get("pads", [0]) == case.get("pads", [0])[::-1] and "SAME" not in case.get("auto_pad", "")
    assert isinstance(module, Padded) != symmetric   # asymmetric pads and SAME: an explicit pad first


CONV_T_CASES = [
    dict(x=(2, 4, 5, 6), w=(4, 3, 3, 3), strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]),
    dict(x=(2, 4, 5, 6), w=(4, 3, 3, 3), strides=[2, 1], pads=[0, 1, 1, 0]),
    dict(x=(2, 4, 5, 6), w=(4, 3, 3, 2), dilations=[2, 1], strides=[1, 2]),
    dict(x=(1, 2, 4, 5), w=(2, 3, 3, 3), strides=[2, 2], output_shape=[9, 10], auto_pad="SAME_UPPER"),
    dict(x=(1, 2, 4, 5), w=(2, 3, 3, 3), strides=[2, 2], output_shape=[8, 11], auto_pad="SAME_LOWER"),
    dict(x=(1, 2, 4, 5), w=(2, 3, 4, 4), strides=[2, 2], auto_pad="SAME_UPPER"),
    dict(x=(1, 2, 4, 5), w=(2, 3, 3, 3), strides=[2, 2], auto_pad="SAME_LOWER"),
    dict(x=(2, 3, 6), w=(3, 2, 3), strides=[3], output_padding=[2], pads=[1, 0]),
]


@pytest.mark.parametrize("case", CONV_T_CASES, ids=str)
def test_conv_transpose(check_node, case):
    case = dict(case)
    x, w = rand(0, *case.pop("x")), rand(1, *case.pop("w"))
    net = check_node("ConvTranspose", {"x": x, "w": w, "b": rand(2, w.shape[1] * case.get("group", 1))},
                     initializers=("w", "b"), **case)
    assert net.nodes[0].weight is next(iter(net.parameters()))


@pytest.mark.parametrize("pads", [[1, 1, 1, 1], [0, 1, 1, 0]])
def test_conv_transpose_groups_against_torch(torch, onnx, pads):
    """ONNX's reference evaluator ignores group in ConvTranspose, so PyTorch is the oracle here."""

    x, w, b = rand(0, 2, 4, 5, 6), rand(1, 4, 1, 3, 2), rand(2, 2)
    model = onnx_model(onnx, "ConvTranspose", {"x": x, "w": w, "b": b}, initializers=("w", "b"), group=2,
                       dilations=[2, 1], strides=[2, 2], pads=pads, output_padding=[1, 1])
    full = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=2,
                                                output_padding=1, groups=2, dilation=(2, 1))
    expected = full[:, :, pads[0]:full.shape[2] - pads[2], pads[1]:full.shape[3] - pads[3]].numpy()
    np.testing.assert_allclose(load(model)(cnnlab.Tensor(x)).data, expected, rtol=1e-10, atol=1e-12)


def test_conv_transpose_with_symmetric_pads_is_the_standard_layer(check_node):
    net = check_node("ConvTranspose", {"x": rand(0, 1, 2, 4, 4), "w": rand(1, 2, 3, 3, 3)}, initializers=("w",),
                     strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])
    assert isinstance(only(net), nn.ConvTranspose2d) and only(net).output_padding == (1, 1)


@pytest.mark.parametrize("pads", [[1, 1, 1, 1], [0, 1, 2, 0]])
@pytest.mark.parametrize("masked", [False, True])
def test_deform_conv(check_node, pads, masked):
    """(Offsets are multiples of 1/64, exact in the float32 that the reference GridSample keeps them in:
    see tests/nn/functional/test_deform_conv.py.)"""
    x, w = rand(0, 1, 4, 6, 7), rand(1, 4, 2, 3, 3)        # group 2, offset_group 2
    out = [(6 + pads[0] + pads[2] - 3) // 1 + 1, (7 + pads[1] + pads[3] - 3) // 2 + 1]
    inputs = {"x": x, "w": w, "offset": np.round(rand(2, 1, 2 * 2 * 9, *out) * 64) / 64, "b": rand(3, 4),
              "mask": np.random.default_rng(4).uniform(size=(1, 2 * 9, *out)) if masked else None}
    check_node("DeformConv", inputs, initializers=("w", "b"), group=2, offset_group=2, pads=pads, strides=[1, 2])


# ---------------------------------------------------------------- pooling
POOL_CASES = [
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1), nn.MaxPool2d),
    ("MaxPool", dict(kernel_shape=[2, 3], strides=[2, 1], dilations=[2, 2]), nn.MaxPool2d),
    ("MaxPool", dict(kernel_shape=[3, 2], strides=[2, 2], pads=[0, 1, 1, 0], ceil_mode=1), Call),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"), Call),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1), nn.AvgPool2d),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1),
     nn.AvgPool2d),
    ("AveragePool", dict(kernel_shape=[3, 2], strides=[2, 2], pads=[0, 1, 1, 0], ceil_mode=1), Call),
    ("AveragePool", dict(kernel_shape=[3, 2], strides=[2, 2], pads=[0, 1, 1, 0], ceil_mode=1, count_include_pad=1),
     Call),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"), Call),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER", count_include_pad=1), Call),
    ("LpPool", dict(kernel_shape=[2, 3], strides=[2, 2], p=2), Call),
    ("LpPool", dict(kernel_shape=[2, 2], strides=[1, 2], p=3, pads=[1, 0, 0, 1]), Call),
]


@pytest.mark.parametrize("op, attrs, kind", POOL_CASES, ids=str)
def test_pool(check_node, op, attrs, kind):
    net = check_node(op, {"x": rand(0, 2, 3, 9, 8)}, **attrs)
    assert isinstance(only(net), kind)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_same_lower_is_its_explicit_pads(onnx, op):
    """SAME_LOWER as the explicit pads it stands for (ONNX's reference MaxPool miscounts SAME_LOWER's
    output size: 4 instead of ⌈9/2⌉ = 5), run by the reference evaluator."""

    x = rand(0, 2, 3, 9, 8)
    same = load(onnx_model(onnx, op, {"x": x}, kernel_shape=[2, 3], strides=[2, 2], auto_pad="SAME_LOWER"))
    explicit = onnx_model(onnx, op, {"x": x}, kernel_shape=[2, 3], strides=[2, 2], pads=[1, 1, 0, 0])
    against_onnx(onnx, explicit, {"x": x}, lambda model, feeds: same(cnnlab.Tensor(x)).data)


@pytest.mark.parametrize("shape, kernel", [((2, 3, 9), [3]), ((1, 2, 5, 6, 7), [2, 3, 2])])
def test_pool_1d_and_3d(check_node, shape, kernel):
    D = len(kernel)
    for op in ("MaxPool", "AveragePool"):
        check_node(op, {"x": rand(0, *shape)}, kernel_shape=kernel, strides=[2] * D, pads=[1] * D + [0] * D,
                   ceil_mode=1)


def test_max_pool_indices_are_flat_over_the_whole_input(check_node):
    x = rand(0, 2, 3, 7, 8)
    net = check_node("MaxPool", {"x": x}, opset=12, outputs=("out", "indices"), kernel_shape=[3, 3],
                     strides=[2, 2], pads=[1, 1, 1, 1])
    _, indices = net(cnnlab.Tensor(x))
    assert indices.data.max() >= 7 * 8 * 3     # not per plane


def test_max_pool_refuses_indices_it_cannot_compute(onnx):

    model = onnx_model(onnx, "MaxPool", {"x": rand(0, 1, 1, 5, 5)}, 12, outputs=("out", "indices"),
                       kernel_shape=[2, 2], pads=[0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"node 'MaxPool#0' \(MaxPool\): the Indices output is supported only "
                                         "with symmetric pads"):
        load(model)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 5), (1, 2, 3, 4, 5)])
def test_global_pool(check_node, onnx, op, shape):
    x = rand(0, *shape)
    if op == "GlobalAveragePool" or len(shape) == 4:  # the reference GlobalMaxPool is right for 4-d only
        check_node(op, {"x": x})
    reduce = np.mean if op == "GlobalAveragePool" else np.max
    got = load(onnx_model(onnx, op, {"x": x}))(cnnlab.Tensor(x)).data
    np.testing.assert_allclose(got, reduce(x, axis=tuple(range(2, x.ndim)), keepdims=True), rtol=1e-12)


# ---------------------------------------------------------------- Gemm, MatMul
@pytest.mark.parametrize("attrs, b_shape, c_shape, kind", [
    (dict(transB=1), (5, 4), (5,), nn.Linear),
    (dict(), (4, 5), (5,), nn.Linear),
    (dict(transB=1), (5, 4), (1, 5), nn.Linear),
    (dict(transB=1), (5, 4), None, nn.Linear),
    (dict(alpha=0.5, beta=2.0, transB=1), (5, 4), (5,), Call),
    (dict(transA=1), (3, 5), (3, 5), Call),
])
def test_gemm(check_node, attrs, b_shape, c_shape, kind):
    a = rand(0, 3, 4) if not attrs.get("transA") else rand(0, 4, 3)
    b_shape = (4, 5) if attrs.get("transA") else b_shape
    inputs = {"a": a, "b": rand(1, *b_shape), "c": None if c_shape is None else rand(2, *c_shape)}
    net = check_node("Gemm", inputs, initializers=("b", "c"), **attrs)
    assert isinstance(only(net), kind)


def test_matmul_with_an_initializer_is_a_linear_and_else_the_op(check_node):
    net = check_node("MatMul", {"a": rand(0, 2, 3, 4), "b": rand(1, 4, 5)}, initializers=("b",))
    assert isinstance(only(net), nn.Linear) and only(net).bias is None
    net = check_node("MatMul", {"a": rand(0, 2, 3, 4), "b": rand(1, 2, 4, 5)})
    assert isinstance(only(net), Call)


# ---------------------------------------------------------------- normalization
@pytest.mark.parametrize("opset", [6, 9, 14, 15])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 4, 5), (2, 3, 2, 3, 4)])
def test_batch_norm(onnx, check_node, opset, shape):
    """Opsets 14 and 15 against the reference evaluator; 6 and 9 (whose reference BatchNormalization
    does not run, or runs in training mode) against opset 15's, which computes the same in inference."""

    C = shape[1]
    inputs = {"x": rand(0, *shape), "scale": rand(1, C), "b": rand(2, C), "mean": rand(3, C),
              "var": np.random.default_rng(4).uniform(0.5, 2, C)}
    names = ("scale", "b", "mean", "var")
    net = check_node("BatchNormalization", inputs, initializers=names, opset=max(opset, 14), epsilon=1e-3,
                     momentum=0.8)
    if opset < 14:
        model = onnx_model(onnx, "BatchNormalization", inputs, 15, initializers=names, epsilon=1e-3)
        old = load(onnx_model(onnx, "BatchNormalization", inputs, opset, initializers=names, epsilon=1e-3))
        against_onnx(onnx, model, {"x": inputs["x"]}, lambda m, feeds: old(cnnlab.Tensor(inputs["x"])).data)
    layer = only(net)
    assert isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)) and not layer.training
    assert layer.momentum == pytest.approx(0.2) and layer.running_mean.requires_grad is False
    assert {n for n, _ in net.named_parameters()} == {"nodes.0.weight", "nodes.0.bias"}


def test_instance_norm(check_node):
    inputs = {"x": rand(0, 2, 3, 4, 5), "scale": rand(1, 3), "b": rand(2, 3)}
    net = check_node("InstanceNormalization", inputs, initializers=("scale", "b"), epsilon=1e-4)
    assert isinstance(only(net), nn.GroupNorm)


#: ONNX defines these ops as functions whose constants the reference evaluator keeps in float32.
FUNCTION_TOL = dict(rtol=1e-6, atol=1e-6)


def test_group_norm(check_node):
    inputs = {"x": rand(0, 2, 6, 4, 3), "scale": rand(1, 6), "bias": rand(2, 6)}
    net = check_node("GroupNormalization", inputs, initializers=("scale", "bias"), opset=21, num_groups=2,
                     epsilon=1e-4, tol=FUNCTION_TOL)
    assert isinstance(only(net), nn.GroupNorm) and only(net).num_groups == 2


@pytest.mark.parametrize("size", [3, 4, 5])
def test_lrn(check_node, size):
    """(The reference evaluator's LRN loops over the batch size where it means the channels: N = C here.)"""
    check_node("LRN", {"x": rand(0, 7, 7, 3, 4)}, size=size, alpha=0.01, beta=0.6, bias=1.5,
               tol=dict(rtol=1e-8, atol=1e-12))       # cnnlab sums the window of squares in another order


# ---------------------------------------------------------------- activations
ACTIVATIONS = [
    ("Relu", {}, 19), ("LeakyRelu", dict(alpha=0.2), 19), ("Elu", dict(alpha=0.7), 19), ("Selu", {}, 19),
    ("Sigmoid", {}, 19), ("Tanh", {}, 19), ("HardSwish", {}, 19), ("HardSigmoid", dict(alpha=0.3, beta=0.4), 19),
    ("Gelu", {}, 20), ("Gelu", dict(approximate="tanh"), 20), ("Clip", dict(min=-0.5, max=0.7), 6),
]


@pytest.mark.parametrize("op, attrs, opset", ACTIVATIONS, ids=str)
def test_activation(check_node, op, attrs, opset):
    tol = FUNCTION_TOL if op in ("HardSwish", "Gelu", "Selu", "HardSigmoid") else None
    check_node(op, {"x": rand(0, 2, 3, 4) * 3}, opset=opset, tol=tol, **attrs)


def test_clip_from_inputs_and_relu6(check_node):
    x = rand(0, 2, 3, 4) * 4
    net = check_node("Clip", {"x": x, "lo": np.array(0.0), "hi": np.array(6.0)}, initializers=("lo", "hi"), opset=13)
    assert isinstance(only(net), nn.ReLU6)
    check_node("Clip", {"x": x, "lo": np.array(-1.0)}, initializers=("lo",), opset=13)


def test_prelu(check_node):
    net = check_node("PRelu", {"x": rand(0, 2, 3, 4, 4), "slope": rand(1, 3, 1, 1)}, initializers=("slope",))
    assert [p.shape for p in net.parameters()] == [(3, 1, 1)]


def test_every_layer_op_has_a_test():
    tested = {op for op, *_ in POOL_CASES} | {op for op, *_ in ACTIVATIONS} | {
        "Conv", "ConvTranspose", "DeformConv", "GlobalAveragePool", "GlobalMaxPool", "Gemm", "MatMul",
        "BatchNormalization", "InstanceNormalization", "GroupNormalization", "LRN", "PRelu", "Clip"}
    assert set(LAYERS) == tested
