"""cnnlab/onnx/convert_tensors.py: each tensor op as one ONNX node, against ONNX's reference evaluator."""
import numpy as np
import pytest

import cnnlab
from cnnlab import nn
from cnnlab.onnx import load
from cnnlab.onnx.convert_tensors import TENSORS, onnx_reshape, onnx_slices
from oracle import against_onnx, onnx_model


def rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


def only(net):
    (module,) = list(net.nodes)
    return module


def ints(*values):
    return np.array(values, dtype=np.int64)


def test_onnx_reshape_copies_zeros_unless_allowzero():
    assert onnx_reshape((2, 3, 4), [0, -1]) == (2, -1)
    assert onnx_reshape((2, 3, 4), np.array([4, 0, 2])) == (4, 3, 2)
    assert onnx_reshape((2, 0, 4), [0, 4], allowzero=True) == (0, 4)


# ---------------------------------------------------------------- arithmetic
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_binary(check_node, op):
    check_node(op, {"a": rand(0, 2, 3, 4), "b": rand(1, 3, 1)})                       # broadcast
    net = check_node(op, {"a": rand(0, 2, 3, 4), "b": rand(1, 4)}, initializers=("b",))
    assert [p.shape for p in net.parameters()] == [(4,)]                               # the initializer is trained


def test_integer_division_truncates_as_onnx(check_node):
    check_node("Div", {"a": ints(7, -7, 6), "b": ints(2, 2, -4)})


def test_sum(check_node):
    check_node("Sum", {"a": rand(0, 2, 3), "b": rand(1, 2, 3), "c": rand(2, 3)})


@pytest.mark.parametrize("op", ["Neg", "Abs", "Exp", "Log", "Sqrt", "Identity"])
def test_unary(check_node, op):
    x = rand(0, 2, 3, 4)
    check_node(op, {"x": np.abs(x) + 0.1 if op in ("Log", "Sqrt") else x})


# ---------------------------------------------------------------- constants and shapes
def graph(onnx, nodes, x, opset=19):
    """A checked model of these nodes ((op, inputs, outputs, attributes) each) from input "x" to "out"."""
    from onnx import helper

    kind = helper.np_dtype_to_tensor_dtype(x.dtype)
    body = helper.make_graph([helper.make_node(op, ins, outs, **attrs) for op, ins, outs, attrs in nodes], "g",
                             [helper.make_tensor_value_info("x", kind, x.shape)],
                             [helper.make_tensor_value_info("out", kind, [None] * x.ndim)])
    model = helper.make_model(body, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def run(model, x):
    return lambda m, feeds: load(model)(cnnlab.Tensor(x)).data


@pytest.mark.parametrize("kind", ["value_float", "value_floats", "value", "value_ints"])
def test_constant_is_folded(onnx, kind):
    from onnx import numpy_helper

    x = rand(0, 2, 3)
    attrs = {"value_float": dict(value_float=2.5), "value_floats": dict(value_floats=[1.0, 2.0, 3.0]),
             "value": dict(value=numpy_helper.from_array(np.array([1.5, -2.0, 0.5]), "v")),
             "value_ints": dict(value_ints=[2, 3])}[kind]
    x = x.astype(np.float32) if kind in ("value_float", "value_floats") else x
    second = ("Reshape", ["x", "c"], ["out"], {}) if kind == "value_ints" else ("Add", ["x", "c"], ["out"], {})
    model = graph(onnx, [("Constant", [], ["c"], attrs), second], x)
    against_onnx(onnx, model, {"x": x}, run(model, x))
    assert len(load(model).nodes) == 1         # the Constant is folded (into a buffer, or Reshape's target)


def test_constant_of_shape_is_folded_and_may_be_an_output(onnx):
    from onnx import numpy_helper

    x = rand(0, 2, 3)
    fill = dict(value=numpy_helper.from_array(np.array([0.25]), "v"))
    nodes = [("Shape", ["x"], ["s"], {}), ("ConstantOfShape", ["s"], ["c"], fill), ("Add", ["x", "c"], ["out"], {})]
    model = graph(onnx, nodes, x)
    against_onnx(onnx, model, {"x": x}, run(model, x))
    const = graph(onnx, [("Constant", [], ["s"], dict(value_ints=[2, 2])), ("ConstantOfShape", ["s"], ["out"], fill)], x)
    assert np.array_equal(load(const)(cnnlab.Tensor(x)).data, np.full((2, 2), 0.25))   # no node left to run


def test_cast(check_node):
    check_node("Cast", {"x": rand(0, 2, 3) * 3}, to=7, outputs=("out",))    # to int64: truncation
    net = check_node("Cast", {"x": rand(0, 2, 3)}, to=1)                     # to float32
    assert net(cnnlab.Tensor(rand(0, 2, 3))).dtype == np.float32


@pytest.mark.parametrize("attrs", [{}, dict(start=1), dict(start=-2, end=-1)])
def test_shape(check_node, attrs):
    check_node("Shape", {"x": rand(0, 2, 3, 4)}, **attrs)


@pytest.mark.parametrize("indices, axis", [(ints(2, 0), 1), (np.array(1), 0), (ints(-1), 2)])
def test_gather(check_node, indices, axis):
    check_node("Gather", {"x": rand(0, 3, 4, 5), "i": indices}, initializers=("i",), axis=axis)


def test_gather_out_of_range_is_named(onnx):
    net = load(onnx_model(onnx, "Gather", {"x": rand(0, 3, 4), "i": ints(0, 4)}, initializers=("i",), axis=1))
    with pytest.raises(ValueError, match=r"Gather: indices must be in \[-4, 4\) \(the size of axis 1 of the data, "
                                         r"shape \(3, 4\)\), got indices from 0 to 4"):
        net(cnnlab.Tensor(rand(0, 3, 4)))


@pytest.mark.parametrize("opset", [11, 13])
def test_unsqueeze_and_squeeze(check_node, opset):
    x = rand(0, 2, 1, 3)
    if opset < 13:
        check_node("Unsqueeze", {"x": x}, opset=opset, axes=[0, -1])
        check_node("Squeeze", {"x": x}, opset=opset, axes=[1])
    else:
        check_node("Unsqueeze", {"x": x, "axes": ints(0, -1)}, initializers=("axes",), opset=opset)
        check_node("Squeeze", {"x": x, "axes": ints(1)}, initializers=("axes",), opset=opset)
        check_node("Unsqueeze", {"x": x, "axes": ints(3)}, opset=opset)                # computed axes
    check_node("Squeeze", {"x": rand(0, 1, 2, 1, 3)}, opset=opset)                    # all size-1 dims


def test_onnx_slices_clamps_as_onnx():
    assert onnx_slices((5, 6), [1], [-1], [1]) == (slice(None), slice(1, 5, 1))
    assert onnx_slices((5,), [-1], [-2 ** 63], [0], [-1]) == (slice(4, None, -1),)
    assert onnx_slices((5,), [10], [2 ** 62], None, None) == (slice(5, 5, 1),)


@pytest.mark.parametrize("starts, ends, axes, steps", [
    (ints(1, 0), ints(3, -1), ints(1, 2), None), (ints(-1), ints(-2 ** 63), ints(2), ints(-2)),
    (ints(0, 1, 0), ints(2, 9, 2 ** 62), None, ints(1, 2, 3)), (ints(2), ints(0), ints(-3), ints(-1))])
def test_slice(check_node, starts, ends, axes, steps):
    x = rand(0, 3, 4, 5)
    inputs = {"x": x, "starts": starts, "ends": ends, "axes": axes, "steps": steps}
    check_node("Slice", inputs, initializers=("starts", "ends", "axes", "steps"))
    check_node("Slice", inputs, initializers=("axes", "steps"))                # computed starts and ends


def test_slice_opset_9_attributes(check_node):
    check_node("Slice", {"x": rand(0, 3, 4, 5)}, opset=9, starts=[1, -3], ends=[3, 100], axes=[0, 2])


def test_concat(check_node):
    net = check_node("Concat", {"a": rand(0, 2, 3, 4), "b": rand(1, 2, 1, 4)}, initializers=("b",), axis=1)
    assert [p.shape for p in net.parameters()] == [(2, 1, 4)]
    check_node("Concat", {"a": rand(0, 2, 3), "b": rand(1, 2, 2), "c": rand(2, 2, 1)}, axis=-1)


@pytest.mark.parametrize("attrs", [{}, dict(perm=[0, 2, 3, 1])])
def test_transpose(check_node, attrs):
    check_node("Transpose", {"x": rand(0, 2, 3, 4, 5)}, **attrs)


@pytest.mark.parametrize("shape, allowzero", [(ints(0, -1), 0), (ints(4, 0, 5), 0), (ints(-1, 6, 10), 0),
                                              (ints(3, 2, 20), 1)])
def test_reshape(check_node, shape, allowzero):
    check_node("Reshape", {"x": rand(0, 2, 6, 10), "shape": shape}, initializers=("shape",), allowzero=allowzero)
    check_node("Reshape", {"x": rand(0, 2, 6, 10), "shape": shape}, allowzero=allowzero)   # a computed shape


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_flatten(check_node, axis):
    net = check_node("Flatten", {"x": rand(0, 2, 3, 4, 5)}, axis=axis)
    assert isinstance(only(net), nn.Flatten) == (axis == 1)


# ---------------------------------------------------------------- softmax, dropout
@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("attrs", [{}, dict(axis=1)])
def test_softmax(check_node, op, attrs):
    net = check_node(op, {"x": rand(0, 2, 3, 4, 5)}, opset=13, **attrs)
    assert isinstance(only(net), (nn.Softmax, nn.LogSoftmax))


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [None, 2, -1])
def test_softmax_before_opset_13_is_over_a_matrix(onnx, op, axis):
    """Before opset 13 the input is the matrix (Π dims before axis, Π dims from axis), axis 1 by default
    (ONNX's definition, which onnxruntime follows; the reference evaluator reads it as opset 13's): a
    NumPy oracle."""
    x = rand(0, 2, 3, 4, 5)
    net = load(onnx_model(onnx, op, {"x": x}, 11, **({} if axis is None else dict(axis=axis))))
    rows = x.reshape(int(np.prod(x.shape[:(1 if axis is None else axis % 4)])), -1)
    log = rows - rows.max(axis=1, keepdims=True)
    log = log - np.log(np.exp(log).sum(axis=1, keepdims=True))
    expected = (log if op == "LogSoftmax" else np.exp(log)).reshape(x.shape)
    np.testing.assert_allclose(net(cnnlab.Tensor(x)).data, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("opset", [7, 10, 13])
def test_dropout_is_the_identity_in_inference(check_node, opset):
    x = rand(0, 2, 3, 4)
    if opset < 12:
        net = check_node("Dropout", {"x": x}, opset=opset, ratio=0.3)
    else:
        net = check_node("Dropout", {"x": x, "ratio": np.array(0.3)}, initializers=("ratio",), opset=opset)
    assert isinstance(only(net), nn.Dropout) and only(net).p == pytest.approx(0.3)
    net.train()
    y = net(cnnlab.Tensor(x)).data
    assert ((y == 0) | np.isclose(y, x / 0.7)).all() and (y == 0).any()    # dropout when fine-tuning


# ---------------------------------------------------------------- pad
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad_opset_10_attributes(check_node, mode):
    check_node("Pad", {"x": rand(0, 2, 3, 5, 6)}, opset=10, mode=mode, pads=[0, 0, 1, 2, 0, 0, 2, 1],
               **(dict(value=1.5) if mode == "constant" else {}))


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad_inputs(check_node, mode):
    inputs = {"x": rand(0, 2, 3, 5, 6), "pads": ints(0, 0, 2, 1, 0, 0, 1, 3),
              "value": np.array(-2.0) if mode == "constant" else None}
    check_node("Pad", inputs, initializers=("pads", "value"), mode=mode)


def test_negative_pads_crop(onnx):
    """(The reference evaluator's Pad cannot crop: NumPy slicing is the oracle.)"""
    x = rand(0, 2, 3, 5, 6)
    net = load(onnx_model(onnx, "Pad", {"x": x, "pads": ints(0, 0, -1, 2, 0, 0, 1, -2)}, initializers=("pads",)))
    expected = np.pad(x[:, :, 1:, :4], [(0, 0), (0, 0), (0, 1), (2, 0)])
    np.testing.assert_array_equal(net(cnnlab.Tensor(x)).data, expected)


def test_pad_axes(check_node):
    inputs = {"x": rand(0, 2, 3, 5, 6), "pads": ints(1, 2, 2, 0), "value": None, "axes": ints(-1, 2)}
    check_node("Pad", inputs, initializers=("pads", "axes"), opset=18, mode="reflect")


# ---------------------------------------------------------------- MaxUnpool, DepthToSpace, SpaceToDepth
@pytest.mark.parametrize("output_shape", [None, ints(2, 3, 7, 9)])
def test_max_unpool(onnx, check_node, output_shape):
    """Indices from the reference MaxPool (flat over the whole tensor), then unpooled by both."""
    from onnx.reference import ReferenceEvaluator

    x = rand(0, 2, 3, 6, 8) if output_shape is None else rand(0, *output_shape)
    pool = onnx_model(onnx, "MaxPool", {"x": x}, 12, outputs=("y", "i"), kernel_shape=[2, 2], strides=[2, 2])
    y, index = ReferenceEvaluator(pool).run(None, {"x": x})
    inputs = {"y": y, "i": index, "shape": output_shape}
    if output_shape is None:
        check_node("MaxUnpool", inputs, initializers=("shape",), kernel_shape=[2, 2], strides=[2, 2])
        return
    # the reference MaxUnpool fails with an output_shape: ONNX's definition in NumPy is the oracle
    expected = np.zeros(x.size)
    expected[index.ravel()] = y.ravel()
    net = load(onnx_model(onnx, "MaxUnpool", inputs, initializers=("shape",), kernel_shape=[2, 2], strides=[2, 2]))
    got = net(cnnlab.Tensor(y), cnnlab.Tensor(index)).data
    np.testing.assert_array_equal(got, expected.reshape(x.shape))


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_to_space(check_node, mode):
    check_node("DepthToSpace", {"x": rand(0, 2, 8, 3, 4)}, blocksize=2, mode=mode)


def test_space_to_depth(check_node):
    check_node("SpaceToDepth", {"x": rand(0, 2, 3, 6, 4)}, blocksize=2)


RESIZES = [   # (attributes, scales or sizes, input spatial shape)
    (dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"), ("scales", [2.0, 1.5]), (3, 4)),
    (dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"), ("sizes", [5, 3]), (3, 4)),
    (dict(mode="nearest", coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil"),
     ("scales", [1.7, 0.6]), (5, 5)),
    (dict(mode="linear"), ("scales", [2.0, 1.5]), (3, 4)),
    (dict(mode="linear", coordinate_transformation_mode="pytorch_half_pixel"), ("sizes", [7, 2]), (3, 4)),
    (dict(mode="linear", coordinate_transformation_mode="align_corners"), ("sizes", [6, 9]), (3, 4)),
    (dict(mode="cubic"), ("scales", [2.0, 1.5]), (4, 4)),
    (dict(mode="cubic", coordinate_transformation_mode="align_corners"), ("sizes", [7, 5]), (4, 4)),
    (dict(mode="linear"), ("scales", [2.5]), (5,)),
    (dict(mode="linear"), ("sizes", [3, 4, 5]), (2, 2, 3)),
]


@pytest.mark.parametrize("attributes, given, spatial", RESIZES)
def test_resize(check_node, attributes, given, spatial):
    kind, values = given
    x = rand(0, 2, 3, *spatial)
    lead = [1.0, 1.0] if kind == "scales" else [2, 3]
    inputs = {"x": x, "roi": None, "scales": None, "sizes": None}
    inputs[kind] = np.array(lead + values, np.float32 if kind == "scales" else np.int64)
    # the reference evaluator's cubic weights from float32 scales are float32-exact only (~1e-6 here)
    tol = dict(rtol=1e-5, atol=2e-6) if attributes["mode"] == "cubic" else None
    check_node("Resize", inputs, initializers=(kind,), tol=tol, **attributes)


def test_upsample_before_opset_10(check_node):
    check_node("Upsample", {"x": rand(0, 1, 2, 3, 3), "scales": np.array([1, 1, 2, 3], np.float32)},
               initializers=("scales",), opset=9, mode="nearest")


@pytest.mark.parametrize("attributes, message", [
    (dict(mode="linear", coordinate_transformation_mode="asymmetric"),
     r"mode 'linear' with coordinate_transformation_mode 'asymmetric' is not supported \(supported: nearest"),
    (dict(mode="nearest"), r"mode 'nearest' with coordinate_transformation_mode 'half_pixel' and nearest_mode "
                           r"'round_prefer_floor' is not supported"),
    (dict(mode="cubic", cubic_coeff_a=-0.5), r"cubic_coeff_a must be -0.75"),
])
def test_resize_refuses_what_interpolate_does_not_compute(onnx, attributes, message):
    from oracle import onnx_model

    model = onnx_model(onnx, "Resize", {"x": rand(0, 1, 1, 2, 2), "roi": None,
                                        "scales": np.array([1, 1, 2, 2], np.float32)}, 19,
                       initializers=("scales",), **attributes)
    with pytest.raises(ValueError, match=r"cnnlab.onnx.load: <ModelProto>: node .* \(Resize\): " + message):
        load(model)


def test_every_tensor_op_has_a_test():
    tested = {"Add", "Sub", "Mul", "Div", "Sum", "Neg", "Abs", "Exp", "Log", "Sqrt", "Identity", "Constant",
              "ConstantOfShape", "Cast", "Shape", "Gather", "Slice", "Unsqueeze", "Squeeze", "Concat", "Transpose", "Reshape",
              "Flatten", "Softmax", "LogSoftmax", "Dropout", "Pad", "MaxUnpool", "DepthToSpace", "SpaceToDepth", "Resize", "Upsample"}
    assert set(TENSORS) == tested
