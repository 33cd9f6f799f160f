"""The gate of the compiled loops: numba, the optional accelerator of the `fast` extra.

A compiled loop is plain Python over array elements (the modules of `cnnlab.kernels.loops`), which
numba compiles to machine code on its first call for each dtype and caches on disk. They give what
NumPy cannot: one pass over memory where the NumPy reference makes several (softmax, batch norm, a
depthwise conv's taps), and cheap threads. A NumPy op splits its work over cnnlab's threads
(`runtime.parallel_map`) at about 100 µs a hand-off measured on 2-core virtual machines, more than a
small op takes in all, while numba's OpenMP threads (its 'omp' threading layer) measured 2-12 µs.

`load(name)` answers the loops' module, or None where they do not run; the op then takes its NumPy
reference, which is complete without numba. They do not run:

- without numba (the `fast` extra), or with the environment variable CNNLAB_JIT=0;
- inside `cnnlab.kernels.use("reference")`;
- when numba has no thread-safe threading layer (OpenMP's or TBB's: a parallel loop launched
  from two threads at once must not abort the process, as numba's own 'workqueue' layer does).

Nothing here acts at import: numba is imported, and its threading layer chosen, by the first `load`.
Where NUMBA_THREADING_LAYER is not set, cnnlab asks numba for a thread-safe one. Numba's threads
follow `runtime.set_num_threads`. Where neither GOMP_SPINCOUNT nor OMP_WAIT_POLICY is set, the GNU
OpenMP that numba loads spins `tuning.OMP_SPIN_COUNT` times before its idle threads sleep (the
variable is set while it loads, then removed: other OpenMP copies, torch's, and child processes
do not see it).
"""
from __future__ import annotations

import importlib
import os
import threading

from cnnlab import runtime, tuning
from cnnlab.kernels import switch

_numba = None              # the numba module once it started, False where it cannot run
_start_lock = threading.Lock()
_threads = threading.local()   # numba's thread count is set per calling thread
_modules = {}                  # name -> the loops' module, once imported


def _start():
    """Import numba and check its threading layer (once); the module, or False."""
    if os.environ.get("CNNLAB_JIT", "1") == "0":
        return False
    try:
        import numba
    except ImportError:
        return False
    if "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER = "threadsafe"     # OpenMP or TBB, never 'workqueue'
    spin = not any(name in os.environ for name in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY"))
    if spin:           # read once, by the GNU OpenMP that numba loads now (torch's own copy is not it)
        os.environ["GOMP_SPINCOUNT"] = str(tuning.OMP_SPIN_COUNT)
    try:
        probe = importlib.import_module("cnnlab.kernels.loops.probe")
        probe.launch()                                 # a parallel loop: loads the threading layer
    except (ValueError, ImportError, RuntimeError):    # numba: "No threading layer could be loaded"
        return False
    finally:
        if spin:
            del os.environ["GOMP_SPINCOUNT"]
    if numba.threading_layer() == "workqueue":          # the user's setting: not safe from threads
        return False
    return numba


def enabled() -> bool:
    """Whether compiled loops run for calls made now (numba usable, not forced off)."""
    global _numba
    if _numba is None:
        with _start_lock:
            if _numba is None:
                _numba = _start()
    return bool(_numba) and switch.active() != "reference"


def load(name: str):
    """The module `cnnlab.kernels.loops.<name>` when compiled loops run now, else None.

    Its parallel loops then run on `runtime.get_num_threads()` threads (at most numba's own count)."""
    if not enabled():
        return None
    n = min(runtime.get_num_threads(), _numba.config.NUMBA_NUM_THREADS)
    if getattr(_threads, "n", None) != n:
        _numba.set_num_threads(n)
        _threads.n = n
    module = _modules.get(name)
    if module is None:
        module = _modules[name] = importlib.import_module(f"cnnlab.kernels.loops.{name}")
    return module
