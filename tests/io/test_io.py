"""Tests for cnnlab.io: atomic writes, the safetensors format, save/load."""

import ast
import json
import math
import os
import pathlib
import re

import numpy as np
import pytest
from helpers import requires

from cnnlab.autograd import Tensor
from cnnlab.io import atomic_write_bytes, atomic_write_text, atomic_writer, load, save
from cnnlab.io import safetensors as st

ALL_DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16,
              "U16": np.uint16, "I32": np.int32, "U32": np.uint32, "I64": np.int64,
              "U64": np.uint64, "F16": np.float16, "F32": np.float32, "F64": np.float64}


def sample(dtype, shape=(2, 3, 4), seed=0):
    """A deterministic array of ``dtype`` that uses the type's range."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "b":
        return np.asarray(rng.random(shape) < 0.5)
    if np.dtype(dtype).kind == "f":
        return np.asarray(rng.standard_normal(shape) * 100, dtype)
    info = np.iinfo(dtype)
    return np.asarray(rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True))


def raw_file(header, buffer=b"", pad=True):
    """A safetensors file built by hand (independent of st.encode)."""
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    if pad:
        text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + buffer


def header_of(data):
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n])


def write(tmp_path, data, name="bad.safetensors"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_same(got, want):
    """Same structure, same types (Tensor vs ndarray, tuple vs list, int vs str keys), same values."""
    assert type(got) is type(want), (type(got), type(want))
    if isinstance(want, dict):
        assert list(got) == list(want)
        for key in want:
            assert type(key) is type(next(k for k in got if k == key))
            assert_same(got[key], want[key])
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_same(g, w)
    elif isinstance(want, Tensor):
        assert got.requires_grad is False
        assert_same(got.data, want.data)
    elif isinstance(want, (np.ndarray, np.generic)):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    elif isinstance(want, float) and math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == want
        if isinstance(want, float):
            assert math.copysign(1, got) == math.copysign(1, want)


# ---------------------------------------------------------------- atomic writes

def test_atomic_write_bytes_creates_and_replaces(tmp_path):
    path = tmp_path / "f.bin"
    atomic_write_bytes(path, b"one")
    atomic_write_bytes(str(path), b"two")
    atomic_write_text(path, "três\n")
    assert path.read_bytes() == "três\n".encode()
    assert os.listdir(tmp_path) == ["f.bin"]


def test_atomic_writer_failure_keeps_old_file_and_no_temp(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_writer(path) as f:
            f.write(b"half of the new")
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_atomic_write_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "no" / "f.bin", b"x")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_atomic_write_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "new", b"x")
        assert (tmp_path / "new").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0o600
        (tmp_path / "old").write_bytes(b"x")
        os.chmod(tmp_path / "old", 0o640)
        atomic_write_bytes(tmp_path / "old", b"y")
        assert (tmp_path / "old").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(umask)


# ---------------------------------------------------------------- safetensors format

@pytest.mark.parametrize("name", list(ALL_DTYPES))
def test_safetensors_roundtrip_every_dtype(tmp_path, name):
    arrays = {"x": sample(ALL_DTYPES[name]), "scalar": sample(ALL_DTYPES[name], ()),
              "empty": sample(ALL_DTYPES[name], (0, 3))}
    st.save_file(arrays, tmp_path / "a.safetensors", metadata={"k": "v"})
    assert header_of((tmp_path / "a.safetensors").read_bytes())["x"]["dtype"] == name
    tensors, metadata = st.load_file(tmp_path / "a.safetensors")
    assert metadata == {"k": "v"} and list(tensors) == list(arrays)
    for key, want in arrays.items():
        got = tensors[key]
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        assert got.flags.writeable and got.flags.owndata and got.dtype.isnative


def test_safetensors_layout_alignment_and_padding():
    data = st.encode({"b": np.ones(3, np.uint8), "a": np.ones(2, np.float64),
                      "c": np.ones(1, np.int16)})
    n = int.from_bytes(data[:8], "little")
    assert n % 8 == 0 and data[8:8 + n].decode().rstrip(" ").endswith("}")
    header = header_of(data)
    assert list(header) == ["b", "a", "c"]  # the caller's order
    offsets = {k: v["data_offsets"] for k, v in header.items()}
    assert offsets == {"a": [0, 16], "c": [16, 18], "b": [18, 21]}  # largest items first
    assert len(data) == 8 + n + 21


def test_safetensors_byte_order_layout_and_no_metadata():
    big = np.arange(6, dtype=">f4").reshape(2, 3)
    strided = np.arange(24, dtype=np.int64).reshape(4, 6)[::2, ::-3]
    tensors, metadata = st.decode(st.encode({"big": big, "strided": strided.T}))
    assert metadata == {}
    assert tensors["big"].dtype == np.float32 and tensors["big"].dtype.isnative
    np.testing.assert_array_equal(tensors["big"], big)
    np.testing.assert_array_equal(tensors["strided"], strided.T)
    assert st.decode(st.encode({}))[0] == {}


@pytest.mark.parametrize("tensors, metadata, error, match", [
    ({"x": np.zeros(2, np.complex64)}, None, TypeError, "dtype complex64.*supported: BOOL"),
    ({"x": np.array(["a"])}, None, TypeError, "tensor 'x' has dtype <U1"),
    ({"x": [1.0]}, None, TypeError, "must be a numpy.ndarray, got list"),
    ({1: np.zeros(1)}, None, TypeError, "names must be str"),
    ({"__metadata__": np.zeros(1)}, None, ValueError, "reserved"),
    ({}, {"k": 1}, TypeError, "metadata must map str to str"),
])
def test_safetensors_encode_errors(tensors, metadata, error, match):
    with pytest.raises(error, match=match):
        st.encode(tensors, metadata)


@requires("safetensors", "test")
def test_safetensors_matches_reference_implementation(tmp_path):
    import safetensors.numpy as ref
    arrays = {f"t.{name}": sample(dtype) for name, dtype in ALL_DTYPES.items()}
    arrays["scalar"], arrays["empty"] = np.array(3.5, np.float32), np.zeros((2, 0), np.int8)
    st.save_file(arrays, tmp_path / "ours.safetensors", metadata={"a": "b"})
    ref.save_file(arrays, str(tmp_path / "theirs.safetensors"), metadata={"a": "b"})
    from_ours = ref.load_file(str(tmp_path / "ours.safetensors"))
    from_theirs, metadata = st.load_file(tmp_path / "theirs.safetensors")
    assert metadata == {"a": "b"}
    for key, want in arrays.items():
        for got in (from_ours[key], from_theirs[key]):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)


GOOD_ENTRY = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
F32_2 = np.array([1, 2], "<f4").tobytes()

HOSTILE = {  # file contents -> what the message must say
    "empty": (b"", "file is 0 bytes, shorter than the 8-byte header length"),
    "five bytes": (b"\x01\x02\x03\x04\x05", "file is 5 bytes"),
    "huge header length": ((2**63).to_bytes(8, "little") + b"{}", "give a header length of 9223372036854775808, over the limit"),
    "header longer than file": ((1000).to_bytes(8, "little") + b"{}      ",
                                "header length 1000 is larger than the rest of the file"),
    "not utf-8": (raw_file(b'{"\xff\xfe": 1}'), "not valid UTF-8"),
    "json garbage": (raw_file(b"{this is not json"), "not valid JSON"),
    "json list": (raw_file([1, 2]), "must be a JSON object, got list"),
    "json NaN": (raw_file(b'{"__metadata__": {"a": NaN}}'), "NaN is not valid JSON"),
    "duplicate name": (raw_file(b'{"x": {}, "x": {}}'), "duplicate key 'x'"),
    "entry not object": (raw_file({"x": [1]}), "tensor 'x': entry must be a JSON object"),
    "entry lacks field": (raw_file({"x": {"dtype": "F32"}}), "entry lacks shape, data_offsets"),
    "unknown dtype": (raw_file({"x": {**GOOD_ENTRY, "dtype": "F128"}}, F32_2), "unknown dtype 'F128'"),
    "bf16": (raw_file({"x": {**GOOD_ENTRY, "dtype": "BF16"}}, F32_2), "BF16 has no NumPy equivalent"),
    "dtype not str": (raw_file({"x": {**GOOD_ENTRY, "dtype": ["F32"]}}, F32_2), "dtype must be a string"),
    "negative shape": (raw_file({"x": {**GOOD_ENTRY, "shape": [-2]}}, F32_2), "shape must be a list"),
    "float shape": (raw_file({"x": {**GOOD_ENTRY, "shape": [2.0]}}, F32_2), "shape must be a list"),
    "shape not list": (raw_file({"x": {**GOOD_ENTRY, "shape": 2}}, F32_2), "shape must be a list"),
    "offsets 3 ints": (raw_file({"x": {**GOOD_ENTRY, "data_offsets": [0, 4, 8]}}, F32_2),
                       "data_offsets must be"),
    "offsets reversed": (raw_file({"x": {**GOOD_ENTRY, "data_offsets": [8, 0]}}, F32_2),
                         "data_offsets must be"),
    "offsets strings": (raw_file({"x": {**GOOD_ENTRY, "data_offsets": ["0", "8"]}}, F32_2),
                        "data_offsets must be"),
    "size mismatch": (raw_file({"x": {**GOOD_ENTRY, "shape": [3]}}, F32_2),
                      r"span 8 bytes, but shape \[3\] of F32 needs 12"),
    "overlap": (raw_file({"x": GOOD_ENTRY, "y": {**GOOD_ENTRY, "data_offsets": [4, 12]}}, F32_2 * 2),
                "tensor 'y': data_offsets \\[4, 12\\] overlaps the previous tensor"),
    "gap": (raw_file({"x": {**GOOD_ENTRY, "data_offsets": [4, 12]}}, F32_2 + b"1234"), "leaves a gap"),
    "beyond file": (raw_file({"x": {**GOOD_ENTRY, "shape": [2000], "data_offsets": [0, 8000]}}, F32_2),
                    "truncated: the buffer holds 8 bytes, but the offsets need 8000"),
    "trailing bytes": (raw_file({"x": GOOD_ENTRY}, F32_2 + b"junk"), "4 trailing bytes"),
    "metadata value": (raw_file({"__metadata__": {"a": 1}}), "__metadata__ must map strings"),
    "metadata list": (raw_file({"__metadata__": ["a"]}), "__metadata__ must map strings"),
    "bool not 0/1": (raw_file({"x": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x02"),
                     "BOOL bytes must be 0 or 1"),
    "too many dims": (raw_file({"x": {"dtype": "U8", "shape": [1] * 70, "data_offsets": [0, 1]}}, b"\x00"),
                      "cannot build shape"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_safetensors_rejects_hostile_files(tmp_path, case):
    data, match = HOSTILE[case]
    path = write(tmp_path, data)
    with pytest.raises(ValueError, match=re.escape(f"safetensors: {path}: ") + ".*" + match):
        st.load_file(path)


def test_safetensors_valid_hand_built_file_loads(tmp_path):
    # The same builder as the hostile cases, used correctly, is accepted (even unpadded).
    tensors, _ = st.load_file(write(tmp_path, raw_file({"x": GOOD_ENTRY}, F32_2, pad=False)))
    np.testing.assert_array_equal(tensors["x"], [1, 2])


def test_safetensors_rejects_every_truncation(tmp_path):
    data = st.encode({"w": sample(np.float32), "b": sample(np.int64, (5,))}, {"m": "x"})
    n = int.from_bytes(data[:8], "little")
    for cut in sorted({0, 1, 7, 8, 9, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 1, len(data) - 1}):
        path = write(tmp_path, data[:cut], f"cut{cut}.safetensors")
        with pytest.raises(ValueError, match=re.escape(str(path))):
            st.load_file(path)


def test_safetensors_random_bytes(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(20):
        path = write(tmp_path, rng.bytes(int(rng.integers(0, 200))), f"r{i}.bin")
        with pytest.raises(ValueError, match=re.escape(f"safetensors: {path}: ")):
            st.load_file(path)


def test_io_never_unpickles_unrestricted():
    """Only torch_load imports pickle, for its restricted Unpickler (find_class refuses all but weights);
    nothing calls pickle.load/loads or NumPy's allow_pickle."""
    for file in pathlib.Path(st.__file__).parent.glob("*.py"):
        text = file.read_text()
        tree = ast.parse(text)
        names = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                 for alias in node.names} | {node.module for node in ast.walk(tree)
                                              if isinstance(node, ast.ImportFrom)}
        allowed = {"pickle"} if file.name == "torch_load.py" else set()
        assert not names & ({"pickle", "cPickle", "dill", "marshal", "shelve", "joblib"} - allowed), file
        calls = {f"{node.value.id}.{node.attr}" for node in ast.walk(tree)
                 if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)}
        assert not calls & {"pickle.load", "pickle.loads", "pickle.Unpickler.load"}, file
        assert "allow_pickle" not in text, file
    assert "def find_class" in (pathlib.Path(st.__file__).parent / "torch_load.py").read_text()


# ---------------------------------------------------------------- cnnlab.save / cnnlab.load

def nested_checkpoint():
    return {
        "model": {"conv.weight": Tensor(sample(np.float32, (4, 3, 3, 3))),
                  "fc.bias": Tensor(sample(np.float64, (10,)), requires_grad=True),
                  "bn.num_batches_tracked": Tensor(np.array(7, np.int64))},
        "optimizer": {"state": {0: {"momentum_buffer": sample(np.float32, (4, 3, 3, 3))},
                                1: {"step": 3, "exp_avg": sample(np.float64, (10,))}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1],
                                        "nesterov": False, "weight_decay": 0, "foreach": None}]},
        "epoch": 12, "name": "résumé \"run\"/1", "mask": sample(np.bool_, (3,)),
        "floats": [0.1, -0.0, 1e300, 5e-324, math.inf, -math.inf, math.nan, 2.0**53 + 1],
        "big int": 2**80, "neg": -3, "empty list": [], "empty dict": {}, "empty tuple": (),
        "0-d": np.array(2.5), "empty array": np.zeros((0, 4), np.float32),
        "numpy scalars": (np.float32(1.5), np.int64(-2), np.bool_(True), np.float64(0.25)),
        "deep": [[[{"x": (np.arange(3, dtype=np.uint16),)}]]],
    }


def test_checkpoint_roundtrip_nested(tmp_path):
    obj = nested_checkpoint()
    save(obj, tmp_path / "ckpt.safetensors")
    assert_same(load(tmp_path / "ckpt.safetensors"), obj)
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]


def test_checkpoint_loaded_arrays_are_independent_and_writable(tmp_path):
    w = np.ones((2, 2), np.float32)
    save({"w": Tensor(w), "a": w}, tmp_path / "c.safetensors")
    got = load(tmp_path / "c.safetensors")
    got["a"][0, 0] = 5
    got["w"].data[0, 0] = 7
    assert w[0, 0] == 1 and got["w"].data[0, 0] == 7 and got["w"].data.dtype == np.float32


@pytest.mark.parametrize("obj", [
    Tensor(np.arange(3.0)), np.zeros((2, 2), np.float32), 3, 2.5, None, "text", True,
    [], {}, (), {0: "int key", "0": "str key"}, [(), [()], {"a": [None]}],
])
def test_checkpoint_roundtrip_roots(tmp_path, obj):
    save(obj, tmp_path / "c.safetensors")
    assert_same(load(tmp_path / "c.safetensors"), obj)


def test_checkpoint_parameter_saved_as_tensor(tmp_path):
    from cnnlab.nn.parameter import Parameter
    save({"w": Parameter(np.ones(3, np.float32))}, tmp_path / "p.safetensors")
    got = load(tmp_path / "p.safetensors")["w"]
    assert type(got) is Tensor and got.requires_grad is False
    np.testing.assert_array_equal(got.data, np.ones(3, np.float32))


@requires("safetensors", "test")
def test_checkpoint_tensor_names_and_collisions(tmp_path):
    import safetensors.numpy as ref
    obj = {"model": {"fc.weight": np.ones(2)}, "optimizer": {"state": {0: {"momentum_buffer": np.ones(2)}}},
           "a.b": np.full(1, 1.0), "a": {"b": np.full(1, 2.0), "b~1": np.full(1, 3.0)},
           0: np.full(1, 4.0), "0": np.full(1, 5.0)}
    save(obj, tmp_path / "c.safetensors")
    names = set(ref.load_file(str(tmp_path / "c.safetensors")))
    assert names == {"model.fc.weight", "optimizer.state.0.momentum_buffer",
                     "a.b", "a.b~2", "a.b~1", "0", "0~1"}
    assert_same(load(tmp_path / "c.safetensors"), obj)


@requires("safetensors", "test")
def test_state_dict_is_a_plain_safetensors_file(tmp_path):
    import safetensors.numpy as ref
    state = {"conv1.weight": Tensor(sample(np.float32, (6, 1, 5, 5))),
             "conv1.bias": Tensor(sample(np.float32, (6,))),
             "bn.running_var": Tensor(sample(np.float64, (6,)))}
    save(state, tmp_path / "sd.safetensors")
    theirs = ref.load_file(str(tmp_path / "sd.safetensors"))
    assert set(theirs) == set(state)
    for key, tensor in state.items():
        assert theirs[key].dtype == tensor.data.dtype
        np.testing.assert_array_equal(theirs[key], tensor.data)


def test_state_dict_loads_in_torch(tmp_path, torch):
    import safetensors.torch as ref
    state = {"fc.weight": Tensor(sample(np.float32, (3, 4)))}
    save(state, tmp_path / "sd.safetensors")
    got = ref.load_file(str(tmp_path / "sd.safetensors"))
    assert got["fc.weight"].dtype == torch.float32
    np.testing.assert_array_equal(got["fc.weight"].numpy(), state["fc.weight"].data)


@requires("safetensors", "test")
def test_foreign_safetensors_file_loads_as_flat_state_dict(tmp_path):
    import safetensors.numpy as ref
    arrays = {"z.weight": sample(np.float16, (2, 2)), "a.bias": sample(np.int32, (3,))}
    ref.save_file(arrays, str(tmp_path / "hf.safetensors"), metadata={"format": "pt"})
    got = load(tmp_path / "hf.safetensors")
    assert set(got) == set(arrays)
    for key, want in arrays.items():
        assert type(got[key]) is Tensor and got[key].requires_grad is False
        assert got[key].data.dtype == want.dtype
        np.testing.assert_array_equal(got[key].data, want)


# ---------------------------------------------------------------- save errors and atomicity

class Opaque:
    pass


@pytest.mark.parametrize("obj, error, match", [
    ({"a": [1, {2, 3}]}, TypeError, r"obj\['a'\]\[1\] has type builtins.set; supported: Tensor"),
    ({"a": Opaque()}, TypeError, r"obj\['a'\] has type [\w.]*\.Opaque"),
    ({"a": b"bytes"}, TypeError, r"obj\['a'\] has type builtins.bytes"),
    ({"a": np.zeros(2, np.complex128)}, TypeError, r"obj\['a'\] has dtype complex128"),
    ({"a": np.array([None])}, TypeError, r"obj\['a'\] has dtype object"),
    ({"opt": {(0, 1): 1}}, TypeError, r"obj\['opt'\] has a key \(0, 1\) of type tuple; keys must be str or int"),
    ({True: 1}, TypeError, "obj has a key True of type bool"),
    ({1.5: 1}, TypeError, "obj has a key 1.5 of type float"),
])
def test_save_rejects_unsupported_values(tmp_path, obj, error, match):
    path = tmp_path / "c.safetensors"
    with pytest.raises(error, match=re.escape(f"cnnlab.save: {path}: ") + match):
        save(obj, path)
    assert os.listdir(tmp_path) == []  # no file, no temp file


def test_save_rejects_cycles(tmp_path):
    loop = [1]
    loop.append({"self": loop})
    with pytest.raises(ValueError, match=r"obj\[1\]\['self'\] contains itself"):
        save(loop, tmp_path / "c.safetensors")
    shared = np.ones(2)
    save([shared, shared, [shared]], tmp_path / "c.safetensors")  # sharing is not a cycle
    assert len(load(tmp_path / "c.safetensors")) == 3


def test_failed_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "c.safetensors"
    save({"w": np.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="set"):
        save({"w": np.zeros(3), "later": set()}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["c.safetensors"]
    assert_same(load(path), {"w": np.ones(3)})


# ---------------------------------------------------------------- load errors

def test_load_foreign_and_empty_files(tmp_path):
    cases = {"notes.txt": b"hello world, this is a text file\n", "empty.safetensors": b"",
             "short.bin": b"1234", "zeros.bin": bytes(64), "png.png": b"\x89PNG\r\n\x1a\n" + bytes(40)}
    for name, data in cases.items():
        path = write(tmp_path, data, name)
        with pytest.raises(ValueError, match=re.escape(f"cnnlab.load: {path} is not a safetensors file: ")):
            load(path)


def test_load_random_bytes(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(20):
        path = write(tmp_path, rng.bytes(int(rng.integers(0, 300))), f"r{i}.bin")
        with pytest.raises(ValueError, match=re.escape(f"cnnlab.load: {path}")):
            load(path)


def test_load_truncated_checkpoint(tmp_path):
    save(nested_checkpoint(), tmp_path / "full.safetensors")
    data = (tmp_path / "full.safetensors").read_bytes()
    n = int.from_bytes(data[:8], "little")
    for cut in sorted({0, 4, 8, 20, 8 + n - 1, 8 + n, 8 + n + 100, len(data) - 1}):
        path = write(tmp_path, data[:cut], f"cut{cut}.safetensors")
        with pytest.raises(ValueError, match=re.escape(f"cnnlab.load: {path}") + ".*(truncated|shorter)"):
            load(path)


@pytest.mark.parametrize("case", ["huge header length", "beyond file", "overlap", "size mismatch",
                                  "unknown dtype", "json garbage"])
def test_load_hostile_headers(tmp_path, case):
    data, match = HOSTILE[case]
    path = write(tmp_path, data)
    with pytest.raises(ValueError, match=re.escape(f"cnnlab.load: {path}") + ".*" + match):
        load(path)


def tree_file(tmp_path, tree, fmt="1", tensors=None):
    metadata = {"cnnlab.format": fmt, "cnnlab.tree": tree if isinstance(tree, str) else json.dumps(tree)}
    path = tmp_path / "t.safetensors"
    st.save_file(tensors or {"w": np.ones(2)}, path, metadata)
    return path


@pytest.mark.parametrize("tree, match", [
    ({"dict": [["w", {"tensor": "missing"}]]}, "a node refers to tensor 'missing', which is not in the file"),
    ({"list": [{"ndarray": 3}]}, "a node refers to tensor 3"),
    ({"scalar": "w"}, "unexpected node {'scalar': 'w'}"),  # w is not 0-d
    ({"float": "1.5"}, "unexpected node"),
    ({"set": [1]}, "unexpected node {'set': \\[1\\]}"),
    ({"list": [1], "tuple": [2]}, "unexpected node"),
    ({"dict": [["a"]]}, "a dict entry must be \\[str or int key, node\\]"),
    ({"dict": [[None, 1]]}, "a dict entry must be"),
    ({"dict": [[True, 1]]}, "a dict entry must be"),
    ({"dict": {"a": 1}}, "unexpected node"),
    ([1, 2], "unexpected node \\[1, 2\\]"),
    ("{not json", "not valid JSON"),
    ('{"float": NaN}', "NaN is not valid JSON"),
    pytest.param('{"list": ' * 100_000 + "1" + "}" * 100_000, "nested too deeply", id="deep"),
])
def test_load_rejects_bad_trees(tmp_path, tree, match):
    path = tree_file(tmp_path, tree)
    with pytest.raises(ValueError, match=re.escape(f"cnnlab.load: {path}: bad cnnlab.tree: ") + match):
        load(path)


def test_load_rejects_unknown_format_version(tmp_path):
    path = tree_file(tmp_path, {"dict": []}, fmt="2")
    with pytest.raises(ValueError, match=re.escape(f"cnnlab.load: {path}: cnnlab.format is '2'; this version reads '1'")):
        load(path)


def test_load_errors_carry_the_problem_apart_from_the_file(tmp_path):
    from cnnlab.io import LoadError
    (tmp_path / "text.txt").write_text("hello world")
    with pytest.raises(LoadError) as info:
        load(tmp_path / "text.txt")
    assert info.value.not_safetensors and info.value.path == str(tmp_path / "text.txt")
    assert str(info.value) == f"cnnlab.load: {tmp_path / 'text.txt'} is not a safetensors file: {info.value.problem}"
