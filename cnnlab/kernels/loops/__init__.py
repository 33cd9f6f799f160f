"""Compiled loops: the fast kernels written as plain loops over array elements, for numba.

Each module here imports numba and is imported only through `cnnlab.kernels.jit.load`, which answers
None where numba is missing (the NumPy reference of every op then runs, complete on its own). The
functions are `numba.njit`-compiled on their first call for each dtype and cached on disk
(`cache=True`); `prange` loops run on numba's threads.

Each module keeps its own small row helpers (a row's sum, a dot product) and options: numba's disk
cache recompiles a function when its own file changes, not when a function it calls from another file
does, so a helper shared across modules could leave stale compiled callers behind after an edit.

`error_model="numpy"`: a division by zero gives inf or nan, as in NumPy, instead of numba's default
Python check, which also keeps the loop from being vectorised (Adam's step measured 4.2× slower).

Floating-point: the loops accumulate in the arrays' dtype, as PyTorch's CPU kernels do, and sums
may be reordered (`fastmath` allows reassociation and contraction only: inf and nan keep their IEEE
meaning), so results agree with the reference to float rounding, not bit for bit.
"""
