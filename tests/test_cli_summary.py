"""`cnnlab summary`: the table, --json, --input-size/--batch, a checkpoint, one unit's region; bad arguments in one line."""
from __future__ import annotations

import contextlib
import io
import json

import pytest

from cnnlab.cli import main


def run(capsys, *argv):
    try:
        code = main(["summary", *argv])
    except SystemExit as e:   # argparse's own errors (a flag's type)
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(capsys, *argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "", (out, err)
    assert err.startswith("cnnlab summary: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def test_summary_prints_the_table_with_totals(capsys):
    code, out, err = run(capsys, "lenet5")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[1].split() == ["Layer", "(type)", "Output", "shape", "Params", "MACs", "Window", "RF", "S", "P"]
    assert lines[3].split() == ["0", "(Conv2d)", "(1,", "6,", "28,", "28)", "156", "117,600", "k5", "s1", "p2", "5",
                                "1", "2"]
    assert "Total params: 61,706" in out and "Total MACs: 416,520" in out
    assert all(len(line) <= 120 for line in lines)


def test_summary_json_input_size_and_batch(capsys):
    code, out, _ = run(capsys, "resnet_cifar", "--input-size", "3", "16", "16", "--batch", "2", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["input_size"] == [2, 3, 16, 16] and d["output_shape"] == [2, 10] and d["method"] == "forward pass"
    assert d["total_params"] == 269_722 and d["total_flops"] == 2 * d["total_macs"]
    assert d["rows"][0]["name"] == "conv1" and d["rows"][0]["output_shape"] == [2, 16, 16, 16]


def test_summary_of_a_unit(capsys):
    code, out, _ = run(capsys, "vgg11", "--input-size", "3", "64", "64", "--unit", "0", "1", "0", "--layer",
                       "features.20")
    assert code == 0
    assert out.splitlines()[-1] == ("unit (0, 1, 0) of layer 'features.20' sees input pixels -27..122 × -59..90 "
                                    "(clipped to the input: 0..63 × 0..63)")
    code, out, _ = run(capsys, "lenet5", "--unit", "3", "2", "1", "--layer", "5", "--json")
    assert json.loads(out)["unit"] == {"layer": "5", "unit": [3, 2, 1], "start": [6, 2], "end": [21, 17],
                                       "clipped_start": [6, 2], "clipped_end": [21, 17], "notes": []}


def test_summary_of_a_checkpoint(tmp_path, capsys):
    out_dir = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "--epochs", "1", "--limit-train", "64", "--limit-test", "32", "--prefetch", "0",
                     "--no-progress", "--out", str(out_dir)]) == 0
    capsys.readouterr()
    for source in (out_dir, out_dir / "checkpoint.safetensors"):
        code, out, _ = run(capsys, str(source), "--json")
        assert code == 0 and json.loads(out)["input_size"] == [1, 1, 28, 28]
        assert json.loads(out)["total_params"] == 61_706


@pytest.mark.parametrize("argv,message", [
    (["alexnet9"], "MODEL 'alexnet9' is neither a model name (lenet5, alexnet, "),
    (["lenet5", "--input-size", "1", "x", "28"], "argument --input-size: invalid int value: 'x'"),
    (["lenet5", "--input-size", "28"], "--input-size must be C and 1 to 3 spatial sizes (C H W for images), each an "
                                       "int >= 1, got 28"),
    (["lenet5", "--input-size", "1", "0", "28"], "--input-size must be C and 1 to 3 spatial sizes"),
    (["lenet5", "--input-size", "3", "28", "28"], "--input-size 3 28 28: input_size (1, 3, 28, 28) does not fit "
                                                  "layer '0': Conv2d: input shape (1, 3, 28, 28) has 3 channels"),
    (["lenet5", "--batch", "0"], "--batch must be an int >= 1, got 0"),
    (["lenet5", "--unit", "0", "0", "0", "--layer", "conv1"], "--unit/--layer: no layer named 'conv1'; the layers "
                                                              "are 0, 1, 2"),
    (["lenet5", "--unit", "0", "9", "0", "--layer", "5"], "--unit/--layer: unit (0, 9, 0) is outside layer '5'"),
    (["lenet5", "--unit", "0"], "--unit: the model's output has no spatial axes"),
    (["lenet5", "--layer", "5"], "--layer names the layer of --unit: give --unit too"),
])
def test_bad_arguments_end_in_one_line(capsys, argv, message):
    assert message in one_error_line(capsys, *argv)


def test_summary_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["summary", "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and "--input-size N [N ...]" in out and "MODEL|CHECKPOINT" in out
