"""What the tests of cnnlab.onnx share: one ONNX node loaded by cnnlab beside ONNX's reference evaluator
(the `check_node` fixture)."""
import numpy as np
import pytest

import cnnlab
from cnnlab.onnx import load
from oracle import against_onnx, onnx_model


def run_loaded(model, feeds):
    """Our outputs of `model` on `feeds`: cnnlab.onnx.load, then forward (no gradients)."""
    with cnnlab.no_grad():
        out = load(model)(*[cnnlab.Tensor(a) for a in feeds.values()])
    return [o.data for o in (out if isinstance(out, tuple) else (out,))]


def _check_node(onnx, op_type, inputs, *, initializers=(), opset=19, outputs=("out",), tol=None, **attributes):
    """One node with these inputs (the names in `initializers` as initializers) loaded by cnnlab and run
    beside the reference evaluator; returns the loaded module."""
    model = onnx_model(onnx, op_type, inputs, opset, initializers=initializers, outputs=outputs, **attributes)
    feeds = {n: np.asarray(a) for n, a in inputs.items() if a is not None and n not in initializers}
    against_onnx(onnx, model, feeds, run_loaded, tol=tol, label=f"{op_type} {attributes}")
    return load(model)


@pytest.fixture
def check_node(onnx):
    """`check_node(op_type, inputs, initializers=(), opset=19, outputs=("out",), tol=None, **attributes)`:
    one node loaded by cnnlab and run beside ONNX's reference evaluator; returns the loaded module."""
    return lambda *args, **kwargs: _check_node(onnx, *args, **kwargs)


