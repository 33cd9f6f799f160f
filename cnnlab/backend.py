"""The array module, the default dtype and the seeded random generator: layer 1 of cnnlab.

cnnlab computes on NumPy arrays, float32 unless told otherwise, and every random
draw (init, dropout, shuffling) comes from one generator that `manual_seed`
seeds. A GPU array module can come later through this seam, found from the
arrays themselves. How work is run (threads, BLAS, buffers) is `cnnlab.runtime`.
"""
from __future__ import annotations

import numpy as np

_default_dtype = np.dtype(np.float32)
_generator = np.random.default_rng()


def get_default_dtype() -> np.dtype:
    """The floating dtype of new tensors made from Python floats (float32)."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the default floating dtype: ``float32`` or ``float64``, as ``torch.set_default_dtype``."""
    global _default_dtype
    d = np.dtype(dtype)
    if d not in (np.float32, np.float64):
        raise TypeError(f"set_default_dtype: only float32 and float64 are supported, got {d}")
    _default_dtype = d


def manual_seed(seed: int):
    """Seed cnnlab's random generator (init, dropout, shuffling), as ``torch.manual_seed``."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The generator that every random op in cnnlab draws from."""
    return _generator
