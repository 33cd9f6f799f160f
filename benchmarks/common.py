"""What the benchmarks share: the machine they ran on, and running with OpenBLAS's own kernel choice."""
from __future__ import annotations

import os
import platform
import sys


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


def parse_args(parser):
    """The flags both benchmarks take (a case filter, --native-blas) added to `parser`, parsed; with
    --native-blas this process is replaced by one with OpenBLAS's own kernel choice."""
    parser.add_argument("filter", nargs="?", default="", help="run only cases whose name contains this")
    parser.add_argument("--native-blas", action="store_true",
                        help="unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for this run only")
    args = parser.parse_args()
    if args.native_blas:
        rerun_with_native_blas()
    return args


def start() -> dict:
    """Keep freed memory (as `cnnlab train` does), give torch cnnlab's threads, print the machine; its facts."""
    import torch

    import cnnlab

    kept = cnnlab.runtime.keep_freed_memory(True)
    torch.set_num_threads(cnnlab.get_num_threads())
    facts = machine()
    print(f"CPU: {facts['cpu']}, {facts['cores']} cores; numpy {facts['numpy']}, torch {facts['torch']} "
          f"({facts['torch_threads']} threads, cnnlab {cnnlab.get_num_threads()})")
    print(f"BLAS: {facts['blas']}; OPENBLAS_CORETYPE={facts['OPENBLAS_CORETYPE']}; freed memory kept: {kept}")
    return facts
