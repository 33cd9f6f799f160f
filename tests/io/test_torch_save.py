"""cnnlab.io.save_torch and save_torch_compatible: files written without torch that torch loads (torch.load,
weights_only too; load_state_dict strictly), round trips through load_torch, and the errors."""
import collections

import numpy as np
import pytest

import cnnlab
from cnnlab.io import load_torch, save_torch, save_torch_compatible


def twins(torch):
    ours = cnnlab.nn.Sequential(cnnlab.nn.Conv2d(1, 3, 3), cnnlab.nn.BatchNorm2d(3), cnnlab.nn.ReLU(),
                                cnnlab.nn.Flatten(), cnnlab.nn.Linear(3 * 4 * 4, 2))
    ours(cnnlab.randn(4, 1, 6, 6))                                   # training step: running stats and the counter
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.ReLU(),
                                 torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 2))
    return ours.eval(), theirs.eval()


def same_outputs(torch, ours, theirs):
    x = np.random.default_rng(2).standard_normal((2, 1, 6, 6)).astype(np.float32)
    with torch.no_grad(), cnnlab.no_grad():
        np.testing.assert_allclose(ours(cnnlab.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("weights_only", [True, False])
def test_torch_loads_what_save_torch_wrote(torch, tmp_path, weights_only):
    rng = np.random.default_rng(0)
    arrays = {"f32": rng.standard_normal((3, 4)).astype(np.float32), "f64": rng.standard_normal(5),
              "f16": rng.standard_normal(2).astype(np.float16), "i64": np.array([-2**40, 7]),
              "i32": np.array([1, -2], np.int32), "i8": np.array([-128], np.int8), "u8": np.array([255], np.uint8),
              "bool": np.array([True, False]), "scalar": np.array(2.5, np.float32), "empty": np.zeros((0, 3)),
              "transposed": np.arange(6.0).reshape(2, 3).T}
    obj = {"model": collections.OrderedDict((k, cnnlab.tensor(v)) for k, v in arrays.items()),
           "epoch": 3, "big": 2**70, "neg": -5, "lr": 0.1, "name": "lenet5", "flags": [True, False, None],
           "betas": (0.9, 0.999), "raw": np.arange(3)}
    path = tmp_path / "ckpt.pt"
    save_torch(obj, path)
    back = torch.load(path, weights_only=weights_only)
    assert type(back["model"]) is collections.OrderedDict and list(back["model"]) == list(arrays)
    for name, a in arrays.items():
        t = back["model"][name]
        assert t.numpy().dtype == a.dtype and tuple(t.shape) == a.shape, name
        np.testing.assert_array_equal(t.numpy(), a, err_msg=name)
    assert (back["epoch"], back["big"], back["neg"], back["lr"], back["name"]) == (3, 2**70, -5, 0.1, "lenet5")
    assert back["flags"] == [True, False, None] and back["betas"] == (0.9, 0.999)
    np.testing.assert_array_equal(back["raw"].numpy(), np.arange(3))
    again = load_torch(path)                                          # and cnnlab reads its own file
    for name, a in arrays.items():
        np.testing.assert_array_equal(again["model"][name].numpy(), a, err_msg=name)


def test_a_saved_state_dict_loads_strictly_into_the_torch_twin(torch, tmp_path):
    ours, theirs = twins(torch)
    save_torch(ours.state_dict(), tmp_path / "w.pt")
    theirs.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True), strict=True)
    assert int(theirs[1].num_batches_tracked) == 1
    same_outputs(torch, ours, theirs)


def test_save_torch_errors_write_nothing(tmp_path):
    path = tmp_path / "x.pt"
    for obj, error, match in [
        ({"w": object()}, TypeError, r"cnnlab.io.save_torch: obj\['w'\] has type object; supported: Tensor"),
        ({"w": {1.5: 2}}, TypeError, r"cnnlab.io.save_torch: obj\['w'\] has a key 1.5; keys must be str or int"),
        ([np.zeros(2, np.complex64)], TypeError, r"obj\[0\] has dtype complex64, which torch has no storage for"),
    ]:
        with pytest.raises(error, match=match):
            save_torch(obj, path)
        assert not path.exists()


def test_save_torch_compatible_loads_strictly_into_the_torch_twin(torch, tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    ours, theirs = twins(torch)
    path = tmp_path / "w.safetensors"
    save_torch_compatible(ours, path)
    state = safetensors_torch.load_file(path)
    assert {k: (v.dtype, v.shape) for k, v in state.items()} == {k: (v.dtype, v.shape) for k, v in theirs.state_dict().items()}
    theirs.load_state_dict(state, strict=True)
    assert int(theirs[1].num_batches_tracked) == 1
    same_outputs(torch, ours, theirs)
    save_torch_compatible(ours.state_dict(), tmp_path / "sd.safetensors")          # a state dict works too
    assert (tmp_path / "sd.safetensors").read_bytes() == path.read_bytes()


def test_save_torch_compatible_errors(tmp_path):
    with pytest.raises(TypeError, match=r"cnnlab.io.save_torch_compatible: model_or_state_dict must be a Module or "
                                        r"a dict of tensors, got list"):
        save_torch_compatible([1], tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match=r"cnnlab.io.save_torch_compatible: 'w' must be a Tensor or a NumPy array, "
                                        r"got float"):
        save_torch_compatible({"w": 1.5}, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()
