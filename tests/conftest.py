import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # `import helpers` from any test file

import os

import pytest


@pytest.fixture(scope="session")
def torch():
    """PyTorch, the oracle. Skipped only on a machine without it, never in CI."""
    try:
        import torch as _torch
    except ImportError:  # pragma: no cover
        if os.environ.get("CI"):
            pytest.fail("PyTorch is the test oracle and must be installed in CI (see .ci/run)")
        pytest.skip("PyTorch is not installed")
    return _torch
