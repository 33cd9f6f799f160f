"""cnnlab.onnx.export: every zoo model exported, checked by ONNX's full checker and run by onnxruntime
against cnnlab at batch 1 and batch 3; the file's names, dims and writing; argument errors."""
import os
import sys

import numpy as np
import pytest

import cnnlab
import cnnlab.onnx
from cnnlab import models, nn
from cnnlab.onnx.export import Call, ExportError, GraphBuilder
from cnnlab.onnx.export_layers import LAYERS

from oracle import against_onnxruntime

pytestmark = pytest.mark.usefixtures("onnx")   # every test here needs the onnx package (skipped only outside CI)


def _with_statistics(model, seed=0):
    """Batch-norm layers with random running statistics and affine parameters (an untrained model's are 0 and 1)."""
    rng = np.random.default_rng(seed)
    with cnnlab.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                C = m.num_features
                m.running_mean.copy_(rng.normal(0, 0.2, C).astype(np.float32))
                m.running_var.copy_(rng.uniform(0.5, 2.0, C).astype(np.float32))
                m.weight.copy_(rng.uniform(0.5, 1.5, C).astype(np.float32))
                m.bias.copy_(rng.normal(0, 0.2, C).astype(np.float32))
    return model


PATTERN = "INPUT -> [[CONV -> BN -> RELU]*2 -> POOL]*2 -> [FC -> BN -> RELU -> DROPOUT]*1 -> FC"

ZOO = {
    "lenet5": (lambda: models.lenet5(), (1, 28, 28)),
    "lenet5 classic": (lambda: models.lenet5("classic"), (1, 28, 28)),
    "alexnet": (lambda: models.alexnet(num_classes=10), (3, 64, 64)),          # adaptive pool 1x1 -> 6x6
    "alexnet 2012": (lambda: models.alexnet("2012", num_classes=10), (3, 227, 227)),   # LRN, groups
    "vgg11": (lambda: models.vgg11(num_classes=10), (3, 32, 32)),
    "vgg11 bn": (lambda: models.vgg11(batch_norm=True, num_classes=10), (3, 32, 32)),
    "gapnet": (lambda: models.gapnet(), (1, 28, 28)),
    "resnet18": (lambda: models.resnet18(num_classes=10), (3, 64, 64)),
    "resnet34": (lambda: models.resnet34(num_classes=10), (3, 32, 32)),
    "resnet_cifar": (lambda: models.resnet_cifar(20), (3, 32, 32)),
    "from_pattern": (lambda: models.from_pattern(PATTERN, widths=(8, 16), fc_widths=(32,)), (3, 32, 32)),
    "srcnn": (lambda: models.srcnn(scale=3), (1, 10, 12)),                     # bicubic Upsample
    "espcn": (lambda: models.espcn(scale=2), (1, 10, 12)),                     # PixelShuffle
}


@pytest.mark.parametrize("name", ZOO)
def test_every_zoo_model_matches_onnxruntime_at_batch_1_and_3(onnxruntime, onnx, tmp_path, name):
    build, shape = ZOO[name]
    cnnlab.manual_seed(0)
    model = _with_statistics(build())
    rng = np.random.default_rng(1)
    x1, x3 = (rng.standard_normal((b,) + shape).astype(np.float32) for b in (1, 3))
    path = tmp_path / "model.onnx"
    proto = against_onnxruntime(onnxruntime, model, [x1, x3], path)
    onnx.checker.check_model(str(path), full_check=True)
    names = {i.name for i in proto.graph.initializer}
    params = {k for k, _ in model.named_parameters()}
    assert params <= names   # every parameter, under its state-dict key
    assert not names & {"num_batches_tracked"}


def test_initializers_are_the_state_dict_under_its_keys(onnx, tmp_path):
    model = _with_statistics(models.resnet_cifar(8))
    proto = cnnlab.onnx.export(model, cnnlab.randn(1, 3, 16, 16), tmp_path / "m.onnx")
    values = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    state = {k: v.numpy() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert set(state) <= set(values)
    for key, value in state.items():
        np.testing.assert_array_equal(values[key], value, err_msg=key)
    nodes = {n.name: n for n in proto.graph.node}
    assert nodes["layer1.0.conv1"].op_type == "Conv" and nodes["layer1.0.conv1"].output == ["layer1.0.conv1"]
    assert nodes["fc"].op_type == "Gemm" and list(nodes["fc"].input) == ["Flatten", "fc.weight", "fc.bias"]


@pytest.mark.parametrize("dynamic", [True, False])
def test_dynamic_batch_makes_dim_0_symbolic(onnxruntime, tmp_path, dynamic):
    model = models.lenet5()
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    proto = against_onnxruntime(onnxruntime, model, [x], tmp_path / "m.onnx", dynamic_batch=dynamic)
    for value in (proto.graph.input[0], proto.graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        assert (dims[0].dim_param, dims[0].dim_value) == (("N", 0) if dynamic else ("", 2))
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim[1:]] == [1, 28, 28]
    assert [d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim[1:]] == [10]


def test_the_file_is_the_returned_model(onnx, tmp_path):
    path = tmp_path / "m.onnx"
    proto = cnnlab.onnx.export(models.lenet5(), cnnlab.randn(1, 1, 28, 28), str(path), opset=19)
    assert onnx.load(str(path)) == proto
    assert proto.opset_import[0].version == 19 and proto.producer_name == "cnnlab"
    assert [i.name for i in proto.graph.input] == ["input"] and [o.name for o in proto.graph.output] == ["output"]


def test_training_flags_are_restored_and_eval_mode_is_exported(onnxruntime, tmp_path):
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Dropout(0.5), nn.Flatten(), nn.Linear(12, 2))
    _with_statistics(model)
    model.train()
    model[2].eval()
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 4)).astype(np.float32)
    path = tmp_path / "m.onnx"
    proto = cnnlab.onnx.export(model, x, path)
    assert [m.training for m in model.modules()] == [True, True, True, False, True, True]
    assert not any(m._forward_hooks for m in model.modules())   # the tracing hooks are gone
    assert "Dropout" not in [n.op_type for n in proto.graph.node]
    model.eval()
    with cnnlab.no_grad():
        want = model(cnnlab.tensor(x)).numpy()
    got = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_float64_models_export_as_double(onnxruntime, onnx, tmp_path):
    model = nn.Sequential(nn.Linear(4, 3, dtype=np.float64), nn.Tanh())
    x = np.random.default_rng(0).standard_normal((2, 4))
    proto = against_onnxruntime(onnxruntime, model, [x, x[:1]], tmp_path / "m.onnx", tol=dict(rtol=1e-12, atol=0))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def test_constants_made_in_forward_and_shared_layers(onnxruntime, tmp_path):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x):
            return self.conv(self.conv(x) + cnnlab.ones(2, 1, 1))

    x = np.random.default_rng(0).standard_normal((2, 2, 5, 5)).astype(np.float32)
    proto = against_onnxruntime(onnxruntime, Net(), [x, x[:1]], tmp_path / "m.onnx")
    assert [n.op_type for n in proto.graph.node] == ["Conv", "Add", "Conv", "Identity"]
    assert sorted(i.name for i in proto.graph.initializer) == ["constant", "conv.bias", "conv.weight"]


def test_a_failed_export_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    with pytest.raises(ExportError, match="LocalResponseNorm"):
        cnnlab.onnx.export(nn.LocalResponseNorm(2), cnnlab.randn(1, 3, 2, 2), path)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["m.onnx"]
    with pytest.raises(FileNotFoundError):
        cnnlab.onnx.export(nn.ReLU(), cnnlab.randn(1, 3), tmp_path / "missing" / "m.onnx")


def test_the_model_must_return_one_new_tensor(tmp_path):
    class Two(nn.Module):
        def forward(self, x):
            return x * 2, x

    with pytest.raises(ExportError, match=r"export: the model must return one Tensor, got tuple"):
        cnnlab.onnx.export(Two(), cnnlab.randn(1, 3), tmp_path / "m.onnx")
    with pytest.raises(ExportError, match=r"export: the model returns its input unchanged; there is nothing to export"):
        cnnlab.onnx.export(nn.Sequential(nn.Identity(), nn.Dropout()), cnnlab.randn(1, 3), tmp_path / "m.onnx")


@pytest.mark.parametrize("args, error, message", [
    ((3, cnnlab.randn(1, 3)), TypeError, r"export: model must be a cnnlab.nn.Module, got int"),
    ((nn.ReLU(), [[1.0]]), TypeError, r"export: example_input must be a cnnlab Tensor or a NumPy array, got list"),
    ((nn.ReLU(), np.ones((1, 3), np.int64)), TypeError,
     r"export: example_input must be a floating-point tensor, got dtype int64"),
    ((nn.ReLU(), cnnlab.randn(0, 3)), ValueError, r"export: example_input must have a batch dim of at least 1, "
                                                  r"got shape \(0, 3\)"),
    ((nn.ReLU(), cnnlab.tensor(1.0)), ValueError, r"export: example_input must have a batch dim of at least 1, "
                                                  r"got shape \(\)"),
])
def test_bad_model_or_input(tmp_path, args, error, message):
    with pytest.raises(error, match=message):
        cnnlab.onnx.export(*args, tmp_path / "m.onnx")


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(path=3), TypeError, r"export: path must be a str or os.PathLike, got int"),
    (dict(opset=16), ValueError, r"export: opset must be in 17..21, got opset=16"),
    (dict(opset="17"), TypeError, r"export: opset must be an int, got opset='17' \(str\)"),
    (dict(dynamic_batch=1), TypeError, r"export: dynamic_batch must be True or False, got dynamic_batch=1 \(int\)"),
])
def test_bad_arguments_fail_before_any_work(tmp_path, kwargs, error, message):
    model, ran = nn.ReLU(), []
    model.register_forward_hook(lambda *args: ran.append(1))
    kwargs = dict(dict(path=tmp_path / "m.onnx"), **kwargs)
    with pytest.raises(error, match=message):
        cnnlab.onnx.export(model, cnnlab.randn(1, 3), **kwargs)
    assert not ran and not os.listdir(tmp_path)


def test_without_the_onnx_package_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)   # `import onnx` now raises ImportError
    with pytest.raises(ImportError, match=r"export: ONNX export needs the onnx package: pip install 'cnnlab\[onnx\]'"):
        cnnlab.onnx.export(nn.ReLU(), cnnlab.randn(1, 3), tmp_path / "m.onnx")


# ---------------------------------------------------------------- the graph builder
def test_graph_builder_names_values_and_nodes(onnx):
    w = nn.Parameter(np.ones((2, 3), np.float32))
    g = GraphBuilder(17, np.float32, {"fc.weight": w})
    assert [g.fresh("a"), g.fresh("a"), g.fresh("input")] == ["a", "a_1", "input_1"]
    assert g.param(w) == "fc.weight" and g.param(w) == "fc.weight"              # one initializer
    assert g.param(cnnlab.zeros(2)) == "tensor"                                   # not in the state: a constant
    assert g.constant("c", 1.5) == "c" and g.ints("c", [1, 2]) == "c_1"
    with pytest.raises(ExportError, match=r"export: the value name 'fc.weight' is used twice"):
        g.initializer("fc.weight", np.zeros(1))
    assert g.node("Relu", ["x"], name="act") == "act" and g.node("Relu", ["x"], name="act") == "act_1"
    assert g.node("Split", ["x"], ["p", "q"], name="split", axis=0) == ["p", "q"]
    assert [n.name for n in g.nodes] == ["act", "act_1", "split"]
    arrays = {i.name: onnx.numpy_helper.to_array(i) for i in g.initializers}
    assert arrays["c"].dtype == np.float32 and arrays["c"].shape == () and arrays["c_1"].dtype == np.int64


def test_a_layer_writer_takes_a_call():
    g = GraphBuilder(17, np.float32, {})
    x = cnnlab.randn(1, 3)
    call = Call(nn.LeakyReLU(0.3), "act", (x,), (x * 2,), "LeakyReLU 'act'")
    LAYERS[nn.LeakyReLU](g, call, ["x"], ["y"])
    (node,) = g.nodes
    assert (node.op_type, list(node.input), list(node.output), node.name) == ("LeakyRelu", ["x"], ["y"], "act")
    assert node.attribute[0].f == pytest.approx(0.3)
