"""What the benchmarks share: the machine they ran on, and running with OpenBLAS's own kernel choice."""
from __future__ import annotations

import os
import platform
import sys
import time


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), or what the platform module says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def blas_kernel() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl to see it)"
    infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} "
                     f"threads={i.get('num_threads')}" for i in infos) or "none found"


def machine() -> dict:
    """The facts every figure needs beside it."""
    import numpy as np
    import torch

    return {"cpu": cpu_model(), "cores": cores(), "python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "blas": blas_kernel(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)")}


def rerun_with_native_blas() -> None:
    """Re-run this script with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (for this process only)."""
    if "OPENBLAS_CORETYPE" in os.environ or "OPENBLAS_L2_SIZE" in os.environ:
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


#: the clock of every figure: wall time, or with --cpu-time the CPU time of the process (all its threads)
clock = time.perf_counter


def parse_args(parser):
    """The flags both benchmarks take (a case filter, --native-blas, --threads, --cpu-time) added to `parser`,
    parsed; with --native-blas this process is replaced by one with OpenBLAS's own kernel choice."""
    parser.add_argument("filter", nargs="?", default="", help="run only cases whose name contains this")
    parser.add_argument("--native-blas", action="store_true",
                        help="unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for this run only")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="threads of cnnlab, of its BLAS and of torch (default: cnnlab's, the cores)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the CPU time of the process (time.process_time) instead of the wall clock: "
                             "on a machine that other work shares, with --threads 1, it is close to what the wall "
                             "clock would say on an idle one (default: wall clock)")
    args = parser.parse_args()
    if args.native_blas:
        rerun_with_native_blas()
    return args


_limits = []   # the BLAS thread limit of --threads, held for the life of the process


def start(args=None) -> dict:
    """Start cnnlab's compiled loops, then import torch; keep freed memory (as `cnnlab train` does), set the
    threads (--threads: cnnlab's, its BLAS's; torch gets cnnlab's) and the clock (--cpu-time), print the
    machine; its facts.

    The compiled loops start first: the GNU OpenMP that numba loads then reads cnnlab's spin count
    (`cnnlab.tuning.OMP_SPIN_COUNT`), as it does in a program without torch (`cnnlab train`), and torch,
    imported after it, shares that OpenMP (one library of that name is loaded); imported first, torch's
    own copy would serve numba too, with OpenMP's default spin count, which slows cnnlab's lanes (see
    tuning). Torch's figures then come with the shorter spin: one LeNet-5 epoch at batch 64 measured
    4.6-5.4 s against 4.3-4.4 s with OpenMP's default, a ResNet-18 step 106-122 against 111-117 ms
    (AlexNet's inference was faster shared: 96-108 against 80 images/s)."""
    global clock
    import cnnlab

    jit = cnnlab.kernels.jit.enabled()
    import torch

    kept = cnnlab.runtime.keep_freed_memory(True)
    if args is not None and args.threads is not None:
        from threadpoolctl import threadpool_limits

        cnnlab.set_num_threads(args.threads)
        _limits.append(threadpool_limits(limits=args.threads, user_api="blas"))
    if args is not None and args.cpu_time:
        clock = time.process_time
    torch.set_num_threads(cnnlab.get_num_threads())
    facts = machine()
    print(f"CPU: {facts['cpu']}, {facts['cores']} cores; numpy {facts['numpy']}, torch {facts['torch']} "
          f"({facts['torch_threads']} threads, cnnlab {cnnlab.get_num_threads()})")
    print(f"BLAS: {facts['blas']}; OPENBLAS_CORETYPE={facts['OPENBLAS_CORETYPE']}; freed memory kept: {kept}")
    facts["compiled_loops"] = jit
    print(f"compiled loops (numba): {'on' if jit else 'off'}")
    facts["clock"] = "CPU time (time.process_time)" if clock is time.process_time else "wall clock"
    print(f"clock: {facts['clock']}")
    return facts
