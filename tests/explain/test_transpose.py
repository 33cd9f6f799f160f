"""cnnlab.explain.transpose: a transposed conv's output terms and an input's scatter, against PyTorch."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import float64 as t64, seeded as rng_for

import cnnlab
from cnnlab import explain
from cnnlab.messages import SettingError

LECTURE_X = [[[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]]
LECTURE_W = [[[[10.0, 20], [30, 40]]]]


# ---------------------------------------------------------------- transposed conv
TRANSPOSE_CASES = [  # D, N, C_in, C_out, groups, spatial, kernel, stride, padding, output_padding, dilation
    (1, 2, 2, 3, 1, (5,), (3,), (2,), (1,), (1,), (1,)),
    (2, 2, 4, 2, 2, (3, 4), (3, 2), (2, 3), (1, 0), (1, 2), (1, 1)),
    (2, 1, 3, 3, 3, (3, 3), (2, 2), (1, 2), (0, 1), (0, 0), (2, 1)),
    (3, 1, 2, 2, 1, (2, 3, 2), (2, 2, 3), (2, 1, 2), (0, 1, 1), (1, 0, 0), (1, 1, 1)),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=lambda c: f"{c[0]}d-g{c[4]}-{c[5]}")
def test_conv_transpose_agrees_with_the_op_and_torch_at_every_element(case, torch):
    D, N, C, O, G, spatial, k, s, p, op_, d = case
    rng = rng_for("transpose", case)
    x, w, b = rng.standard_normal((N, C) + spatial), rng.standard_normal((C, O // G) + k), rng.standard_normal(O)
    ref = getattr(torch.nn.functional, f"conv_transpose{D}d")(torch.tensor(x), torch.tensor(w), torch.tensor(b),
                                                              s, p, op_, G, d).numpy()
    ours = getattr(explain, f"conv_transpose{D}d")
    for index in itertools.product(*(range(m) for m in ref.shape)):
        e = ours(t64(x), t64(w), t64(b), s, p, op_, G, d, at=index[1:], batch=index[0])
        assert e.agrees and e.index == index
        np.testing.assert_allclose(e.value, ref[index], rtol=1e-10, atol=1e-12)
        for term in e.terms:      # each term's input lands here: i·s + t·d = position + p
            tap = term.weight_index[2:]
            assert all(i * ss + t * dd == j + pp for i, t, ss, dd, j, pp in
                       zip(term.position, tap, s, d, index[2:], p))


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=lambda c: f"{c[0]}d-g{c[4]}-{c[5]}")
def test_conv_transpose_scatter_lists_what_torch_writes(case, torch):
    D, N, C, O, G, spatial, k, s, p, op_, d = case
    rng = rng_for("scatter", case)
    x, w = rng.standard_normal((N, C) + spatial), rng.standard_normal((C, O // G) + k)
    ours = getattr(explain, f"conv_transpose{D}d_scatter")
    for index in itertools.product(range(N), range(C), *(range(m) for m in spatial)):
        e = ours(t64(x), t64(w), None, s, p, op_, G, d, at=index[1:], batch=index[0])
        alone = np.zeros_like(x)
        alone[index] = x[index]
        ref = getattr(torch.nn.functional, f"conv_transpose{D}d")(torch.tensor(alone), torch.tensor(w), None,
                                                                  s, p, op_, G, d).numpy()[index[0]]
        written = np.zeros_like(ref)
        for sc in e.scatters:
            if sc.position is not None:
                written[(sc.channel,) + sc.position] += sc.contribution
        assert e.agrees and e.value == x[index]
        np.testing.assert_allclose(written, ref, rtol=1e-12, atol=0)
        assert len(e.scatters) == (O // G) * int(np.prod(k))


def test_conv_transpose_prints_its_terms():
    x = cnnlab.tensor([[[1.0, 2], [3, 4]]])
    w = cnnlab.tensor([[[[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]]])
    e = explain.conv_transpose2d(x, w, cnnlab.tensor([0.5]), stride=2, padding=1, output_padding=1, at=(0, 1, 2))
    assert str(e).splitlines()[:4] == [
        "conv_transpose2d output[0, 0, 1, 2] (batch 0, channel 0, at (1, 2)): stride 2, padding 1, dilation 1",
        "  the inputs i and taps t with i·s + t·d = (2, 3) (the position + padding on the full output):",
        "  2×8 + 4×2 = 24",
        "  24 + bias 0.5 = 24.5",
    ]
    assert e.full_position == (2, 3) and e.value == 24.5 and e.agrees


def test_conv_transpose_scatter_prints_where_each_tap_goes():
    x = cnnlab.tensor([[[1.0, 2], [3, 4]]])
    e = explain.conv_transpose2d_scatter(x, cnnlab.ones(1, 1, 3, 3), stride=2, padding=1, at=(0, 1, 1))
    lines = str(e).splitlines()
    assert lines[0] == ("conv_transpose2d input[0, 0, 1, 1] = 4 (batch 0, channel 0, at (1, 1)) scatters x×K[t] to "
                        "i·s + t·d − p: stride 2, padding 1, dilation 1")
    assert lines[1] == "  channel 0, tap (0, 0): 4×1 = 4 to output (1, 1)"
    assert lines[9] == "  channel 0, tap (2, 2): 4×1 = 4 to full position (4, 4), cut off (padding or the output's end)"
    assert lines[-1] == "  conv_transpose2d of this input alone computes exactly these contributions"


@pytest.mark.parametrize("call, error, match", [
    (lambda x, w: explain.conv_transpose2d(x, w, stride=2, output_padding=2, at=(0, 0, 0)), ValueError,
     r"explain.conv_transpose2d: output padding must be smaller than either stride or dilation"),
    (lambda x, w: explain.conv_transpose2d(x, w, at=(0, 4, 0)), SettingError,
     r"explain.conv_transpose2d: at must be \(channel, i, j\) inside the output's \(1, 4, 4\)"),
    (lambda x, w: explain.conv_transpose2d_scatter(x, w, at=(0, 3, 0)), SettingError,
     r"explain.conv_transpose2d: at must be \(channel, i, j\) inside the input's \(1, 3, 3\)"),
])
def test_bad_transposed_conv_arguments_fail_first_naming_explain_and_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call(t64(LECTURE_X), t64(LECTURE_W))
