"""nn.Module, the containers and the thin layers (Linear, Flatten, Identity, ReLU, Sigmoid, Tanh).

PyTorch is the oracle for names (state_dict keys, named_parameters), reprs,
forward values and gradients after loading a torch model's weights, and the
text of load_state_dict errors. Most models are built by one function from
either library's ``nn`` (the names are the same), so both sides are the same
model by construction.
"""
from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest

import cnnlab
from cnnlab import nn
from oracle import against_torch


@pytest.fixture(autouse=True)
def seeded():
    cnnlab.manual_seed(0)


# ---------------------------------------------------------------- models built from either library
def mlp(nn, bias=True):
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8, bias=bias), nn.ReLU(), nn.Linear(8, 6), nn.Tanh(),
                         nn.Linear(6, 4, bias=bias), nn.Sigmoid())


def nested(nn):
    return nn.Sequential(OrderedDict([
        ("features", nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Sequential(nn.Identity(), nn.Linear(4, 4)))),
        ("heads", nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 2, bias=False)})),
        ("blocks", nn.ModuleList([nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4)])),
        ("flat", nn.Flatten(0, 1)),
    ]))


def custom(nn, lib):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Linear(3, 5)
            self.register_buffer("running_mean", lib.zeros(5))
            self.register_buffer("scratch", lib.ones(2), persistent=False)
            self.body = nn.Sequential(nn.ReLU(), nn.Linear(5, 5))
            self.scale = nn.Parameter(lib.ones(5))
            self.fc = nn.Linear(5, 2)
            self.register_buffer("num_batches_tracked", lib.tensor(0))

        def forward(self, x):
            return self.fc(self.body(self.stem(x)) * self.scale + self.running_mean)

    return Net()


BUILDERS = {
    "mlp": lambda nn, lib: mlp(nn),
    "mlp_nobias": lambda nn, lib: mlp(nn, bias=False),
    "nested": lambda nn, lib: nested(nn),
    "custom": custom,
    "linear": lambda nn, lib: nn.Linear(4, 3),
    "empty": lambda nn, lib: nn.Sequential(),
}


def pair(torch, name):
    return BUILDERS[name](nn, cnnlab), BUILDERS[name](torch.nn, torch)


def torch_state_as_numpy(model):
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------- names and shapes: PyTorch's exactly
@pytest.mark.parametrize("name", list(BUILDERS))
def test_state_dict_keys_and_shapes_match_torch(torch, name):
    ours, theirs = pair(torch, name)
    got = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    want = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert list(got) == list(want)
    assert got == want


@pytest.mark.parametrize("name", list(BUILDERS))
def test_named_members_match_torch(torch, name):
    ours, theirs = pair(torch, name)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert ([n for n, _ in ours.named_parameters(prefix="net", recurse=False)]
            == [n for n, _ in theirs.named_parameters(prefix="net", recurse=False)])
    assert len(list(ours.parameters())) == len(list(theirs.parameters()))


def test_custom_module_state_dict_order_and_buffers():
    net = custom(nn, cnnlab)  # own parameters, then own persistent buffers, then each child
    assert list(net.state_dict()) == ["scale", "running_mean", "num_batches_tracked", "stem.weight", "stem.bias",
                                      "body.1.weight", "body.1.bias", "fc.weight", "fc.bias"]
    assert "scratch" not in net.state_dict()  # non-persistent
    assert [n for n, _ in net.named_buffers()] == ["running_mean", "scratch", "num_batches_tracked"]
    assert net.state_dict()["num_batches_tracked"].dtype == np.int64


@pytest.mark.parametrize("name", ["mlp", "nested", "custom", "linear", "empty"])
def test_repr_equals_torch(torch, name):
    ours, theirs = pair(torch, name)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("build", [
    lambda nn: nn.Linear(4, 3, bias=False),
    lambda nn: nn.ReLU(inplace=True),
    lambda nn: nn.Flatten(0, 2),
    lambda nn: nn.Identity(54, unused=0.1),
    lambda nn: nn.ModuleList(),
    lambda nn: nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)]),
    lambda nn: nn.ModuleDict({"a": nn.Sigmoid(), "b": nn.Sequential(nn.Linear(1, 1))}),
    lambda nn: nn.Sequential(nn.Sequential(nn.Sequential(nn.Tanh()))),
])
def test_repr_of_layers_and_containers_equals_torch(torch, build):
    assert repr(build(nn)) == repr(build(torch.nn))


def test_repr_with_multiline_extra_repr_and_children(torch):
    for lib in (nn, torch.nn):
        class Block(lib.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.Linear(2, 2)

            def extra_repr(self):
                return "alpha=1\nbeta=2"
        if lib is nn:
            ours = repr(Block())
        else:
            theirs = repr(Block())
    assert ours == theirs


# ---------------------------------------------------------------- weights from torch: same numbers
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 1e-5)])
def test_forward_and_gradients_match_torch_after_loading_its_weights(torch, dtype, rtol):
    torch.manual_seed(0)
    ours, theirs = mlp(nn), mlp(torch.nn)
    theirs.to(getattr(torch, dtype))
    ours.to(dtype)
    result = ours.load_state_dict(torch_state_as_numpy(theirs))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"

    x = np.random.default_rng(1).standard_normal((5, 3, 4)).astype(dtype)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    against_torch(torch, ours, theirs, [x], np.dtype(dtype).type, tol=dict(rtol=rtol, atol=rtol * 1e-2),
                  grads=False, params=list(zip(ours.parameters(), theirs.parameters())), seed=2,
                  require_grads=True)


def test_custom_module_forward_matches_torch_after_loading(torch):
    ours, theirs = pair(torch, "custom")
    theirs.double()
    with torch.no_grad():
        theirs.running_mean.uniform_(-1, 1)
        theirs.scale.uniform_(0.5, 2)
        theirs.num_batches_tracked += 7
    ours.double().load_state_dict(torch_state_as_numpy(theirs))
    assert ours.num_batches_tracked.item() == 7 and ours.num_batches_tracked.dtype == np.int64
    x = np.random.default_rng(3).standard_normal((4, 3))
    np.testing.assert_allclose(ours(cnnlab.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10)


def test_torch_loads_our_state_dict(torch):
    cnnlab.manual_seed(0)
    ours, theirs = pair(torch, "nested")
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    for (k, a), (k2, b) in zip(ours.state_dict().items(), theirs.state_dict().items(), strict=True):
        assert k == k2
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_load_accepts_tensors_arrays_and_numpy_scalars_and_casts_to_param_dtype():
    net = custom(nn, cnnlab)
    state = net.state_dict()
    new = {k: cnnlab.Tensor(np.full(v.shape, 0.5, dtype=np.float64)) for k, v in state.items()}
    new["fc.bias"] = np.full(2, 2.0)                    # a plain array
    new["num_batches_tracked"] = np.int32(3)            # a NumPy scalar into an int64 buffer
    net.load_state_dict(new)
    assert net.stem.weight.dtype == np.float32 and np.all(net.stem.weight.data == 0.5)
    assert np.all(net.fc.bias.data == 2.0)
    assert net.num_batches_tracked.dtype == np.int64 and net.num_batches_tracked.item() == 3


def test_state_dict_values_are_detached_and_share_memory():
    lin = nn.Linear(3, 2)
    sd = lin.state_dict()
    assert not sd["weight"].requires_grad and type(sd["weight"]) is cnnlab.Tensor
    with cnnlab.no_grad():
        lin.weight.fill_(1.0)
    assert np.all(sd["weight"].numpy() == 1.0)  # PyTorch semantics: a view, not a copy
    assert lin.state_dict(keep_vars=True)["weight"] is lin.weight


def test_load_copies_in_place_keeping_parameter_identity():
    lin = nn.Linear(3, 2)
    w, w_data = lin.weight, lin.weight.data
    lin.load_state_dict({"weight": np.ones((2, 3)), "bias": np.zeros(2)})
    assert lin.weight is w and lin.weight.data is w_data and lin.weight.requires_grad
    assert np.all(w_data == 1)


# ---------------------------------------------------------------- load_state_dict errors
def test_missing_and_unexpected_keys_message_equals_torch(torch):
    ours, theirs = pair(torch, "mlp")
    bad = torch_state_as_numpy(theirs)
    del bad["3.bias"]
    bad["9.weight"] = np.zeros(1)
    bad["1.extra"] = np.zeros(1)
    with pytest.raises(RuntimeError) as ours_err:
        ours.load_state_dict(bad)
    with pytest.raises(RuntimeError) as theirs_err:
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in bad.items()})
    assert str(ours_err.value) == str(theirs_err.value)
    assert str(ours_err.value) == ('Error(s) in loading state_dict for Sequential:\n\t'
                                   'Missing key(s) in state_dict: "3.bias". \n\t'
                                   'Unexpected key(s) in state_dict: "9.weight", "1.extra". ')


def test_missing_keys_are_listed():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match=r'Error\(s\) in loading state_dict for Sequential:\n\t'
                                           r'Missing key\(s\) in state_dict: "2.weight", "2.bias"\.'):
        net.load_state_dict({"0.weight": np.zeros((3, 4)), "0.bias": np.zeros(3)})


def test_unexpected_keys_are_listed():
    lin = nn.Linear(4, 3)
    sd = dict(lin.state_dict())
    sd["weight_extra"] = np.zeros(1)
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "weight_extra"\.'):
        lin.load_state_dict(sd)


def test_size_mismatch_raises_even_when_not_strict():
    net = nn.Sequential(OrderedDict(fc=nn.Linear(4, 10)))
    sd = {"fc.weight": np.zeros((10, 5)), "fc.bias": np.zeros(10)}
    msg = (r"size mismatch for fc\.weight: copying a param with shape \(10, 5\) from checkpoint, "
           r"the shape in current model is \(10, 4\)\.")
    with pytest.raises(RuntimeError, match=msg):
        net.load_state_dict(sd)
    with pytest.raises(RuntimeError, match=msg):
        net.load_state_dict(sd, strict=False)


def test_size_mismatch_and_missing_keys_are_reported_together(torch):
    ours, theirs = pair(torch, "linear")
    sd = {"weight": np.zeros((3, 5))}
    with pytest.raises(RuntimeError) as e:
        ours.load_state_dict(sd)
    lines = str(e.value).split("\n\t")
    assert lines[0] == "Error(s) in loading state_dict for Linear:"
    assert lines[1] == 'Missing key(s) in state_dict: "bias". '
    assert lines[2].startswith("size mismatch for weight: copying a param with shape (3, 5)")
    with pytest.raises(RuntimeError, match=r"Missing key\(s\) in state_dict: \"bias\"\. \n\tsize mismatch for weight"):
        theirs.load_state_dict({"weight": torch.zeros(3, 5)})


def test_failed_load_changes_nothing():
    cnnlab.manual_seed(0)
    net = mlp(nn)
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    good = {k: np.full(v.shape, 7.0) for k, v in before.items()}
    for bad_edit in (lambda sd: sd.pop("5.weight"),                               # missing (strict)
                     lambda sd: sd.__setitem__("5.bias", np.zeros(5)),            # wrong shape, listed last
                     lambda sd: sd.__setitem__("5.bias", "not an array"),          # wrong type
                     lambda sd: sd.__setitem__("oops", np.zeros(1))):             # unexpected (strict)
        sd = dict(good)
        bad_edit(sd)
        with pytest.raises(RuntimeError):
            net.load_state_dict(sd)
        for k, v in net.state_dict().items():
            np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)


def test_non_array_value_is_reported_with_a_hint(torch):
    lin = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match=r'While copying the parameter named "weight", expected a cnnlab Tensor '
                                           r"or a numeric NumPy array from checkpoint but received <class 'torch.*"
                                           r"\.detach\(\)\.numpy\(\)"):
        lin.load_state_dict({"weight": torch.zeros(2, 2), "bias": np.zeros(2)})
    with pytest.raises(TypeError, match="expected state_dict to be dict-like"):
        lin.load_state_dict([("weight", np.zeros((2, 2)))])


def test_not_strict_returns_the_key_lists_as_torch(torch):
    ours, theirs = pair(torch, "nested")
    sd = torch_state_as_numpy(theirs)
    del sd["features.0.bias"], sd["heads.box.weight"]
    sd["heads.new.weight"] = np.zeros(3)
    sd["features.9"] = np.zeros(3)
    got = ours.load_state_dict(sd, strict=False)
    want = theirs.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=False)
    assert got.missing_keys == want.missing_keys == ["features.0.bias", "heads.box.weight"]
    assert got.unexpected_keys == want.unexpected_keys
    assert sorted(got.unexpected_keys) == ["features.9", "heads.new.weight"]
    missing, unexpected = got  # a namedtuple, like torch's _IncompatibleKeys
    assert missing is got.missing_keys
    # the keys that were present were loaded
    np.testing.assert_array_equal(ours.features[0].weight.data, sd["features.0.weight"])


# ---------------------------------------------------------------- hooks
def test_forward_hooks_see_inputs_and_outputs_and_can_be_removed():
    lin = nn.Linear(2, 2)
    seen = []
    h1 = lin.register_forward_pre_hook(lambda m, args: seen.append(("pre", m, args[0].shape)))
    h2 = lin.register_forward_hook(lambda m, args, out: seen.append(("post", m, out.shape)))
    lin(cnnlab.ones(3, 2))
    assert seen == [("pre", lin, (3, 2)), ("post", lin, (3, 2))]
    h1.remove()
    h2.remove()
    h2.remove()  # removing twice is harmless
    lin(cnnlab.ones(3, 2))
    assert len(seen) == 2


def test_hooks_can_replace_inputs_and_outputs():
    lin = nn.Identity()
    lin.register_forward_pre_hook(lambda m, args: args[0] * 2)           # a single value: wrapped in a tuple
    lin.register_forward_pre_hook(lambda m, args: (args[0] + 1,))
    h = lin.register_forward_hook(lambda m, args, out: out * 10)
    lin.register_forward_hook(lambda m, args, out: None)                 # None keeps the output
    assert lin(cnnlab.tensor([1.0])).item() == 30.0
    h.remove()
    assert lin(cnnlab.tensor([1.0])).item() == 3.0


def test_hook_order_prepend_and_context_manager():
    m = nn.Identity()
    order = []
    m.register_forward_hook(lambda *a: order.append("a"))
    m.register_forward_hook(lambda *a: order.append("b"), prepend=True)
    with m.register_forward_hook(lambda *a: order.append("c")):
        m(cnnlab.ones(1))
    m(cnnlab.ones(1))
    assert order == ["b", "a", "c", "b", "a"]
    with pytest.raises(TypeError, match="hook must be callable"):
        m.register_forward_hook("not a function")


def test_hooks_on_children_fire_in_a_sequential():
    net = mlp(nn)
    shapes = {}
    for name, module in net.named_modules():
        if name:
            module.register_forward_hook(lambda m, args, out, name=name: shapes.__setitem__(name, out.shape))
    net(cnnlab.randn(5, 3, 4))
    assert shapes == {"0": (5, 12), "1": (5, 8), "2": (5, 8), "3": (5, 6), "4": (5, 6), "5": (5, 4), "6": (5, 4)}


# ---------------------------------------------------------------- modes, grads, dtype
def test_train_and_eval_propagate():
    net = nested(nn)
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.features.train()
    assert net.features[2][1].training and not net.heads.training and not net.training
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("no")


def test_zero_grad():
    net = mlp(nn)
    net(cnnlab.randn(2, 12)).sum().backward()
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert all(g is not None for g in grads.values())
    net.zero_grad(set_to_none=False)
    for n, p in net.named_parameters():
        assert p.grad is grads[n] and not p.grad.data.any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.zero_grad()  # nothing to do: fine


def test_requires_grad_freezes():
    net = mlp(nn)
    net[1].requires_grad_(False)
    net(cnnlab.randn(2, 12)).sum().backward()
    assert net[1].weight.grad is None and net[3].weight.grad is not None


def test_to_float64_converts_in_place_and_keeps_parameter_identity():
    net = custom(nn, cnnlab)
    params = list(net.parameters())
    net(cnnlab.randn(2, 3)).sum().backward()
    assert net.to(cnnlab.float64) is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 and isinstance(p, nn.Parameter) for p in net.parameters())
    assert all(p.grad.dtype == np.float64 for p in net.parameters())
    assert net.running_mean.dtype == np.float64 and net.scratch.dtype == np.float64
    assert net.num_batches_tracked.dtype == np.int64  # integer buffers keep their dtype
    assert net(cnnlab.randn(2, 3, dtype=cnnlab.float64)).dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    net.to(cnnlab.zeros(1, dtype=cnnlab.float64))
    assert net.fc.weight.dtype == np.float64
    assert net.to("cpu") is net and net.cpu() is net
    with pytest.raises(TypeError, match="only accepts floating point dtypes, but got desired dtype=int64"):
        net.to(cnnlab.int64)
    with pytest.raises(ValueError, match="device 'cuda' is not supported"):
        net.to("cuda")


def test_to_blocks_backward_through_a_graph_recorded_before():
    lin = nn.Linear(2, 2)
    y = lin(cnnlab.randn(1, 2)).sum()
    lin.double()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_apply_visits_children_then_self():
    net = nested(nn)
    visited = []
    assert net.apply(lambda m: visited.append(m)) is net
    assert visited[-1] is net and len(visited) == len(list(net.modules()))

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.ones_(m.weight)
    net.apply(init_weights)
    assert all(np.all(m.weight.data == 1) for m in net.modules() if isinstance(m, nn.Linear))


# ---------------------------------------------------------------- registration rules
def test_shared_modules_and_parameters_are_deduplicated_like_torch(torch):
    def build(nn):
        shared = nn.Linear(3, 3)
        net = nn.Sequential(shared, nn.ReLU(), shared)
        net.tied = nn.Linear(3, 3)
        net.tied.weight = net[0].weight
        return net
    ours, theirs = build(nn), build(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()] == [
        "0.weight", "0.bias", "tied.bias"]
    assert list(ours.state_dict()) == list(theirs.state_dict())  # state_dict lists every path
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert (len(list(ours.named_parameters(remove_duplicate=False)))
            == len(list(theirs.named_parameters(remove_duplicate=False))))
    assert len(list(ours.parameters())) == 3


def test_assigning_a_non_parameter_to_a_parameter_name_raises():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"cannot assign 'cnnlab\.autograd\.Tensor' as parameter 'weight' "
                                        r"\(cnnlab\.nn\.Parameter or None expected\)"):
        lin.weight = cnnlab.zeros(2, 2)
    with pytest.raises(TypeError, match=r"cannot assign 'numpy\.ndarray' as parameter 'bias'"):
        lin.bias = np.zeros(2)
    lin.bias = None  # allowed: a declared but absent parameter
    assert lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]
    assert repr(lin) == "Linear(in_features=2, out_features=2, bias=False)"
    lin.bias = nn.Parameter(cnnlab.zeros(2))
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]


def test_attribute_assignment_registers_and_reregisters():
    m = nn.Module()
    m.a = nn.Parameter(cnnlab.zeros(1))
    m.b = nn.Linear(1, 1)
    m.c = cnnlab.zeros(1)              # a plain tensor is a plain attribute, as in PyTorch
    m.register_buffer("d", cnnlab.zeros(1))
    assert list(m.state_dict()) == ["a", "d", "b.weight", "b.bias"]
    m.d = cnnlab.ones(1)               # reassigning a buffer keeps it a buffer
    assert m._buffers["d"] is m.d
    with pytest.raises(TypeError, match=r"cannot assign 'cnnlab.nn.modules.linear.Linear' as parameter 'a'"):
        m.a = nn.Linear(1, 1)          # as in PyTorch: a parameter name takes a Parameter or None
    m.c = nn.Linear(1, 1)              # a plain attribute becomes a module
    assert "c" in m._modules and "c" not in m.__dict__
    m.d = nn.Parameter(cnnlab.zeros(1))  # a buffer becomes a parameter
    assert "d" not in m._buffers and list(m.state_dict())[:2] == ["a", "d"]
    m.register_buffer("d2", cnnlab.zeros(1))
    with pytest.raises(TypeError, match=r"cannot assign 'int' as buffer 'd2'"):
        m.d2 = 3
    with pytest.raises(TypeError, match=r"cannot assign 'str' as child module 'b'"):
        m.b = "x"
    del m.a, m.d, m.c, m.d2
    assert list(m.state_dict()) == ["b.weight", "b.bias"]
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'a'"):
        m.a


def test_registration_errors():
    m = nn.Linear(1, 1)
    with pytest.raises(KeyError, match=r'buffer name can.*t contain "\."'):
        m.register_buffer("a.b", cnnlab.zeros(1))
    with pytest.raises(KeyError, match="attribute 'in_features' already exists"):
        m.register_buffer("in_features", cnnlab.zeros(1))
    with pytest.raises(TypeError, match=r"cannot assign 'numpy\.ndarray' object to buffer 'x' "
                                        r"\(cnnlab\.Tensor or None required\)"):
        m.register_buffer("x", np.zeros(1))
    with pytest.raises(TypeError, match="cannot assign .* object to parameter 'p'"):
        m.register_parameter("p", cnnlab.zeros(1))
    with pytest.raises(KeyError, match="module name can.*t be empty string"):
        m.add_module("", nn.ReLU())
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("z", 3)
    with pytest.raises(TypeError, match="parameter name should be a string. Got int"):
        m.register_parameter(1, None)


def test_assigning_before_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"cannot assign module before Module.__init__\(\) call "
                                             r"\(call super\(\).__init__\(\) first in Bad.__init__\)"):
        Bad()


def test_missing_forward():
    with pytest.raises(NotImplementedError, match='Module \\[Module\\] is missing the required "forward" function'):
        nn.Module()(cnnlab.ones(1))


def test_get_submodule_and_dir():
    net = nested(nn)
    assert net.get_submodule("features.2.1") is net.features[2][1]
    assert net.get_submodule("") is net
    with pytest.raises(AttributeError, match="Sequential has no submodule `7`"):
        net.get_submodule("features.7")
    assert {"features", "heads"} <= set(dir(net))
    assert "weight" in dir(nn.Linear(1, 1))


def test_deepcopy_gives_an_independent_model():
    net = mlp(nn)
    clone = copy.deepcopy(net)
    with cnnlab.no_grad():
        clone[1].weight.fill_(0.0)
    assert net[1].weight.data.any()
    assert list(clone.state_dict()) == list(net.state_dict())


# ---------------------------------------------------------------- containers
def test_sequential_indexing_slicing_and_editing_like_torch(torch):
    def ops(nn):
        s = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 3), nn.Tanh())
        out = [type(s[-1]).__name__, type(s[1]).__name__, list(s[1:3].state_dict()), len(s)]
        s.append(nn.Linear(3, 4))
        s.insert(1, nn.Sigmoid())
        s.insert(-1, nn.Identity())
        del s[0]
        out += [repr(s), list(s.state_dict())]
        s.extend(nn.Sequential(nn.Linear(4, 1)))
        s[0] = nn.ReLU()
        popped = s.pop(1)
        out += [type(popped).__name__, repr(s), [type(m).__name__ for m in s]]
        out.append(repr(s[0:2] + nn.Sequential(nn.Tanh())))
        return out

    assert ops(nn) == ops(torch.nn)


def test_sequential_forward_orderdict_and_errors():
    s = nn.Sequential(OrderedDict([("flat", nn.Flatten()), ("fc", nn.Linear(6, 2))]))
    assert s(cnnlab.ones(4, 2, 3)).shape == (4, 2)
    assert list(s.state_dict()) == ["fc.weight", "fc.bias"] and s.fc is s[1]
    x = cnnlab.ones(2)
    assert nn.Sequential()(x) is x
    with pytest.raises(IndexError, match="Sequential: index 2 is out of range for 2 modules"):
        s[2]
    with pytest.raises(TypeError, match="Sequential: indices must be integers or slices, not str"):
        s["fc"]
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        nn.Sequential(nn.ReLU(), 3)


def test_module_list_like_torch(torch):
    def ops(nn):
        ml = nn.ModuleList([nn.Linear(1, 1), nn.ReLU()])
        ml.append(nn.Tanh())
        ml.extend([nn.Linear(1, 2), nn.Linear(2, 2)])
        ml.insert(1, nn.Sigmoid())
        ml += [nn.Identity()]
        del ml[0]
        out = [len(ml), [type(m).__name__ for m in ml], type(ml[-1]).__name__, repr(ml[1:4]),
               list(ml.state_dict()), repr(ml)]
        ml[0] = nn.Linear(3, 3)
        out += [type(ml.pop(-1)).__name__, list(ml.state_dict()), repr(ml + nn.ModuleList([nn.ReLU()]))]
        return out

    assert ops(nn) == ops(torch.nn)
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable, but got int"):
        nn.ModuleList().extend(3)
    with pytest.raises(IndexError, match="ModuleList: index 5 is out of range"):
        nn.ModuleList([nn.ReLU()])[5]


def test_module_dict_like_torch(torch):
    def ops(nn):
        md = nn.ModuleDict({"b": nn.Linear(1, 1)})
        md.update([("a", nn.ReLU()), ("c", nn.Linear(1, 2))])
        md["d"] = nn.Tanh()
        out = [list(md), list(md.keys()), "a" in md, len(md), list(md.state_dict()), repr(md)]
        out += [type(md.pop("a")).__name__, [type(v).__name__ for v in md.values()], [k for k, _ in md.items()]]
        del md["b"]
        out.append(repr(md))
        md.clear()
        out.append(len(md))
        return out

    assert ops(nn) == ops(torch.nn)
    with pytest.raises(ValueError, match="sequence element #0 has length 3; 2 is required"):
        nn.ModuleDict([("a", nn.ReLU(), 1)])


# ---------------------------------------------------------------- the layers
def test_linear_shapes_bias_and_dtype():
    lin = nn.Linear(4, 3)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,)
    assert lin.weight.dtype == np.float32 and lin.weight.requires_grad
    assert lin(cnnlab.randn(2, 5, 4)).shape == (2, 5, 3)
    assert lin(cnnlab.randn(4)).shape == (3,)
    nb = nn.Linear(4, 3, bias=False, dtype=cnnlab.float64)
    assert nb.bias is None and nb.weight.dtype == np.float64
    x = cnnlab.randn(2, 4, dtype=cnnlab.float64)
    np.testing.assert_allclose(nb(x).data, x.data @ nb.weight.data.T)


@pytest.mark.parametrize("args, kwargs, exc, msg", [
    ((0, 3), {}, ValueError, r"Linear: in_features must be positive, got in_features=0"),
    ((4, -1), {}, ValueError, r"Linear: out_features must be positive, got out_features=-1"),
    ((4.0, 3), {}, TypeError, r"Linear: in_features must be an int, got in_features=4.0 \(float\)"),
    ((True, 3), {}, TypeError, r"Linear: in_features must be an int, got in_features=True \(bool\)"),
    ((4, 3), {"bias": "yes"}, TypeError, r"Linear: bias must be True or False, got bias='yes' \(str\)"),
    ((4, 3), {"dtype": cnnlab.int64}, TypeError, "Linear: dtype must be a floating point dtype .* got int64"),
])
def test_linear_validates_its_arguments(args, kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        nn.Linear(*args, **kwargs)


def test_linear_input_errors_come_from_functional():
    with pytest.raises(ValueError, match="linear: input has 5 features in its last dim .* in_features=4"):
        nn.Linear(4, 3)(cnnlab.randn(2, 5))


def test_flatten_and_activations_match_torch(torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    for make in (lambda nn: nn.Flatten(), lambda nn: nn.Flatten(0, 2), lambda nn: nn.Flatten(-2),
                 lambda nn: nn.ReLU(), lambda nn: nn.ReLU(inplace=True), lambda nn: nn.Sigmoid(),
                 lambda nn: nn.Tanh(), lambda nn: nn.Identity()):
        against_torch(torch, make(nn), lambda t: make(torch.nn)(t * 1), [x], np.float64,
                      tol=dict(rtol=1e-12, atol=1e-15), seed=1, require_grads=True)


def test_relu_inplace_is_accepted_but_does_not_modify_the_input():
    x = cnnlab.tensor([-1.0, 2.0])
    y = nn.ReLU(inplace=True)(x)
    assert x.tolist() == [-1.0, 2.0] and y.tolist() == [0.0, 2.0]
    with pytest.raises(TypeError, match="ReLU: inplace must be True or False"):
        nn.ReLU(inplace=1)


def test_flatten_errors():
    with pytest.raises(TypeError, match=r"Flatten: start_dim must be an int, got start_dim=1.5 \(float\)"):
        nn.Flatten(1.5)
    with pytest.raises(ValueError, match="flatten: dim 4 is out of range"):
        nn.Flatten(4)(cnnlab.ones(2, 3))


def test_public_names():
    for name in ("Module", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "Flatten",
                 "ReLU", "Sigmoid", "Tanh", "Parameter", "init", "utils", "functional"):
        assert hasattr(nn, name), name
    from cnnlab.nn import modules
    assert modules.Linear is nn.Linear and modules.Module is nn.Module
    assert nn.utils.clip_grad_norm_ is not None and nn.init.kaiming_uniform_ is not None


OUTPUT_SHAPE_CASES = [  # (layer made from an nn namespace, input shape): cnnlab's and torch's take the same arguments
    (lambda nn: nn.Conv2d(3, 8, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=1), (2, 3, 15, 17)),
    (lambda nn: nn.Conv1d(4, 6, 4, padding="same", groups=2), (3, 4, 9)),
    (lambda nn: nn.Conv3d(2, 4, 3, stride=2, padding="valid"), (1, 2, 7, 8, 9)),
    (lambda nn: nn.Conv2d(3, 8, 3), (3, 10, 10)),                                    # unbatched
    (lambda nn: nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1), (2, 4, 5, 6)),
    (lambda nn: nn.ConvTranspose1d(4, 2, 5, stride=3, dilation=2), (2, 4, 7)),
    (lambda nn: nn.ConvTranspose3d(2, 2, 2, stride=2), (1, 2, 3, 4, 5)),
    (lambda nn: nn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 3, 10, 11)),
    (lambda nn: nn.MaxPool1d(2, dilation=2), (2, 3, 9)),
    (lambda nn: nn.MaxPool3d((1, 2, 2)), (1, 2, 4, 6, 6)),
    (lambda nn: nn.AvgPool1d(3, 2, 1, ceil_mode=True), (2, 3, 10)),
    (lambda nn: nn.AvgPool2d((2, 3), padding=1), (2, 3, 7, 9)),
    (lambda nn: nn.AvgPool3d(2, ceil_mode=True), (1, 1, 5, 5, 5)),
    (lambda nn: nn.LPPool2d(2, 3, 2, ceil_mode=True), (1, 2, 8, 9)),
    (lambda nn: nn.LPPool1d(2, 2), (1, 2, 7)),
    (lambda nn: nn.AdaptiveAvgPool2d((None, 3)), (2, 3, 7, 8)),
    (lambda nn: nn.AdaptiveMaxPool1d(4), (2, 3, 9)),
    (lambda nn: nn.AdaptiveAvgPool3d(1), (1, 2, 3, 4, 5)),
    (lambda nn: nn.Linear(6, 4), (2, 5, 6)),
    (lambda nn: nn.Flatten(), (2, 3, 4, 5)),
    (lambda nn: nn.Flatten(0, -2), (2, 3, 4, 5)),
    (lambda nn: nn.ZeroPad2d((1, 2, 3, 4)), (2, 3, 5, 6)),
    (lambda nn: nn.ReflectionPad1d((2, 1)), (2, 3, 5)),
    (lambda nn: nn.ConstantPad3d(1, 0.5), (1, 1, 2, 3, 4)),
    (lambda nn: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(18, 3)),
     (4, 1, 8, 8)),
    (lambda nn: nn.BatchNorm2d(3), (2, 3, 4, 4)),
    (lambda nn: nn.GroupNorm(1, 3), (2, 3, 4)),
    (lambda nn: nn.LayerNorm(4), (2, 3, 4)),
    (lambda nn: nn.LocalResponseNorm(2), (2, 3, 4, 4)),
    (lambda nn: nn.Dropout2d(), (2, 3, 4, 4)),
    (lambda nn: nn.Identity(), (2, 3)),
    (lambda nn: nn.Softmax(1), (2, 3)),
    (lambda nn: nn.GELU(), (2, 3, 4)),
]


@pytest.mark.parametrize("make,shape", OUTPUT_SHAPE_CASES)
def test_output_shape_equals_the_shape_of_torchs_output(torch, make, shape):
    assert make(nn).output_shape(shape) == tuple(make(torch.nn)(torch.zeros(shape)).shape)


def test_output_shape_errors():
    with pytest.raises(NotImplementedError, match="DeformConv2d cannot infer its output shape from the input's alone"):
        nn.DeformConv2d(2, 2, 3).output_shape((1, 2, 5, 5))
    with pytest.raises(ValueError, match=r"Conv2d: expected an input shape of 3 dims \(C, \*spatial\) or 4 dims "
                                         r"\(N, C, \*spatial\), got \(3, 5\)"):
        nn.Conv2d(3, 2, 3).output_shape((3, 5))
    with pytest.raises(ValueError, match=r"Conv2d: input shape \(1, 4, 5, 5\) has 4 channels, but the layer "
                                         "expects 3"):
        nn.Conv2d(3, 2, 3).output_shape((1, 4, 5, 5))
    with pytest.raises(ValueError, match=r"Conv1d: input shape \(1, 5\) has 1 channel, but the layer expects 3"):
        nn.Conv1d(3, 2, 3).output_shape((1, 5))
    with pytest.raises(ValueError, match="Conv2d: kernel size \\(after dilation\\) 5 is larger than the padded input"):
        nn.Conv2d(3, 2, 5).output_shape((1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"MaxPool2d: given input size 1, calculated output size 0"):
        nn.MaxPool2d(2).output_shape((1, 3, 1, 4))
    with pytest.raises(ValueError, match=r"Linear: input shape \(2, 5\) does not end in in_features=6"):
        nn.Linear(6, 2).output_shape((2, 5))
    with pytest.raises(ValueError, match=r"Flatten: start_dim=3 and end_dim=1 do not name dims in that order"):
        nn.Flatten(3, 1).output_shape((2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"Linear: input shape \(1, 8\) does not end in in_features=4"):
        nn.Sequential(nn.Flatten(), nn.Linear(4, 2)).output_shape((1, 2, 2, 2))
