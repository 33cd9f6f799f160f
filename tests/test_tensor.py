"""Making tensors, dtypes, Tensor methods, and the errors for bad input."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional as F


def test_dtype_inference_follows_pytorch(torch):
    for data in ([1.0, 2.0], [1, 2], [True, False], 3.5, 7, [[1, 2.5]], np.array([1, 2], np.int32),
                 np.array([1.0], np.float64), np.array([1.0], np.float16), np.float64(2.0)):
        ours, theirs = cnnlab.tensor(data), torch.tensor(data)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), data
        np.testing.assert_array_equal(ours.data, theirs.numpy())


def test_tensor_copies_and_from_numpy_shares():
    a = np.arange(3.0)
    t = cnnlab.tensor(a)
    a[0] = 9
    assert t.data[0] == 0
    s = cnnlab.from_numpy(a)
    assert np.shares_memory(s.data, a)


def test_creation_functions():
    assert cnnlab.zeros(2, 3).shape == (2, 3) and cnnlab.zeros((2, 3)).dtype == np.float32
    assert cnnlab.ones(4, dtype=cnnlab.float64).dtype == np.float64
    assert cnnlab.full((2,), 7).dtype == np.int64 and cnnlab.full((2,), 7.0).dtype == np.float32
    assert cnnlab.arange(5).tolist() == [0, 1, 2, 3, 4] and cnnlab.arange(5).dtype == np.int64
    assert cnnlab.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    np.testing.assert_allclose(cnnlab.linspace(0, 1, 5).data, [0, 0.25, 0.5, 0.75, 1])
    assert cnnlab.empty(3).shape == (3,)
    assert cnnlab.zeros_like(cnnlab.ones(2, dtype=cnnlab.float64)).dtype == np.float64
    assert cnnlab.randn(2, 3, requires_grad=True).requires_grad
    r = cnnlab.randint(0, 10, (100,))
    assert r.dtype == np.int64 and 0 <= r.data.min() and r.data.max() < 10
    u = cnnlab.rand(1000)
    assert 0 <= u.data.min() and u.data.max() < 1
    assert sorted(cnnlab.randperm(5).tolist()) == [0, 1, 2, 3, 4]


def test_manual_seed_reproduces_random_tensors():
    cnnlab.manual_seed(123)
    a = cnnlab.randn(5).data.copy()
    cnnlab.manual_seed(123)
    np.testing.assert_array_equal(cnnlab.randn(5).data, a)
    with pytest.raises(TypeError, match="manual_seed: seed must be an int"):
        cnnlab.manual_seed(1.5)


def test_methods_mirror_pytorch(torch):
    x = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    a, b = cnnlab.tensor(x), torch.tensor(x)
    assert a.size() == tuple(b.size()) and a.size(1) == b.size(1) and a.dim() == b.dim()
    assert a.numel() == b.numel() and len(a) == len(b)
    assert a.sum(dim=1, keepdim=True).shape == tuple(b.sum(dim=1, keepdim=True).shape)
    values, indices = a.max(dim=2)
    assert values.tolist() == b.max(dim=2).values.tolist() and indices.tolist() == b.max(dim=2).indices.tolist()
    assert a[0, 1, 2].item() == b[0, 1, 2].item()
    assert [t.shape for t in a.split(2, dim=2)] == [tuple(t.shape) for t in b.split(2, dim=2)]
    assert [t.shape for t in a.chunk(3, dim=1)] == [tuple(t.shape) for t in b.chunk(3, dim=1)]
    assert (a > 10).dtype == np.bool_ and (a > 10).data.sum() == int((b > 10).sum())
    assert float(cnnlab.tensor([2.5])) == 2.5 and int(cnnlab.tensor(3)) == 3
    assert repr(cnnlab.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(cnnlab.tensor([1.0], dtype=cnnlab.float64)) == "tensor([1.], dtype=float64)"
    assert [t.tolist() for t in cnnlab.tensor([[1, 2], [3, 4]])] == [[1, 2], [3, 4]]


def test_numpy_scalars_on_the_left_call_tensor_operators():
    t = cnnlab.tensor([1.0, 2.0], requires_grad=True)
    y = np.float32(2.0) * t
    assert isinstance(y, cnnlab.Tensor) and y.requires_grad and y.dtype == np.float32


def test_integer_division_gives_default_float():
    assert (cnnlab.tensor([1, 2]) / 2).dtype == np.float32
    assert (cnnlab.tensor([1, 2]) * 0.5).dtype == np.float32


def test_errors_are_clear_and_early():
    a, b = cnnlab.ones(2, 3), cnnlab.ones(4, 5)
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) cannot be multiplied \(3 != 4"):
        a @ b
    with pytest.raises(ValueError, match=r"matmul: batch dims of \(2, 2, 3\) and \(3, 3, 1\) cannot be broadcast"):
        cnnlab.ones(2, 2, 3) @ cnnlab.ones(3, 3, 1)
    with pytest.raises(TypeError, match="matmul: both arguments must have the same dtype, got float32 and float64"):
        a @ cnnlab.ones(3, 2, dtype=cnnlab.float64)
    with pytest.raises(ValueError, match=r"matmul: both arguments need at least 1 dimension"):
        cnnlab.tensor(2.0) @ a
    with pytest.raises(ValueError, match=r"add: cannot broadcast shapes \(2, 3\) and \(4, 5\)"):
        a + b
    with pytest.raises(ValueError, match=r"mul: cannot broadcast shapes \(2, 3\) and \(2,\)"):
        a * np.ones(2)
    with pytest.raises(TypeError, match="add: unsupported operand type str"):
        a + "x"
    with pytest.raises(TypeError, match="only floating point tensors can require gradients, got dtype int64"):
        cnnlab.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="mean: expected a floating point tensor, got dtype int64"):
        cnnlab.tensor([1, 2]).mean()
    with pytest.raises(TypeError, match="tensor: can't make a tensor from data of dtype <U1"):
        cnnlab.tensor(["a"])
    with pytest.raises(ValueError, match="tensor: data must be rectangular"):
        cnnlab.tensor([[1, 2], [3]])
    with pytest.raises(ValueError, match=r"reshape: shape \(4, 5\) is invalid for input of size 6"):
        a.reshape(4, 5)
    with pytest.raises(ValueError, match=r"reshape: shape \(-1, -1\) is invalid"):
        a.reshape(-1, -1)
    with pytest.raises(ValueError, match=r"sum: dim 2 is out of range for a tensor of 2 dimensions \(expected -2 to 1\)"):
        a.sum(dim=2)
    with pytest.raises(ValueError, match=r"permute: dims \(0, 0\) is not a permutation of the 2 dimensions"):
        a.permute(0, 0)
    with pytest.raises(ValueError, match="expand: the expanded size 4 must match the existing size 3 at dim 1"):
        a.expand(2, 4)
    with pytest.raises(ValueError, match="cat: sizes of tensors must match except in dimension 0; expected size 3 "
                                         "but got size 5 for tensor 1 in dimension 1"):
        cnnlab.cat([a, b])
    with pytest.raises(ValueError, match=r"stack: expects each tensor to be equal size, but got \(2, 3\) at entry 0 "
                                         r"and \(4, 5\) at entry 1"):
        cnnlab.stack([a, b])
    with pytest.raises(ValueError, match=r"split: sections \[1, 1\] must be non-negative and sum to the size 3 of dim 1"):
        a.split([1, 1], dim=1)
    with pytest.raises(ValueError, match=r"linear: input has 3 features in its last dim \(shape \(2, 3\)\), "
                                         r"but weight expects in_features=4"):
        F.linear(a, cnnlab.ones(2, 4))
    with pytest.raises(ValueError, match="item: only one-element tensors"):
        a.item()
    with pytest.raises(RuntimeError, match="bool: a tensor with 6 elements is ambiguous"):
        bool(a)
    with pytest.raises(ValueError, match="max: the tensor is empty"):
        cnnlab.zeros(0).max()
    with pytest.raises(ValueError, match="clamp: at least one of min and max"):
        a.clamp()
    with pytest.raises(TypeError, match="where: condition must be a bool tensor"):
        F.where(a, a, a)
    with pytest.raises(ValueError, match=r"zeros: size must be non-negative ints, got \(-1,\)"):
        cnnlab.zeros(-1)


def test_linear_errors_name_linear():
    w = cnnlab.ones(2, 3)
    with pytest.raises(TypeError, match="linear: input has dtype float64, but weight has dtype float32"):
        F.linear(cnnlab.ones(4, 3, dtype=cnnlab.float64), w)
    with pytest.raises(TypeError, match="linear: input must be a Tensor, got ndarray"):
        F.linear(np.ones((4, 3)), w)
