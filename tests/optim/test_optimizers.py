"""cnnlab.optim against torch.optim: parameter trajectories for every option, state,
state_dict round trips, zero_grad, and validation messages."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
from cnnlab import optim

SHAPES = [(3, 4), (5,), (2, 3, 2), ()]
RTOL = {np.float64: 1e-10, np.float32: 1e-5}
ATOL = {np.float64: 1e-13, np.float32: 1e-6}

# (class name, options); the same options go to cnnlab and to torch
CONFIGS = [
    ("SGD", {}),
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.03, "momentum": 0.7, "weight_decay": 0.1, "nesterov": True, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.95)}),
    ("Adam", {"lr": 0.05, "eps": 1e-2}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "maximize": True}),
    ("Adam", {"lr": 0.02, "betas": (0.5, 0.9), "weight_decay": 0.2, "amsgrad": True, "maximize": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.3}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True, "betas": (0.7, 0.99), "eps": 1e-3}),
    ("AdamW", {"lr": 0.05, "maximize": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9}),
    ("RMSprop", {"lr": 0.01, "eps": 1e-2}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.8}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "maximize": True}),
    ("RMSprop", {"lr": 0.005, "alpha": 0.95, "centered": True, "momentum": 0.5, "weight_decay": 0.05}),
]

# param groups: (indices of params, options of the group); the second element of each entry is the defaults
GROUPS = [
    ("SGD", [([0, 1], {}), ([2, 3], {"lr": 0.01, "momentum": 0.5, "nesterov": True})], {"lr": 0.1, "momentum": 0.9}),
    ("Adam", [([0], {"lr": 0.1}), ([1, 2, 3], {"betas": (0.5, 0.6), "amsgrad": True})], {"lr": 0.01}),
    ("AdamW", [([3, 1], {"weight_decay": 0.5}), ([0, 2], {"lr": 0.2})], {"lr": 0.02}),
    ("RMSprop", [([0, 2], {"centered": True}), ([1, 3], {"lr": 0.05, "momentum": 0.3, "alpha": 0.5})], {"lr": 0.01}),
]


def ids(config):
    name, options = config[0], config[1]
    return name + "-" + ("-".join(f"{k}={v}" for k, v in options.items()) or "defaults")


def initial_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in SHAPES]


def gradients(arrays, k):
    """The gradient of a fixed quadratic at `arrays`, plus seeded noise for step k (in the arrays' dtype)."""
    rng = np.random.default_rng(1)
    curvature = [rng.uniform(0.5, 2.0, s) for s in SHAPES]
    centre = [rng.standard_normal(s) for s in SHAPES]
    noise_rng = np.random.default_rng(100 + k)
    return [(a * (x - c) + 0.1 * noise_rng.standard_normal(s)).astype(x.dtype)
            for x, a, c, s in zip(arrays, curvature, centre, SHAPES)]


def torch_numpy(t):
    return t.detach().numpy()


class Pair:
    """The same params and the same optimizer in cnnlab and in torch."""

    def __init__(self, torch, name, options, dtype=np.float64, groups=None, seed=0):
        self.torch = torch
        arrays = [a.astype(dtype) for a in initial_arrays(seed)]
        self.ours = [cnnlab.Tensor(a.copy(), requires_grad=True) for a in arrays]
        self.theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
        self.opt = getattr(optim, name)(self._params(self.ours, groups), **options)
        self.ref = getattr(torch.optim, name)(self._params(self.theirs, groups), **options)

    @staticmethod
    def _params(params, groups):
        if groups is None:
            return params
        return [{"params": [params[i] for i in idx], **opts} for idx, opts in groups]

    def set_grads(self, k, skip=()):
        for i, (g, h) in enumerate(zip(gradients([p.data for p in self.ours], k),
                                       gradients([torch_numpy(q) for q in self.theirs], k))):
            self.ours[i].grad = None if i in skip else cnnlab.Tensor(g)
            self.theirs[i].grad = None if i in skip else self.torch.tensor(h)

    def step(self, k, skip=()):
        self.set_grads(k, skip)
        self.opt.step()
        self.ref.step()

    def assert_close(self, dtype=np.float64, msg=""):
        for i, (p, q) in enumerate(zip(self.ours, self.theirs)):
            assert p.dtype == dtype, f"param {i} has dtype {p.dtype}"
            np.testing.assert_allclose(p.data, torch_numpy(q), rtol=RTOL[dtype], atol=ATOL[dtype],
                                       err_msg=f"param {i} {msg}")

    def assert_same_state(self, dtype=np.float64):
        assert len(self.opt.state) == len(self.ref.state)
        for p, q in zip(self.ours, self.theirs):
            ours, theirs = self.opt.state.get(p, {}), self.ref.state.get(q, {})
            assert list(ours) == list(theirs)
            for key, value in theirs.items():
                if key == "step":
                    assert ours[key] == int(value.item())
                else:
                    assert ours[key].dtype == dtype
                    # buffers such as momentum hold sums of terms of order 1: float32 rounding is absolute there
                    atol = 10 * ATOL[dtype] if dtype == np.float32 else ATOL[dtype]
                    np.testing.assert_allclose(ours[key], torch_numpy(value), rtol=RTOL[dtype], atol=atol)


# ---------------------------------------------------------------- trajectories
@pytest.mark.parametrize("config", CONFIGS, ids=ids)
def test_trajectory_matches_torch(torch, config):
    name, options = config
    pair = Pair(torch, name, options)
    for k in range(20):
        pair.step(k)
        pair.assert_close(msg=f"after step {k + 1}")
    pair.assert_same_state()


@pytest.mark.parametrize("config", GROUPS, ids=lambda config: config[0])
def test_param_groups_with_their_own_options(torch, config):
    name, groups, defaults = config
    pair = Pair(torch, name, defaults, groups=groups)
    assert [{k: v for k, v in g.items() if k != "params"} for g in pair.opt.param_groups] == \
        [{k: g[k] for k in pair.opt.defaults} for g in pair.ref.param_groups]
    for k in range(20):
        pair.step(k)
        pair.assert_close(msg=f"after step {k + 1}")
    pair.assert_same_state()


@pytest.mark.parametrize("config", [("SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01, "nesterov": True}),
                                    ("Adam", {"lr": 0.02, "amsgrad": True, "weight_decay": 0.01}),
                                    ("AdamW", {"lr": 0.02}),
                                    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5})], ids=ids)
def test_float32_stays_float32(torch, config):
    name, options = config
    pair = Pair(torch, name, options, dtype=np.float32)
    for k in range(20):
        pair.step(k)
        pair.assert_close(np.float32, msg=f"after step {k + 1}")
    pair.assert_same_state(np.float32)


def test_numpy_float64_options_do_not_upcast_float32_params():
    """Options given as np.float64 compute in float32 exactly like Python floats (no float64 temporaries)."""
    results = []
    for f in (float, np.float64):
        params = [cnnlab.Tensor(a.astype(np.float32), requires_grad=True) for a in initial_arrays()]
        opts = [optim.SGD(params[:1], lr=f(0.1), momentum=f(0.9), weight_decay=f(0.01), dampening=f(0.1)),
                optim.Adam(params[1:2], lr=f(0.1), betas=(f(0.9), f(0.99)), eps=f(1e-3), weight_decay=f(0.1)),
                optim.AdamW(params[2:3], lr=f(0.1), weight_decay=f(0.1), amsgrad=True),
                optim.RMSprop(params[3:], lr=f(0.1), alpha=f(0.9), momentum=f(0.5), centered=True)]
        for k in range(5):
            for p, g in zip(params, gradients([p.data for p in params], k)):
                p.grad = cnnlab.Tensor(g)
            for opt in opts:
                opt.step()
        assert all(p.dtype == np.float32 for p in params)
        assert all(v.dtype == np.float32 for opt in opts for s in opt.state.values()
                   for v in s.values() if isinstance(v, np.ndarray))
        results.append([p.data.copy() for p in params])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_grad_of_another_dtype_is_cast_to_the_params():
    p = cnnlab.Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.5, momentum=0.9)
    p.grad = cnnlab.Tensor(np.ones(3, np.float64))
    opt.step()
    assert p.dtype == np.float32 and opt.state[p]["momentum_buffer"].dtype == np.float32
    np.testing.assert_array_equal(p.data, np.full(3, 0.5, np.float32))


@pytest.mark.parametrize("config", [("SGD", {"momentum": 0.9}), ("SGD", {}), ("Adam", {"amsgrad": True}),
                                    ("AdamW", {}), ("RMSprop", {"momentum": 0.5, "centered": True})], ids=ids)
def test_params_without_grad_are_skipped(torch, config):
    name, options = config
    pair = Pair(torch, name, options)
    for k in range(6):
        pair.step(k, skip={1, 3} if k < 3 else {3})  # param 1 joins at step 4, param 3 never has a grad
        pair.assert_close(msg=f"after step {k + 1}")
    np.testing.assert_array_equal(pair.ours[3].data, initial_arrays()[3])
    assert pair.ours[3] not in pair.opt.state
    if pair.ref.state:
        assert pair.opt.state[pair.ours[1]].get("step", 3) == 3
    pair.assert_same_state()


# ---------------------------------------------------------------- step mechanics
def test_step_records_no_graph_and_keeps_leaves():
    p = cnnlab.Tensor(np.arange(4.0), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = cnnlab.Tensor(np.ones(4))
    array = p.data
    opt.step()
    assert p.data is array, "the update must be in place"
    assert p.is_leaf and p.grad_fn is None and p.requires_grad


def test_step_invalidates_graphs_that_saved_the_old_value():
    p = cnnlab.Tensor(np.arange(1.0, 4.0), requires_grad=True)
    loss = (p * p).sum()
    p.grad = cnnlab.Tensor(np.ones(3))
    optim.SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_step_with_closure_returns_the_loss(torch):
    p = cnnlab.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    q = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt, ref = optim.SGD([p], lr=0.1, momentum=0.5), torch.optim.SGD([q], lr=0.1, momentum=0.5)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    def ref_closure():
        ref.zero_grad()
        loss = (q * q).sum()
        loss.backward()
        return loss

    with cnnlab.no_grad():  # the closure runs with grad enabled, as torch
        for _ in range(5):
            loss, ref_loss = opt.step(closure), ref.step(ref_closure)
            assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-12)
    np.testing.assert_allclose(p.data, torch_numpy(q), rtol=1e-12)
    assert opt.step() is None


def test_zero_grad():
    a, b, c = (cnnlab.Tensor(np.ones(2), requires_grad=True) for _ in range(3))
    opt = optim.SGD([{"params": [a]}, {"params": [b, c]}])
    a.grad, b.grad = cnnlab.Tensor(np.ones(2)), cnnlab.Tensor(np.ones(2))
    grad_b = b.grad
    opt.zero_grad(set_to_none=False)
    assert b.grad is grad_b and np.all(b.grad.data == 0) and np.all(a.grad.data == 0) and c.grad is None
    opt.zero_grad()
    assert a.grad is None and b.grad is None and c.grad is None


def test_zero_grad_before_backward_gives_fresh_grads():
    p = cnnlab.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    for set_to_none in (True, False):
        (p * 3).sum().backward()
        opt.zero_grad(set_to_none)
        (p * 2).sum().backward()
        np.testing.assert_array_equal(p.grad.data, [2.0, 2.0])
        opt.zero_grad()


# ---------------------------------------------------------------- param groups and validation
def test_param_groups_layout(torch):
    w, b = cnnlab.Tensor(np.ones((2, 2)), requires_grad=True), cnnlab.Tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([{"params": w}, {"params": [b], "lr": 0.5, "tag": "bias"}], lr=0.1, momentum=0.9)
    assert opt.param_groups[0] == {"params": [w], "lr": 0.1, "momentum": 0.9, "dampening": 0, "weight_decay": 0,
                                   "nesterov": False, "maximize": False}
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["tag"] == "bias"
    assert opt.defaults == {"lr": 0.1, "momentum": 0.9, "dampening": 0, "weight_decay": 0, "nesterov": False,
                            "maximize": False}
    for name, options in [("SGD", {}), ("Adam", {}), ("AdamW", {}), ("RMSprop", {})]:
        ours = getattr(optim, name)([w], **options).param_groups[0]
        theirs = getattr(torch.optim, name)([torch.ones(2, requires_grad=True)], **options).param_groups[0]
        for key in ours:
            if key != "params":
                assert ours[key] == theirs[key], (name, key)  # PyTorch's keys and defaults
    assert "SGD (" in repr(opt) and "lr: 0.5" in repr(opt)


def test_add_param_group():
    a, b = cnnlab.Tensor(np.ones(2), requires_grad=True), cnnlab.Tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match=r"Adam: param group 1: lr must be non-negative, got -1"):
        optim.Adam([{"params": [a]}, {"params": [b], "lr": -1}])


def leaf(shape=(2,), dtype=np.float64):
    return cnnlab.Tensor(np.ones(shape, dtype), requires_grad=True)


@pytest.mark.parametrize("make, error, match", [
    (lambda: optim.SGD([leaf()], lr=-0.1), ValueError, r"^SGD: lr must be non-negative, got -0.1$"),
    (lambda: optim.SGD([leaf()], lr="0.1"), ValueError, r"SGD: lr must be a real number, got '0.1'"),
    (lambda: optim.SGD([leaf()], momentum=-0.5), ValueError, r"SGD: momentum must be non-negative, got -0.5"),
    (lambda: optim.SGD([leaf()], weight_decay=-1e-4), ValueError, r"SGD: weight_decay must be non-negative"),
    (lambda: optim.SGD([leaf()], nesterov=True), ValueError,
     r"SGD: nesterov=True requires momentum > 0 and dampening = 0, got momentum=0, dampening=0"),
    (lambda: optim.SGD([leaf()], momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     r"nesterov=True requires momentum > 0 and dampening = 0, got momentum=0.9, dampening=0.1"),
    (lambda: optim.Adam([leaf()], betas=(1.0, 0.999)), ValueError, r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
    (lambda: optim.Adam([leaf()], betas=(0.9, -0.1)), ValueError, r"Adam: betas\[1\] must be in \[0, 1\), got -0.1"),
    (lambda: optim.Adam([leaf()], betas=0.9), ValueError, r"Adam: betas must be a pair \(beta1, beta2\), got 0.9"),
    (lambda: optim.AdamW([leaf()], eps=-1e-8), ValueError, r"AdamW: eps must be non-negative, got -1e-08"),
    (lambda: optim.AdamW([leaf()], weight_decay=-0.01), ValueError, r"AdamW: weight_decay must be non-negative"),
    (lambda: optim.RMSprop([leaf()], alpha=1.5), ValueError, r"RMSprop: alpha must be in \[0, 1\], got 1.5"),
    (lambda: optim.RMSprop([leaf()], alpha=-0.1), ValueError, r"RMSprop: alpha must be in \[0, 1\], got -0.1"),
    (lambda: optim.RMSprop([leaf()], eps=-1.0), ValueError, r"RMSprop: eps must be non-negative"),
    (lambda: optim.RMSprop([leaf()], momentum=-1), ValueError, r"RMSprop: momentum must be non-negative"),
    (lambda: optim.SGD([]), ValueError, r"SGD: optimizer got an empty parameter list"),
    (lambda: optim.SGD(iter([])), ValueError, r"SGD: optimizer got an empty parameter list"),
    (lambda: optim.SGD(leaf()), TypeError, r"SGD: params must be an iterable of Tensors or dicts, but got a Tensor"),
    (lambda: optim.SGD({"params": [leaf()]}), TypeError, r"but got a dict; pass a list of param groups"),
    (lambda: optim.SGD([leaf(), np.ones(2)]), TypeError,
     r"SGD: can only optimize Tensors, but param group 0, params\[1\] is ndarray"),
    (lambda: optim.Adam([cnnlab.Tensor(np.arange(3))]), TypeError,
     r"Adam: can only optimize floating point tensors, but param group 0, params\[0\] has dtype int64"),
    (lambda: optim.SGD([leaf() * 2]), ValueError,
     r"SGD: can't optimize a non-leaf tensor \(param group 0, params\[0\] was computed by"),
    (lambda: optim.SGD({leaf()}), TypeError, r"SGD: parameters must be given in an ordered collection, not a set"),
    (lambda: optim.SGD([{"lr": 0.1}]), ValueError, r"SGD: param group 0 has no 'params' entry"),
    (lambda: optim.SGD([{"params": [leaf()]}, leaf()]), TypeError, r"SGD: param group 1 must be a dict"),
])
def test_validation_messages(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_the_same_tensor_twice_is_an_error():
    p = leaf()
    with pytest.raises(ValueError, match="SGD: some parameters appear in more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p], "lr": 0.1}])
    with pytest.raises(ValueError, match="Adam: param group 0 contains the same tensor more than once"):
        optim.Adam([p, p])


def test_validation_accepts_the_boundaries():
    optim.SGD([leaf()], lr=0, momentum=0.9, nesterov=True)
    optim.Adam([leaf()], betas=(0.0, 0.0), eps=0)
    optim.RMSprop([leaf()], alpha=0.0)
    optim.RMSprop([leaf()], alpha=1.0)


# ---------------------------------------------------------------- state dict
def test_state_dict_layout_matches_torch(torch):
    pair = Pair(torch, "Adam", {"lr": 0.1, "amsgrad": True}, groups=[([0, 1], {}), ([2, 3], {"lr": 0.01})])
    for k in range(3):
        pair.step(k, skip={2})
    ours, theirs = pair.opt.state_dict(), pair.ref.state_dict()
    assert list(ours) == ["state", "param_groups"]
    assert sorted(ours["state"]) == sorted(theirs["state"]) == [0, 1, 3]
    for i, s in theirs["state"].items():
        assert list(ours["state"][i]) == list(s)
        assert ours["state"][i]["step"] == int(s["step"].item()) == 3
        for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            assert isinstance(ours["state"][i][key], cnnlab.Tensor)
            np.testing.assert_allclose(ours["state"][i][key].data, torch_numpy(s[key]), rtol=1e-10)
    assert [g["params"] for g in ours["param_groups"]] == [g["params"] for g in theirs["param_groups"]] == [[0, 1],
                                                                                                            [2, 3]]
    for g, h in zip(ours["param_groups"], theirs["param_groups"]):
        assert list(g)[-1] == "params"
        assert all(g[k] == h[k] for k in g)


def test_state_dict_is_a_snapshot():
    p = leaf()
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = cnnlab.Tensor(np.ones(2))
    opt.step()
    saved = opt.state_dict()
    opt.step()
    opt.param_groups[0]["lr"] = 1.0
    np.testing.assert_array_equal(saved["state"][0]["momentum_buffer"].data, [1.0, 1.0])
    assert saved["param_groups"][0]["lr"] == 0.1


@pytest.mark.parametrize("config", [CONFIGS[7], CONFIGS[14], CONFIGS[17], CONFIGS[26]], ids=ids)
def test_state_dict_round_trip_continues_identically(torch, config):
    name, options = config
    groups = [([0, 2], {}), ([1, 3], {"lr": options.get("lr", 0.01) / 2})]
    pair = Pair(torch, name, options, groups=groups)
    for k in range(10):
        pair.step(k)
    saved = pair.opt.state_dict()
    # a new optimizer with other options; load_state_dict must restore all of them
    resumed_params = [cnnlab.Tensor(p.data.copy(), requires_grad=True) for p in pair.ours]
    resumed = getattr(optim, name)([{"params": [resumed_params[i] for i in idx]} for idx, _ in groups], lr=0.5)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[1]["params"] == [resumed_params[1], resumed_params[3]]
    assert [{k: v for k, v in g.items() if k != "params"} for g in resumed.param_groups] == \
        [{k: v for k, v in g.items() if k != "params"} for g in pair.opt.param_groups]
    for k in range(10, 20):
        pair.step(k)
        for p, g in zip(resumed_params, gradients([p.data for p in resumed_params], k)):
            p.grad = cnnlab.Tensor(g)
        resumed.step()
        for p, q in zip(resumed_params, pair.ours):
            np.testing.assert_array_equal(p.data, q.data)
    pair.assert_close()
    # loading copied the buffers: the saved dict did not move with the resumed steps
    for key, value in saved["state"][0].items():
        if isinstance(value, cnnlab.Tensor):
            assert not np.shares_memory(value.data, resumed.state[resumed_params[0]][key])
            assert not np.array_equal(value.data, resumed.state[resumed_params[0]][key])
        else:
            assert value == 10


def test_load_state_dict_from_torch_continues_like_torch(torch):
    for name, options in [CONFIGS[7], CONFIGS[14], CONFIGS[26]]:
        pair = Pair(torch, name, options)
        for k in range(5):
            pair.step(k)
        theirs = pair.ref.state_dict()
        params = [cnnlab.Tensor(torch_numpy(q).copy(), requires_grad=True) for q in pair.theirs]
        opt = getattr(optim, name)(params)
        opt.load_state_dict(theirs)
        assert isinstance(opt.state[params[0]]["step" if name != "SGD" else "momentum_buffer"], (int, np.ndarray))
        pair.ours = params
        pair.opt = opt
        for k in range(5, 10):
            pair.step(k)
            pair.assert_close(msg=f"{name} step {k + 1}")


def test_load_state_dict_casts_to_the_param_dtype():
    p64 = leaf()
    opt64 = optim.Adam([p64])
    p64.grad = cnnlab.Tensor(np.ones(2))
    opt64.step()
    p32 = leaf(dtype=np.float32)
    opt32 = optim.Adam([p32])
    opt32.load_state_dict(opt64.state_dict())
    assert opt32.state[p32]["exp_avg"].dtype == np.float32 and opt32.state[p32]["step"] == 1


def test_load_state_dict_validates_and_changes_nothing_on_error():
    a, b = leaf(), leaf((3,))
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = cnnlab.Tensor(np.ones(2)), cnnlab.Tensor(np.ones(3))
    opt.step()
    saved = opt.state_dict()
    other = optim.SGD([{"params": [leaf()]}, {"params": [leaf((3,))]}], lr=0.1)
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: the state dict has 1 parameter groups, "
                                         r"but the optimizer has 2"):
        other.load_state_dict(saved)
    with pytest.raises(ValueError, match=r"parameter group 0 has 2 parameters in the state dict, but 1 in the "
                                         r"optimizer"):
        optim.SGD([leaf()], lr=0.1).load_state_dict(saved)
    swapped = optim.SGD([leaf((3,)), leaf()], lr=0.2)
    with pytest.raises(ValueError, match=r"state of parameter 0, 'momentum_buffer' has shape \(2,\), but the "
                                         r"parameter has shape \(3,\)"):
        swapped.load_state_dict(saved)
    assert swapped.state == {} and swapped.param_groups[0]["lr"] == 0.2
    with pytest.raises(ValueError, match=r"expected a dict with 'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})
    bad = opt.state_dict()
    bad["state"][7] = bad["state"].pop(0)
    with pytest.raises(ValueError, match=r"state for parameter 7, which is in none of its param_groups"):
        opt.load_state_dict(bad)
    bad = opt.state_dict()
    bad["param_groups"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: param group 0: lr must be non-negative, got -1.0"):
        opt.load_state_dict(bad)
    assert opt.param_groups[0]["lr"] == 0.1


def test_adamw_state_dict_keeps_decoupled_weight_decay():
    p = leaf()
    opt = optim.AdamW([p])
    sd = opt.state_dict()
    sd["param_groups"][0]["decoupled_weight_decay"] = False
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


def test_save_and_resume_through_a_file(torch, tmp_path):
    import cnnlab.io as io
    pair = Pair(torch, "Adam", {"lr": 0.05, "amsgrad": True, "betas": (0.8, 0.9)},
                groups=[([0, 1], {}), ([2, 3], {"lr": 0.01})])
    for k in range(8):
        pair.step(k, skip={3} if k < 2 else ())
    path = tmp_path / "optim.safetensors"
    io.save({"optimizer": pair.opt.state_dict(), "params": [p.data for p in pair.ours]}, path)
    ckpt = io.load(path)
    params = [cnnlab.Tensor(np.array(a), requires_grad=True) for a in ckpt["params"]]
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:]}])
    opt.load_state_dict(ckpt["optimizer"])
    assert opt.param_groups[0]["betas"] == (0.8, 0.9) and opt.param_groups[1]["lr"] == 0.01
    assert opt.state[params[3]]["step"] == 6 and opt.state[params[0]]["step"] == 8
    pair.ours, pair.opt = params, opt
    for k in range(8, 16):
        pair.step(k)
        pair.assert_close(msg=f"after step {k + 1}")
    pair.assert_same_state()


def test_custom_optimizer_written_as_in_torch():
    """The base class supports the usual torch pattern for a new algorithm (here signSGD)."""

    class SignSGD(optim.Optimizer):
        def __init__(self, params, lr=0.01):
            super().__init__(params, dict(lr=lr))

        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    state["step"] = state.get("step", 0) + 1
                    p.data -= group["lr"] * np.sign(p.grad.data)

    p = leaf()
    opt = SignSGD([p], lr=0.25)
    p.grad = cnnlab.Tensor(np.array([3.0, -0.5]))
    opt.step()
    np.testing.assert_array_equal(p.data, [0.75, 1.25])
    assert opt.state_dict()["state"] == {0: {"step": 1}}
    with pytest.raises(ValueError, match="SignSGD: lr must be non-negative, got -1"):
        SignSGD([p], lr=-1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", [c for c in CONFIGS if c[0] in ("Adam", "AdamW", "SGD")], ids=ids)
def test_steps_on_compiled_loops_match_the_reference(config, dtype):
    """Adam(W)'s and SGD's steps on their compiled loops (where numba runs: `cnnlab.kernels.optim_steps`)
    give the reference's numbers, step after step, params and state, a non-contiguous gradient (copied
    for the loops) included."""
    name, options = config
    runs = []
    for switch in ("auto", "reference"):
        params = [cnnlab.Tensor(a.astype(dtype), requires_grad=True) for a in initial_arrays()]
        opt = getattr(optim, name)(params, **options)
        with cnnlab.kernels.use(switch):
            for k in range(4):
                for p, g in zip(params, gradients([p.data for p in params], k)):
                    p.grad = cnnlab.Tensor(g if k != 2 or g.ndim < 2 else np.asfortranarray(g))
                opt.step()
        runs.append((params, opt))
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=2e-6, atol=1e-7)
    (ours, opt), (ref, ref_opt) = runs
    for p, q in zip(ours, ref):
        np.testing.assert_allclose(p.data, q.data, **tol)
        for key, value in ref_opt.state[q].items():
            np.testing.assert_allclose(opt.state[p][key], value, **tol, err_msg=key)
