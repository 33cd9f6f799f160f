"""The ops between layers exported by cnnlab.onnx.export (the writers of cnnlab/onnx/export_ops.py) and
run by onnxruntime, the oracle, against cnnlab's own output; the ops it cannot write, refused by name."""
import numpy as np
import pytest

import cnnlab
import cnnlab.onnx
from cnnlab import nn
from cnnlab.nn import functional as F
from cnnlab.onnx.export import GraphBuilder
from cnnlab.onnx.export_ops import BIG, OPS, ExportError, onnx_pads, reshape_kept, slice_axes, write_pad

from helpers import Lambda, random_inputs, randomize
from oracle import against_onnxruntime

pytestmark = pytest.mark.usefixtures("onnx")   # every test here needs the onnx package (skipped only outside CI)


OP_CASES = {
    "residual add": (lambda self, x: self.layers(x) + x, [nn.Conv2d(3, 3, 3, padding=1)], (2, 3, 5, 5)),
    "arithmetic with numbers": (lambda self, x: ((x * 2 - 1) / 3 + 0.5) ** 2 - (-x), [], (2, 3, 4)),
    "maximum, minimum": (lambda self, x: cnnlab.maximum(x, x * 0.5) + cnnlab.minimum(x, x.abs() - 1), [], (2, 3)),
    "unary": (lambda self, x: x.exp().tanh() + x.abs().sqrt() + (x.abs() + 1).log() + x.sigmoid() + F.relu(x),
              [], (2, 3, 4)),
    "flatten and view": (lambda self, x: x.flatten(1) + x.view(x.shape[0], -1), [], (2, 3, 4)),
    "squeeze and unsqueeze": (lambda self, x: x.unsqueeze(1).squeeze(1).flatten(2), [], (2, 3, 4, 5)),
    "permute": (lambda self, x: x.permute(0, 2, 3, 1) * 2, [], (2, 3, 4, 5)),
    "slices": (lambda self, x: x[:, 1:, ::2, -3:], [], (2, 3, 6, 7)),
    "negative step": (lambda self, x: x[:, ::-1, 4:0:-2], [], (2, 3, 6)),
    "ints, None and ...": (lambda self, x: x[:, 1, None, ..., 2], [], (2, 3, 4, 5)),
    "cat": (lambda self, x: cnnlab.cat([x, x * 2, x[:, :1]], dim=1), [], (2, 3, 4)),
    "pad constant": (lambda self, x: F.pad(x, (1, 2, 0, 1), value=0.25), [], (2, 3, 4, 4)),
    "pad crops": (lambda self, x: F.pad(x, (-1, 2)), [], (2, 3, 5)),
    "pad reflect": (lambda self, x: F.pad(x, (2, 1, 1, 1), mode="reflect"), [], (2, 3, 4, 4)),
    "pad circular": (lambda self, x: F.pad(x, (1, 2), mode="circular"), [], (2, 3, 4)),
    "softmax": (lambda self, x: F.softmax(x, 1) + F.log_softmax(x, -1), [], (2, 3, 4)),
    "matmul and clone": (lambda self, x: (x @ x.permute(0, 2, 1)).clone(), [], (2, 3, 4)),
    "cifar shortcut": (lambda self, x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 1, 1)), [], (2, 2, 6, 6)),
    "sum and mean": (lambda self, x: x.sum((2, 3)) + x.mean(-1).mean(-1) + x.sum(1, keepdim=True).mean((2, 3))
                     + x.mean(), [], (2, 3, 4, 5)),
    "F.conv2d": (lambda self, x: F.conv2d(x, self.layers[0].weight, self.layers[0].bias, 2, (1, 0), (1, 2)),
                 [nn.Conv2d(3, 4, 3)], (2, 3, 7, 8)),
    "F.conv1d grouped, no bias": (lambda self, x: F.conv1d(x, self.layers[0].weight, None, 1, 2, 2, 3),
                                  [nn.Conv1d(3, 6, 3, groups=3)], (2, 3, 9)),
    "F.conv_transpose2d": (lambda self, x: F.conv_transpose2d(x, self.layers[0].weight, self.layers[0].bias, 2, 1, 1),
                           [nn.ConvTranspose2d(3, 2, 3)], (2, 3, 4, 5)),
    "F.batch_norm": (lambda self, x: F.batch_norm(x, self.layers[0].running_mean, self.layers[0].running_var,
                                                  self.layers[0].weight, self.layers[0].bias, eps=1e-3),
                     [nn.BatchNorm2d(3)], (2, 3, 4, 4)),
    "F.batch_norm without affine": (lambda self, x: F.batch_norm(x, self.layers[0].running_mean,
                                                                 self.layers[0].running_var), [nn.BatchNorm1d(3)],
                                    (2, 3)),
}


@pytest.mark.parametrize("case", OP_CASES)
def test_ops_between_layers(onnxruntime, tmp_path, case):
    fn, layers, shape = OP_CASES[case]
    against_onnxruntime(onnxruntime, randomize(Lambda(fn, *layers)), random_inputs(*shape, batches=(2, 3)),
                        tmp_path / "m.onnx")


@pytest.mark.parametrize("layer, shape", [
    (nn.Upsample(scale_factor=2), (2, 3, 4, 5)),
    (nn.Upsample(size=(7, 9)), (2, 3, 4, 5)),
    (nn.Upsample(scale_factor=1.5, mode="nearest-exact"), (2, 3, 4, 5)),
    (nn.Upsample(scale_factor=2, mode="bilinear"), (2, 3, 4, 5)),
    (nn.Upsample(size=(5, 8), mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    (nn.Upsample(scale_factor=3, mode="linear"), (2, 3, 4)),
    (nn.Upsample(scale_factor=2, mode="bicubic"), (2, 2, 4, 4)),
    (nn.Upsample(size=(3, 4, 5), mode="trilinear"), (2, 2, 2, 3, 4)),
    (nn.UpsamplingNearest2d(scale_factor=2), (2, 3, 3, 3)),
    (nn.UpsamplingBilinear2d(size=(6, 6)), (2, 3, 3, 4)),
    (nn.PixelShuffle(2), (2, 8, 3, 4)),
    (nn.PixelUnshuffle(2), (2, 2, 4, 6)),
], ids=repr)
def test_resampling_layers_export_through_their_ops(onnxruntime, tmp_path, layer, shape):
    """Upsample runs one Resample op (written as a Gather or a MatMul per axis), PixelShuffle a reshape,
    a permute and a reshape."""
    against_onnxruntime(onnxruntime, layer, random_inputs(*shape, batches=(2, 3)), tmp_path / "m.onnx")


def test_ops_keep_the_state_dict_names(tmp_path):
    fn, layers, _ = OP_CASES["F.conv2d"]
    model = Lambda(fn, *layers)
    proto = cnnlab.onnx.export(model, cnnlab.randn(1, 3, 7, 8), tmp_path / "m.onnx")
    assert [(n.op_type, list(n.input)) for n in proto.graph.node][0] == ("Conv", ["input", "layers.0.weight",
                                                                                  "layers.0.bias"])


def test_keras_layers_export_through_their_ops(onnxruntime, tmp_path):
    """cnnlab.keras's layers have no writers: their forwards run conv, pad, permute, reshape, mean and matmul."""
    from cnnlab import keras

    L = keras.layers
    model = nn.Sequential(L.Conv2D(4, 3, strides=2, padding="same"), L.Activation("relu"),
                          L.DepthwiseConv2D(3, padding="same"), L.GlobalAveragePooling2D(), L.Dense(5))
    against_onnxruntime(onnxruntime, randomize(model), random_inputs(2, 9, 8, 3, batches=(2, 3)),
                        tmp_path / "m.onnx")


def test_batch_norm_with_batch_statistics_is_refused(tmp_path):
    model = Lambda(lambda self, x: F.batch_norm(x, None, None, training=True))
    with pytest.raises(ExportError, match=r"export: batch_norm with the batch's own statistics \(training=True\) "
                                          r"has no ONNX form here"):
        cnnlab.onnx.export(model, cnnlab.randn(2, 3, 2, 2), tmp_path / "m.onnx")


def test_an_unsupported_op_names_itself_and_its_module(tmp_path):
    class Block(nn.Module):
        def forward(self, x):
            return x.amax(1)

    model = nn.Sequential(nn.Conv2d(1, 2, 3), Block())
    with pytest.raises(ExportError, match=r"export: the op MaxAll in the forward of Block '1' has no ONNX form here; "
                                          r"between layers, export writes the ops Abs, Add, BatchNorm, Cat, "):
        cnnlab.onnx.export(model, cnnlab.randn(1, 1, 5, 5), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_an_unsupported_layer_names_itself(tmp_path):
    """GroupNorm has no writer: its ops are looked through, and the one ONNX lacks here is named, with the layer."""
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.GroupNorm(2, 4))
    with pytest.raises(ExportError, match=r"export: batch_norm with the batch's own statistics \(training=True\) has "
                                          r"no ONNX form here; .* \(in the forward of GroupNorm '1'\)"):
        cnnlab.onnx.export(model, cnnlab.randn(1, 1, 5, 5), tmp_path / "m.onnx")


def test_array_indexing_is_refused(tmp_path):
    model = Lambda(lambda self, x: x[:, [0, 2]])
    with pytest.raises(ExportError, match=r"export: indexing with an array \(x\[idx\], idx an int or bool array\) "
                                          r"has no ONNX form here; index with slices, ints and None"):
        cnnlab.onnx.export(model, cnnlab.randn(1, 3), tmp_path / "m.onnx")


def test_write_pad_picks_pad_or_gather(onnx):
    g = GraphBuilder(17, np.float32, {})
    write_pad(g, "x", (1, 2, 4, 4), {2: (1, 1)}, "replicate")
    write_pad(g, "x", (1, 2, 4, 4), {3: (1, 2)}, "circular")
    write_pad(g, "x", (1, 2, 4, 4), {2: (1, -1), 3: (0, 2)}, "reflect", out="y")
    write_pad(g, "x", (1, 2, 4), {2: (2, 1)}, "constant", value=3.0)
    assert [(n.op_type, n.output[0]) for n in g.nodes] == [
        ("Pad", "pad"), ("Gather", "pad_1"), ("Gather", "pad_2"), ("Gather", "y"), ("Pad", "pad_3")]
    pads = {i.name: onnx.numpy_helper.to_array(i) for i in g.initializers}
    assert pads["pad.pads"].tolist() == [0, 0, 1, 0, 0, 0, 1, 0]
    assert pads["pad.index"].tolist() == [3, 0, 1, 2, 3, 0, 1]   # circular, as cnnlab's pad_index
    assert pads["pad.value"] == np.float32(3.0) and g.nodes[-1].attribute[0].s == b"constant"


def test_shape_writers(onnx):
    g = GraphBuilder(17, np.float32, {})
    assert onnx_pads([(1, 2), (3, 4)]) == [1, 3, 2, 4]
    reshape_kept(g, "x", (2, 3, 4, 5), 1, 3)                  # (N, C·H·W): Flatten
    reshape_kept(g, "x", (2, 3, 4, 5), 2, 3, name="r")        # (N, C, H·W): a Reshape copying N and C
    slice_axes(g, "x", [1], [BIG], [2], "s", axes=[3])
    assert [(n.op_type, n.name) for n in g.nodes] == [("Flatten", "Flatten"), ("Reshape", "r"), ("Slice", "s")]
    arrays = {i.name: onnx.numpy_helper.to_array(i).tolist() for i in g.initializers}
    assert arrays == {"r.shape": [0, 0, -1], "s.starts": [1], "s.ends": [BIG], "s.axes": [3], "s.steps": [2]}


def test_the_table_holds_functions():
    assert all(isinstance(op, type) and issubclass(op, cnnlab.Function) for op in OPS)
