"""F.pad and the padding layers against PyTorch (values and gradients), naive loops, gradcheck, errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional.padding as P
import cnnlab.nn.modules.padding as L
from helpers import gradcheck
from oracle import against_torch

MODES = ("constant", "reflect", "replicate", "circular")
# float32: a gradient sums up to ~4 terms, maybe in another order
GRAD_TOL = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=1e-5, atol=1e-6)}
EXACT = dict(rtol=0, atol=0)  # padding only copies: the output is exact


# ---------------------------------------------------------------- helpers
def torch_pad(torch, x, pad, mode, value=None):
    return torch.nn.functional.pad(x, pad, mode=mode, value=value)


def compare(torch, f_ours, f_torch, x, dtype, seed=0):
    """`against_torch` on the one input `x`: the output exact, the input gradient (which must exist) to GRAD_TOL."""
    against_torch(torch, f_ours, f_torch, [x], dtype, tol=EXACT, grad_tol=GRAD_TOL, seed=seed, require_grads=True)


def random_config(rng, wide=False):
    """A mode, an input shape and a pad tuple; mostly valid for PyTorch, with `wide` often not."""
    mode = str(rng.choice(MODES))
    k = int(rng.integers(1, 4))  # padded dims
    if mode == "constant":
        lead = int(rng.integers(0, 3))  # any rank: 0-2 dims in front of the padded ones
    else:
        lead = int(rng.integers(1, 3))  # (C, *) unbatched or (N, C, *) batched
    shape = tuple(int(s) for s in rng.integers(1, 4, size=lead)) + tuple(int(s) for s in rng.integers(1, 6, size=k))
    pad = []
    for n in reversed(shape[lead:]):  # last dim first
        for _ in range(2):
            r = rng.random()
            if r < 0.25:
                pad.append(0)
            elif r < 0.5 and not wide:
                pad.append(-int(rng.integers(1, n + 1)) // 2)  # a small crop
            elif wide:
                pad.append(int(rng.integers(-n - 2, n + 3)))
            else:  # positive, within the mode's limit (reflect: < n; circular: <= n; the others: any)
                high = {"reflect": n - 1, "circular": n}.get(mode, n + 1)
                pad.append(int(rng.integers(1, high + 1)) if high >= 1 else 0)
    return mode, shape, tuple(pad)


def torch_accepts(torch, mode, shape, pad):
    try:
        torch_pad(torch, torch.zeros(shape, dtype=torch.float64), pad, mode)
    except (RuntimeError, NotImplementedError, ValueError):
        return False
    return True


def ours_accepts(mode, shape, pad):
    try:
        P.pad(cnnlab.zeros(*shape, dtype=cnnlab.float64), pad, mode)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- the oracle sweep
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pad_random_sweep_against_torch(torch, dtype):
    rng = np.random.default_rng(2024)
    done, counts = 0, {m: 0 for m in MODES}
    while done < 320:
        mode, shape, pad = random_config(rng)
        if not (torch_accepts(torch, mode, shape, pad) and ours_accepts(mode, shape, pad)):
            continue  # the rules are tested in test_pad_accepts_exactly_what_torch_accepts
        value = float(rng.standard_normal()) if mode == "constant" and rng.random() < 0.5 else None
        x = rng.standard_normal(shape)
        compare(torch, lambda t: P.pad(t, pad, mode, value), lambda t: torch_pad(torch, t, pad, mode, value),
                x, dtype, seed=done)
        done += 1
        counts[mode] += 1
    assert min(counts.values()) >= 50, counts


def test_pad_accepts_exactly_what_torch_accepts(torch):
    """Over wide random pads (many invalid), cnnlab raises exactly where PyTorch does, with one exception:
    circular pads larger than what the negative pads leave of the input (or crops larger than the input), where
    PyTorch returns uninitialised memory, or fails on overlapping copies, or broadcasts by accident."""
    rng = np.random.default_rng(7)
    agree = garbage = 0
    for _ in range(1500):
        mode, shape, pad = random_config(rng, wide=True)
        theirs, ours = torch_accepts(torch, mode, shape, pad), ours_accepts(mode, shape, pad)
        if theirs and not ours:
            assert mode == "circular", (mode, shape, pad)
            lead = len(shape) - len(pad) // 2
            kept = [n - max(-pad[2 * i], 0) - max(-pad[2 * i + 1], 0)
                    for i, n in enumerate(reversed(shape[lead:]))]
            assert any(min(kept[i], kept[i] - pad[2 * i], kept[i] - pad[2 * i + 1]) < 0
                       for i in range(len(kept))), (shape, pad)
            garbage += 1
        else:
            assert theirs == ours, (mode, shape, pad, theirs)
            agree += 1
    assert agree > 1400 and garbage > 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pad_grid_batched_and_unbatched(torch, mode, dtype):
    """Every padded rank, batched and unbatched, symmetric, asymmetric, zero and full-size pads."""
    rng = np.random.default_rng(3)
    for k, batched in itertools.product((1, 2, 3), (False, True)):
        shape = (2, 3)[: 1 + batched] + (4, 3, 5)[3 - k:]
        spatial = shape[-k:][::-1]  # last dim first, as pad
        limit = {"reflect": [n - 1 for n in spatial], "circular": list(spatial)}.get(mode, [n + 2 for n in spatial])
        for pads in ([1] * k, [0] * k, limit):
            for asym in (False, True):
                pad = tuple(itertools.chain.from_iterable((p, p if not asym else p // 2) for p in pads))
                x = rng.standard_normal(shape)
                compare(torch, lambda t: P.pad(t, pad, mode), lambda t: torch_pad(torch, t, pad, mode), x, dtype)


def test_pad_negative_pads_in_every_mode(torch):
    x = np.arange(10.0).reshape(2, 5)
    for mode in MODES:
        for pad in [(-1, 2), (2, -1), (-2, -2), (-1, -1), (-4, 0), (0, -4), (-2, 3)]:
            compare(torch, lambda t: P.pad(t, pad, mode), lambda t: torch_pad(torch, t, pad, mode), x, np.float64)
    for pad in [(-6, 2), (4, -4)]:  # reflect and replicate index from the original borders
        for mode in ("reflect", "replicate"):
            if torch_accepts(torch, mode, x.shape, pad):
                compare(torch, lambda t: P.pad(t, pad, mode), lambda t: torch_pad(torch, t, pad, mode), x, np.float64)


def test_constant_pad_any_rank_and_crop(torch):
    rng = np.random.default_rng(5)
    cases = [((), ()), ((3,), (2, 1)), ((3,), (-3, 0)), ((2, 3), (-1, -2)), ((2, 3, 4, 2), (1, 1, 0, 2, -1, 1, 1, 0)),
             ((2, 1, 3, 2, 2), (1, 0, 0, 1, 1, 0)), ((0, 3), (1, 1, 1, 1)), ((2, 3), (1, 1, -2, 0))]
    for shape, pad in cases:
        x = rng.standard_normal(shape)
        for value in (None, 0.0, -2.5, 7):
            compare(torch, lambda t: P.pad(t, pad, value=value), lambda t: torch_pad(torch, t, pad, "constant", value),
                    x, np.float64)


# ---------------------------------------------------------------- naive loop references
def _reflect(c, n):
    while not 0 <= c < n:  # mirror at the border elements (which are not repeated)
        c = -c if c < 0 else 2 * (n - 1) - c
    return c


def _naive_source(mode, c, n, before, after):
    """The input position that output position j = c + before copies, one scalar at a time (None: the fill)."""
    if mode == "constant":
        return c if 0 <= c < n else None
    if mode == "reflect":
        return _reflect(c, n)
    if mode == "replicate":
        return min(max(c, 0), n - 1)
    kept = list(range(max(-before, 0), n - max(-after, 0)))  # circular: crop, then repeat the kept list
    tiled = kept[len(kept) - max(before, 0):] + kept + kept[:max(after, 0)]
    return tiled[c + before]


def naive_pad(x, pad, mode, value=0.0):
    """Loop over every output element and copy its source (torch's definition, written the slow way)."""
    k = len(pad) // 2
    lead = x.ndim - k
    pairs = [(pad[2 * (k - 1 - i)], pad[2 * (k - 1 - i) + 1]) for i in range(k)]  # first padded dim first
    out_shape = x.shape[:lead] + tuple(n + b + a for n, (b, a) in zip(x.shape[lead:], pairs))
    out = np.empty(out_shape, x.dtype)
    for j in np.ndindex(*out_shape):
        src = list(j[:lead])
        for jj, n, (b, a) in zip(j[lead:], x.shape[lead:], pairs):
            src.append(_naive_source(mode, jj - b, n, b, a))
        out[j] = value if None in src else x[tuple(src)]
    return out


@pytest.mark.parametrize("mode", MODES)
def test_pad_matches_naive_loops(mode):
    rng = np.random.default_rng(11)
    count = 0
    while count < 40:
        m, shape, pad = random_config(rng)
        if not ours_accepts(mode, shape, pad) or mode == "circular" and len(shape) - len(pad) // 2 not in (1, 2):
            continue
        x = rng.standard_normal(shape)
        np.testing.assert_array_equal(P.pad(cnnlab.Tensor(x), pad, mode, 1.5 if mode == "constant" else None).data,
                                      naive_pad(x, pad, mode, 1.5))
        count += 1


def test_pad_index_examples():
    assert P.pad_index("reflect", 4, 2, 1).tolist() == [2, 1, 0, 1, 2, 3, 2]
    assert P.pad_index("replicate", 4, 2, 1).tolist() == [0, 0, 0, 1, 2, 3, 3]
    assert P.pad_index("circular", 4, 2, 1).tolist() == [2, 3, 0, 1, 2, 3, 0]
    assert P.pad_index("circular", 5, -2, 3).tolist() == [2, 3, 4, 2, 3, 4]
    assert P.pad_index("reflect", 5, -6, 2).tolist() == [2]


# ---------------------------------------------------------------- gradients without torch
@pytest.mark.parametrize("mode", MODES)
def test_pad_gradcheck(mode):
    rng = np.random.default_rng(1)
    cases = {
        "constant": [((2, 3), (2, -1)), ((2, 3, 4), (1, 0, -1, 2)), ((1, 2, 3, 2, 2), (1, 1, 0, 1, 1, -1))],
        "reflect": [((2, 4), (3, -1)), ((2, 3, 4), (2, 3, 1, 2)), ((1, 2, 3, 2, 3), (2, 1, 1, 0, 1, 2))],
        "replicate": [((2, 4), (5, -2)), ((2, 3, 4), (2, 3, 1, 2)), ((1, 2, 3, 2, 3), (2, 1, 3, 0, 1, 2))],
        "circular": [((2, 4), (3, -1)), ((2, 3, 4), (2, 4, 3, 1)), ((1, 2, 3, 2, 3), (3, 1, 1, 2, 3, 0))],
    }[mode]
    for shape, pad in cases:
        gradcheck(lambda t: P.pad(t, pad, mode), rng.standard_normal(shape))


def test_pad_adjoint_by_loops():
    """The backward of the index modes adds up g over every output an input element was copied to."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 4))
    for mode, pad in [("reflect", (3, 2, 2, -1)), ("replicate", (4, 1, 0, 3)), ("circular", (4, 2, -1, 2))]:
        t = cnnlab.Tensor(x.copy(), requires_grad=True)
        out = P.pad(t, pad, mode)
        g = rng.standard_normal(out.shape)
        out.backward(cnnlab.Tensor(g))
        expected = np.zeros_like(x)
        index = [P.pad_index(mode, x.shape[1], pad[2], pad[3]), P.pad_index(mode, x.shape[2], pad[0], pad[1])]
        for b, i, j in np.ndindex(*out.shape):
            expected[b, index[0][i], index[1][j]] += g[b, i, j]
        np.testing.assert_allclose(t.grad.data, expected, rtol=1e-12)


# ---------------------------------------------------------------- dtypes and odd inputs
def test_pad_keeps_dtype_and_casts_value():
    x32 = cnnlab.Tensor(np.ones((1, 2, 2), np.float32), requires_grad=True)
    y = P.pad(x32, (1, 1), value=np.float64(2.5))
    assert y.dtype == np.float32 and y.data[0, 0, 0] == 2.5
    y.backward(cnnlab.Tensor(np.ones(y.shape, np.float32)))
    assert x32.grad.dtype == np.float32
    for mode in ("reflect", "replicate", "circular"):
        assert P.pad(x32, (1, 1), mode).dtype == np.float32
    xi = cnnlab.Tensor(np.arange(6).reshape(2, 3))
    assert P.pad(xi, (1, 1), value=2.5).data.tolist() == [[2, 0, 1, 2, 2], [2, 3, 4, 5, 2]]  # value cast, as torch
    assert P.pad(xi, (2, 0), "reflect").data.tolist() == [[2, 1, 0, 1, 2], [5, 4, 3, 4, 5]]


def test_pad_empty_inputs(torch):
    cases = [("reflect", (0, 3, 5), (1, 1)), ("replicate", (0, 2, 4, 5), (1, 1, 1, 1)), ("circular", (2, 0, 5), (1, 1)),
             ("circular", (2, 3, 0), (0, 0)), ("constant", (0, 3), (1, 2)), ("reflect", (2, 3, 4), (0, 0, -3, 0))]
    for mode, shape, pad in cases:
        ours = P.pad(cnnlab.zeros(*shape), pad, mode)
        assert ours.shape == tuple(torch_pad(torch, torch.zeros(shape), pad, mode).shape)


def test_pad_accepts_lists_numpy_ints_and_value_zero_in_other_modes():
    x = cnnlab.Tensor(np.arange(4.0).reshape(1, 4))
    assert P.pad(x, [np.int64(1), 0], "reflect", 0).data.tolist() == [[1.0, 0.0, 1.0, 2.0, 3.0]]
    assert P.pad(x, (1, 0), "circular", 0.0).data.tolist() == [[3.0, 0.0, 1.0, 2.0, 3.0]]


def test_pad_without_grad():
    x = cnnlab.Tensor(np.ones((1, 3)))
    assert not P.pad(x, (1, 1), "reflect").requires_grad
    with cnnlab.no_grad():
        assert not P.pad(cnnlab.Tensor(np.ones((1, 3)), requires_grad=True), (1, 1)).requires_grad


# ---------------------------------------------------------------- errors
ERRORS = [
    ((2, 5), (1, 1), {"mode": "foo"},
     ValueError, r"pad: mode must be one of 'constant', 'reflect', 'replicate', 'circular', got 'foo'"),
    ((2, 5), (1, 1, 1), {}, ValueError, r"pad: pad must have an even length .* got length 3: \(1, 1, 1\)"),
    ((2, 5), (1, 1) * 3, {},
     ValueError, r"pad: pad of length 6 pads 3 dims, but the input has only 2 .*at most 2 \* ndim = 4"),
    ((2, 5), (1.0, 1), {}, TypeError, r"pad: pad must be a tuple of ints, got \(1.0, 1\) \(element 0 is float\)"),
    ((2, 5), (True, 1), {}, TypeError, r"pad: pad must be a tuple of ints, got \(True, 1\) \(element 0 is bool\)"),
    ((2, 5), 1, {}, TypeError, r"pad: pad must be a tuple of ints, got int 1"),
    ((2, 5), (1, 1), {"value": "a"}, TypeError, r"pad: value must be a number, got value='a' \(str\)"),
    ((2, 5), (1, 1), {"mode": "reflect", "value": 1.0},
     ValueError, r"pad: mode 'reflect' doesn't take a value argument .*got value=1.0"),
    ((2, 3, 3), (3, 3, 0, 0), {"mode": "reflect"},
     ValueError, r"pad: reflect padding \(3, 3\) must be smaller than the input size 3 of dim 2"),
    ((2, 3, 3), (0, 0, 0, 3), {"mode": "reflect"},
     ValueError, r"pad: reflect padding \(0, 3\) must be smaller than the input size 3 of dim 1"),
    ((1, 5), (6, 0), {"mode": "circular"},
     ValueError, r"pad: circular padding \(6, 0\) must be at most the input size 5 of dim 1 \(it would wrap around"),
    ((1, 5), (-3, 3), {"mode": "circular"},
     ValueError, r"pad: circular padding \(-3, 3\) must be at most the size 2 left after cropping the input size 5 "
                 r"of dim 1"),
    ((1, 5), (-3, -3), {}, ValueError, r"pad: constant padding \(-3, -3\) of dim 1 gives a negative output size "
                                       r"5 \+ -3 \+ -3 = -1"),
    ((1, 3), (2, -5), {}, ValueError, r"pad: constant padding \(2, -5\) of dim 1 crops 5 elements, more than the "
                                      r"input size 3"),
    ((1, 5), (-6, 2), {"mode": "circular"}, ValueError, r"pad: circular padding \(-6, 2\) of dim 1 crops 6 elements"),
    ((1, 5), (-3, -2), {"mode": "reflect"}, ValueError, r"pad: reflect padding \(-3, -2\) leaves no element"),
    ((2, 3, 4), (0, -5, 0, 0), {"mode": "replicate"},
     ValueError, r"pad: replicate padding \(0, -5\) of dim 2 gives a negative output size 4 \+ 0 \+ -5 = -1"),
    ((2, 3, 4), (0, -4, -3, 0), {"mode": "replicate"},
     ValueError, r"pad: replicate padding \(0, -4, -3, 0\) leaves no element: .* output sizes \(0, 0\)"),
    ((5,), (1, 1), {"mode": "reflect"},
     ValueError, r"pad: reflect padding of the last 1 dim \(a pad of length 2\) needs a 2D \(unbatched\) or 3D "
                 r"\(batched\) input, got a 1D input of shape \(5,\)"),
    ((2, 2, 2, 5), (1, 1), {"mode": "circular"},
     ValueError, r"needs a 2D \(unbatched\) or 3D \(batched\) input, got a 4D"),
    ((2, 5), (1, 1, 1, 1), {"mode": "replicate"}, ValueError, r"last 2 dims .* needs a 3D \(unbatched\) or 4D"),
    ((2, 5), (), {"mode": "reflect"}, ValueError, r"pad: reflect padding pads the last 1, 2 or 3 dims .* got a pad "
                                                  r"of length 0"),
    ((2, 2, 2, 2, 5), (1,) * 8, {"mode": "reflect"}, ValueError, r"got a pad of length 8"),
    ((2, 0, 5), (1, 1), {"mode": "reflect"},
     ValueError, r"pad: reflect padding needs a 2D or 3D \(batch mode\) input with possibly 0 batch size and other "
                 r"non-zero dimensions, got shape \(2, 0, 5\)"),
    ((0, 5), (1, 1), {"mode": "replicate"}, ValueError, r"other non-zero dimensions, got shape \(0, 5\)"),
]


@pytest.mark.parametrize("shape, pad, kwargs, error, match", ERRORS)
def test_pad_errors(shape, pad, kwargs, error, match):
    with pytest.raises(error, match=match):
        P.pad(cnnlab.zeros(*shape), pad, **kwargs)


def test_pad_errors_where_torch_errors(torch):
    """Every ValueError case above (but the circular ones where torch reads garbage) is an error in torch too."""
    for shape, pad, kwargs, error, _ in ERRORS:
        if error is ValueError and pad not in [(-6, 2)]:
            with pytest.raises((RuntimeError, NotImplementedError, ValueError)):
                torch_pad(torch, torch.zeros(shape), pad, kwargs.get("mode", "constant"), kwargs.get("value"))


def test_pad_input_must_be_a_tensor():
    with pytest.raises(TypeError, match="pad: input must be a Tensor, got ndarray"):
        P.pad(np.zeros((2, 3)), (1, 1))


# ---------------------------------------------------------------- layers
LAYERS = [(name, int(name[-2])) for name in L.__all__]


def _layer_args(name, padding):
    return (padding, 1.5) if name.startswith("Constant") else (padding,)


@pytest.mark.parametrize("name, d", LAYERS)
@pytest.mark.parametrize("batched", [False, True])
def test_layers_against_torch(torch, name, d, batched):
    rng = np.random.default_rng(d)
    shape = (2, 3)[: 1 + batched] + (3, 4, 5)[3 - d:]
    for padding in (1, tuple(int(p) for p in rng.integers(0, 3, size=2 * d)), tuple(i % 3 for i in range(2 * d))):
        args = _layer_args(name, padding)
        ours, theirs = getattr(L, name)(*args), getattr(torch.nn, name)(*args)
        assert repr(ours) == repr(theirs)
        assert ours.padding == theirs.padding
        for dtype in (np.float64, np.float32):
            compare(torch, ours, theirs, rng.standard_normal(shape), dtype)


def test_layer_reprs_match_torch(torch):
    cases = [("ConstantPad1d", (2, 3.5)), ("ConstantPad2d", ((1, 2, 3, 4), 0)), ("ConstantPad3d", (1, -1.0)),
             ("ZeroPad1d", ((1, 2),)), ("ZeroPad2d", (1,)), ("ReflectionPad2d", ([2, 1, 0, 3],)),
             ("ReplicationPad1d", ([1, 2],)), ("CircularPad3d", (1,)), ("ConstantPad1d", (-1, 2))]
    for name, args in cases:
        assert repr(getattr(L, name)(*args)) == repr(getattr(torch.nn, name)(*args))
    assert repr(L.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(L.ConstantPad1d(2, 3.5)) == "ConstantPad1d(padding=(2, 2), value=3.5)"


def test_layers_constant_pads_any_rank_and_negative_padding(torch):
    x = np.random.default_rng(0).standard_normal((2, 1, 3, 4, 2))
    compare(torch, L.ZeroPad2d((1, -1, 0, 2)), torch.nn.ZeroPad2d((1, -1, 0, 2)), x, np.float64)
    compare(torch, L.ReplicationPad1d((-1, 3)), torch.nn.ReplicationPad1d((-1, 3)), x[0, 0], np.float64)


def test_layer_errors():
    with pytest.raises(ValueError, match=r"ReflectionPad2d: padding must be an int or a tuple of 4 ints, got \(1, 2\)"):
        L.ReflectionPad2d((1, 2))
    with pytest.raises(TypeError, match=r"ZeroPad1d: padding must be an int or a tuple of 2 ints, got 1.5"):
        L.ZeroPad1d(1.5)
    with pytest.raises(TypeError, match=r"ConstantPad2d: value must be a number, got value='x' \(str\)"):
        L.ConstantPad2d(1, "x")
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'value'"):
        L.ConstantPad1d(1)
    with pytest.raises(ValueError, match=r"CircularPad2d: expected 3D or 4D input \(got 2D input of shape \(2, 3\)\)"):
        L.CircularPad2d(1)(cnnlab.zeros(2, 3))
    with pytest.raises(ValueError, match=r"pad: reflect padding \(4, 4\) must be smaller than the input size 3"):
        L.ReflectionPad1d(4)(cnnlab.zeros(1, 3))


def test_docstring_examples():
    import doctest

    for module, globs in [(P, {"cnnlab": cnnlab, "F": P}), (L, {"cnnlab": cnnlab, "nn": L})]:
        failed, attempted = doctest.testmod(module, extraglobs=globs)
        assert attempted > 0 and failed == 0
