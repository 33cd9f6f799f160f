"""cnnlab.io.load_torch: torch.save's files read without torch and without running their pickles (tensors of
every dtype, views, tied weights, nested checkpoints), hostile and broken files refused with the file named."""
import os
import pickle
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import cnnlab
import zoo_twins
from cnnlab import models
from cnnlab.io import LoadError, load_torch


def saved(torch, obj, tmp_path, name="ckpt.pt"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def as_numpy(torch, t):
    return t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()


def test_every_dtype_comes_back_exactly(torch, tmp_path):
    rng = np.random.default_rng(0)
    state = {
        "f32": torch.tensor(rng.standard_normal((3, 4)), dtype=torch.float32),
        "f64": torch.tensor(rng.standard_normal(5), dtype=torch.float64),
        "f16": torch.tensor(rng.standard_normal(6), dtype=torch.float16),
        "bf16": torch.tensor(rng.standard_normal((2, 3)), dtype=torch.bfloat16),
        "i64": torch.tensor(rng.integers(-2**40, 2**40, 4), dtype=torch.int64),
        "i32": torch.tensor([-5, 7], dtype=torch.int32), "i16": torch.tensor([-3], dtype=torch.int16),
        "i8": torch.tensor([-128, 127], dtype=torch.int8), "u8": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]), "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3),
    }
    got = load_torch(saved(torch, state, tmp_path))
    assert list(got) == list(state)
    for name, t in state.items():
        assert isinstance(got[name], cnnlab.Tensor), name
        want = as_numpy(torch, t)
        assert got[name].dtype == want.dtype and got[name].shape == want.shape, name
        np.testing.assert_array_equal(got[name].numpy(), want, err_msg=name)
    assert got["bf16"].dtype == np.float32                     # bfloat16 widened, exactly


def test_views_tied_weights_and_non_contiguous_tensors(torch, tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = {"base": base, "transposed": base.t(), "slice": base[1:3, ::2], "row": base[2],
             "tied": base, "expanded": torch.ones(3).expand(2, 3)}
    got = load_torch(saved(torch, state, tmp_path))
    for name, t in state.items():
        np.testing.assert_array_equal(got[name].numpy(), t.numpy(), err_msg=name)
    assert got["tied"] is got["base"]                          # one object saved twice stays one, as torch.load
    got["base"].numpy()[0, 0] = -1.0                           # views of it are copies with their own memory
    assert got["transposed"].numpy()[0, 0] == 0.0 and got["slice"].numpy()[0, 0] == 6.0


def test_nested_checkpoints_and_key(torch, tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 1, 5, 5)).sum().backward()
    opt.step()
    path = saved(torch, {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
                         "best": np.float64(0.75), "steps": np.int64(12), "note": "x", "betas": (0.9, 0.99)},
                 tmp_path)
    got = load_torch(path)
    assert type(got) is dict and list(got) == ["model", "optimizer", "epoch", "best", "steps", "note", "betas"]
    assert (got["epoch"], got["best"], got["steps"], got["note"], got["betas"]) == (3, 0.75, 12, "x", (0.9, 0.99))
    momentum = got["optimizer"]["state"][0]["momentum_buffer"]
    np.testing.assert_array_equal(momentum.numpy(), opt.state_dict()["state"][0]["momentum_buffer"].numpy())
    sd = load_torch(path, key="model")
    assert list(sd) == list(model.state_dict())
    assert not hasattr(sd, "_metadata")
    assert load_torch(path, key="optimizer.param_groups")[0]["lr"] == 0.1
    with pytest.raises(LoadError, match=re.escape(f"cnnlab.io.load_torch: {path}: key 'state_dict': 'state_dict' "
                                                  "is not in the checkpoint (it holds 'model', 'optimizer', 'epoch'")):
        load_torch(path, key="state_dict")
    with pytest.raises(LoadError, match=r"key 'epoch.x': 'x' is not in the checkpoint \(it is a int\)"):
        load_torch(path, key="epoch.x")


def test_a_state_dict_loads_into_the_cnnlab_twin(torch, tmp_path):
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                 torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5)).eval()
    ours = cnnlab.nn.Sequential(cnnlab.nn.Conv2d(3, 4, 3, padding=1), cnnlab.nn.BatchNorm2d(4), cnnlab.nn.ReLU(),
                                cnnlab.nn.Flatten(), cnnlab.nn.Linear(4 * 6 * 6, 5)).eval()
    with torch.no_grad():
        theirs[1].running_mean.uniform_(-1, 1)
    ours.load_state_dict(load_torch(saved(torch, theirs.state_dict(), tmp_path)))
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32)
    with torch.no_grad():
        want = theirs(torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours(cnnlab.tensor(x)).detach().numpy(), want, rtol=1e-5, atol=1e-6)


def test_safetensors_files_load_too(torch, tmp_path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    state = {"w": torch.randn(3, 2), "n": torch.tensor([1, 2], dtype=torch.int64)}
    safetensors_torch.save_file(state, tmp_path / "w.safetensors")
    got = load_torch(tmp_path / "w.safetensors")
    for name, t in state.items():
        np.testing.assert_array_equal(got[name].numpy(), t.numpy())


def test_big_endian_files(torch, tmp_path):
    """A file whose byteorder entry says 'big' (torch.save on a big-endian machine): storages byte-swapped."""
    state = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "n": torch.tensor([1, -2], dtype=torch.int64),
             "b": torch.tensor([1, 2], dtype=torch.uint8)}
    path = saved(torch, state, tmp_path)
    big = tmp_path / "big.pt"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(big, "w") as dst:
        dtypes = {"0": np.float32, "1": np.int64, "2": np.uint8}
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/byteorder"):
                data = b"big"
            elif "/data/" in info.filename:
                data = np.frombuffer(data, dtypes[info.filename.rsplit("/", 1)[1]]).byteswap().tobytes()
            dst.writestr(info, data)
    got = load_torch(big)
    for name, t in state.items():
        np.testing.assert_array_equal(got[name].numpy(), t.numpy())
        assert got[name].numpy().dtype.isnative


class RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class Evaluates:
    def __reduce__(self):
        return eval, ("__import__('os').getpid()",)


@pytest.mark.parametrize("payload, refused", [
    (lambda m: RunsACommand(m), r"(posix|os|nt)\.system"),
    (lambda m: Evaluates(), r"(__builtin__|builtins)\.eval"),
    (lambda m: {"w": [RunsACommand(m)]}, r"(posix|os|nt)\.system"),
])
def test_a_hostile_pickle_runs_nothing_and_names_the_global(torch, tmp_path, payload, refused):
    marker = tmp_path / "ran"
    path = tmp_path / "hostile.pt"
    torch.save(payload(marker), path)
    with pytest.raises(LoadError, match=rf"cnnlab\.io\.load_torch: .*hostile\.pt: it refers to {refused}, which a "
                                        r"checkpoint of weights does not hold"):
        load_torch(path)
    assert not marker.exists()


def rewritten(path, out, pickle_bytes=None, drop=None, replace=None):
    """A copy of the zip at `path` with data.pkl replaced, an entry dropped, or an entry's bytes replaced."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if drop and info.filename.endswith(drop):
                continue
            data = src.read(info)
            if pickle_bytes is not None and info.filename.endswith("/data.pkl"):
                data = pickle_bytes(data)
            if replace and info.filename.endswith(replace[0]):
                data = replace[1]
            dst.writestr(info, data)
    return out


def test_broken_files_are_refused_with_the_file_named(torch, tmp_path):
    path = saved(torch, {"w": torch.zeros(2, 1, 3, 3), "b": torch.zeros(2)}, tmp_path)
    data = path.read_bytes()
    cases = [
        (tmp_path / "half.pt", data[: len(data) // 2], r"it is a damaged or truncated zip file"),
        (tmp_path / "text.pt", b"hello, world\n", r"it is neither a torch.save file nor a safetensors file"),
        (tmp_path / "empty.pt", b"", r"it is neither a torch.save file nor a safetensors file"),
        (tmp_path / "bare.pkl", pickle.dumps({"a": 1}, protocol=2), r"it is a bare pickle, not a torch.save file"),
    ]
    for file, content, message in cases:
        file.write_bytes(content)
        with pytest.raises(LoadError, match=rf"^cnnlab\.io\.load_torch: {re.escape(str(file))}: {message}"):
            load_torch(file)
    grow = rewritten(path, tmp_path / "grow.pt", pickle_bytes=lambda p: p.replace(b"K\x02K\x01K\x03K\x03t",
                                                                                   b"K\x09K\x01K\x03K\x03t", 1))
    with pytest.raises(LoadError, match=r"a tensor of size \[9, 1, 3, 3\], stride \[9, 9, 3, 1\] at offset 0 reaches "
                                        r"element 80 of a storage of 18"):
        load_torch(grow)
    with pytest.raises(LoadError, match=r"its pickle refers to storage '1', which the archive does not hold"):
        load_torch(rewritten(path, tmp_path / "nostorage.pt", drop="/data/1"))
    with pytest.raises(LoadError, match=r"storage '0' holds 8 bytes, but its 18 elements need 72"):
        load_torch(rewritten(path, tmp_path / "short.pt", replace=("/data/0", b"\0" * 8)))
    with pytest.raises(LoadError, match=r"its byteorder is b'middle', not 'little' or 'big'"):
        load_torch(rewritten(path, tmp_path / "order.pt", replace=("/byteorder", b"middle")))
    with pytest.raises(LoadError, match=r"its pickle is malformed"):
        load_torch(rewritten(path, tmp_path / "cut.pt", pickle_bytes=lambda p: p[: len(p) // 2]))
    with pytest.raises(LoadError, match=r"not one that torch.save wrote \(no <name>/data.pkl\)"):
        load_torch(rewritten(path, tmp_path / "nopkl.pt", drop="/data.pkl"))


def test_containers_nested_too_deeply_are_refused(torch, tmp_path):
    path = tmp_path / "deep.pt"
    data = b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b"."        # [[[...]]] 100,000 deep, built without recursion
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("deep/data.pkl", data)
    with pytest.raises(LoadError, match=r"its containers are nested too deeply for a checkpoint"):
        load_torch(path)


def test_the_legacy_format_is_refused_with_the_way_out(torch, tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"w": torch.zeros(2)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(LoadError, match=r"it is a torch.save file of PyTorch before 1.6 \(the legacy format\), which "
                                        r"is not read: load it with torch and save it again"):
        load_torch(path)


def test_random_bytes_never_crash_the_reader(torch, tmp_path):
    path = saved(torch, {"w": torch.arange(6.0)}, tmp_path)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(3)
    with zipfile.ZipFile(path) as z:
        start = z.getinfo([n for n in z.namelist() if n.endswith("data.pkl")][0]).header_offset
    for i in range(60):
        broken = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            broken[int(rng.integers(start, start + 200))] = int(rng.integers(0, 256))
        file = tmp_path / f"r{i}.pt"
        file.write_bytes(bytes(broken))
        try:
            load_torch(file)
        except LoadError as e:
            assert str(e).startswith(f"cnnlab.io.load_torch: {file}: ")


def test_load_torch_needs_no_torch(torch, tmp_path):
    path = saved(torch, {"w": torch.arange(6.0).reshape(2, 3), "h": torch.ones(2, dtype=torch.bfloat16)}, tmp_path)
    code = ("import sys; sys.modules['torch'] = None\n"
            "import cnnlab.io\n"
            f"sd = cnnlab.io.load_torch({str(path)!r})\n"
            "print(sd['w'].numpy().tolist(), sd['h'].numpy().tolist(), 'torch' in sys.modules and sys.modules['torch'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] [1.0, 1.0] None"


ZOO = {   # name -> (cnnlab model, its torch twin, an input shape); ImageNet-sized models at small inputs
    "lenet5": (models.lenet5,
               lambda torch: zoo_twins.torch_lenet(torch, torch.nn.ReLU, torch.nn.MaxPool2d), (2, 1, 28, 28)),
    "alexnet": (models.alexnet,
                lambda torch: zoo_twins.torch_alexnet(torch), (1, 3, 96, 96)),
    "vgg11": (models.vgg11,
              lambda torch: zoo_twins.torch_vgg(torch, VGG11, False), (1, 3, 32, 32)),
    "vgg11_bn": (lambda: models.vgg11(batch_norm=True),
                 lambda torch: zoo_twins.torch_vgg(torch, VGG11, True), (1, 3, 32, 32)),
    "vgg16": (models.vgg16, lambda torch: zoo_twins.torch_vgg(torch, VGG16, False), (1, 3, 32, 32)),
    "vgg16_bn": (lambda: models.vgg16(batch_norm=True),
                 lambda torch: zoo_twins.torch_vgg(torch, VGG16, True), (1, 3, 32, 32)),
    "resnet18": (models.resnet18,
                 lambda torch: zoo_twins.torch_resnet(torch, [2, 2, 2, 2]), (2, 3, 64, 64)),
    "resnet34": (models.resnet34,
                 lambda torch: zoo_twins.torch_resnet(torch, [3, 4, 6, 3]), (1, 3, 64, 64)),
    "srcnn": (lambda: models.srcnn(scale=3), lambda torch: zoo_twins.torch_srcnn(torch, 3), (2, 1, 12, 10)),
    "espcn": (models.espcn, lambda torch: zoo_twins.torch_espcn(torch, 2), (2, 1, 12, 10)),
}
VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_round_trips_with_torch_agree(torch, tmp_path, name):
    """Both ways for each zoo model and its torch twin (random BN statistics), each checked by outputs in
    eval mode: torch.save and safetensors files of the twin -> load_torch -> strict load_state_dict;
    cnnlab's save_torch and save_torch_compatible -> torch.load / safetensors.torch -> the twin, strictly."""
    from safetensors.torch import load_file, save_file

    from cnnlab.io import save_torch, save_torch_compatible

    build, twin, shape = ZOO[name]
    torch.manual_seed(0)
    theirs = twin(torch).eval()
    with torch.no_grad():
        for m in theirs.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)

    def torch_output(model):
        with torch.no_grad():
            return zoo_twins.torch_forward(torch, model, torch.tensor(x)).numpy()

    want = torch_output(theirs)
    save_file({k: v.contiguous() for k, v in theirs.state_dict().items()}, tmp_path / "twin.safetensors")
    for source in (saved(torch, theirs.state_dict(), tmp_path), tmp_path / "twin.safetensors"):
        ours = build().eval()
        ours.load_state_dict(load_torch(source))
        with cnnlab.no_grad():
            got = ours(cnnlab.tensor(x)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max(), err_msg=str(source))
    save_torch(ours.state_dict(), tmp_path / "ours.pt")
    save_torch_compatible(ours, tmp_path / "ours.safetensors")
    for state in (torch.load(tmp_path / "ours.pt", weights_only=True), load_file(tmp_path / "ours.safetensors")):
        back = twin(torch).eval()
        back.load_state_dict(state, strict=True)
        np.testing.assert_array_equal(torch_output(back), want)
