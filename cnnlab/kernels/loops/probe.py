"""A parallel loop that `cnnlab.kernels.jit` launches once, to load numba's threading layer."""
import numba
import numpy as np


@numba.njit(parallel=True, cache=True)
def _fill(out):
    for i in numba.prange(out.shape[0]):
        out[i] = i


def launch() -> None:
    out = np.zeros(4, dtype=np.int64)
    _fill(out)
    if out[3] != 3:
        raise RuntimeError("cnnlab.kernels.loops.probe: numba's parallel loop gave a wrong result")
