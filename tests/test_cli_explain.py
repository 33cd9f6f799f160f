"""`cnnlab explain conv|pool|size` (cnnlab/cli/explain.py): the lecture's arithmetic printed, user errors in one line."""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab.cli import main

LECTURE = ["--input", "1 2 3; 4 5 6; 7 8 9", "--kernel", "10 20; 30 40"]


def run(capsys, *argv):
    code = main(["explain", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_conv_prints_the_lecture_example(capsys):
    code, out, err = run(capsys, "conv", *LECTURE, "--at", "0,1,1")
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "conv2d output[0, 0, 1, 1] (batch 0, channel 0, at (1, 1)): stride 1, dilation 1, input channel 0",
        "  5×10 + 6×20 + 8×30 + 9×40 = 770",
        "  input 3×3 (no padding), the window in [ ]:",
        "        0   1   2",
        "    0   1   2   3",
        "    1   4  [5] [6]",
        "    2   7  [8] [9]",
        "  conv2d computes 770: the same",
    ]
    code, out, _ = run(capsys, "conv", *LECTURE, "--at", "0,0,0")
    assert out.splitlines()[1] == "  1×10 + 2×20 + 4×30 + 5×40 = 370"


def test_explain_conv_takes_channels_bias_stride_padding_and_dilation(capsys):
    code, out, _ = run(capsys, "conv", "--input", "1 2 3; 4 5 6; 7 8 9 | 1 1 1; 1 1 1; 1 1 1",
                       "--kernel", "1 0; 0 1 | 2 0; 0 2", "--bias", "0.5", "--stride", "2", "--padding", "1",
                       "--dilation", "1,2", "--at", "0,1,0")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == ("conv2d output[0, 0, 1, 0] (batch 0, channel 0, at (1, 0)): stride 2, dilation (1, 2), "
                        "input channels 0-1")
    assert lines[1:4] == ["  channel 0: 0×1 + 5×0 + 0×0 + 8×1 = 8", "  channel 1: 0×2 + 1×0 + 0×0 + 1×2 = 2",
                          "  8 + 2 + bias 0.5 = 10.5"]
    assert lines[-1] == "  conv2d computes 10.5: the same"


def test_explain_conv_reads_npy_files_with_a_batch_and_groups(capsys, tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.integers(-3, 4, (2, 4, 5, 5)).astype(np.float32))
    np.save(tmp_path / "w.npy", rng.integers(-2, 3, (6, 2, 3, 3)))
    code, out, _ = run(capsys, "conv", "--input", str(tmp_path / "x.npy"), "--kernel", str(tmp_path / "w.npy"),
                       "--groups", "2", "--batch", "1", "--padding", "same", "--at", "5,4,0")
    assert code == 0
    assert out.splitlines()[0] == ("conv2d output[1, 5, 4, 0] (batch 1, channel 5, at (4, 0)): stride 1, dilation 1, "
                                   "input channels 2-3")
    assert out.splitlines()[-1] == "  conv2d computes " + out.splitlines()[3].split(" = ")[-1] + ": the same"


def test_explain_size_prints_the_formula_and_the_windows(capsys):
    code, out, err = run(capsys, "size", "227", "--kernel", "11", "--stride", "4")
    assert code == 0 and err == ""
    assert out.splitlines()[3] == "  o = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 = ⌊(227 + 0 − 10 − 1)/4⌋ + 1 = ⌊216/4⌋ + 1 = 55"
    code, out, _ = run(capsys, "size", "11", "--kernel", "3", "--stride", "2", "--padding", "1", "--dilation", "2")
    assert out.splitlines()[-1] == ("  5 windows start at 0, 2, 4, 6, 8 of the padded axis's 13 positions 0..12; "
                                    "each reads start + 0, 2, 4")
    code, out, _ = run(capsys, "size", "5", "--kernel", "2", "--padding", "1", "--mode", "pool", "--ceil-mode")
    assert "it is dropped, o = 3" in out
    code, out, _ = run(capsys, "size", "4", "--kernel", "3", "--stride", "2", "--padding", "1", "--mode", "transpose",
                       "--output-padding", "1")
    assert "= 8" in out.splitlines()[2]
    code, out, _ = run(capsys, "size", "7", "--kernel", "3", "--stride", "2", "--padding", "1,0")
    assert out.splitlines()[0].endswith("p = (1, 0), d = 1")


def test_explain_pool_shows_the_winner_or_the_divisor(capsys):
    code, out, err = run(capsys, "pool", "--input", "1 2 3; 4 5 6; 7 8 9", "--kernel-size", "2", "--ceil-mode",
                         "--at", "0,1,1")
    assert code == 0 and err == ""
    assert out.splitlines()[:2] == [
        "max_pool2d output[0, 0, 1, 1] (batch 0, channel 0, at (1, 1)): kernel 2, stride 2, padding 0, dilation 1, "
        "ceil mode True",
        "  max(9, -inf, -inf, -inf) = 9, at input (2, 2): flat index 8 of its plane (return_indices); ties go to the "
        "first in the window's row-major order"]
    assert out.splitlines()[-1] == "  max_pool2d computes 9 at index 8: the same"
    code, out, _ = run(capsys, "pool", "--input", "1 2; 3 4", "--kernel-size", "2", "--stride", "1", "--mode", "avg",
                       "--padding", "1", "--no-count-include-pad", "--at", "0,0,1")
    assert code == 0 and out.splitlines()[1:3] == [
        "  (0 + 0 + 1 + 2) / 2 = 3 / 2 = 1.5",
        "  divisor 2 = 1×2: the window's cells in the input (count_include_pad=False)"]
    code, out, _ = run(capsys, "pool", "--input", "1 2; 3 4", "--kernel-size", "1,2", "--stride", "1", "--mode", "avg",
                       "--divisor-override", "4", "--at", "0,1,0")
    assert code == 0 and out.splitlines()[1:3] == ["  (3 + 4) / 4 = 7 / 4 = 1.75", "  divisor 4 (divisor_override)"]


def test_explain_help_documents_the_matrix_syntax(capsys):
    with pytest.raises(SystemExit) as info:
        main(["explain", "conv", "--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    assert "rows separated by ';', numbers by spaces or commas" in out and "channels by '|'" in out
    assert ".npy" in out and "--at C,I,J" in out


@pytest.mark.parametrize("argv, message", [
    (["conv", "--input", "1 2 3; 4 5", "--kernel", "1", "--at", "0,0,0"],
     "--input: channel 0, row 1 has 2 numbers, but row 0 has 3 (rows are separated by ';', numbers by spaces or "
     "commas)"),
    (["conv", "--input", "1 2; 3 4", "--kernel", "1 a", "--at", "0,0,0"],
     "--kernel: 'a' in channel 0, row 0 is not a number"),
    (["conv", "--input", "1 2; 3 4 | 5", "--kernel", "1", "--at", "0,0,0"],
     "--input: channel 1 is 1×1, but channel 0 is 2×2 (channels are separated by '|')"),
    (["conv", *LECTURE, "--at", "0,2,1"], "--at must be (channel, i, j) inside the output's (1, 2, 2), got 0, 2, 1"),
    (["conv", *LECTURE, "--at", "0,1"], "--at must be 3 comma-separated ints, got '0,1'"),
    (["conv", *LECTURE, "--at", "0,0,0", "--batch", "1"],
     "--batch must be an int in [0, 1) (the input's batch size), got 1"),
    (["conv", "--input", "1 2; 3 4", "--kernel", "1 2 3; 4 5 6; 7 8 9", "--at", "0,0,0"],
     "explain.conv2d: kernel size (after dilation) 3 is larger than the padded input size 2 (input_size=2, "
     "padding=(0, 0), kernel_size=3, dilation=1)"),
    (["conv", *LECTURE, "--at", "0,0,0", "--stride", "1,2,3"], "--stride must be an int or 2 comma-separated ints, "
                                                               "got '1,2,3'"),
    (["conv", *LECTURE, "--at", "0,0,0", "--padding", "full"],
     "--padding must be an int or 2 comma-separated ints or 'same' or 'valid', got 'full'"),
    (["conv", *LECTURE, "--at", "0,0,0", "--bias", "1 2"], "explain.conv2d: bias must have shape (1,) (out_channels), "
                                                           "got (2,)"),
    (["conv", "--input", "nothere.npy", "--kernel", "1", "--at", "0,0,0"],
     "--input: there is no .npy file nothere.npy"),
    (["pool", "--input", "1 2; 3 4", "--kernel-size", "2", "--at", "0,1,0"],
     "--at must be (channel, i, j) inside the output's (1, 1, 1), got 0, 1, 0"),
    (["pool", "--input", "1 2; 3 4", "--kernel-size", "2", "--padding", "2", "--at", "0,0,0"],
     "explain.max_pool2d: padding should be at most half of kernel size, but got padding=2 and kernel_size=2 "
     "[along spatial dim 0 of (2, 2)]"),
    (["pool", "--input", "1 2; 3 4", "--kernel-size", "2", "--mode", "avg", "--dilation", "2", "--at", "0,0,0"],
     "--dilation applies to --mode max only (average pooling has none), got '2'"),
    (["pool", "--input", "1 2; 3 4", "--kernel-size", "2", "--divisor-override", "3", "--at", "0,0,0"],
     "--divisor-override and --no-count-include-pad apply to --mode avg only"),
    (["pool", "--input", "1 2; 3 4", "--kernel-size", "x", "--at", "0,0,0"],
     "--kernel-size must be an int or 2 comma-separated ints, got 'x'"),
    (["size", "3", "--kernel", "5"],
     "explain.output_size: kernel size (after dilation) 5 is larger than the padded input size 3 (input_size=3, "
     "padding=0, kernel_size=5, dilation=1)"),
    (["size", "5", "--kernel", "3", "--ceil-mode"],
     "explain.output_size: ceil_mode applies to mode='pool' only, got ceil_mode=True with mode='conv'"),
    (["size", "5", "--kernel", "3", "--padding", "a"], "--padding must be an int or 2 comma-separated ints, got 'a'"),
])
def test_explain_errors_are_one_line(argv, message, capsys):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err == f"cnnlab explain: error: {message}\n"


def test_explain_argparse_errors_are_one_line(capsys):
    code = None
    with pytest.raises(SystemExit) as info:
        main(["explain", "size", "5"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and code is None
    assert err.count("\n") == 1 and "the following arguments are required: --kernel" in err
