"""The autograd engine: accumulation, fan-out, freed graphs, no_grad, in-place rules,
and a float64 finite-difference check of every op's backward (no oracle needed)."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional as F
from helpers import gradcheck

rng = np.random.default_rng(0)


def pos(*shape):
    return rng.uniform(0.5, 2.0, size=shape)


def nz(*shape):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.3, 2.0, size=shape)


def distinct(*shape):
    """Values far apart from each other (no ties for max/min)."""
    return rng.permutation(np.arange(int(np.prod(shape)), dtype=np.float64)).reshape(shape) * 0.37 - 1.1


# (name, function, inputs): every differentiable op, kept away from kinks and ties
GRADCHECK_CASES = [
    ("add_broadcast", lambda a, b: a + b, [nz(2, 3), nz(3)]),
    ("sub_broadcast", lambda a, b: a - b, [nz(2, 1, 3), nz(4, 1)]),
    ("mul_broadcast", lambda a, b: a * b, [nz(2, 3), nz(2, 1)]),
    ("div", lambda a, b: a / b, [nz(3, 2), nz(2)]),
    ("pow_tensor_exponent", lambda a, b: a ** b, [pos(2, 3), nz(3)]),
    ("pow_scalar", lambda a: a ** 3 + a ** 0.5, [pos(4)]),
    ("rpow", lambda a: 2.0 ** a, [nz(4)]),
    ("rsub_rdiv", lambda a: 1 - 2 / a, [nz(5)]),
    ("maximum", F.maximum, [distinct(3, 2), distinct(2)]),
    ("minimum", F.minimum, [distinct(3, 2), distinct(3, 1) + 0.05]),
    ("where", lambda a, b: F.where(cnnlab.tensor([True, False, True]), a, b), [nz(2, 3), nz(3)]),
    ("neg", F.neg, [nz(3)]),
    ("exp", F.exp, [nz(2, 2)]),
    ("log", F.log, [pos(3)]),
    ("sqrt", F.sqrt, [pos(3)]),
    ("abs", F.abs, [nz(4)]),
    ("tanh", F.tanh, [nz(4)]),
    ("sigmoid", F.sigmoid, [4 * nz(6)]),
    ("relu", F.relu, [nz(6)]),
    ("clamp", lambda a: a.clamp(-0.5, 0.9), [np.array([-1.3, -0.2, 0.4, 1.7])]),
    ("clone", lambda a: a.clone() * 2, [nz(3)]),
    ("sum_all", lambda a: a.sum(), [nz(2, 3)]),
    ("sum_dims", lambda a: a.sum(dim=(0, 2), keepdim=True), [nz(2, 3, 2)]),
    ("mean_dim", lambda a: a.mean(dim=1), [nz(2, 3)]),
    ("var", lambda a: a.var(dim=0), [nz(4, 2)]),
    ("std", lambda a: a.std(), [nz(5)]),
    ("max_all", lambda a: a.max(), [distinct(3, 3)]),
    ("max_dim", lambda a: a.max(dim=1)[0], [distinct(3, 4)]),
    ("min_dim_keep", lambda a: a.min(dim=0, keepdim=True)[0], [distinct(3, 4)]),
    ("amax_dims", lambda a: a.amax(dim=(0, 2)), [distinct(2, 3, 2)]),
    ("softmax", lambda a: a.softmax(1), [nz(2, 4)]),
    ("log_softmax", lambda a: a.log_softmax(0), [nz(3, 2)]),
    ("reshape", lambda a, c=cnnlab.tensor(nz(3, 2)): a.reshape(3, 2) * c, [nz(2, 3)]),
    ("permute", lambda a, c=cnnlab.tensor(nz(4, 2, 3)): a.permute(2, 0, 1) * c, [nz(2, 3, 4)]),
    ("expand", lambda a, c=cnnlab.tensor(nz(3, 2, 2)): a.expand(3, 2, 2) * c, [nz(2, 1)]),
    ("getitem_slice", lambda a: a[1:, ::2], [nz(3, 4)]),
    ("getitem_repeat", lambda a: a[[0, 2, 0, 0]], [nz(3, 2)]),
    ("getitem_mask", lambda a: a[cnnlab.tensor(np.array([True, False, True]))], [nz(3, 2)]),
    ("cat", lambda a, b: cnnlab.cat([a, b, a], dim=1), [nz(2, 2), nz(2, 3)]),
    ("stack", lambda a, b: cnnlab.stack([a, b]), [nz(2, 2), nz(2, 2)]),
    ("split", lambda a: a.split([1, 2], dim=1)[1] * 3, [nz(2, 3)]),
    ("matmul_2d", lambda a, b: a @ b, [nz(3, 4), nz(4, 2)]),
    ("matmul_vec", lambda a, b: a @ b, [nz(4), nz(4)]),
    ("matmul_batched", lambda a, b: a @ b, [nz(2, 1, 3, 4), nz(3, 4, 2)]),
    ("linear", F.linear, [nz(5, 3), nz(2, 3), nz(2)]),
]


@pytest.mark.parametrize("name,fn,inputs", GRADCHECK_CASES, ids=[c[0] for c in GRADCHECK_CASES])
def test_finite_difference(name, fn, inputs):
    gradcheck(fn, *inputs)


def test_gradients_accumulate_across_backward_calls():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3 + 2, 3 + 4])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3, 3])


def test_fan_out_adds_gradients():
    x = cnnlab.tensor(2.0, requires_grad=True)
    y = x * x
    z = y * x + y + x  # x³ + x² + x
    z.backward()
    assert x.grad.item() == pytest.approx(3 * 4 + 2 * 2 + 1)


def test_second_backward_through_freed_graph_fails():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, [4.0, 8.0])


def test_backward_on_non_scalar_needs_gradient():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"implicitly created only for scalar outputs.*shape \(2,\)"):
        (x * 2).backward()
    (x * 2).backward(cnnlab.tensor([1.0, -1.0]))
    np.testing.assert_allclose(x.grad.data, [2.0, -2.0])
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\), but the tensor has shape \(2,\)"):
        (x * 2).backward(cnnlab.tensor([1.0, 1.0, 1.0]))


def test_backward_without_grad_fails():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cnnlab.tensor([1.0]).sum().backward()


def test_no_grad_context_and_decorator():
    x = cnnlab.tensor([1.0], requires_grad=True)
    with cnnlab.no_grad():
        assert not (x * 2).requires_grad
        assert not cnnlab.is_grad_enabled()
        with cnnlab.enable_grad():
            assert (x * 2).requires_grad
    assert cnnlab.is_grad_enabled()

    @cnnlab.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert (x * 2).requires_grad


def test_in_place_rules():
    w = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: in-place operation on a leaf tensor that requires grad"):
        w += 1
    with pytest.raises(RuntimeError, match="__setitem__: in-place operation on a leaf"):
        w[0] = 5.0
    with cnnlab.no_grad():
        w -= 0.5
        w[1] = 7.0
    np.testing.assert_allclose(w.data, [0.5, 7.0])
    h = w * 2
    with pytest.raises(RuntimeError, match="in-place operation on a tensor in the autograd graph"):
        h.mul_(2)
    c = cnnlab.tensor([1.0, 2.0])  # no grad: in-place is fine
    c.add_(1).mul_(2)
    np.testing.assert_allclose(c.data, [4.0, 6.0])


def test_in_place_change_of_a_saved_input_is_detected():
    x = cnnlab.tensor([1.0, 2.0])
    w = cnnlab.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    x.add_(1)  # x was saved by mul for w's gradient
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_detach_and_leaf_facts():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf and y.grad_fn is not None
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and np.shares_memory(d.data, y.data)
    with pytest.raises(RuntimeError, match="requires grad.*detach"):
        x.numpy()


def test_retain_grad_on_non_leaf():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.data, [6.0, 12.0])
    np.testing.assert_allclose(x.grad.data, [18.0, 36.0])


def test_the_graph_frees_an_intermediate_that_no_backward_saved():
    """As in PyTorch: a record leads to the records of its inputs, not to the input tensors, so an
    intermediate array that no backward saved (exp saves its output, add saves nothing) is freed once
    nothing else holds it, and backward still gives the gradient."""
    import gc
    import weakref

    x = cnnlab.tensor([0.5, -1.0, 2.0], requires_grad=True)
    a = x + 1
    freed = weakref.ref(a.data)
    y = a.exp()
    del a
    gc.collect()
    assert freed() is None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data + 1))
    kept = x * 2                           # mul saves its inputs' arrays: x's stays alive through it
    z = kept * kept
    del kept
    z.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(x.data + 1) + 8 * x.data)


def test_keep_inputs_keeps_the_input_tensors_of_each_record():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    with cnnlab.autograd.keep_inputs():
        y = x * 3
        z = y + x
    assert z.grad_fn.inputs[0] is y and z.grad_fn.inputs[1] is x and y.grad_fn.inputs[0] is x
    assert not hasattr((x * 3).grad_fn, "inputs")          # outside the block: the records only
    z.sum().backward()
    np.testing.assert_allclose(x.grad.data, [4.0, 4.0])


def test_an_input_changed_in_place_is_refused_also_when_another_op_made_it():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    with cnnlab.no_grad():
        c = x * 1                          # no graph: a constant of the next op
    y = (x * c).sum()
    c.add_(1)
    with pytest.raises(RuntimeError, match="an input of Mul was modified by an in-place operation"):
        y.backward()


@pytest.mark.parametrize("op", ["relu", "exp", "sigmoid"])
def test_an_output_that_backward_reads_is_refused_when_changed_in_place(op):
    x = cnnlab.tensor(np.linspace(-1, 1, 5000), requires_grad=True)    # relu: the compiled loops' size too
    y = getattr(F, op)(x)
    with cnnlab.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match=f"the output of {type(y.grad_fn).__name__} was modified"):
        y.backward(cnnlab.ones(5000))      # (an op that took y as input would refuse first)


def test_post_accumulate_grad_hooks_see_each_leafs_whole_gradient_once():
    w = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.data.tolist()))
    w.register_post_accumulate_grad_hook(lambda t: seen.append("second"))
    ((w * 3).sum() + (w * w).sum()).backward()      # fan-out: the hook sees the sum 3 + 2w, once
    assert seen == [[5.0, 7.0], "second"]
    handle.remove()
    (w * 1).sum().backward()                          # accumulated into .grad, then the remaining hook
    assert seen == [[5.0, 7.0], "second", "second"] and w.grad.data.tolist() == [6.0, 8.0]
    y = w * 2
    y.register_post_accumulate_grad_hook(lambda t: seen.append("non-leaf"))   # no .grad kept: not called
    y.sum().backward()
    assert seen[-1] == "second"
    with pytest.raises(TypeError, match="register_post_accumulate_grad_hook: hook must be callable, got int"):
        w.register_post_accumulate_grad_hook(3)


def test_deep_graph_does_not_hit_recursion_limit():
    x = cnnlab.tensor(1.0, dtype=cnnlab.float64, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 5000)


def test_grad_setter_checks():
    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"assigned grad has shape \(3,\)"):
        x.grad = cnnlab.zeros(3)
    with pytest.raises(TypeError, match="must be a Tensor or None"):
        x.grad = [1.0, 2.0]


def test_float32_stays_float32():
    x = cnnlab.randn(3, 4, requires_grad=True)
    w = cnnlab.randn(4, 2, requires_grad=True)
    loss = ((x @ w).tanh() * np.float64(0.5) + 1.5).log_softmax(1).mean() / 3
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_function_backward_shape_is_checked():
    class Bad(cnnlab.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum(keepdims=True)

    x = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Bad.backward returned a gradient of shape \(1,\) for an input of shape \(2,\)"):
        Bad.apply(x).sum().backward()


def test_cast_is_differentiable_and_keeps_each_dtype():
    x = cnnlab.tensor([0.5, 0.25], dtype=cnnlab.float64, requires_grad=True)
    y = x.float()
    assert y.dtype == np.float32
    (y * 3).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])
    assert not x.long().requires_grad  # an integer copy leaves the graph, as in PyTorch


def test_relu_and_clamp_pass_zero_gradient_where_inactive_even_for_inf():
    x = cnnlab.tensor([-1.0, 2.0], requires_grad=True)
    F.relu(x).backward(cnnlab.tensor([np.inf, 1.0]))
    assert x.grad.tolist() == [0.0, 1.0]
    y = cnnlab.tensor([-1.0, 0.5], requires_grad=True)
    y.clamp(0, 1).backward(cnnlab.tensor([np.nan, 2.0]))
    assert y.grad.tolist() == [0.0, 2.0]


def test_pow_at_zero_gives_inf_gradient_without_warning():
    import warnings

    x = cnnlab.tensor([0.0, 4.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x ** 0.5).sum().backward()
    assert x.grad.tolist() == [np.inf, 0.25]


def test_leaf_keeps_a_fresh_gradient_without_a_copy(monkeypatch):
    """A Function with fresh_grads (conv) hands its new arrays to the leaves as they are where they are
    C-contiguous, and a strided one (a view of a kernel's padded channels-last buffer) as a C-order copy;
    gradients that other places may hold (add's, which is the upstream gradient itself) are still copied."""
    import cnnlab.nn.functional as F
    from cnnlab.nn.functional.conv import ConvNd

    assert ConvNd.fresh_grads
    returned = []
    real = ConvNd.backward
    monkeypatch.setattr(ConvNd, "backward", staticmethod(lambda ctx, g: returned.append(real(ctx, g)) or returned[-1]))
    x, w = cnnlab.randn(2, 16, 5, 5, requires_grad=True), cnnlab.randn(4, 16, 3, 3, requires_grad=True)
    F.conv2d(x, w, padding=1).sum().backward()
    gx, gw = returned[0][:2]
    assert w.grad.data is gw and gw.flags.c_contiguous
    assert not gx.flags.c_contiguous and x.grad.data.flags.c_contiguous
    np.testing.assert_array_equal(x.grad.data, gx)

    a, b = cnnlab.randn(3, requires_grad=True), cnnlab.randn(3, requires_grad=True)
    (a + b).backward(cnnlab.ones(3))
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data += 1                       # changing one gradient in place leaves the other alone
    np.testing.assert_array_equal(b.grad.data, np.ones(3))

    # an input used twice gets the sum of both gradients, a new array too
    x2 = cnnlab.Tensor(x.data.copy(), requires_grad=True)
    (F.conv2d(x2, w, padding=1) + F.conv2d(x2, w, padding=1)).sum().backward()
    np.testing.assert_allclose(x2.grad.data, 2 * x.grad.data, rtol=1e-6)


def test_stored_gradients_share_no_memory_with_the_caller_or_each_other():
    """Gradients that other places hold are copied when stored: the caller's gradient for a leaf
    root, and a retained non-leaf's gradient, which add's backward hands on to its input as it is."""
    x, g = cnnlab.randn(3, requires_grad=True), cnnlab.ones(3)
    x.backward(g)
    assert not np.shares_memory(x.grad.data, g.data)

    x = cnnlab.randn(3, requires_grad=True)
    y = x + 1
    y.retain_grad()
    y.backward(g)
    assert not np.shares_memory(x.grad.data, y.grad.data) and not np.shares_memory(y.grad.data, g.data)
    np.testing.assert_array_equal(x.grad.data, np.ones(3))

    x.backward(g)                          # a second backward adds, into a new array
    np.testing.assert_array_equal(x.grad.data, 2 * np.ones(3))
