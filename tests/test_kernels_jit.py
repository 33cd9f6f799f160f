"""The gate of the compiled loops (cnnlab.kernels.jit): on where numba runs, off by the switch and the
environment, and required in CI (where the loops' oracle tests must not fall back unnoticed)."""
import os
import subprocess
import sys

import pytest

import cnnlab
from cnnlab.kernels import jit


def test_compiled_loops_run_in_ci():
    if not os.environ.get("CI"):
        pytest.skip("outside CI compiled loops are optional (numba, the 'fast' extra)")
    assert jit.enabled(), "CI installs numba (the 'test' extra) and libgomp1, so compiled loops must run"


def test_the_reference_switch_turns_them_off():
    if not jit.enabled():
        pytest.skip("numba is not installed")
    assert jit.load("depthwise") is not None
    with cnnlab.kernels.use("reference"):
        assert not jit.enabled()
        assert jit.load("depthwise") is None
    assert jit.enabled()


def test_cnnlab_jit_0_turns_them_off_and_the_ops_still_run():
    code = ("import numpy as np, cnnlab; from cnnlab.kernels import jit; import cnnlab.nn.functional as F\n"
            "x, w = cnnlab.tensor(np.ones((1, 2, 4, 4), np.float32)), cnnlab.tensor(np.ones((2, 1, 3, 3), np.float32))\n"
            "y = F.conv2d(x, w, padding=1, groups=2)\n"
            "print(jit.enabled(), cnnlab.kernels.select_conv(2, 2, 2, (3, 3), (1, 1)), float(y.data[0, 0, 1, 1]))")
    env = dict(os.environ, CNNLAB_JIT="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "None", "9.0"]


def test_threads_follow_cnnlab():
    if not jit.enabled():
        pytest.skip("numba is not installed")
    import numba

    before = cnnlab.get_num_threads()
    try:
        cnnlab.set_num_threads(1)
        jit.load("depthwise")
        assert numba.get_num_threads() == 1
    finally:
        cnnlab.set_num_threads(before)
    jit.load("depthwise")
    assert numba.get_num_threads() == min(before, numba.config.NUMBA_NUM_THREADS)


def test_the_spin_count_is_set_only_while_openmp_loads():
    """cnnlab's GOMP_SPINCOUNT reaches the GNU OpenMP that numba loads, and is gone from the environment
    after (child processes and later libraries do not see it); a value the user set is left alone."""
    if not jit.enabled():
        pytest.skip("numba is not installed")
    code = ("import os, cnnlab; from cnnlab.kernels import jit; ok = jit.enabled(); "
            "print(ok, os.environ.get('GOMP_SPINCOUNT'))")
    env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "None"]
    out = subprocess.run([sys.executable, "-c", code], env=dict(env, GOMP_SPINCOUNT="123"), capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == ["True", "123"]
