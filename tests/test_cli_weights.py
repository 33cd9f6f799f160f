"""`cnnlab export` and `cnnlab import`: checkpoints' weights for PyTorch and PyTorch's weights as checkpoints,
with torch as the oracle of what it reads, and one-line errors for what does not fit."""
from __future__ import annotations

import os
import re

import numpy as np
import pytest
from helpers import one_error_line, run_cli

import cnnlab
from cnnlab.cli import main
from cnnlab.models import lenet5
from cnnlab.train import load_checkpoint, model_from_checkpoint


@pytest.fixture
def torch_weights(torch, tmp_path):
    """A LeNet-5 state dict written by torch.save (as a PyTorch user has it), and the arrays in it."""
    cnnlab.manual_seed(3)
    arrays = {k: v.numpy().copy() for k, v in lenet5().state_dict().items()}
    path = tmp_path / "lenet5.pt"
    torch.save({k: torch.tensor(v) for k, v in arrays.items()}, path)
    return path, arrays


def test_import_makes_a_checkpoint_that_eval_and_predict_accept(torch_weights, tmp_path):
    path, arrays = torch_weights
    ckpt = tmp_path / "imported" / "checkpoint.safetensors"
    code, out = run_cli(["import", str(path), "--model", "lenet5", "--out", str(ckpt)])
    assert code == 0 and out.startswith(f"wrote {ckpt}: lenet5 for mnist with the weights of {path}")
    model, info = model_from_checkpoint(load_checkpoint(ckpt))
    assert info.name == "mnist"
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), arrays[k], err_msg=k)
    code, out = run_cli(["eval", "--checkpoint", str(ckpt), "--limit-test", "50"])
    assert code == 0 and "test accuracy" in out and "(" in out


def test_import_picks_a_nested_entry_with_key(torch, torch_weights, tmp_path, capsys):
    path, arrays = torch_weights
    nested = tmp_path / "nested.pt"
    torch.save({"model": torch.load(path), "epoch": 7}, nested)
    code = main(["import", str(nested), "--model", "lenet5", "--out", str(tmp_path / "c.safetensors")])
    err = one_error_line(capsys, code, "import")
    assert f"{nested} holds a nested checkpoint ('model', 'epoch'), not a state dict: pick the entry of the " \
           "weights with --key" in err
    code, _ = run_cli(["import", str(nested), "--model", "lenet5", "--key", "model", "--out", str(tmp_path / "c.safetensors")])
    assert code == 0
    code = main(["import", str(nested), "--model", "lenet5", "--key", "state_dict", "--out", str(tmp_path / "d")])
    assert "key 'state_dict': 'state_dict' is not in the checkpoint" in one_error_line(capsys, code, "import")


def test_import_errors_are_one_line(torch, torch_weights, tmp_path, capsys):
    path, _ = torch_weights
    out = str(tmp_path / "c.safetensors")
    code = main(["import", str(path), "--model", "resnet18", "--out", out])
    assert re.search(rf"{re.escape(str(path))}: the weights don't fit resnet18: \d+ keys missing \(conv1.weight, "
                     r"bn1.weight, bn1.bias and \d+ more\); 10 keys unexpected \(0.weight, 0.bias, 3.weight and 7 more\)$",
                     one_error_line(capsys, code, "import").strip())
    state = torch.load(path)
    state["0.weight"] = state["0.weight"][:3]
    torch.save(state, tmp_path / "resized.pt")
    code = main(["import", str(tmp_path / "resized.pt"), "--model", "lenet5", "--out", out])
    assert "the weights don't fit lenet5: 0.weight is (3, 1, 5, 5) in the file but (6, 1, 5, 5) in the model" \
        in one_error_line(capsys, code, "import")

    class Hostile:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'ran'}",)

    torch.save({"w": Hostile()}, tmp_path / "hostile.pt")
    code = main(["import", str(tmp_path / "hostile.pt"), "--model", "lenet5", "--out", out])
    assert "system, which a checkpoint of weights does not hold" in one_error_line(capsys, code, "import")
    assert not (tmp_path / "ran").exists()
    (tmp_path / "text.pt").write_text("not weights\n")
    code = main(["import", str(tmp_path / "text.pt"), "--model", "lenet5", "--out", out])
    assert "it is neither a torch.save file nor a safetensors file" in one_error_line(capsys, code, "import")
    code = main(["import", str(tmp_path / "missing.pt"), "--model", "lenet5", "--out", out])
    assert "missing.pt" in one_error_line(capsys, code, "import")
    code = main(["import", str(path), "--model", "lenet5", "--model-args", "variant", "--out", out])
    assert "--model-args takes KEY=VALUE items, got 'variant'" in one_error_line(capsys, code, "import")
    assert not os.path.exists(out)


@pytest.mark.parametrize("fmt", ["torch", "safetensors"])
def test_export_writes_what_torch_loads_and_import_reads_back(torch, torch_weights, tmp_path, fmt):
    path, arrays = torch_weights
    ckpt = tmp_path / "c.safetensors"
    assert run_cli(["import", str(path), "--model", "lenet5", "--out", str(ckpt)])[0] == 0
    out = tmp_path / f"w.{'pt' if fmt == 'torch' else 'safetensors'}"
    code, printed = run_cli(["export", "--checkpoint", str(ckpt), "--format", fmt, "--out", str(out)])
    assert code == 0 and printed.startswith(f"wrote {out}: {len(arrays)} tensors of lenet5 ({fmt} format")
    if fmt == "torch":
        state = torch.load(out, weights_only=True)
    else:
        state = pytest.importorskip("safetensors.torch").load_file(out)
    assert list(state) == list(arrays)
    for k, v in state.items():
        np.testing.assert_array_equal(v.numpy(), arrays[k], err_msg=k)
    again = tmp_path / "again.safetensors"
    assert run_cli(["import", str(out), "--model", "lenet5", "--out", str(again)])[0] == 0
    model, _ = model_from_checkpoint(load_checkpoint(again))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), arrays[k], err_msg=k)


def test_export_errors_are_one_line(tmp_path, capsys):
    code = main(["export", "--checkpoint", str(tmp_path / "none"), "--format", "torch", "--out", str(tmp_path / "w")])
    assert "no checkpoint at" in one_error_line(capsys, code, "export")
    with pytest.raises(SystemExit) as e:
        main(["export", "--checkpoint", "x", "--format", "pickle", "--out", "y"])
    assert e.value.code == 2
    assert "argument --format: invalid choice: 'pickle'" in capsys.readouterr().err


def test_onnx_export_runs_in_onnxruntime_and_imports_back(onnx, onnxruntime, torch_weights, tmp_path):
    path, arrays = torch_weights
    ckpt = tmp_path / "c.safetensors"
    assert run_cli(["import", str(path), "--model", "lenet5", "--out", str(ckpt)])[0] == 0
    code, printed = run_cli(["export", "--checkpoint", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "m.onnx")])
    assert code == 0 and printed.startswith(f"wrote {tmp_path / 'm.onnx'}: lenet5 as ONNX (input 'input' of "
                                            "(N, 1, 28, 28), output 'output'")
    model, _ = model_from_checkpoint(load_checkpoint(ckpt))
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    with cnnlab.no_grad():
        np.testing.assert_allclose(session.run(None, {"input": x})[0], model(cnnlab.tensor(x)).numpy(),
                                   rtol=1e-4, atol=1e-5)
    back = tmp_path / "back.safetensors"
    assert run_cli(["import", str(tmp_path / "m.onnx"), "--model", "lenet5", "--out", str(back)])[0] == 0
    again, _ = model_from_checkpoint(load_checkpoint(back))
    for k, v in again.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), arrays[k], err_msg=k)


def test_an_onnx_file_that_is_not_onnx_is_one_line(onnx, tmp_path, capsys):
    (tmp_path / "junk.onnx").write_bytes(b"\x00\x01 not a model")
    code = main(["import", str(tmp_path / "junk.onnx"), "--model", "lenet5", "--out", str(tmp_path / "c")])
    assert "junk.onnx: not a valid ONNX" in one_error_line(capsys, code, "import")


def test_summary_reads_an_onnx_file_and_names_an_unsupported_op(onnx, torch_weights, tmp_path, capsys):
    from onnx import helper

    path, _ = torch_weights
    ckpt = tmp_path / "c.safetensors"
    assert run_cli(["import", str(path), "--model", "lenet5", "--out", str(ckpt)])[0] == 0
    assert run_cli(["export", "--checkpoint", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "m.onnx")])[0] == 0
    code, out = run_cli(["summary", str(tmp_path / "m.onnx")])            # the input size from the file: (N, 1, 28, 28)
    assert code == 0 and "Total params: 61,706" in out and "Input size (1, 1, 28, 28)" in out
    model = onnx.load(str(tmp_path / "m.onnx"))
    model.graph.node[0].CopyFrom(helper.make_node("Hardmax", [model.graph.node[0].input[0]],
                                                  [model.graph.node[0].output[0]], name="odd"))
    onnx.save(model, str(tmp_path / "odd.onnx"))
    code = main(["summary", str(tmp_path / "odd.onnx"), "--input-size", "1", "28", "28"])
    err = one_error_line(capsys, code, "summary")
    assert "odd.onnx: node 'odd' (Hardmax): Hardmax is not supported (supported: " in err


def test_onnx_without_the_onnx_package_is_one_line(torch_weights, tmp_path, monkeypatch, capsys):
    path, _ = torch_weights
    ckpt = tmp_path / "c.safetensors"
    assert run_cli(["import", str(path), "--model", "lenet5", "--out", str(ckpt)])[0] == 0
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)
    code = main(["export", "--checkpoint", str(ckpt), "--format", "onnx", "--out", str(tmp_path / "m.onnx")])
    assert "ONNX export needs the onnx package: pip install 'cnnlab[onnx]'" in one_error_line(capsys, code, "export")
    code = main(["summary", str(tmp_path / "m.onnx")])
    assert "needs the onnx package: pip install 'cnnlab[onnx]'" in one_error_line(capsys, code, "summary")
