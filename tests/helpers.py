"""Test helpers: optional packages, a float64 finite-difference gradient check, random arguments,
``mpiexec -n 2`` runs (`run_mpi`, `run_worker`: tests/mpi_worker.py).

The oracle harness (PyTorch, ONNX) is `oracle.py`."""
from __future__ import annotations

import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import zlib

import numpy as np
import pytest

import cnnlab


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def requires(module: str, extra: str):
    """Mark a test that needs an optional package: skipped, with the reason, where it is not installed,
    except in CI (the environment variable CI set), where the [test] extra brings every such package:
    there the test runs, and fails without it.

    The oracles (torch, onnx) are not optional: they come through the `torch`/`onnx` fixtures of conftest,
    which fail in CI when missing.
    """
    return pytest.mark.skipif(not installed(module) and not os.environ.get("CI"),
                              reason=f"{module} (in the [{extra}] extra) is not installed")


def needed(what: str, load):
    """``load()`` (an import, a browser's path check): what it returns, or, where it raises ImportError, the test
    skipped with the reason outside CI and failed in CI (CI=true: .ci/run installs everything)."""
    try:
        return load()
    except ImportError as e:
        if os.environ.get("CI"):
            pytest.fail(f"{what} must be installed in CI (the [test] extra and .ci/run bring it): {e}")
        pytest.skip(f"{what} is not installed ({e})")


def numerical_grads(fn, arrays, upstream, eps=1e-6):
    """Central-difference gradients of sum(fn(*arrays) * upstream) w.r.t. every array (float64)."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            plus = np.sum(_forward(fn, arrays) * upstream)
            flat[i] = old - eps
            minus = np.sum(_forward(fn, arrays) * upstream)
            flat[i] = old
            gflat[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def _forward(fn, arrays):
    with cnnlab.no_grad():
        return fn(*[cnnlab.Tensor(a) for a in arrays]).data


def gradcheck(fn, *arrays, rtol=1e-6, atol=1e-8, seed=0):
    """Check cnnlab's backward of `fn` against central differences in float64.

    The output is contracted with a random upstream gradient, so every entry of
    the Jacobian takes part. Returns nothing; raises AssertionError on mismatch.
    """
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    tensors = [cnnlab.Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(cnnlab.Tensor(upstream))
    expected = numerical_grads(fn, arrays, upstream)
    for i, (t, e) in enumerate(zip(tensors, expected)):
        got = np.zeros_like(e) if t.grad is None else t.grad.data
        np.testing.assert_allclose(got, e, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


def maybe_int(rng, values):
    """An int when all entries agree (sometimes), else the tuple: both forms of an argument get exercised."""
    values = tuple(int(v) for v in values)
    return values[0] if len(set(values)) == 1 and rng.random() < 0.5 else values


def seeded(*key) -> np.random.Generator:
    """A generator seeded by crc32 of repr(key): the same numbers in every process (str hashes are salted)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def float64(values) -> cnnlab.Tensor:
    """A float64 tensor of `values`, for tight comparisons."""
    return cnnlab.tensor(np.asarray(values, dtype=np.float64))


# ---------------------------------------------------------------- models for the export tests
def random_inputs(*shape, seed=0, batches=(2, 1)):
    """Random float32 inputs of `shape`, one per batch size in `batches` (which replaces shape[0])."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((b,) + shape[1:]).astype(np.float32) for b in batches]


def randomize(model, seed=0):
    """Random weights (N(0, 0.25)) and batch-norm statistics, so that every parameter matters; returns the model."""
    rng = np.random.default_rng(seed)
    with cnnlab.no_grad():
        for _, t in model.state_dict(keep_vars=True).items():
            if t.dtype.kind == "f":
                t.copy_(rng.standard_normal(t.shape).astype(t.dtype) * 0.5)
        for m in model.modules():
            if isinstance(m, (cnnlab.nn.BatchNorm1d, cnnlab.nn.BatchNorm2d, cnnlab.nn.BatchNorm3d)) \
                    and m.running_var is not None:
                m.running_var.copy_(rng.uniform(0.5, 2.0, m.running_var.shape).astype(m.running_var.dtype))
    return model


class Lambda(cnnlab.nn.Module):
    """A model whose forward is ``fn(self, x)``, with `layers` as ``self.layers`` (an nn.Sequential)."""

    def __init__(self, fn, *layers):
        super().__init__()
        self.fn, self.layers = fn, cnnlab.nn.Sequential(*layers)

    def forward(self, x):
        return self.fn(self, x)


# ---------------------------------------------------------------- MPI runs
HERE = pathlib.Path(__file__).parent
TIMEOUT = 240  # seconds for one mpiexec run; a hang fails the test instead of blocking the suite


def mpiexec() -> str:
    """The mpiexec next to this Python (the MPI wheel puts it there), else on PATH; skipped without MPI."""
    found = shutil.which("mpiexec", path=os.pathsep.join([str(pathlib.Path(sys.executable).parent),
                                                          os.environ.get("PATH", "")]))
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        found = None
    if found is None:  # pragma: no cover
        if os.environ.get("CI"):
            pytest.fail("mpi4py and an MPI must be installed in CI (the [test] extra brings them)")
        pytest.skip("mpi4py or mpiexec is not installed (pip install 'cnnlab[distributed]')")
    return found


def run_mpi(args, n: int = 2, timeout: int = TIMEOUT, cwd=None) -> subprocess.CompletedProcess:
    """``mpiexec -n N ARGS`` on this machine: Open MPI allowed to run as root (containers, CI), more
    ranks than cores allowed, no binding to cores (the machine is shared)."""
    env = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    command = [mpiexec(), "-n", str(n), "--oversubscribe", "--bind-to", "none", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def run_worker(*args, n: int = 2, timeout: int = TIMEOUT) -> subprocess.CompletedProcess:
    """``mpiexec -n N python tests/mpi_worker.py ARGS`` (see mpi_worker's docstring for the scenarios)."""
    return run_mpi([sys.executable, HERE / "mpi_worker.py", *args], n=n, timeout=timeout)


# ---------------------------------------------------------------- the command line
def run_cli(argv):
    """(exit status, what it printed on stdout) of ``cnnlab ARGV`` run in this process."""
    import contextlib
    import io

    from cnnlab.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def one_error_line(capsys, code, command):
    """The stripped error of a failed ``cnnlab COMMAND``: exit status 2, exactly one line on stderr that
    starts with ``cnnlab COMMAND: error: ``, no traceback."""
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"cnnlab {command}: error: ") and "Traceback" not in err, err
    return err.strip()



def trained(out, *argv):
    """``out`` after ``cnnlab train ARGV --out OUT`` ran in this process and succeeded (a checkpoint for tests)."""
    code, printed = run_cli(["train", *argv, "--out", str(out)])
    assert code == 0, printed
    return out
