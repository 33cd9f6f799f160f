"""nn.init (gains, fans, the initialisers' formulas and statistics), Linear's default init,
seeding, and nn.utils (gradient clipping, parameter vectors) against PyTorch."""
from __future__ import annotations

import math

import numpy as np
import pytest

import cnnlab
from cnnlab import nn
from cnnlab.nn import init

NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]
SHAPES = [(3, 4), (1, 1), (7, 2), (16, 3, 3, 3), (8, 4, 5), (2, 3, 1, 1, 7), (64, 32, 3, 3), (4, 0)]


@pytest.fixture(autouse=True)
def seeded():
    """Deterministic draws; the statistical tolerances below hold with a wide margin for any seed."""
    cnnlab.manual_seed(0)
    try:
        import torch
        torch.manual_seed(0)
    except ImportError:  # pragma: no cover
        pass


def big(*shape, dtype=cnnlab.float64):
    return cnnlab.zeros(*shape, dtype=dtype)


# ---------------------------------------------------------------- gains and fans: PyTorch's exactly
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_calculate_gain_equals_torch(torch, nonlinearity):
    got, want = init.calculate_gain(nonlinearity), torch.nn.init.calculate_gain(nonlinearity)
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize("param", [None, 0.2, 0, 1, 3.5])
def test_leaky_relu_gain_equals_torch(torch, param):
    assert init.calculate_gain("leaky_relu", param) == torch.nn.init.calculate_gain("leaky_relu", param)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity softplus"):
        init.calculate_gain("softplus")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="negative_slope 0.2 not a valid number"):
        init.calculate_gain("leaky_relu", "0.2")


@pytest.mark.parametrize("shape", SHAPES)
def test_fan_in_and_fan_out_equal_torch(torch, shape):
    want = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.calculate_fan_in_and_fan_out(cnnlab.zeros(shape)) == want
    assert init._calculate_fan_in_and_fan_out(cnnlab.zeros(shape)) == want  # PyTorch's name works too


def test_conv_weight_fans_are_channels_times_kernel():
    # (C_out, C_in, kH, kW) = (16, 3, 5, 7): fan_in = 3·5·7, fan_out = 16·5·7
    assert init.calculate_fan_in_and_fan_out(cnnlab.zeros(16, 3, 5, 7)) == (105, 560)


@pytest.mark.parametrize("fn", [init.calculate_fan_in_and_fan_out, init.kaiming_uniform_, init.kaiming_normal_,
                                init.xavier_uniform_, init.xavier_normal_])
@pytest.mark.parametrize("shape", [(5,), ()])
def test_fewer_than_two_dims_is_an_error(fn, shape):
    with pytest.raises(ValueError, match=r"Fan in and fan out can not be computed for tensor with fewer than "
                                         r"2 dimensions \(got shape \(" + str(shape[0] if shape else "")):
        fn(cnnlab.zeros(*shape))


def test_bad_mode_and_nonlinearity():
    w = cnnlab.zeros(3, 4)
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of \['fan_in', 'fan_out'\]"):
        init.kaiming_uniform_(w, mode="fan_avg")
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.kaiming_normal_(w, nonlinearity="gelu")


# ---------------------------------------------------------------- the initialisers: bounds and statistics
def expected_kaiming_std(shape, a, mode, nonlinearity):
    fan_in, fan_out = shape[1] * math.prod(shape[2:]), shape[0] * math.prod(shape[2:])
    return init.calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


@pytest.mark.parametrize("shape, a, mode, nonlinearity", [
    ((400, 1000), 0, "fan_in", "leaky_relu"),
    ((400, 1000), math.sqrt(5), "fan_in", "leaky_relu"),
    ((1000, 400), 0, "fan_out", "relu"),
    ((128, 64, 3, 3), 0.2, "fan_in", "leaky_relu"),
    ((128, 64, 3, 3), 0, "fan_out", "tanh"),
])
def test_kaiming_uniform_bound_and_std(shape, a, mode, nonlinearity):
    std = expected_kaiming_std(shape, a, mode, nonlinearity)
    bound = math.sqrt(3) * std
    w = init.kaiming_uniform_(big(*shape), a=a, mode=mode, nonlinearity=nonlinearity)
    assert np.abs(w.data).max() <= bound
    assert np.abs(w.data).max() > 0.999 * bound
    assert abs(w.data.std() / std - 1) < 0.02
    assert abs(w.data.mean()) < 5 * std / math.sqrt(w.numel())  # 5 standard errors


@pytest.mark.parametrize("shape, a, mode, nonlinearity", [
    ((400, 1000), 0, "fan_in", "leaky_relu"),
    ((1000, 400), 0, "fan_out", "relu"),
    ((128, 64, 3, 3), 0.2, "fan_in", "leaky_relu"),
])
def test_kaiming_normal_std(shape, a, mode, nonlinearity):
    std = expected_kaiming_std(shape, a, mode, nonlinearity)
    w = init.kaiming_normal_(big(*shape), a=a, mode=mode, nonlinearity=nonlinearity)
    assert abs(w.data.std() / std - 1) < 0.02
    assert abs(w.data.mean()) < 5 * std / math.sqrt(w.numel())


@pytest.mark.parametrize("shape, gain", [((500, 800), 1.0), ((128, 64, 3, 3), math.sqrt(2)), ((300, 700), 5 / 3)])
def test_xavier_bounds_and_std(shape, gain):
    fan_in, fan_out = init.calculate_fan_in_and_fan_out(cnnlab.zeros(shape))
    std = gain * math.sqrt(2 / (fan_in + fan_out))
    w = init.xavier_uniform_(big(*shape), gain=gain)
    assert np.abs(w.data).max() <= math.sqrt(3) * std and np.abs(w.data).max() > 0.999 * math.sqrt(3) * std
    assert abs(w.data.std() / std - 1) < 0.02
    w = init.xavier_normal_(big(*shape), gain=gain)
    assert abs(w.data.std() / std - 1) < 0.02


@pytest.mark.parametrize("name, kwargs", [
    ("kaiming_uniform_", {"a": math.sqrt(5)}), ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("xavier_uniform_", {"gain": 2.0}),
])
def test_uniform_initialisers_reach_the_same_bound_as_torch(torch, name, kwargs):
    # the bound is the formula: over 200k samples both libraries come within 0.1% of it, from below
    shape = (200, 100, 3, 3) if "kaiming" in name else (400, 500)
    ours = getattr(init, name)(big(*shape), **kwargs).data
    theirs = getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), **kwargs).numpy()
    hi = max(np.abs(ours).max(), np.abs(theirs).max())
    assert np.abs(ours).max() > 0.999 * hi and np.abs(theirs).max() > 0.999 * hi
    assert abs(ours.std() / theirs.std() - 1) < 0.02


@pytest.mark.parametrize("name, kwargs", [("kaiming_normal_", {"mode": "fan_out"}), ("xavier_normal_", {}),
                                          ("normal_", {"mean": 1.0, "std": 0.3}),
                                          ("trunc_normal_", {"std": 0.5, "a": -0.3, "b": 1.0})])
def test_normal_initialisers_have_torchs_statistics(torch, name, kwargs):
    shape = (300, 200, 3)
    ours = getattr(init, name)(big(*shape), **kwargs).data
    theirs = getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), **kwargs).numpy()
    assert abs(ours.std() / theirs.std() - 1) < 0.02
    assert abs(ours.mean() - theirs.mean()) < 0.02 * theirs.std()


def truncated_normal_moments(mean, std, a, b):
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * math.erfc(-z / math.sqrt(2))  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    m = mean + std * (pdf(alpha) - pdf(beta)) / z
    zpdf = lambda z: 0.0 if math.isinf(z) else z * pdf(z)  # noqa: E731  (z·φ(z) -> 0 at ±inf)
    var = std**2 * (1 + (zpdf(alpha) - zpdf(beta)) / z - ((pdf(alpha) - pdf(beta)) / z) ** 2)
    return m, math.sqrt(var)


@pytest.mark.parametrize("mean, std, a, b", [(0, 1, -2, 2), (0, 0.02, -2, 2), (1, 2, 0, 1.5), (0, 1, 2.5, 4),
                                             (0, 1, -6, -5), (0, 1, 5, math.inf)])
def test_trunc_normal_stays_in_range_with_the_right_moments(mean, std, a, b):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # intervals far from the mean warn, as in PyTorch
        w = init.trunc_normal_(big(400, 500), mean=mean, std=std, a=a, b=b).data
    assert w.min() >= a and w.max() <= b
    m, s = truncated_normal_moments(mean, std, a, b)
    assert abs(w.mean() - m) < 0.02 * s  # 9 standard errors
    assert abs(w.std() / s - 1) < 0.02


def test_trunc_normal_warns_as_torch():
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(big(3, 3), a=3, b=4)


def test_inverse_normal_cdf_matches_torch(torch):
    p = np.concatenate([np.geomspace(1e-300, 0.02, 200), np.linspace(0.01, 0.99, 500),
                        1 - np.geomspace(1e-15, 0.02, 200)])
    want = torch.special.ndtri(torch.tensor(p)).numpy()
    np.testing.assert_allclose(init._ndtri(p), want, rtol=2e-9, atol=1e-12)


def test_initialisers_work_in_place_keep_dtype_and_return_the_tensor():
    for dtype in (cnnlab.float32, cnnlab.float64):
        for fn, kw in ((init.uniform_, {"a": -2, "b": 2}), (init.normal_, {"std": 3}), (init.trunc_normal_, {}),
                       (init.xavier_uniform_, {}), (init.xavier_normal_, {}), (init.kaiming_uniform_, {}),
                       (init.kaiming_normal_, {}), (init.constant_, {"val": 0.25}), (init.ones_, {}),
                       (init.zeros_, {})):
            p = nn.Parameter(cnnlab.full((6, 5), 9.0, dtype=dtype))
            data, version = p.data, p._version
            assert fn(p, **kw) is p, fn.__name__
            assert p.data is data and p.dtype == dtype and p.requires_grad and p.is_leaf
            assert p._version > version  # a graph that saved the old values can't backward through them
            assert not np.any(p.data == 9.0), fn.__name__
    assert np.all(init.constant_(cnnlab.zeros(3, dtype=cnnlab.int64), 4).data == 4)


def test_initialiser_argument_errors():
    with pytest.raises(TypeError, match="uniform_: expected a cnnlab Tensor .*got ndarray"):
        init.uniform_(np.zeros(3))
    with pytest.raises(TypeError, match="normal_: expected a floating point tensor, got dtype int64"):
        init.normal_(cnnlab.zeros(3, dtype=cnnlab.int64))
    with pytest.raises(ValueError, match=r"uniform_: expects a <= b \(the range \[a, b\)\), but got a=1 > b=0"):
        init.uniform_(cnnlab.zeros(3), 1, 0)
    with pytest.raises(ValueError, match="normal_: expects std >= 0.0, but got std=-1"):
        init.normal_(cnnlab.zeros(3), 0, -1)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_uniform_(cnnlab.zeros(0, 3))


# ---------------------------------------------------------------- Linear's default init and seeding
@pytest.mark.parametrize("in_features", [1, 7, 300])
def test_linear_default_init_is_uniform_one_over_sqrt_in_features(in_features):
    lin = nn.Linear(in_features, 20000)
    bound = 1 / math.sqrt(in_features)
    for p in (lin.weight, lin.bias):
        assert np.abs(p.data).max() <= bound
        assert np.abs(p.data).max() > 0.99 * bound
    assert abs(lin.weight.data.std() / (bound / math.sqrt(3)) - 1) < 0.03


def test_linear_default_init_matches_torchs_distribution(torch):
    ours, theirs = nn.Linear(50, 4000), torch.nn.Linear(50, 4000)
    for a, b in ((ours.weight.data, theirs.weight.detach().numpy()), (ours.bias.data, theirs.bias.detach().numpy())):
        assert abs(np.abs(a).max() / np.abs(b).max() - 1) < 5e-3
        assert abs(a.std() / b.std() - 1) < 0.05


def test_manual_seed_makes_init_reproducible():
    cnnlab.manual_seed(123)
    first = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)).state_dict()
    cnnlab.manual_seed(123)
    again = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)).state_dict()
    cnnlab.manual_seed(124)
    other = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)).state_dict()
    for k in first:
        np.testing.assert_array_equal(first[k].numpy(), again[k].numpy())
        assert not np.array_equal(first[k].numpy(), other[k].numpy())
    w1 = init.kaiming_normal_(cnnlab.zeros(3, 4), generator=np.random.default_rng(5))
    w2 = init.kaiming_normal_(cnnlab.zeros(3, 4), generator=np.random.default_rng(5))
    np.testing.assert_array_equal(w1.data, w2.data)


def test_reset_parameters_draws_new_values():
    lin = nn.Linear(5, 5)
    before = lin.weight.data.copy()
    lin.reset_parameters()
    assert not np.array_equal(before, lin.weight.data)


# ---------------------------------------------------------------- nn.utils against torch.nn.utils
def grads_pair(torch, dtype, scale=1.0, with_none=True):
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,), (2, 2, 2), (5,)]
    arrays = [rng.standard_normal(s).astype(dtype) * scale for s in shapes]
    ours = [nn.Parameter(cnnlab.zeros(s, dtype=dtype)) for s in shapes]
    theirs = [torch.nn.Parameter(torch.zeros(s, dtype=getattr(torch, dtype))) for s in shapes]
    for i, (p, q, g) in enumerate(zip(ours, theirs, arrays)):
        if with_none and i == 1:
            continue  # a parameter without grad is skipped
        p.grad = cnnlab.tensor(g)
        q.grad = torch.tensor(g)
    return ours, theirs


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-6)])
@pytest.mark.parametrize("norm_type", [2, 2.0, 1, float("inf"), 3.5, 0.5])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 3.0, 1e3])
def test_clip_grad_norm_equals_torch(torch, dtype, rtol, norm_type, max_norm):
    ours, theirs = grads_pair(torch, dtype)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    want = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, cnnlab.Tensor) and total.shape == () and total.dtype == np.dtype(dtype)
    np.testing.assert_allclose(total.item(), want.item(), rtol=rtol)
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
        else:
            assert p.grad.dtype == np.dtype(dtype)
            np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=rtol, atol=1e-30)


def test_clip_grad_norm_takes_a_module_generator_and_a_single_tensor(torch):
    net = nn.Linear(3, 2, dtype=cnnlab.float64)
    net(cnnlab.randn(4, 3, dtype=cnnlab.float64)).sum().backward()
    ref = torch.nn.Linear(3, 2).double()
    for p, q in zip(net.parameters(), ref.parameters()):
        q.grad = torch.tensor(p.grad.data.copy())
    np.testing.assert_allclose(nn.utils.clip_grad_norm_(net.parameters(), 0.5).item(),
                               torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.5).item(), rtol=1e-12)
    np.testing.assert_allclose(net.weight.grad.data, ref.weight.grad.numpy(), rtol=1e-12)
    w = nn.Parameter(cnnlab.zeros(2, dtype=cnnlab.float64))
    w.grad = cnnlab.tensor([3.0, 4.0], dtype=cnnlab.float64)
    assert nn.utils.clip_grad_norm_(w, 1.0).item() == 5.0
    np.testing.assert_allclose(w.grad.data, [3 / (5 + 1e-6), 4 / (5 + 1e-6)])


def test_clip_grad_norm_edge_cases():
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        nn.utils.clip_grad_norm_((p for p in []), 1.0)
    p = nn.Parameter(cnnlab.zeros(2))
    p.grad = cnnlab.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    with pytest.raises(TypeError, match="clip_grad_norm_: expected Tensors"):
        nn.utils.clip_grad_norm_([np.zeros(2)], 1.0)


@pytest.mark.parametrize("clip_value", [0.05, 0.5, 10.0])
def test_clip_grad_value_equals_torch(torch, clip_value):
    ours, theirs = grads_pair(torch, "float64")
    nn.utils.clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, q in zip(ours, theirs):
        if q.grad is not None:
            np.testing.assert_array_equal(p.grad.data, q.grad.numpy())


def test_parameters_to_vector_and_back_equals_torch(torch):
    cnnlab.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)).double()
    ref = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)).double()
    ref.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in net.state_dict().items()})
    vec = nn.utils.parameters_to_vector(net.parameters())
    want = torch.nn.utils.parameters_to_vector(ref.parameters())
    np.testing.assert_array_equal(vec.data, want.detach().numpy())
    vec.sum().backward()  # differentiable, as in PyTorch
    assert np.all(net[0].weight.grad.data == 1)
    new = np.arange(vec.shape[0], dtype=np.float64)
    nn.utils.vector_to_parameters(cnnlab.tensor(new), net.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new), ref.parameters())
    for (k, a), b in zip(net.state_dict().items(), ref.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    with pytest.raises(ValueError, match=r"vec must be 1-d with 26 elements .*got shape \(3,\)"):
        nn.utils.vector_to_parameters(cnnlab.zeros(3), net.parameters())
