"""batch_norm, group_norm, layer_norm, local_response_norm and their layers against PyTorch: forward values,
every gradient, running statistics and state dicts after training steps; float64 finite differences;
naive-loop references; error messages."""
from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import gradcheck, seeded
from oracle import TOL, against_torch

import cnnlab
import cnnlab.nn.functional.normalization as N
from cnnlab.kernels import jit
from cnnlab.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from cnnlab.nn.modules.normalization import GroupNorm, LayerNorm, LocalResponseNorm

DTYPES = [np.float64, np.float32]
# group_norm and layer_norm in float32 are compared at 1e-4: with small groups (2 values) the input
# gradient (m·g − Σg − x̂·Σg·x̂)/(m·σ) cancels and rounding differences are amplified by 1/σ; there
# both frameworks are equally far (~1e-4 relative) from the float64 result. Batch norm holds `TOL` (1e-5).
LOOSE = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-4, atol=1e-4)}


def _close(got, expected, dtype, what=""):
    np.testing.assert_allclose(got, expected, **TOL[dtype], err_msg=what)


def _data(rng, shape, scale=1.0, shift=0.0):
    return shift + scale * rng.standard_normal(shape)


BN_SHAPES = [(5, 3), (4, 3, 6), (3, 4, 5, 6), (2, 3, 3, 4, 2), (1, 2, 7), (6, 1, 1, 2)]


# ---------------------------------------------------------------- batch_norm: functional
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_matches_torch(torch, shape, dtype, affine):
    rng = np.random.default_rng(len(shape) * 10 + shape[1])
    C = shape[1]
    x = _data(rng, shape, scale=3.0, shift=2.0)
    w, b = (rng.standard_normal(C), rng.standard_normal(C)) if affine else (None, None)
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    ours_rm, ours_rv = cnnlab.Tensor(rm.astype(dtype)), cnnlab.Tensor(rv.astype(dtype))
    t_rm, t_rv = torch.tensor(rm.astype(dtype)), torch.tensor(rv.astype(dtype))
    against_torch(torch,
                  lambda x, w, b: N.batch_norm(x, ours_rm, ours_rv, w, b, training=True, momentum=0.3, eps=1e-3),
                  lambda x, w, b: torch.nn.functional.batch_norm(x, t_rm, t_rv, w, b, training=True, momentum=0.3,
                                                                 eps=1e-3),
                  [x, w, b], dtype, require_grads=True)
    _close(ours_rm.data, t_rm.numpy(), dtype, "running_mean")
    _close(ours_rv.data, t_rv.numpy(), dtype, "running_var")
    assert ours_rm.dtype == dtype and ours_rv.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_eval_matches_torch(torch, shape, dtype):
    rng = np.random.default_rng(shape[0])
    C = shape[1]
    rm, rv = rng.standard_normal(C).astype(dtype), rng.uniform(0.5, 2, C).astype(dtype)
    against_torch(torch, lambda x, w, b: N.batch_norm(x, cnnlab.Tensor(rm), cnnlab.Tensor(rv), w, b, training=False),
                  lambda x, w, b: torch.nn.functional.batch_norm(x, torch.tensor(rm), torch.tensor(rv), w, b),
                  [_data(rng, shape), rng.standard_normal(C), rng.standard_normal(C)], dtype, require_grads=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_training_without_running_stats_and_without_bias(torch, dtype):
    rng = np.random.default_rng(3)
    against_torch(torch, lambda x, w: N.batch_norm(x, None, None, w, None, training=True),
                  lambda x, w: torch.nn.functional.batch_norm(x, None, None, w, None, training=True),
                  [_data(rng, (4, 3, 5)), rng.standard_normal(3)], dtype, require_grads=True)


def test_batch_norm_float32_large_batch_and_no_float64(torch):
    """The timing shape's smaller cousin: float32 stays float32 everywhere, 1e-5 agreement with PyTorch."""
    rng = np.random.default_rng(0)
    x = _data(rng, (16, 8, 16, 16), scale=2.0, shift=5.0)
    against_torch(torch, lambda x, w, b: N.batch_norm(x, None, None, w, b, training=True),
                  lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, training=True),
                  [x, rng.standard_normal(8), rng.standard_normal(8)], np.float32, require_grads=True)


def test_batch_norm_eval_does_not_touch_running_stats():
    rm, rv = cnnlab.zeros(3), cnnlab.ones(3)
    N.batch_norm(cnnlab.randn(4, 3), rm, rv, training=False)
    assert np.array_equal(rm.data, np.zeros(3)) and np.array_equal(rv.data, np.ones(3))


def naive_batch_norm(x, w, b, eps):
    """Per-channel loop: mean and biased variance over everything but dim 1."""
    y = np.empty_like(x)
    for c in range(x.shape[1]):
        xc = x[:, c]
        y[:, c] = (xc - xc.mean()) / np.sqrt(xc.var() + eps) * w[c] + b[c]
    return y


def test_batch_norm_naive_reference():
    rng = np.random.default_rng(5)
    for shape in BN_SHAPES:
        x, w, b = _data(rng, shape, 2, 1), rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
        out = N.batch_norm(cnnlab.Tensor(x), None, None, cnnlab.Tensor(w), cnnlab.Tensor(b), training=True, eps=1e-4)
        np.testing.assert_allclose(out.data, naive_batch_norm(x, w, b, 1e-4), rtol=1e-10, atol=1e-12)


def test_batch_norm_gradcheck():
    rng = np.random.default_rng(1)
    x, w, b = _data(rng, (3, 2, 3, 2)), rng.standard_normal(2), rng.standard_normal(2)
    gradcheck(lambda x, w, b: N.batch_norm(x, None, None, w, b, training=True), x, w, b)
    gradcheck(lambda x: N.batch_norm(x, None, None, training=True), _data(rng, (4, 3)))
    rm, rv = cnnlab.Tensor(rng.standard_normal(2)), cnnlab.Tensor(rng.uniform(0.5, 2, 2))
    gradcheck(lambda x, w, b: N.batch_norm(x, rm, rv, w, b, training=False), x, w, b)


# ---------------------------------------------------------------- batch_norm: the compiled loops
# Where numba runs, batch norm (and the statistics of group_norm and layer_norm) takes
# `kernels.loops.norm`; these tests then check the loops, and without numba the same calls check the
# reference. `_takes_loops` asserts which of the two ran.
def _takes_loops(x: np.ndarray) -> bool:
    """Whether batch norm runs its compiled loops on x here: exactly where compiled loops run."""
    on = N._compiled(x) is not None
    assert on == jit.enabled()
    return on


def _bn_config(key):
    """A random batch_norm call: 1-d (N, C) and (N, C, L), 2-d or 3-d input, training or eval, affine or
    not, with or without running statistics, momentum, eps and dtype."""
    rng = seeded("batch_norm loops", key)
    ndim = int(rng.integers(2, 6))
    shape = [int(rng.integers(1, 6)), int(rng.integers(1, 7))] + [int(rng.integers(1, 8)) for _ in range(ndim - 2)]
    if math.prod(shape) == shape[1]:
        shape[0] = 2                                     # training needs more than one value per channel
    C, training = shape[1], bool(rng.random() < 0.6)
    affine, running = bool(rng.random() < 0.6), (not training) or bool(rng.random() < 0.7)
    return dict(rng=rng, shape=tuple(shape), training=training, running=running, momentum=float(rng.uniform(0.05, 1)),
                eps=float(10 ** rng.uniform(-5, -2)), dtype=np.float32 if rng.random() < 0.5 else np.float64,
                x=_data(rng, shape, scale=rng.uniform(0.5, 3), shift=rng.uniform(-3, 3)),
                w=rng.standard_normal(C) if affine else None, b=rng.standard_normal(C) if affine else None,
                rm=rng.standard_normal(C), rv=rng.uniform(0.5, 2, C))


@pytest.mark.parametrize("key", range(40))
def test_batch_norm_compiled_matches_torch(torch, key):
    k = _bn_config(key)
    dtype, rng = k["dtype"], k["rng"]
    _takes_loops(k["x"].astype(dtype))
    stats = [k["rm"].astype(dtype), k["rv"].astype(dtype)] if k["running"] else [None, None]
    ours = [None if a is None else cnnlab.Tensor(a.copy()) for a in stats]
    theirs = [None if a is None else torch.tensor(a.copy()) for a in stats]
    options = dict(training=k["training"], momentum=k["momentum"], eps=k["eps"])
    grads = [bool(rng.random() < p) for p in (0.8, 0.7, 0.7)]     # some gradients only, sometimes
    label = f"{k['shape']} {dtype.__name__} {options} affine={k['w'] is not None} grads={grads}"
    against_torch(torch, lambda x, w, b: N.batch_norm(x, *ours, w, b, **options),
                  lambda x, w, b: torch.nn.functional.batch_norm(x, *theirs, w, b, **options),
                  [k["x"], k["w"], k["b"]], dtype, grads=grads, require_grads=True, label=label)
    for mine, ref, name in zip(ours, theirs, ("running_mean", "running_var")):
        if mine is not None:
            _close(mine.data, ref.numpy(), dtype, f"{name} {label}")
            assert mine.dtype == dtype


def _forward_backward(k, x):
    """y, the gradients of x, w and b, and the running statistics of one batch_norm call of config k."""
    dtype = k["dtype"]
    x = cnnlab.Tensor(x, requires_grad=True)
    w, b = (None if a is None else cnnlab.Tensor(a.astype(dtype), requires_grad=True) for a in (k["w"], k["b"]))
    rm, rv = (cnnlab.Tensor(a.astype(dtype)) if k["running"] else None for a in (k["rm"], k["rv"]))
    y = N.batch_norm(x, rm, rv, w, b, training=k["training"], momentum=k["momentum"], eps=k["eps"])
    y.backward(cnnlab.Tensor(seeded("upstream", k["shape"]).standard_normal(y.shape).astype(dtype)))
    return [y, x.grad] + [t.grad for t in (w, b) if t is not None] + [t for t in (rm, rv) if t is not None]


@pytest.mark.parametrize("key", range(24))
def test_batch_norm_compiled_equals_reference(key):
    """The loops and the NumPy reference agree to float rounding (forward, all gradients, running
    statistics), also on an input that is not contiguous (a strided view)."""
    k = _bn_config(key)
    dtype = k["dtype"]
    x = k["x"].astype(dtype)
    if key % 2:                                          # the same values, as every other element of a wider array
        wide = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), dtype)
        wide[..., ::2] = x
        x = wide[..., ::2]
    _takes_loops(x)
    got = _forward_backward(k, x)
    with cnnlab.kernels.use("reference"):
        assert not _takes_loops(x)
        want = _forward_backward(k, x)
    assert len(got) == len(want)
    for i, (a, e) in enumerate(zip(got, want)):
        assert a.dtype == e.dtype == dtype
        np.testing.assert_allclose(a.data, e.data, **TOL[dtype], err_msg=f"result {i} of {k['shape']} {dtype}")


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 5), (2, 3, 2, 3), (2, 2, 2, 2, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_compiled_gradcheck(shape, training):
    """Finite differences in float64 of the loops' backward (both statistics, affine or not)."""
    rng = np.random.default_rng(len(shape))
    C = shape[1]
    x, w, b = _data(rng, shape, 2.0, 1.0), rng.standard_normal(C), rng.standard_normal(C)
    _takes_loops(x)
    rm, rv = cnnlab.Tensor(rng.standard_normal(C)), cnnlab.Tensor(rng.uniform(0.5, 2, C))
    stats = (None, None) if training else (rm, rv)
    gradcheck(lambda x, w, b: N.batch_norm(x, *stats, w, b, training=training), x, w, b)
    gradcheck(lambda x: N.batch_norm(x, *stats, training=training, eps=1e-3), x)


def test_batch_norm_statistics_of_far_from_zero_float32():
    """float32 values far from zero (|μ| = 1000 ≫ σ = 0.01). The loops' corrected two-pass statistics
    are as good as float32 allows: μ to half an ulp of 1000 (3.05e-5), σ² to 1e-5 relative (measured
    2.3e-5 and 2.6e-7; the output 2.3e-3 from the exact one, of which the rounding of μ makes up to
    3e-3). The reference (NumPy's pairwise sums, uncorrected) measured 1e-4, 1e-4 and 1e-2."""
    rng = np.random.default_rng(7)
    x = (1000 + 0.01 * rng.standard_normal((64, 4, 16, 16))).astype(np.float32)
    tol_mean, tol_var, tol_y = (3.05e-5, 1e-5, 5e-3) if _takes_loops(x) else (2e-4, 2e-4, 2e-2)
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axis=(0, 2, 3)), x64.var(axis=(0, 2, 3))
    rm, rv = cnnlab.Tensor(np.zeros(4, np.float32)), cnnlab.Tensor(np.ones(4, np.float32))
    y = N.batch_norm(cnnlab.Tensor(x), rm, rv, training=True, momentum=1.0, eps=1e-7)
    m = x.size // 4
    np.testing.assert_allclose(rm.data, mean, rtol=0, atol=tol_mean)
    np.testing.assert_allclose(rv.data, var * m / (m - 1), rtol=tol_var)
    np.testing.assert_allclose(y.data, (x64 - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-7),
                               rtol=0, atol=tol_y)


def test_group_and_layer_norm_compiled_equal_reference():
    """group_norm and layer_norm take the loops' statistics and forward too: the same as the reference."""
    rng = np.random.default_rng(11)
    for dtype in DTYPES:
        x, w = _data(rng, (3, 6, 5, 4), 2.0, 1.0).astype(dtype), rng.standard_normal(6).astype(dtype)
        g = rng.standard_normal(x.shape).astype(dtype)

        def run():
            t, wt = cnnlab.Tensor(x, requires_grad=True), cnnlab.Tensor(w, requires_grad=True)
            outs = [N.group_norm(t, 3, wt, None), N.layer_norm(t, (5, 4))]
            for y in outs:
                y.backward(cnnlab.Tensor(g))
            return [o.data for o in outs] + [t.grad.data, wt.grad.data]

        got = run()
        with cnnlab.kernels.use("reference"):
            want = run()
        for a, e in zip(got, want):
            np.testing.assert_allclose(a, e, **LOOSE[dtype])


# ---------------------------------------------------------------- BatchNorm layers
def _train_both(torch, ours, theirs, shapes, dtype, seed=0):
    """Run training steps (forward, backward of a random projection) on both; return the last outputs."""
    rng = np.random.default_rng(seed)
    for step, shape in enumerate(shapes):
        x = _data(rng, shape, scale=1 + step, shift=step).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        ours.zero_grad()
        theirs.zero_grad()
        xo, xt = cnnlab.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        _close(yo.data, yt.detach().numpy(), dtype, f"output of step {step}")
        yo.backward(cnnlab.Tensor(g))
        yt.backward(torch.tensor(g))
        _close(xo.grad.data, xt.grad.numpy(), dtype, f"input gradient of step {step}")
        for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
            _close(p.grad.data, q.grad.numpy(), dtype, f"gradient of {name} at step {step}")


def _same_state(torch, ours, theirs, dtype):
    so, st = ours.state_dict(), theirs.state_dict()
    assert list(so) == list(st)
    for k in so:
        assert so[k].dtype == np.dtype(str(st[k].dtype).replace("torch.", "")), k
        if so[k].dtype == np.int64:
            assert so[k].item() == st[k].item(), k
        else:
            _close(so[k].data, st[k].numpy(), dtype, k)


LAYERS = [(BatchNorm1d, "BatchNorm1d", [(6, 4), (5, 4), (8, 4)]),
          (BatchNorm1d, "BatchNorm1d", [(3, 4, 5), (2, 4, 7), (4, 4, 2)]),
          (BatchNorm2d, "BatchNorm2d", [(3, 4, 5, 5), (2, 4, 3, 6), (4, 4, 2, 2)]),
          (BatchNorm3d, "BatchNorm3d", [(2, 4, 3, 2, 3), (3, 4, 2, 2, 2), (2, 4, 1, 3, 2)])]
CONFIGS = [dict(), dict(momentum=None), dict(momentum=0.5, eps=1e-3), dict(affine=False),
           dict(track_running_stats=False), dict(bias=False), dict(momentum=None, affine=False)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
@pytest.mark.parametrize("layer", range(len(LAYERS)), ids=lambda i: f"{LAYERS[i][1]}-{len(LAYERS[i][2][0])}d")
def test_batch_norm_layers_train_eval_state_dict(torch, layer, config, dtype):
    ours_cls, name, shapes = LAYERS[layer]
    ours = ours_cls(4, **config, dtype=dtype)
    theirs = getattr(torch.nn, name)(4, **config, dtype=getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():  # non-trivial affine parameters, equal in both
        for p, q in zip(ours.parameters(), theirs.parameters()):
            p.data[...] = np.linspace(0.5, 1.5, p.shape[0])
            q.copy_(torch.tensor(p.data))
    _train_both(torch, ours, theirs, shapes * 2, dtype)
    _same_state(torch, ours, theirs, dtype)
    if ours.track_running_stats:
        assert ours.num_batches_tracked.item() == len(shapes) * 2
    ours.eval()
    theirs.eval()
    _train_both(torch, ours, theirs, shapes[:1], dtype, seed=9)  # eval: running stats (or batch stats if untracked)
    _same_state(torch, ours, theirs, dtype)


def test_batch_norm_layer_loads_torch_state_dict_and_repr(torch):
    theirs = torch.nn.BatchNorm2d(3, momentum=None)
    theirs(torch.randn(4, 3, 2, 2) * 3 + 1)
    ours = BatchNorm2d(3, momentum=None)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert ours.num_batches_tracked.item() == 1 and ours.num_batches_tracked.dtype == np.int64
    x = np.random.default_rng(0).standard_normal((2, 3, 2, 2)).astype(np.float32)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(cnnlab.Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    for args, kwargs in [((16,), {}), ((4,), dict(momentum=None, affine=False)), ((8,), dict(eps=1e-3)),
                         ((2,), dict(track_running_stats=False, bias=False))]:
        for cls, name in [(BatchNorm1d, "BatchNorm1d"), (BatchNorm2d, "BatchNorm2d"), (BatchNorm3d, "BatchNorm3d")]:
            assert repr(cls(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))
    assert list(BatchNorm2d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]


def test_batch_norm_layer_parameters_and_reset():
    m = BatchNorm2d(3)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in m.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    m(cnnlab.randn(4, 3, 2, 2) * 5)
    m.reset_running_stats()
    assert np.array_equal(m.running_mean.data, np.zeros(3)) and np.array_equal(m.running_var.data, np.ones(3))
    assert m.num_batches_tracked.item() == 0
    m.double()
    assert m.running_mean.dtype == np.float64 and m.num_batches_tracked.dtype == np.int64


# ---------------------------------------------------------------- group_norm, layer_norm
GN_CASES = [((2, 6, 4, 3), 3), ((3, 6, 5), 1), ((2, 6), 3), ((2, 4, 3, 2, 2), 2), ((1, 4, 3), 4)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,groups", GN_CASES)
def test_group_norm_matches_torch(torch, shape, groups, dtype):
    rng = np.random.default_rng(shape[1] + groups)
    C = shape[1]
    for w, b in [(rng.standard_normal(C), rng.standard_normal(C)), (rng.standard_normal(C), None), (None, None)]:
        against_torch(torch, lambda x, w, b: N.group_norm(x, groups, w, b, eps=1e-4),
                      lambda x, w, b: torch.nn.functional.group_norm(x, groups, w, b, eps=1e-4),
                      [_data(rng, shape, 2, 1), w, b], dtype, tol=LOOSE, require_grads=True)


LN_CASES = [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((2, 3, 2, 3), (3,)), ((3,), (3,)), ((2, 3, 4, 2), (3, 4, 2))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,normalized", LN_CASES)
def test_layer_norm_matches_torch(torch, shape, normalized, dtype):
    rng = np.random.default_rng(len(shape) + len(normalized))
    for w, b in [(rng.standard_normal(normalized), rng.standard_normal(normalized)),
                 (rng.standard_normal(normalized), None), (None, None)]:
        against_torch(torch, lambda x, w, b: N.layer_norm(x, normalized, w, b),
                      lambda x, w, b: torch.nn.functional.layer_norm(x, normalized, w, b),
                      [_data(rng, shape, 2, 1), w, b], dtype, tol=LOOSE, require_grads=True)


def naive_group_norm(x, G, eps):
    y = np.empty_like(x)
    per = x.shape[1] // G
    for n in range(x.shape[0]):
        for g in range(G):
            block = x[n, g * per:(g + 1) * per]
            y[n, g * per:(g + 1) * per] = (block - block.mean()) / np.sqrt(block.var() + eps)
    return y


def test_group_and_layer_norm_naive_reference():
    rng = np.random.default_rng(2)
    x = _data(rng, (3, 6, 4, 2))
    for G in (1, 2, 3, 6):
        np.testing.assert_allclose(N.group_norm(cnnlab.Tensor(x), G).data, naive_group_norm(x, G, 1e-5),
                                   rtol=1e-10, atol=1e-12)
    # layer norm over (C, H, W) is group norm with one group
    np.testing.assert_allclose(N.layer_norm(cnnlab.Tensor(x), (6, 4, 2)).data, naive_group_norm(x, 1, 1e-5),
                               rtol=1e-10, atol=1e-12)


def test_group_and_layer_norm_gradcheck():
    rng = np.random.default_rng(4)
    gradcheck(lambda x, w, b: N.group_norm(x, 2, w, b), _data(rng, (2, 4, 3)), rng.standard_normal(4),
              rng.standard_normal(4))
    gradcheck(lambda x, w, b: N.layer_norm(x, (2, 3), w, b), _data(rng, (2, 2, 3)), rng.standard_normal((2, 3)),
              rng.standard_normal((2, 3)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_group_norm_and_layer_norm_layers_match_torch(torch, dtype):
    rng = np.random.default_rng(8)
    tdt = getattr(torch, np.dtype(dtype).name)
    pairs = [(GroupNorm(2, 4, dtype=dtype), torch.nn.GroupNorm(2, 4, dtype=tdt), (3, 4, 5)),
             (GroupNorm(4, 4, affine=False, dtype=dtype), torch.nn.GroupNorm(4, 4, affine=False, dtype=tdt),
              (3, 4, 2, 2)),
             (LayerNorm((3, 2), dtype=dtype), torch.nn.LayerNorm((3, 2), dtype=tdt), (4, 3, 2)),
             (LayerNorm(5, bias=False, eps=1e-3, dtype=dtype), torch.nn.LayerNorm(5, bias=False, eps=1e-3, dtype=tdt),
              (2, 5))]
    for ours, theirs, shape in pairs:
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for p, q in zip(ours.parameters(), theirs.parameters()):
            np.testing.assert_array_equal(p.data, q.detach().numpy())
            with torch.no_grad():
                p.data[...] = rng.standard_normal(p.shape)
                q.copy_(torch.tensor(p.data))
        _train_both(torch, ours, theirs, [shape], dtype)


# ---------------------------------------------------------------- local response norm
LRN_CASES = [((2, 5, 4), 3), ((2, 6, 3, 4), 2), ((1, 4, 2, 3, 2), 5), ((2, 3, 4), 1), ((2, 3, 5), 8),
             ((3, 7, 2, 2), 4)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,size", LRN_CASES)
def test_local_response_norm_matches_torch(torch, shape, size, dtype):
    rng = np.random.default_rng(size * 10 + len(shape))
    for alpha, beta, k in [(1e-4, 0.75, 1.0), (0.5, 0.6, 2.0), (2.0, 1.5, 0.5)]:
        against_torch(torch, lambda x: N.local_response_norm(x, size, alpha, beta, k),
                      lambda x: torch.nn.functional.local_response_norm(x, size, alpha, beta, k),
                      [_data(rng, shape, 2)], dtype, require_grads=True)


def naive_lrn(x, n, alpha, beta, k):
    C = x.shape[1]
    y = np.empty_like(x)
    for c in range(C):
        lo, hi = max(0, c - n // 2), min(C - 1, c + (n - 1) // 2)
        y[:, c] = x[:, c] / (k + alpha / n * (x[:, lo:hi + 1] ** 2).sum(axis=1)) ** beta
    return y


def test_local_response_norm_naive_reference_gradcheck_and_layer(torch):
    rng = np.random.default_rng(6)
    for shape, size in LRN_CASES:
        x = _data(rng, shape, 2)
        np.testing.assert_allclose(N.local_response_norm(cnnlab.Tensor(x), size, 0.3, 0.8, 1.5).data,
                                   naive_lrn(x, size, 0.3, 0.8, 1.5), rtol=1e-10, atol=1e-12)
    gradcheck(lambda x: N.local_response_norm(x, 3, 0.5, 0.75, 1.0), _data(rng, (2, 4, 3)))
    gradcheck(lambda x: N.local_response_norm(x, 2, 1.0, 0.5, 2.0), _data(rng, (1, 3, 2, 2)))
    m, t = LocalResponseNorm(3, alpha=0.2), torch.nn.LocalResponseNorm(3, alpha=0.2)
    assert repr(m) == repr(t) and repr(LocalResponseNorm(2)) == repr(torch.nn.LocalResponseNorm(2))
    x = _data(rng, (2, 5, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(m(cnnlab.Tensor(x)).data, t(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- errors
def test_batch_norm_errors():
    x = cnnlab.randn(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"batch_norm: expected 16 features \(channels\), got 3 in input of shape "
                                         r"\(2, 3, 4, 4\) \(running_mean has shape \(16,\)\)"):
        N.batch_norm(x, cnnlab.zeros(16), cnnlab.ones(16))
    with pytest.raises(ValueError, match=r"batch_norm: expected 5 features \(channels\), got 3 .*weight has shape"):
        N.batch_norm(x, None, None, cnnlab.ones(5), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel when training, "
                                         r"got input size \(1, 3\)"):
        N.batch_norm(cnnlab.randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean and running_var must be given when training=False"):
        N.batch_norm(x, None, None)
    with pytest.raises(ValueError, match=r"batch_norm: expected an input with at least 2 dims \(N, C, \*\), "
                                         r"got shape \(3,\)"):
        N.batch_norm(cnnlab.randn(3), None, None, training=True)
    with pytest.raises(TypeError, match=r"batch_norm: weight has dtype float32, but input has dtype float64"):
        N.batch_norm(x.double(), None, None, cnnlab.ones(3), training=True)
    with pytest.raises(TypeError, match=r"batch_norm: momentum must be a number, got NoneType"):
        N.batch_norm(x, cnnlab.zeros(3), cnnlab.ones(3), training=True, momentum=None)
    with pytest.raises(ValueError, match=r"batch_norm: eps must be positive during training, but got 0"):
        N.batch_norm(x, None, None, training=True, eps=0)
    with pytest.raises(TypeError, match=r"batch_norm: expected a floating point tensor, got dtype int64"):
        N.batch_norm(cnnlab.tensor([[1, 2], [3, 4]]), None, None, training=True)


def test_batch_norm_layer_errors():
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input \(got 4D input\)"):
        BatchNorm1d(3)(cnnlab.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(got 3D input\)"):
        BatchNorm2d(3)(cnnlab.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"BatchNorm3d: expected 5D input \(got 4D input\)"):
        BatchNorm3d(3)(cnnlab.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"batch_norm: expected 16 features \(channels\), got 3 in input of shape "
                                         r"\(2, 3, 4, 4\)"):
        BatchNorm2d(16)(cnnlab.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected more than 1 value per channel when training, got input size "
                                         r"\(1, 3, 1\)"):
        BatchNorm1d(3)(cnnlab.randn(1, 3, 1))
    m = BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"more than 1 value per channel"):
        m(cnnlab.randn(1, 3))
    assert m.num_batches_tracked.item() == 0  # a rejected batch is not counted (PyTorch counts it)
    m.eval()(cnnlab.randn(1, 3))  # one value per channel is fine in eval mode
    with pytest.raises(ValueError, match=r"more than 1 value per channel"):  # untracked: batch stats even in eval
        BatchNorm1d(3, track_running_stats=False).eval()(cnnlab.randn(1, 3))
    with pytest.raises(ValueError, match=r"BatchNorm2d: num_features must be positive, got num_features=0"):
        BatchNorm2d(0)
    with pytest.raises(TypeError, match=r"BatchNorm2d: momentum must be a number or None, got str"):
        BatchNorm2d(3, momentum="0.1")


def test_group_layer_lrn_errors():
    with pytest.raises(ValueError, match=r"group_norm: expected number of channels in input to be divisible by "
                                         r"num_groups, but got input of shape \(2, 6, 4\) and num_groups=4"):
        N.group_norm(cnnlab.randn(2, 6, 4), 4)
    with pytest.raises(ValueError, match=r"group_norm: expected weight to be a vector of size equal to the number "
                                         r"of channels in input, but got weight of shape \(5,\)"):
        N.group_norm(cnnlab.randn(2, 6, 4), 3, cnnlab.ones(5))
    with pytest.raises(ValueError, match=r"group_norm: expected more than 1 value per channel when training, "
                                         r"got input size \[1, 2\]"):
        N.group_norm(cnnlab.randn(1, 2), 2)
    with pytest.raises(ValueError, match=r"GroupNorm: num_channels \(6\) must be divisible by num_groups \(4\)"):
        GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"GroupNorm: expected input with 6 channels, got input of shape \(2, 3, 4\)"):
        GroupNorm(3, 6)(cnnlab.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"layer_norm: given normalized_shape=\(4,\), expected input with shape "
                                         r"\(\*, 4\), but got input of size \(2, 3\)"):
        N.layer_norm(cnnlab.randn(2, 3), (4,))
    with pytest.raises(ValueError, match=r"layer_norm: expected weight to be of same shape as normalized_shape, "
                                         r"but got weight of shape \(4,\) and normalized_shape = \(3,\)"):
        N.layer_norm(cnnlab.randn(2, 3), 3, cnnlab.ones(4))
    with pytest.raises(ValueError, match=r"LayerNorm: normalized_shape must be a positive int"):
        LayerNorm(0)
    with pytest.raises(ValueError, match=r"local_response_norm: expected 3D or higher dimensionality input "
                                         r"\(N, C, \*\), got 2 dimensions"):
        N.local_response_norm(cnnlab.randn(2, 3), 2)
    with pytest.raises(ValueError, match=r"local_response_norm: size must be a positive int, got 0"):
        N.local_response_norm(cnnlab.randn(2, 3, 4), 0)


def test_float32_stays_float32_with_numpy_float64_scalars():
    """NumPy 2 promotes float32 arrays with np.float64 scalars: the ops must not."""
    f64 = np.float64
    x = cnnlab.Tensor(np.random.default_rng(0).standard_normal((4, 6, 3, 2)).astype(np.float32), requires_grad=True)
    rm, rv = cnnlab.zeros(6), cnnlab.ones(6)
    outs = [N.batch_norm(x, rm, rv, cnnlab.ones(6), cnnlab.zeros(6), True, f64(0.2), f64(1e-3)),
            N.batch_norm(x, rm, rv, training=False, eps=f64(1e-3)),
            N.group_norm(x, 3, eps=f64(1e-3)), N.layer_norm(x, (3, 2), eps=f64(1e-3)),
            N.local_response_norm(x, 3, f64(0.1), f64(0.5), f64(2.0))]
    for out in outs:
        assert out.dtype == np.float32
        out.backward(cnnlab.ones(*out.shape))
        assert x.grad.dtype == np.float32
    assert rm.dtype == np.float32 and rv.dtype == np.float32


def test_momentum_factor_is_the_weight_of_the_next_batch():
    assert BatchNorm2d(3, momentum=0.3).momentum_factor() == 0.3
    bn = BatchNorm1d(2, momentum=None)              # the cumulative average: 1 / (batches + 1)
    assert bn.momentum_factor() == 1.0
    bn(cnnlab.randn(4, 2))
    bn(cnnlab.randn(4, 2))
    assert bn.momentum_factor() == pytest.approx(1 / 3)
