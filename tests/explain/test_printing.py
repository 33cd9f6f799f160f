"""cnnlab.explain.printing: numbers, grids and matrices typed on a command line."""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab import explain
from cnnlab.messages import SettingError


def test_number_writes_integers_without_a_trailing_zero():
    assert [explain.number(v) for v in (370.0, -2.0, 0.1 + 0.2, np.float32(0.1), 1e20, float("nan"), -0.0)] == \
        ["370", "-2", "0.3", "0.1", "1e+20", "nan", "0"]
    assert str(explain.Term(0, (0, 0), -2.0, (0, 0, 0, 0), 3.0)) == "(-2)×3"


def test_grid_marks_the_window_and_the_winner():
    assert explain.grid(np.arange(1.0, 5).reshape(2, 2), [(0, 1), (1, 1)]).splitlines() == \
        ["    0   1", "0   1  [2]", "1   3  [4]"]
    assert explain.grid(np.array([1.0, 2, 3]), [(1,), (2,)], [(2,)]).splitlines() == ["  0   1   2", "  1  [2] <3>"]
    three = explain.grid(np.arange(8.0).reshape(2, 2, 2), [(1, 0, 0)])
    assert three.splitlines()[0] == "slice 1:" and "[4]" in three


def test_matrix_reads_inline_rows_channels_and_npy_files(tmp_path):
    np.testing.assert_array_equal(explain.matrix("1 2 3; 4,5,6", arg="input", ndim=3), [[[1, 2, 3], [4, 5, 6]]])
    assert explain.matrix("1 2; 3 4 | 5 6; 7 8", arg="kernel", ndim=4).shape == (1, 2, 2, 2)
    np.save(tmp_path / "x.npy", np.arange(12, dtype=np.int32).reshape(3, 4))
    a = explain.matrix(str(tmp_path / "x.npy"), arg="input", ndim=3)
    assert a.shape == (1, 3, 4) and a.dtype == np.float64
    np.save(tmp_path / "b.npy", np.array(["a"]))
    with pytest.raises(SettingError, match=r"explain.matrix: input: .*b.npy holds <U1 values, not numbers"):
        explain.matrix(str(tmp_path / "b.npy"), arg="input", ndim=3)
    np.save(tmp_path / "o.npy", np.array([object()]), allow_pickle=True)
    with pytest.raises(SettingError, match=r"explain.matrix: input: .*o.npy is not a plain .npy array"):
        explain.matrix(str(tmp_path / "o.npy"), arg="input", ndim=3)


@pytest.mark.parametrize("text, match", [
    ("1 2; 3", r"explain.matrix: kernel: channel 0, row 1 has 1 number, but row 0 has 2"),
    ("1 x", r"kernel: 'x' in channel 0, row 0 is not a number"),
    ("", r"kernel: channel 0 has no numbers"),
    ("1 2 | 3", r"kernel: channel 1 is 1×1, but channel 0 is 1×2"),
    ("missing.npy", r"kernel: there is no .npy file missing.npy"),
])
def test_matrix_errors_name_the_setting(text, match):
    with pytest.raises(SettingError, match=match) as info:
        explain.matrix(text, arg="kernel", ndim=4)
    assert info.value.with_flags({"kernel": "--kernel"}).startswith("--kernel: ")


def test_matrix_refuses_too_many_axes(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 1, 2, 2)))
    with pytest.raises(SettingError, match=r"input must have 2 to 4 axes, got shape \(1, 1, 1, 2, 2\)"):
        explain.matrix(str(tmp_path / "x.npy"), arg="input", ndim=4)
    np.save(tmp_path / "y.npy", np.zeros((2, 3, 2, 2)))
    assert explain.matrix(str(tmp_path / "y.npy"), arg="input", ndim=3).shape == (2, 3, 2, 2)
    with pytest.raises(SettingError, match=r"bias must have 2 to 2 axes, got shape \(2, 3, 2, 2\)"):
        explain.matrix(str(tmp_path / "y.npy"), arg="bias", ndim=2, most=2)


def test_the_small_formatters():
    from cnnlab.explain import printing as fmt

    assert (fmt.factor(-3.0), fmt.factor(2.5), fmt.sum_text(["1", "(-2)"]), fmt.sum_text([])) == \
        ("(-3)", "2.5", "1 + (-2)", "0")
    assert (fmt.axes((2, 2)), fmt.axes((2, 1)), fmt.per_axis(3, 2), fmt.per_axis((1, 2), 2)) == \
        ("2", "(2, 1)", (3, 3), (1, 2))
    assert (fmt.position_text((1, 2)), fmt.position_text((3,)), fmt.channel_span([4]), fmt.channel_span([2, 3])) == \
        ("(1, 2)", "3", "4", "2-3")
    assert fmt.head("max_pool2d", (0, 1, 2, 3), kernel=(2, 2), ceil_mode=True) == \
        "max_pool2d output[0, 1, 2, 3] (batch 0, channel 1, at (2, 3)): kernel 2, ceil mode True"


def test_padding_note():
    from cnnlab.explain import printing as fmt

    assert fmt.padding_note((3, 3), ((0, 0), (0, 0))) == "input 3×3 (no padding)"
    assert fmt.padding_note((5, 5), ((1, 1), (1, 1))) == "padded input 5×5 (padding 1 on each side)"
    assert fmt.padding_note((4, 6), ((1, 0), (2, 1))) == \
        "padded input 4×6 (padding (before, after) per axis (1, 0), (2, 1))"
    assert fmt.padding_note((6, 4), ((1, 2), (0, 1)), (1, 1), "-inf") == \
        "padded input 6×4 (padding (before, after) per axis (1, 1), (0, 0); ceil-mode overhang 1 after each axis; " \
        "it reads -inf)"
    assert fmt.padding_note((4,), ((0, 1),), (1,), "0") == "padded input 4 (ceil-mode overhang 1 after each axis; " \
                                                          "it reads 0)"


def test_grid_lines_indent_each_grid_under_its_caption():
    from cnnlab.explain import printing as fmt

    assert fmt.grid_lines([(0, "1 2"), (3, "x\ny")], "channel {channel}:") == \
        ["  channel 0:", "    1 2", "  channel 3:", "    x", "    y"]
    assert fmt.grid_lines([(0, "1 2")]) == ["    1 2"]


def test_channel_lines():
    from cnnlab.explain import printing as fmt
    from cnnlab.explain.element import Term

    terms = [Term(0, (0,), 1.0, (), 2.0), Term(1, (0,), 3.0, (), -1.0)]
    assert fmt.channel_lines(terms[:1], [(0, 2.0)], None, 2.0, True) == ["1×2 = 2"]
    assert fmt.channel_lines(terms[:1], [(0, 2.0)], 0.5, 2.5, True) == ["1×2 = 2", "2 + bias 0.5 = 2.5"]
    assert fmt.channel_lines(terms, [(0, 2.0), (1, -3.0)], -1.0, -2.0, False) == \
        ["channel 0: 1×2 = 2", "channel 1: 3×(-1) = -3", "2 + (-3) + bias (-1) = -2"]
