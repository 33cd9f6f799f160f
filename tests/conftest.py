import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # `import helpers` from any test file

import pytest

import oracle


def _load_torch():
    import torch

    return torch


def _load_onnx():
    import onnx
    import onnx.reference  # noqa: F401  (its reference evaluator is the oracle)

    return onnx


@pytest.fixture(scope="session")
def torch():
    """PyTorch, the oracle."""
    return oracle.load("PyTorch", _load_torch)


@pytest.fixture(scope="session")
def onnx():
    """ONNX, whose reference evaluator is an oracle (DeformConv)."""
    return oracle.load("onnx", _load_onnx)


def _load_onnxruntime():
    import onnxruntime

    return onnxruntime


@pytest.fixture(scope="session")
def onnxruntime():
    """onnxruntime, the oracle of ONNX export: it runs the exported files."""
    return oracle.load("onnxruntime", _load_onnxruntime)


@pytest.fixture(params=["auto", "reference", "depthwise", "bands", "im2row"])
def kernel(request):
    """Runs the test under each conv kernel, forced through the public switch `cnnlab.kernels.use`
    (a kernel that does not apply to a call runs the reference there)."""
    import cnnlab.kernels

    assert request.param in cnnlab.kernels.available()
    with cnnlab.kernels.use(request.param):
        yield request.param
