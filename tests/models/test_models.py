"""The model zoo: parameter counts and output shapes against the numbers of the issue and against
equivalent torch models built here; the pattern builder and its errors."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
from cnnlab import models
from zoo_twins import torch_alexnet, torch_lenet, torch_resnet, torch_vgg


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_from_the_issue():
    assert n_params(models.lenet5()) == 61_706
    assert n_params(models.alexnet()) == 61_100_840
    assert n_params(models.vgg16()) == 138_357_544
    assert n_params(models.resnet18()) == 11_689_512


def test_zoo_state_dicts_equal_equivalent_torch_models(torch):
    """Same keys, same shapes, in the same order, as the torch models (so weights move across)."""
    pairs = [(models.lenet5("modern"), torch_lenet(torch, torch.nn.ReLU, torch.nn.MaxPool2d)),
             (models.lenet5("classic"), torch_lenet(torch, torch.nn.Tanh, torch.nn.AvgPool2d)),
             (models.alexnet(), torch_alexnet(torch))]
    for ours, theirs in pairs:
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
               [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


def test_lenet_forward_equals_torch_with_the_same_weights(torch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 1, 28, 28)).astype(np.float32)
    for variant, act, pool in (("modern", torch.nn.ReLU, torch.nn.MaxPool2d),
                               ("classic", torch.nn.Tanh, torch.nn.AvgPool2d)):
        theirs = torch_lenet(torch, act, pool)
        ours = models.lenet5(variant)
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
        np.testing.assert_allclose(ours(cnnlab.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-4, atol=1e-5)


def test_output_shapes():
    with cnnlab.no_grad():
        assert models.lenet5()(cnnlab.zeros(2, 1, 28, 28)).shape == (2, 10)
        assert models.gapnet()(cnnlab.zeros(2, 1, 28, 28)).shape == (2, 10)
        assert models.resnet_cifar(20)(cnnlab.zeros(1, 3, 32, 32)).shape == (1, 10)
        assert models.vgg11(batch_norm=True, num_classes=7)(cnnlab.zeros(1, 3, 32, 32)).shape == (1, 7)
        assert models.alexnet("2012")(cnnlab.zeros(1, 3, 227, 227)).shape == (1, 1000)
        assert models.resnet18(num_classes=5)(cnnlab.zeros(1, 3, 64, 64)).shape == (1, 5)


def test_alexnet_2012_has_the_papers_shape():
    net = models.alexnet("2012")
    convs = [m for m in net.features if isinstance(m, cnnlab.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    assert sum(isinstance(m, cnnlab.nn.LocalResponseNorm) for m in net.features) == 2
    assert n_params(net) == 60_965_224


def test_resnet_cifar_parameter_count():
    assert n_params(models.resnet_cifar(20)) == 269_722  # "0.27M" in He et al. 2016, Table 6 (option A)
    with pytest.raises(ValueError, match="resnet_cifar: depth must be 6n \\+ 2"):
        models.resnet_cifar(21)


def test_from_pattern_builds_the_lectures_network():
    net = models.from_pattern("INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> [FC -> RELU]*2 -> FC", in_channels=3,
                              input_size=32, num_classes=10, widths=(32, 64, 128), fc_widths=(256, 128))
    kinds = [type(m).__name__ for m in net]
    assert kinds == (["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"] * 3
                     + ["Flatten", "Linear", "ReLU", "Linear", "ReLU", "Linear"])
    assert [m.out_channels for m in net if isinstance(m, cnnlab.nn.Conv2d)] == [32, 32, 64, 64, 128, 128]
    assert all(m.kernel_size == (3, 3) and m.padding == (1, 1) for m in net if isinstance(m, cnnlab.nn.Conv2d))
    linears = [m for m in net if isinstance(m, cnnlab.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(128 * 4 * 4, 256), (256, 128), (128, 10)]
    with cnnlab.no_grad():
        assert net(cnnlab.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_from_pattern_named_counts_and_optional_pool():
    pattern = "INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC"
    net = models.from_pattern(pattern, in_channels=1, input_size=28, N=1, M=2, K=0)
    assert [type(m).__name__ for m in net] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                                               "Flatten", "Linear"]
    assert net[-1].in_features == 64 * 7 * 7
    no_pool = models.from_pattern(pattern, in_channels=1, input_size=8, N=1, M=2, K=1, optional_pool=False)
    assert not any(isinstance(m, cnnlab.nn.MaxPool2d) for m in no_pool)
    assert models.parse_pattern("input->[conv->bn->relu]*2->fc") == ["INPUT", "CONV", "BN", "RELU", "CONV", "BN",
                                                                       "RELU", "FC"]


@pytest.mark.parametrize("pattern,message", [
    ("CONV -> FC", "starts with INPUT"),
    ("INPUT -> CONV -> RELU", "ends with the output layer FC, but this one ends with RELU"),
    ("INPUT -> [CONV -> RELU*2 -> FC", r"expected '\]' or '->', found '\*' at position 22"),
    ("INPUT -> [CONV -> RELU]*2 -> FC -> CONV -> FC", "CONV comes after the first FC"),
    ("INPUT -> [CONV -> RELU -> FC", r"expected '\]' or '->', found the end of the pattern"),
    ("INPUT -> [CONV -> RELU] -> FC", r"expected '\*' and a repeat count after '\]', found '->'"),
    ("INPUT -> [CONV]*X -> FC", "the repeat count 'X' at position 16 has no value; pass it as a keyword argument"),
    ("INPUT -> CONV -> SOFTMAX -> FC", r"expected a layer \(INPUT, CONV, .*\) or '\[', found 'SOFTMAX'"),
    ("INPUT -> CONV ; FC", "unexpected character ';' at position 14"),
    ("INPUT -> [CONV -> POOL]*6 -> FC", "pool 6 would pool a 1×1 map"),
])
def test_from_pattern_rejects_malformed_patterns(pattern, message):
    with pytest.raises(ValueError, match=message):
        models.from_pattern(pattern, in_channels=1, input_size=32)


def test_from_pattern_rejects_unknown_arguments():
    with pytest.raises(ValueError, match=r"from_pattern: unexpected argument\(s\) widht: not a repeat count"):
        models.from_pattern("INPUT -> [CONV]*N -> FC", N=1, widht=(8,))


def test_from_pattern_checks_widths():
    with pytest.raises(ValueError, match=r"convs in stage 2 \(after 1 pools\), but widths=\(8,\) names only 1"):
        models.from_pattern("INPUT -> CONV -> POOL -> CONV -> FC", widths=(8,))


@pytest.mark.parametrize("depth", [11, 16])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_vgg_state_dict_equals_torch(torch, depth, batch_norm):
    from cnnlab.models.vgg import CONFIGS

    ours, theirs = getattr(models, f"vgg{depth}")(batch_norm=batch_norm), torch_vgg(torch, CONFIGS[depth], batch_norm)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


def test_resnet18_equals_torch_in_keys_shapes_and_outputs(torch):
    ours, theirs = models.resnet18(), torch_resnet(torch, [2, 2, 2, 2])
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert n_params(models.resnet34()) == sum(p.numel() for p in torch_resnet(torch, [3, 4, 6, 3]).parameters())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours.eval(), theirs.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with cnnlab.no_grad():
        got = ours(cnnlab.tensor(x)).data
    np.testing.assert_allclose(got, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-3, atol=1e-4)


def test_input_sizes_name_every_model_and_fit_the_small_ones():
    assert set(models.INPUT_SIZES) == set(models.MODELS)
    with cnnlab.no_grad():
        for name in ("lenet5", "gapnet", "resnet_cifar"):
            assert models.MODELS[name]().eval()(cnnlab.zeros(1, *models.INPUT_SIZES[name])).shape == (1, 10)
    assert cnnlab.summary(models.vgg16().features, (1, *models.INPUT_SIZES["vgg16"])).output_shape == (1, 512, 7, 7)
