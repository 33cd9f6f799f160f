"""Time cnnlab against PyTorch on the CPU (conv, pooling, batch norm, softmax, cross-entropy), the same shapes in the same process, and print ratios.

Run by hand (never in the test suite):

    python benchmarks/run.py                 # every case
    python benchmarks/run.py conv            # the cases whose name contains 'conv'
    python benchmarks/run.py --native-blas   # let OpenBLAS pick its kernel for this CPU

By default the machine's OPENBLAS_CORETYPE (e.g. Haswell, an older kernel) is
left in place; --native-blas re-runs this script with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset, for this process only. The BLAS kernel that ran is
printed either way (through threadpoolctl). Each figure is the minimum over
at least --repeat runs (and --min-time seconds) after one warm-up, in each of
--rounds turns that cnnlab and torch take; each round passes over all the cases, so
that a case's turns are spread over the whole run. "fwd+bwd" is forward, then backward
of the sum of the output times a fixed random gradient. As `cnnlab train` does,
the script turns on `cnnlab.runtime.keep_freed_memory` for its process (PyTorch
keeps freed blocks in its own caching allocator; NumPy allocates through malloc).
"""
from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

import common


def conv_case(D, N, C, O, size, k, stride=1, padding=0, dilation=1, groups=1):
    def make(lib, F, dtype):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((N, C) + (size,) * D).astype(np.float32)
        w = (rng.standard_normal((O, C // groups) + (k,) * D) * 0.1).astype(np.float32)
        b = rng.standard_normal(O).astype(np.float32)
        fn = getattr(F, f"conv{D}d")
        return [x, w, b], lambda x_, w_, b_: fn(x_, w_, b_, stride=stride, padding=padding, dilation=dilation,
                                                groups=groups)
    return make


def op_case(shape, call, n_inputs=1, seed=0):
    """A case timing `call(F, lib, *tensors)` on random float32 inputs of `shape`."""
    def make(lib, F, dtype):
        rng = np.random.default_rng(seed)
        arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(n_inputs)]
        return arrays, lambda *ts: call(F, lib, *ts)
    return make


def batch_norm_call(F, lib, x):
    C = x.shape[1]
    zeros, ones = np.zeros(C, np.float32), np.ones(C, np.float32)
    tensor = lib.tensor
    return F.batch_norm(x, tensor(zeros), tensor(ones), tensor(ones), tensor(zeros), training=True)


def cross_entropy_call(F, lib, x):
    target = lib.tensor(np.random.default_rng(1).integers(0, x.shape[1], size=x.shape[0]))
    return F.cross_entropy(x, target)


CASES = {
    "conv2d N=64 1->6 32x32 k5 (LeNet C1)": conv_case(2, 64, 1, 6, 32, 5),
    "conv2d N=64 6->16 14x14 k5 (LeNet C3)": conv_case(2, 64, 6, 16, 14, 5),
    "conv2d N=64 64->64 32x32 k3 p1": conv_case(2, 64, 64, 64, 32, 3, padding=1),
    "conv2d N=64 128->128 16x16 k3 p1": conv_case(2, 64, 128, 128, 16, 3, padding=1),
    "conv2d N=8 3->96 227x227 k11 s4 (AlexNet conv1)": conv_case(2, 8, 3, 96, 227, 11, stride=4),
    "conv2d N=64 depthwise 64 32x32 k3 p1": conv_case(2, 64, 64, 64, 32, 3, padding=1, groups=64),
    "conv2d N=16 32->32 64x64 k3 d2 p2": conv_case(2, 16, 32, 32, 64, 3, padding=2, dilation=2),
    "conv1d N=64 64->128 L=1024 k5 p2": conv_case(1, 64, 64, 128, 1024, 5, padding=2),
    "conv3d N=8 16->32 16x16x16 k3 p1": conv_case(3, 8, 16, 32, 16, 3, padding=1),
    "max_pool2d N=64 64x32x32 k2 s2": op_case((64, 64, 32, 32), lambda F, lib, x: F.max_pool2d(x, 2, 2)),
    "max_pool2d N=64 64x32x32 k3 s2": op_case((64, 64, 32, 32), lambda F, lib, x: F.max_pool2d(x, 3, 2)),
    "avg_pool2d N=64 64x32x32 k2 s2": op_case((64, 64, 32, 32), lambda F, lib, x: F.avg_pool2d(x, 2, 2)),
    "avg_pool2d N=64 64x32x32 k3 s2 p1": op_case((64, 64, 32, 32), lambda F, lib, x: F.avg_pool2d(x, 3, 2, 1)),
    "adaptive_avg_pool2d N=64 64x32x32 -> 1x1": op_case((64, 64, 32, 32),
                                                        lambda F, lib, x: F.adaptive_avg_pool2d(x, 1)),
    "batch_norm2d (training) N=64 64x32x32": op_case((64, 64, 32, 32), batch_norm_call),
    "softmax N=256 x 1000": op_case((256, 1000), lambda F, lib, x: F.softmax(x, 1)),
    "cross_entropy N=256 x 1000": op_case((256, 1000), cross_entropy_call),
}


def best_time(fn, repeat, min_time):
    """The fastest of at least `repeat` timed calls after a warm-up, going on until `min_time` seconds
    have passed (so that millisecond cases reach their steady state: threads awake, caches warm)."""
    fn()
    times = []
    start = common.clock()
    while len(times) < repeat or common.clock() - start < min_time:
        t = common.clock()
        fn()
        times.append(common.clock() - t)
    return min(times)


def prepare_case(make):
    """The four timed calls of a case: (cnnlab forward, torch forward, cnnlab f+b, torch f+b)."""
    import torch

    import cnnlab
    import cnnlab.nn.functional as CF

    arrays, ours = make(cnnlab, CF, np.float32)
    _, theirs = make(torch, torch.nn.functional, np.float32)
    with cnnlab.no_grad():
        shape = ours(*[cnnlab.Tensor(a) for a in arrays]).shape
    grad = np.random.default_rng(1).standard_normal(shape).astype(np.float32)

    def fwd_ours():
        with cnnlab.no_grad():
            ours(*[cnnlab.Tensor(a) for a in arrays])

    def fwd_theirs():
        with torch.no_grad():
            theirs(*[torch.from_numpy(a) for a in arrays])

    def both_ours():
        ts = [cnnlab.Tensor(a, requires_grad=True) for a in arrays]
        ours(*ts).backward(cnnlab.Tensor(grad))

    g_t = torch.from_numpy(grad)

    def both_theirs():
        ts = [torch.from_numpy(a).requires_grad_() for a in arrays]
        theirs(*ts).backward(g_t)

    return fwd_ours, fwd_theirs, both_ours, both_theirs


def time_case(calls, best, repeat, min_time):
    """One turn of a case: cnnlab's figures, then torch's, with a pause before each (torch's OpenMP
    threads keep spinning for a while after its ops and would otherwise take a core from whatever runs
    next); each of the four keeps its best figure in `best`."""
    fwd_ours, fwd_theirs, both_ours, both_theirs = calls
    time.sleep(0.3)
    best[0], best[2] = min(best[0], best_time(fwd_ours, repeat, min_time)), min(best[2], best_time(both_ours, repeat, min_time))
    time.sleep(0.3)
    best[1], best[3] = min(best[1], best_time(fwd_theirs, repeat, min_time)), min(best[3], best_time(both_theirs, repeat, min_time))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure and round (default 5)")
    parser.add_argument("--min-time", type=float, default=0.2,
                        help="seconds each figure keeps timing, past --repeat runs (default 0.2)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="passes over all the cases, in each of which cnnlab and torch take a turn, each "
                             "keeping its best figure (default 3)")
    args = common.parse_args(parser)
    common.start(args)
    header = f"{'case':52s} {'fwd ms':>8s} {'torch':>8s} {'ratio':>6s} {'f+b ms':>8s} {'torch':>8s} {'ratio':>6s}"
    cases = [(name, prepare_case(make)) for name, make in CASES.items() if args.filter in name]
    # Every round passes over all the cases, so that each case's turns are spread over the whole run: these
    # shared machines have slow phases of tens of seconds, which would otherwise cover all of one case's turns.
    best = {name: [math.inf] * 4 for name, _ in cases}
    for r in range(args.rounds):
        for name, calls in cases:
            time_case(calls, best[name], args.repeat, args.min_time)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(header)
    ratios = []
    for name, _ in cases:
        fo, ft, bo, bt = best[name]
        ratios.append(bo / bt)
        print(f"{name:52s} {1e3 * fo:8.2f} {1e3 * ft:8.2f} {fo / ft:6.2f} {1e3 * bo:8.2f} {1e3 * bt:8.2f} "
              f"{bo / bt:6.2f}", flush=True)
    if ratios:
        print(f"geometric mean of fwd+bwd ratios: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}")


if __name__ == "__main__":
    main()
