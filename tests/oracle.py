"""The oracle harness: cnnlab beside PyTorch (or ONNX's reference evaluator) on the same inputs.

- `against_torch(torch, ours, theirs, arrays, dtype)`: both forwards on copies of the same arrays, the
  outputs compared, then both backwards under one seeded random upstream gradient and every gradient
  compared (inputs, and the parameters of layers given as pairs). Under a forced kernel (the `kernel`
  fixture of conftest) our run is also compared with the reference path.
- `onnx_node(onnx, op_type, inputs, **attributes)`: one ONNX node run by ONNX's reference evaluator.
- `against_onnxruntime(onnxruntime, model, arrays, path)`: a model exported to ONNX and run by
  onnxruntime on each array, its outputs compared with the model's.
- `onnx_model(onnx, op_type, inputs, ...)`: that one-node graph as a checked model (typed inputs,
  initializers, several outputs); `against_onnx(onnx, model, feeds, ours)`: our run of such a model
  beside the reference evaluator's.

The `torch`, `onnx` and `onnxruntime` fixtures (conftest) give the modules: skipped on a machine without them, a failure
in CI.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import cnnlab

#: Default tolerances against PyTorch: float64 to rounding, float32 to a few ulps of sums of a few terms.
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


def load(name: str, load_module):
    """The module `load_module()` returns: skipped only on a machine without it, never in CI (.ci/run)."""
    try:
        return load_module()
    except ImportError:  # pragma: no cover
        if os.environ.get("CI"):
            pytest.fail(f"{name} is a test oracle and must be installed in CI (see .ci/run)")
        pytest.skip(f"{name} is not installed")


def _tolerance(tol, dtype):
    tol = TOL if tol is None else tol
    return tol[dtype] if dtype in tol else tol


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def against_torch(torch, ours, theirs, arrays, dtype, *, tol=None, grad_tol=None, grads=True, params=(),
                  seed=0, label="", require_grads=False):
    """Run ours(*tensors) and theirs(*torch_tensors) on the same arrays and compare everything.

    arrays: NumPy arrays (floating ones cast to `dtype`, integer ones kept, e.g. class indices or
      indices of unpooling) or None (passed as None to both).
    ours, theirs: return one tensor, or a tuple whose first item is differentiated and whose other
      items (e.g. the indices of max pooling) must be equal.
    tol, grad_tol: {dtype: dict(rtol=, atol=)} or one dict(rtol=, atol=) (default `TOL`; the gradients'
      default is `tol`).
    grads: which floating arrays get a gradient: True (all), False (none: the forward only), or a
      bool per array.
    params: (our tensor, torch tensor) pairs, e.g. a layer's parameters, whose gradients are compared too.
    require_grads: every differentiated input (and parameter) of ours must have a gradient, also for an
      empty output; by default a missing gradient (None) counts as zeros (e.g. an input the output does
      not depend on).
    seed: the upstream gradient's, as np.random.default_rng takes it: an int, or a Generator, which
      the upstream is then drawn on from (a test that drew its inputs and weights from one generator
      keeps drawing its upstream from it).

    An empty output has a zero gradient (PyTorch's reflection_pad3d backward leaves such a gradient
    uninitialised, so it is checked to be zero rather than compared). Under a forced conv kernel
    (`cnnlab.kernels.use`) the same run is repeated under the reference path and compared with it too.
    Returns (our output, our input tensors).
    """
    tol_out, tol_grad = _tolerance(tol, dtype), _tolerance(grad_tol if grad_tol is not None else tol, dtype)
    arrays = [None if a is None else np.asarray(a) for a in arrays]
    arrays = [a.astype(dtype) if a is not None and np.issubdtype(a.dtype, np.floating) else a for a in arrays]
    wants = [grads] * len(arrays) if isinstance(grads, bool) else list(grads)
    wants = [bool(w) and a is not None and np.issubdtype(a.dtype, np.floating) for a, w in zip(arrays, wants)]
    mine = [None if a is None else cnnlab.Tensor(a.copy(), requires_grad=w) for a, w in zip(arrays, wants)]
    ref = [None if a is None else torch.tensor(a.copy(), requires_grad=w) for a, w in zip(arrays, wants)]
    out, expected = ours(*mine), theirs(*ref)
    if isinstance(expected, (tuple, list)):
        for i, (o, e) in enumerate(zip(out[1:], expected[1:]), 1):
            assert o.dtype == e.numpy().dtype, f"output {i}: {o.dtype} vs {e.numpy().dtype} {label}"
            np.testing.assert_array_equal(o.data, e.numpy(), err_msg=f"output {i} {label}")
    y, e = _first(out), _first(expected)
    assert y.shape == tuple(e.shape), (y.shape, tuple(e.shape), label)
    assert y.dtype == dtype, (y.dtype, dtype, label)
    np.testing.assert_allclose(y.data, e.detach().numpy(), **tol_out, err_msg=f"output {label}")
    if not any(wants) and not params:
        return out, mine
    upstream = np.random.default_rng(seed).standard_normal(y.shape).astype(dtype)
    y.backward(cnnlab.Tensor(upstream))
    e.backward(torch.tensor(upstream))
    pairs = [(f"input {i}", m, r) for i, (m, r, w) in enumerate(zip(mine, ref, wants)) if w]
    pairs += [(f"parameter {i}", m, r) for i, (m, r) in enumerate(params)]
    for name, m, r in pairs:
        assert m.grad is not None or not require_grads, f"no gradient for {name} {label}"
        got = np.zeros(m.shape, dtype) if m.grad is None else m.grad.data
        assert got.dtype == dtype, f"gradient of {name} has dtype {got.dtype} {label}"
        if y.numel() == 0:  # (Tensor.size is a method, as in PyTorch)
            assert not got.any(), f"gradient of {name} of an empty output {label}"
            continue
        want = np.zeros(m.shape, dtype) if r.grad is None else r.grad.numpy()
        np.testing.assert_allclose(got, want, **tol_grad, err_msg=f"gradient of {name} {label}")
    if cnnlab.kernels.active() not in ("auto", "reference") and not params:
        _against_reference(ours, arrays, wants, upstream, y, mine, tol_out, tol_grad, label)
    return out, mine


def _against_reference(ours, arrays, wants, upstream, y, mine, tol_out, tol_grad, label):
    """The forced kernel's run (y, and the gradients in `mine`) against the reference path's."""
    with cnnlab.kernels.use("reference"):
        base = [None if a is None else cnnlab.Tensor(a.copy(), requires_grad=w) for a, w in zip(arrays, wants)]
        y0 = _first(ours(*base))
        y0.backward(cnnlab.Tensor(upstream))
    np.testing.assert_allclose(y.data, y0.data, **tol_out, err_msg=f"output against the reference {label}")
    for i, (m, b, w) in enumerate(zip(mine, base, wants)):
        if w:
            np.testing.assert_allclose(m.grad.data, b.grad.data, **tol_grad,
                                       err_msg=f"gradient of input {i} against the reference {label}")


def onnx_model(onnx, op_type: str, inputs: dict, opset: int = 19, *, initializers=(), outputs=("out",),
               output_rank=None, **attributes):
    """One ONNX node as a model that onnx.checker has accepted.

    inputs: name -> NumPy array, in the node's input order (the array's dtype gives the ONNX type; a
      name mapped to None is an omitted optional input); the names in `initializers` become
      initializers, the others graph inputs. outputs: the node's output names (the graph's outputs),
      of the first input's type, of rank `output_rank` (None: the first input's rank; onnx.checker
      wants a rank, the reference evaluator does not read it).
    """
    from onnx import helper, numpy_helper

    names = list(inputs)
    while names and inputs[names[-1]] is None:          # trailing omitted inputs are left out, inner ones are ""
        names.pop()
    node = helper.make_node(op_type, [n if inputs[n] is not None else "" for n in names], list(outputs), **attributes)
    given = {n: np.asarray(inputs[n]) for n in names if inputs[n] is not None}
    kind = {n: helper.np_dtype_to_tensor_dtype(a.dtype) for n, a in given.items()}
    values = [helper.make_tensor_value_info(n, kind[n], a.shape) for n, a in given.items() if n not in initializers]
    first = kind[next(iter(given))]
    shape = [None] * (len(next(iter(given.values())).shape) if output_rank is None else output_rank)
    results = [helper.make_tensor_value_info(o, first, shape) for o in outputs]
    inits = [numpy_helper.from_array(a, n) for n, a in given.items() if n in initializers]
    model = helper.make_model(helper.make_graph([node], op_type, values, results, initializer=inits),
                              opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def onnx_node(onnx, op_type: str, inputs: dict, opset: int = 19, **attributes) -> np.ndarray:
    """Run one ONNX node (float64 inputs, in the order given; a name mapped to None is an omitted
    optional input) with ONNX's reference evaluator, after onnx.checker has accepted the model; the
    output has the first input's rank."""
    from onnx.reference import ReferenceEvaluator

    given = {n: np.asarray(a, dtype=np.float64) for n, a in inputs.items() if a is not None}
    model = onnx_model(onnx, op_type, {n: None if a is None else given[n] for n, a in inputs.items()}, opset,
                       output_rank=len(next(iter(given.values())).shape), **attributes)
    return ReferenceEvaluator(model).run(None, given)[0]


#: Tolerance of onnxruntime's float32 against cnnlab's (other summation orders, other kernels).
ORT_TOL = dict(rtol=1e-4, atol=1e-5)


def against_onnxruntime(onnxruntime, model, arrays, path, *, opset: int = 17, tol=None, dynamic_batch=True):
    """Export `model` on arrays[0] to `path`, run the file in onnxruntime on every array (batch sizes
    may differ), and compare each output with the model's in eval mode. Returns the ModelProto."""
    import cnnlab.onnx

    proto = cnnlab.onnx.export(model, arrays[0], path, opset=opset, dynamic_batch=dynamic_batch)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model.eval()
    for i, a in enumerate(arrays):
        with cnnlab.no_grad():
            want = model(cnnlab.tensor(a)).numpy()
        got = session.run(None, {"input": a})[0]
        assert got.shape == want.shape, (i, got.shape, want.shape)
        assert got.dtype == want.dtype, (i, got.dtype, want.dtype)
        np.testing.assert_allclose(got, want, **(tol or ORT_TOL), err_msg=f"input {i} of shape {a.shape}")
    return proto


def against_onnx(onnx, model, feeds: dict, ours, tol=None, label=""):
    """Run `model` (an onnx ModelProto) in ONNX's reference evaluator on `feeds` (name -> array) and
    `ours(model, feeds)` (a list of arrays, or one), and compare every output (shape, then values at
    `tol`, default `TOL` of the first feed's dtype). Returns our outputs."""
    from onnx.reference import ReferenceEvaluator

    expected = ReferenceEvaluator(model).run(None, feeds)
    got = ours(model, feeds)
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    assert len(got) == len(expected), (len(got), len(expected), label)
    dtype = next((a.dtype.type for a in feeds.values() if a.dtype.kind == "f"), np.float64)
    for i, (g, e) in enumerate(zip(got, expected)):
        g = np.asarray(g)
        assert g.shape == e.shape, (i, g.shape, e.shape, label)
        exact = tol is None and e.dtype.kind not in "fc"                  # integer outputs: equal
        np.testing.assert_allclose(g, e, **(dict(rtol=0, atol=0) if exact else _tolerance(tol, dtype)),
                                   err_msg=f"output {i} {label}")
    return got
