"""cnnlab.viz.maps: the arrays of the pictures, against PyTorch (the same weights, torch's autograd) and the theory."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
from cnnlab import nn
from cnnlab.models import gapnet, lenet5
from cnnlab.viz import maps


def random_gapnet(seed=0, widths=(4, 6), batch_norm=True, dtype=np.float64):
    """An untrained GAP net in eval mode whose batch norms have non-trivial running statistics and affine weights."""
    cnnlab.manual_seed(seed)
    model = gapnet(widths=widths, batch_norm=batch_norm)
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.data[...] = rng.standard_normal(m.running_mean.shape) * 0.1
            m.running_var.data[...] = rng.uniform(0.5, 2.0, m.running_var.shape)
            m.weight.data[...] = rng.uniform(0.5, 1.5, m.weight.shape)
            m.bias.data[...] = rng.standard_normal(m.bias.shape) * 0.1
    return model.to(dtype=dtype).eval()


def image(seed=1, shape=(1, 28, 28), dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def torch_twin(torch, model):
    """The same network in PyTorch, layer for layer, with the same weights and buffers (GAPNet or Sequential)."""
    def twin(m):
        if isinstance(m, nn.Sequential):
            return torch.nn.Sequential(*[twin(c) for c in m.children()])
        if isinstance(m, nn.Conv2d):
            return torch.nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                                   bias=m.bias is not None)
        if isinstance(m, nn.BatchNorm2d):
            return torch.nn.BatchNorm2d(m.num_features)
        if isinstance(m, nn.MaxPool2d):
            return torch.nn.MaxPool2d(m.kernel_size, m.stride)
        if isinstance(m, nn.AdaptiveAvgPool2d):
            return torch.nn.AdaptiveAvgPool2d(m.output_size)
        if isinstance(m, nn.Linear):
            return torch.nn.Linear(m.in_features, m.out_features)
        return {nn.ReLU: torch.nn.ReLU, nn.Flatten: torch.nn.Flatten}[type(m)]()

    if isinstance(model, nn.Sequential):
        theirs = twin(model)
    else:  # GAPNet: features -> gap -> flatten -> fc
        theirs = torch.nn.Sequential()
        theirs.add_module("features", twin(model.features))
        theirs.add_module("gap", twin(model.gap))
        theirs.add_module("flatten", torch.nn.Flatten())
        theirs.add_module("fc", twin(model.fc))
    theirs.load_state_dict({k: torch.tensor(np.asarray(v.data)) for k, v in model.state_dict().items()})
    return theirs.double().eval()


def torch_layer(theirs, name):
    return theirs.get_submodule(name)


# ---------------------------------------------------------------- bilinear_resize
@pytest.mark.parametrize("shape, size", [((1, 1, 7, 7), (28, 28)), ((2, 3, 5, 4), (9, 13)), ((1, 2, 10, 12), (4, 5)),
                                         ((3, 3), (3, 3)), ((6, 1), (2, 7)), ((2, 1, 1, 1), 5)])
def test_bilinear_resize_is_torch_interpolate_bilinear_without_align_corners(torch, shape, size):
    x = np.random.default_rng(0).standard_normal(shape)
    ours = maps.bilinear_resize(x, size)
    t = torch.tensor(x.reshape((-1, 1, *shape[-2:])))
    size2 = (size, size) if isinstance(size, int) else size
    theirs = torch.nn.functional.interpolate(t, size=size2, mode="bilinear", align_corners=False)
    assert ours.shape == (*shape[:-2], *size2) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, theirs.numpy().reshape(ours.shape), rtol=1e-12, atol=1e-12)
    assert maps.bilinear_resize(x.astype(np.float32), size).dtype == np.float32


def test_bilinear_resize_example():
    np.testing.assert_allclose(maps.bilinear_resize(np.array([[0.0, 1.0]]), (1, 4)), [[0, 0.25, 0.75, 1]])


@pytest.mark.parametrize("array, size, error, message", [
    (np.zeros(4), (2, 2), ValueError, r"bilinear_resize: array must be floating point with 2 or more axes "
                                      r"\(\.\.\., h, w\), got shape \(4,\) and dtype float64"),
    (np.zeros((2, 2), int), (2, 2), ValueError, "got shape \\(2, 2\\) and dtype int64"),
    (np.zeros((2, 2)), (0, 2), ValueError, r"bilinear_resize: size must be positive, got size=\(0, 2\)"),
    (np.zeros((2, 2)), 2.5, TypeError, "bilinear_resize: size must be"),
])
def test_bilinear_resize_refuses_bad_input(array, size, error, message):
    with pytest.raises(error, match=message):
        maps.bilinear_resize(array, size)


# ---------------------------------------------------------------- layers by name
def test_conv_layer_names_and_the_default_layer():
    model = gapnet(widths=(4, 6))
    assert maps.conv_layer_names(model) == ["features.0", "features.3", "features.7", "features.10"]
    assert maps.default_layer(model) == "features.12"            # the ReLU after the last conv's BatchNorm
    assert isinstance(model.get_submodule("features.12"), nn.ReLU)
    assert maps.default_layer(gapnet(widths=(4,), batch_norm=False)) == "features.3"  # conv, ReLU
    bare = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    assert maps.default_layer(bare) == "0"                       # nothing pointwise after it
    assert maps.conv_layer_names(lenet5()) == ["0", "3"] and maps.default_layer(lenet5()) == "4"  # conv, ReLU


def test_default_layer_outside_a_sequential_is_the_conv_itself():
    from cnnlab.models import resnet_cifar

    model = resnet_cifar()
    assert maps.default_layer(model) == maps.conv_layer_names(model)[-1]


def test_layers_by_name_fail_with_the_conv_layers_listed():
    model = gapnet(widths=(4,))
    assert maps.find_layer(model, "features.1") is model.features[1]
    with pytest.raises(ValueError, match=r"^grad_cam: layer 'features.9' is not a layer of GAPNet \(its conv layers: "
                                         r"features.0, features.3\)$"):
        maps.find_layer(model, "features.9", "grad_cam")
    with pytest.raises(ValueError, match=r"^find_layer: layer '' is not a layer of GAPNet"):
        maps.find_layer(model, "")
    with pytest.raises(TypeError, match=r"^find_layer: layer must be a module name \(str\), got int$"):
        maps.find_layer(model, 3)
    with pytest.raises(ValueError, match=r"^default_layer: Linear has no Conv2d layer$"):
        maps.default_layer(nn.Linear(2, 2))


def test_gap_classifier_finds_gap_then_linear():
    assert maps.gap_classifier(gapnet(widths=(4,))) == ("gap", "fc")
    assert maps.gap_classifier(lenet5()) is None
    assert maps.gap_classifier(nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                                             nn.Linear(8, 3))) is None    # pooling to 2×2 is not global
    assert maps.gap_classifier(nn.Sequential(nn.Linear(2, 2), nn.AdaptiveAvgPool2d(1))) is None


# ---------------------------------------------------------------- filters and feature maps
def test_first_layer_filters_is_a_copy_of_the_first_conv_weight():
    model = gapnet(widths=(4,))
    w = maps.first_layer_filters(model)
    np.testing.assert_array_equal(w, model.features[0].weight.data)
    assert w.shape == (4, 1, 3, 3)
    w[...] = 0
    assert model.features[0].weight.data.any()
    with pytest.raises(ValueError, match=r"^first_layer_filters: Linear has no Conv2d layer$"):
        maps.first_layer_filters(nn.Linear(2, 2))


def test_feature_maps_are_the_outputs_of_each_conv_layer():
    model = random_gapnet()
    x = image()
    found = maps.feature_maps(model, x)
    assert list(found) == maps.conv_layer_names(model)
    with cnnlab.no_grad():
        for name, f in found.items():
            i = int(name.split(".")[1])
            expected = model.features[:i + 1](cnnlab.tensor(x[None])).data[0]
            np.testing.assert_allclose(f, expected, rtol=1e-12, atol=1e-12)
    assert list(maps.feature_maps(model, x, ["features.2"])) == ["features.2"]


def test_feature_maps_refuse_a_layer_that_is_not_called_or_not_maps():
    model = random_gapnet()
    model.spare = nn.Conv2d(1, 1, 1).double()
    with pytest.raises(ValueError, match=r"^feature_maps: layer 'spare' is not called by GAPNet's forward$"):
        maps.feature_maps(model, image())
    with pytest.raises(ValueError, match=r"^feature_maps: layer 'fc' \(Linear\) gives \(1, 10\), not maps"):
        maps.feature_maps(model, image(), ["fc"])
    with pytest.raises(ValueError, match=r"^feature_maps: image must be one floating-point image \(C, H, W\), got "
                                         r"shape \(1, 1, 28, 28\) and dtype float64$"):
        maps.feature_maps(model, image(shape=(1, 1, 28, 28)))


# ---------------------------------------------------------------- CAM
def test_cam_is_the_weighted_sum_of_the_last_feature_maps():
    model = random_gapnet()
    x = image()
    result = maps.cam(model, x, target=4)
    with cnnlab.no_grad():
        f = model.features(cnnlab.tensor(x[None])).data[0]              # (K, h, w): the maps that enter the GAP
        scores = model(cnnlab.tensor(x[None])).data[0]
    w = model.fc.weight.data                                             # (classes, K)
    expected = sum(w[4, k] * f[k] for k in range(f.shape[0]))
    assert result.method == "cam" and result.layer == "gap" and result.target == 4
    np.testing.assert_allclose(result.low_res, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.scores, scores, rtol=1e-12)
    # the GAP of M_c, plus the bias, is the class score
    np.testing.assert_allclose(result.low_res.mean() + model.fc.bias.data[4], scores[4], rtol=1e-10)
    np.testing.assert_allclose(result.map, maps.bilinear_resize(expected, (28, 28)), rtol=1e-12, atol=1e-12)
    assert result.low_res.shape == (14, 14) and result.map.shape == (28, 28)
    assert maps.cam(model, x).target == int(np.argmax(scores))


def test_cam_refuses_a_model_without_gap_and_a_class_out_of_range():
    with pytest.raises(ValueError, match=r"^cam: Sequential has no global average pooling before a linear classifier "
                                         r"\(CAM needs conv maps -> AdaptiveAvgPool2d\(1\) -> flatten -> Linear\); "
                                         r"grad_cam works for any conv layer of any model$"):
        maps.cam(lenet5(), image(dtype=np.float32))
    model = random_gapnet()
    with pytest.raises(ValueError, match=r"^cam: target must be a class index in \[0, 10\), got 10$"):
        maps.cam(model, image(), target=10)
    with pytest.raises(TypeError, match=r"^cam: target must be an int, got target=1.5 \(float\)$"):
        maps.cam(model, image(), target=1.5)


def test_cam_checks_that_the_gap_feeds_the_classifier():
    class Detour(nn.Module):  # GAP and Linear exist, but the scores are scaled after the Linear
        def __init__(self):
            super().__init__()
            self.conv, self.gap, self.fc = nn.Conv2d(1, 3, 3), nn.AdaptiveAvgPool2d(1), nn.Linear(3, 4)

        def forward(self, x):
            return self.fc(self.gap(self.conv(x)).flatten(1)) * 2

    with pytest.raises(ValueError, match=r"^cam: in Detour's forward, 'gap' \(GAP\) does not feed 'fc' \(Linear\) "
                                         r"whose output is the scores"):
        maps.cam(Detour(), image(dtype=np.float32))


# ---------------------------------------------------------------- Grad-CAM
def test_grad_cam_of_the_gap_input_is_relu_cam_over_the_number_of_positions():
    """y^c = Σ_k w_k^c (1/Z) Σ_ij f_k(i, j) + b^c, so ∂y^c/∂f_k(i, j) = w_k^c / Z, α_k^c = w_k^c / Z and
    Grad-CAM = ReLU(Σ_k w_k^c f_k) / Z = ReLU(CAM) / Z, Z = h·w, for any weights."""
    negative = positive = 0
    for model, layer in ((random_gapnet(), None), (random_gapnet(3, widths=(5,), batch_norm=False), None),
                         (nn.Sequential(nn.Conv2d(1, 6, 5, stride=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                        nn.Linear(6, 4)).double(), "0")):
        x = image()
        for c in range(3):
            g, m = maps.grad_cam(model, x, target=c, layer=layer), maps.cam(model, x, target=c)
            z = m.low_res.size
            negative += int((m.low_res < 0).any())
            positive += int((m.low_res > 0).any())
            np.testing.assert_allclose(g.low_res, np.maximum(m.low_res, 0) / z, rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(g.scores, m.scores, rtol=1e-12)
    assert negative and positive  # maps of both signs were tested: the ReLU mattered


@pytest.mark.parametrize("layer", ["features.3", "features.5", "features.7", "features.12", "features"])
def test_grad_cam_of_any_layer_is_torchs(torch, layer):
    model, x = random_gapnet(2), image(4)
    result = maps.grad_cam(model, x, target=6, layer=layer)
    theirs = torch_twin(torch, model)
    caught = {}

    def hook(module, args, out):
        out.retain_grad()
        caught["a"] = out

    torch_layer(theirs, layer).register_forward_hook(hook)
    scores = theirs(torch.tensor(x[None]))
    scores[0, 6].backward()
    a, grad = caught["a"].detach().numpy()[0], caught["a"].grad.numpy()[0]
    expected = np.maximum(np.tensordot(grad.mean(axis=(1, 2)), a, axes=(0, 0)), 0)
    np.testing.assert_allclose(result.low_res, expected, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(result.scores, scores.detach().numpy()[0], rtol=1e-12)
    expected_up = torch.nn.functional.interpolate(torch.tensor(expected[None, None]), size=(28, 28),
                                                  mode="bilinear", align_corners=False)
    np.testing.assert_allclose(result.map, expected_up.numpy()[0, 0], rtol=1e-9, atol=1e-14)
    assert result.layer == layer and result.method == "gradcam"


def test_grad_cam_leaves_the_model_as_it_was():
    model = random_gapnet()
    model.train()
    model.fc.requires_grad_(False)
    flags = [p.requires_grad for p in model.parameters()]
    maps.grad_cam(model, image())
    maps.saliency(model, image())
    maps.effective_receptive_field(model, image(shape=(2, 1, 28, 28)))
    assert all(m.training for m in model.modules())
    assert [p.requires_grad for p in model.parameters()] == flags and not all(flags)
    assert all(p.grad is None for p in model.parameters())


def test_grad_cam_refuses_layers_without_maps_or_unused():
    model = random_gapnet()
    with pytest.raises(ValueError, match=r"^grad_cam: layer 'nope' is not a layer of GAPNet \(its conv layers: "):
        maps.grad_cam(model, image(), layer="nope")
    with pytest.raises(ValueError, match=r"^grad_cam: layer 'fc' \(Linear\) gives \(1, 10\), not maps \(N, C, H, W\)$"):
        maps.grad_cam(model, image(), layer="fc")
    model.spare = nn.ReLU()
    with pytest.raises(ValueError, match=r"^grad_cam: layer 'spare' is not called by GAPNet's forward$"):
        maps.grad_cam(model, image(), layer="spare")
    with pytest.raises(ValueError, match=r"^grad_cam: target must be a class index in \[0, 10\), got -1$"):
        maps.grad_cam(model, image(), target=-1)


def test_grad_cam_refuses_a_layer_called_twice():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.relu = nn.Conv2d(1, 1, 3, padding=1), nn.ReLU()
            self.gap, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(1, 2)

        def forward(self, x):
            return self.fc(self.gap(self.relu(self.relu(self.conv(x)))).flatten(1))

    with pytest.raises(ValueError, match=r"^grad_cam: layer 'relu' is called more than once in a forward pass"):
        maps.grad_cam(Twice(), image(dtype=np.float32), layer="relu")


def test_grad_cam_of_a_model_whose_scores_ignore_the_layer():
    class Ignores(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.fc = nn.Conv2d(1, 1, 3), nn.Linear(4, 2)

        def forward(self, x):
            self.conv(x)
            return self.fc(x[:, 0, 0, :4])

    with pytest.raises(ValueError, match=r"^grad_cam: the scores of Ignores do not depend on layer 'conv'$"):
        maps.grad_cam(Ignores(), image(shape=(1, 5, 5), dtype=np.float32), layer="conv")


# ---------------------------------------------------------------- saliency
def test_saliency_is_torchs_input_gradient(torch):
    model, x = random_gapnet(5), image(6)
    result = maps.saliency(model, x, target=2)
    t = torch.tensor(x[None], requires_grad=True)
    torch_twin(torch, model)(t)[0, 2].backward()
    np.testing.assert_allclose(result.map, t.grad.abs().amax(dim=1)[0].numpy(), rtol=1e-10, atol=1e-14)
    assert result.map is result.low_res and result.method == "saliency" and result.layer == "" and result.target == 2
    with pytest.raises(ValueError, match=r"^saliency: the model must give class scores \(1, classes\) for one image, "
                                         r"got shape \(1, 6, 24, 24\)$"):
        maps.saliency(nn.Conv2d(1, 6, 5).double(), x)


# ---------------------------------------------------------------- receptive fields
def test_receptive_field_box_follows_the_recurrences():
    # two 3×3 convs (r 5), a 2×2 pool (r 6, j 2), two 3×3 convs (r 14); the centre unit (6, 6) of 14×14 is
    # centred at start + 6·j = 1 + 12 = 13: rows and columns [6, 20)
    model = gapnet(widths=(4, 6))
    assert maps.receptive_field_box(model, (1, 28, 28), "features.12") == (6, 6, 20, 20)
    assert maps.receptive_field_box(model, (1, 28, 28), "features.12", unit=(0, 13)) == (0, 20, 8, 28)  # clipped
    assert maps.receptive_field_box(model, (1, 28, 28), "features.0") == (12, 12, 15, 15)
    with pytest.raises(ValueError, match=r"^receptive_field_box: unit must be inside the 14×14 output of "
                                         r"'features.12', got unit=\(0, 14\)$"):
        maps.receptive_field_box(model, (1, 28, 28), "features.12", unit=(0, 14))
    with pytest.raises(ValueError, match=r"^receptive_field_box: unit must be non-negative, got unit=\(-1, 0\)$"):
        maps.receptive_field_box(model, (1, 28, 28), "features.12", unit=(-1, 0))
    strided = nn.Sequential(nn.Conv2d(1, 1, (3, 5), stride=(1, 2), padding=(0, 2), dilation=(2, 1)))
    # rows: r = 1 + 2·2 = 5, start 0.5 + 2 = 2.5, unit 10 of 21 at 12.5 -> [10, 15); columns: r 5, j 2,
    # start 0.5 + (2 - 2) = 0.5, unit 6 of 13 at 12.5 -> [10, 15)
    assert maps.receptive_field_box(strided, (1, 25, 25), "0") == (10, 10, 15, 15)


def test_receptive_field_box_needs_a_chain():
    from cnnlab.models.resnet import BasicBlock

    block = nn.Sequential(BasicBlock(2, 4, stride=2, downsample=nn.Sequential(nn.Conv2d(2, 4, 1, stride=2),
                                                                               nn.BatchNorm2d(4))))
    with pytest.raises(ValueError, match=r"^receptive_field_box: the layers up to '0' are not a chain \('0.conv1' takes "
                                         r"8×8 maps where the layer before gave 4×4\)"):
        maps.receptive_field_box(block, (2, 8, 8), "0")
    with pytest.raises(ValueError, match=r"^receptive_field_box: no Conv2d or pooling layer is called up to '0'$"):
        maps.receptive_field_box(nn.Sequential(nn.ReLU(), nn.Conv2d(1, 1, 1)), (1, 4, 4), "0")


def test_the_effective_receptive_field_fills_the_theoretical_box_of_a_linear_net():
    """Without ReLUs and with positive weights, every input pixel in the box reaches the centre unit."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.AvgPool2d(2), nn.Conv2d(2, 2, 3, dilation=2)).double()
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.data[...] = np.abs(m.weight.data) + 0.1
    erf = maps.effective_receptive_field(model, image(shape=(3, 1, 20, 20)), "2")
    top, left, bottom, right = maps.receptive_field_box(model, (1, 20, 20), "2")
    inside = np.zeros(erf.shape, bool)
    inside[top:bottom, left:right] = True
    assert (erf[inside] > 0).all() and not erf[~inside].any()
    assert (bottom - top, right - left) == (12, 12)   # r = 1 + 2 + 1 + 2·2·2


def test_the_effective_receptive_field_is_torchs_mean_input_gradient(torch):
    model, xs = random_gapnet(7), image(8, (5, 1, 28, 28))
    erf = maps.effective_receptive_field(model, xs)                # layer: features.12, 14×14, centre (6, 6)
    theirs = torch_twin(torch, model)
    caught = {}
    theirs.features[12].register_forward_hook(lambda m, args, out: caught.setdefault("y", out))
    t = torch.tensor(xs, requires_grad=True)
    theirs(t)
    upstream = torch.zeros_like(caught["y"])
    upstream[:, :, 6, 6] = 1
    caught["y"].backward(upstream)
    np.testing.assert_allclose(erf, t.grad.abs().sum(dim=1).mean(dim=0).numpy(), rtol=1e-10, atol=1e-14)
    top, left, bottom, right = maps.receptive_field_box(model, (1, 28, 28), "features.12")
    outside = np.ones(erf.shape, bool)
    outside[top:bottom, left:right] = False
    assert erf.max() > 0 and not erf[outside].any()


def test_the_effective_receptive_field_refuses_bad_inputs():
    with pytest.raises(ValueError, match=r"^effective_receptive_field: inputs must be floating-point images "
                                         r"\(N, C, H, W\), N >= 1, got shape \(1, 28, 28\) and dtype float64$"):
        maps.effective_receptive_field(random_gapnet(), image())
    with pytest.raises(ValueError, match=r"^effective_receptive_field: layer 'fc' \(Linear\) gives \(2, 10\), not maps"):
        maps.effective_receptive_field(random_gapnet(), image(shape=(2, 1, 28, 28)), "fc")


def test_layer_outputs_are_every_layers_output_named_as_summary_names_the_rows():
    from cnnlab import summary
    from cnnlab.viz import layer_outputs

    model = random_gapnet(widths=(4, 8))
    image = np.random.default_rng(0).standard_normal((1, 12, 12))
    outputs = layer_outputs(model, image)
    rows = summary(model, (1, 1, 12, 12)).rows
    assert list(outputs)[-2:] == ["gap", "fc"]
    assert [(r["name"], r["output_shape"][1:]) for r in rows] == [(n, o.shape) for n, o in outputs.items()]
    with cnnlab.no_grad():
        np.testing.assert_array_equal(outputs["fc"], model(cnnlab.tensor(image[None])).data[0])
    np.testing.assert_array_equal(outputs["features.2"], np.maximum(outputs["features.1"], 0))
