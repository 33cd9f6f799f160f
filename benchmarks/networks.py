"""Whole networks, cnnlab against PyTorch on the CPU: training epochs and steps, inference, and peak memory.

Run by hand (never in the test suite):

    python benchmarks/networks.py                  # every case
    python benchmarks/networks.py lenet            # the cases whose name contains 'lenet'
    python benchmarks/networks.py --json out.json  # also write the results as JSON
    python benchmarks/networks.py --native-blas    # let OpenBLAS pick its kernel for this CPU

Both frameworks run the same model (the torch twin is built from the cnnlab model, module by module, and
gets its weights), on the same data, with the same number of threads, in this process, taking turns:
each of --rounds rounds times every case once in cnnlab and once in torch, and each keeps its best
round. A case is a loop of back-to-back steps (steady state, after warm-up steps), never a single call:

- lenet5 epoch: one pass over MNIST's 60,000 training images in memory, batch 64 or 256, AdamW,
  the loop of `cnnlab train` (`cnnlab.train.loop.train_one_epoch`; torch: the same loop written out:
  forward, loss, zero_grad, backward, step, loss.item(), the count of right answers).
- vgg-style CIFAR step: `from_pattern("INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> FC -> RELU -> FC",
  widths=(64, 128, 256))` on 32×32×3, batch 64, SGD with momentum; resnet18 step: 64×64×3, batch 16.
- inference: images per second of LeNet-5 at batch 1000 and AlexNet (torchvision's) at 224×224 batch 8,
  in eval mode without gradients.

Peak memory (Linux): each case also runs twice in a fresh process per framework; the figure ('peak MB')
is the peak resident set size during the two runs over what was resident before them: the memory the
steps needed at their peak, the buffers of their first use included. The baseline holds the model, the
data, the imports, and the code that each framework loads on first use, which one step of the case on a
batch of 2 loads first (`CODE_WARM_UP`): torch's oneDNN kernels, cnnlab's compiled loops (numba maps
them from its cache on disk, or compiles them, once per process: 108-190 MB measured). '+code' is the same
figure without that step, the code counted too. (The lenet5 epoch cases measure 20 steps of their batch
size, with SGD.) As `cnnlab train` does, cnnlab's process keeps freed memory for reuse
(`cnnlab.runtime.keep_freed_memory`).
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time

import numpy as np

import common


# ---------------------------------------------------------------- the torch twin of a cnnlab model
def torch_twin(module):
    """A torch module computing what the cnnlab `module` computes, with its weights.

    Standard layers become the torch.nn class of the same name, built from the cnnlab layer's
    attributes (which have PyTorch's names: in_channels, kernel_size, stride, ...); a container of
    the zoo (ResNet, BasicBlock, AlexNet) becomes a torch Module running the cnnlab class's own
    forward (written with calls that torch tensors take too) over the twins of its children."""
    import inspect

    import torch

    import cnnlab

    def build(m):
        name = type(m).__name__
        if isinstance(m, cnnlab.nn.Sequential):
            return torch.nn.Sequential(*(build(c) for c in m.children()))
        standard = getattr(torch.nn, name, None)
        if standard is not None and type(m).__module__.startswith("cnnlab.nn"):
            kwargs = {}
            for arg in inspect.signature(standard).parameters:
                if arg == "bias" and hasattr(m, "bias"):
                    kwargs[arg] = m.bias is not None
                elif arg == "affine" and hasattr(m, "weight"):
                    kwargs[arg] = m.weight is not None
                elif hasattr(m, arg) and arg not in ("device", "dtype"):
                    kwargs[arg] = getattr(m, arg)
            return standard(**kwargs)
        twin = type(name, (torch.nn.Module,), {"forward": type(m).forward})()
        for key, value in vars(m).items():                   # plain settings (stride, inplanes, ...)
            if not key.startswith("_") and isinstance(value, (int, float, bool, str, tuple, type(None))):
                setattr(twin, key, value)
        for child_name, child in m.named_children():
            twin.add_module(child_name, build(child))
        for child_name in getattr(m, "_modules", {}):
            if m._modules[child_name] is None:
                setattr(twin, child_name, None)
        return twin

    twin = build(module)
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in module.state_dict().items()}, strict=True)
    return twin


# ---------------------------------------------------------------- the cases
def mnist_in_memory(batch):
    """MNIST's training images as (N, 1, 28, 28) float32 normalised as `cnnlab train` does, and labels."""
    from cnnlab.data import MNIST

    data = MNIST(train=True)
    images = data.data.numpy() if hasattr(data.data, "numpy") else np.asarray(data.data)
    x = ((images.astype(np.float32) / 255.0 - 0.1307) / 0.3081)[:, None]
    y = np.asarray(data.targets.numpy() if hasattr(data.targets, "numpy") else data.targets, dtype=np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    return [(x[order[i:i + batch]], y[order[i:i + batch]]) for i in range(0, len(x), batch)]


def lenet_epoch(batch):
    def make(lib):
        import cnnlab
        from cnnlab.models import lenet5

        cnnlab.manual_seed(0)
        ours = lenet5()
        batches = mnist_in_memory(batch)
        if lib == "cnnlab":
            from cnnlab.optim import AdamW
            from cnnlab.train.loop import train_one_epoch

            opt = AdamW(ours.parameters(), lr=1e-3)
            data = [(cnnlab.tensor(x), cnnlab.tensor(y)) for x, y in batches]
            return lambda: train_one_epoch(ours, data, opt), len(batches)
        import torch

        model = torch_twin(ours)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        data = [(torch.tensor(x), torch.tensor(y)) for x, y in batches]

        def epoch():
            model.train()
            total, correct = 0.0, 0
            for x, y in data:
                logits = model(x)
                loss = torch.nn.functional.cross_entropy(logits, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(y)
                correct += int((logits.argmax(1) == y).sum())
            return total, correct
        return epoch, len(batches)
    return make


def train_steps(build_model, shape, classes, steps):
    """`steps` training steps (SGD, momentum 0.9) on one random batch of `shape`."""
    def make(lib):
        import cnnlab
        import cnnlab.nn.functional as F

        cnnlab.manual_seed(0)
        ours = build_model()
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal(shape).astype(np.float32), rng.integers(0, classes, shape[0])
        if lib == "cnnlab":
            from cnnlab.optim import SGD

            opt = SGD(ours.parameters(), lr=0.01, momentum=0.9)
            xt, yt = cnnlab.tensor(x), cnnlab.tensor(y)

            def run():
                for _ in range(steps):
                    loss = F.cross_entropy(ours(xt), yt)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    loss.item()
            return run, steps
        import torch

        model = torch_twin(ours).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        xt, yt = torch.tensor(x), torch.tensor(y)

        def run():
            for _ in range(steps):
                loss = torch.nn.functional.cross_entropy(model(xt), yt)
                opt.zero_grad()
                loss.backward()
                opt.step()
                loss.item()
        return run, steps
    return make


def inference(build_model, shape, passes):
    """`passes` forward passes in eval mode without gradients; the figure is per image."""
    def make(lib):
        import cnnlab

        cnnlab.manual_seed(0)
        ours = build_model().eval()
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        if lib == "cnnlab":
            xt = cnnlab.tensor(x)

            def run():
                with cnnlab.no_grad():
                    for _ in range(passes):
                        ours(xt)
            return run, passes * shape[0]
        import torch

        model, xt = torch_twin(ours).eval(), torch.tensor(x)

        def run():
            with torch.no_grad():
                for _ in range(passes):
                    model(xt)
        return run, passes * shape[0]
    return make


def vgg_cifar():
    from cnnlab.models import from_pattern

    return from_pattern("INPUT -> [[CONV -> RELU]*2 -> POOL]*3 -> FC -> RELU -> FC", widths=(64, 128, 256))


def resnet18_small():
    from cnnlab.models import resnet18

    return resnet18(num_classes=10)


def lenet():
    from cnnlab.models import lenet5

    return lenet5()


def alexnet():
    from cnnlab.models import alexnet as build

    return build()


#: name -> (make, unit of one step's figure, warm-up calls). A make(lib) gives (run, items per run).
CASES = {
    "lenet5 MNIST epoch, batch 64": (lenet_epoch(64), "s/epoch", 0),
    "lenet5 MNIST epoch, batch 256": (lenet_epoch(256), "s/epoch", 0),
    "vgg-style CIFAR step, 32x32, batch 64": (train_steps(vgg_cifar, (64, 3, 32, 32), 10, 5), "ms/step", 1),
    "resnet18 step, 64x64, batch 16": (train_steps(resnet18_small, (16, 3, 64, 64), 10, 5), "ms/step", 1),
    "lenet5 inference, batch 1000": (inference(lenet, (1000, 1, 28, 28), 5), "images/s", 1),
    "alexnet inference, 224x224, batch 8": (inference(alexnet, (8, 3, 224, 224), 3), "images/s", 1),
}


#: name -> a make(lib) of the case's steps on a batch of 2, run before the peak-memory baseline: it loads the
#: code each framework loads on first use (torch: oneDNN's kernels; cnnlab: the compiled loops, from numba's
#: cache on disk, or compiled), which is not memory the steps of the case need (see the module docstring).
CODE_WARM_UP = {
    "lenet5 MNIST epoch, batch 64": train_steps(lenet, (2, 1, 28, 28), 10, 1),
    "lenet5 MNIST epoch, batch 256": train_steps(lenet, (2, 1, 28, 28), 10, 1),
    "vgg-style CIFAR step, 32x32, batch 64": train_steps(vgg_cifar, (2, 3, 32, 32), 10, 1),
    "resnet18 step, 64x64, batch 16": train_steps(resnet18_small, (2, 3, 64, 64), 10, 1),
    "lenet5 inference, batch 1000": inference(lenet, (2, 1, 28, 28), 1),
    "alexnet inference, 224x224, batch 8": inference(alexnet, (2, 3, 224, 224), 1),
}


def figure(unit, seconds, items):
    """The case's figure from the best run: time per epoch/step (lower is better) or images/s (higher)."""
    if unit == "s/epoch":
        return seconds
    if unit == "ms/step":
        return 1e3 * seconds / items
    return items / seconds


# ---------------------------------------------------------------- peak memory, in a fresh process each
def peak_memory_mb(name: str, lib: str, code: bool = True) -> float:
    """Growth of the peak RSS of a fresh process over its steps (see the module docstring), in MB; with
    `code` False, the code loaded on first use counts too."""
    code = (f"import sys; sys.path.insert(0, {sys.path[0]!r}); import networks as n; "
            f"print(n.measure_peak({name!r}, {lib!r}, {code!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def measure_peak(name: str, lib: str, code: bool = True) -> float:
    """In this (fresh) process: the case's model and data, with `code` its steps on a batch of 2 first
    (`CODE_WARM_UP`), then the peak resident set of two runs over what was resident before them
    (Linux: VmHWM, reset through /proc/self/clear_refs)."""
    from cnnlab import runtime

    runtime.keep_freed_memory(True)
    make, _, _ = CASES[name]
    if code:
        warm_up, _ = CODE_WARM_UP[name](lib)
        warm_up()
        del warm_up
    if name.startswith("lenet5 MNIST epoch"):           # a whole epoch is long: its steps are alike
        run, _ = train_steps(lenet, (int(name.rsplit(" ", 1)[1]), 1, 28, 28), 10, 20)(lib)
    else:
        run, _ = make(lib)
    with open("/proc/self/clear_refs", "w") as f:     # VmHWM := VmRSS
        f.write("5")
    before = _status_kb("VmRSS")
    run()
    run()
    return (_status_kb("VmHWM") - before) / 1024


# ---------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2,
                        help="turns of every case in each framework, each keeping its best (default 2)")
    parser.add_argument("--json", metavar="FILE", help="also write the results to this JSON file")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    args = common.parse_args(parser)
    import cnnlab

    facts = common.start(args)
    cases = {name: case for name, case in CASES.items() if args.filter in name}
    runs = {(name, lib): make(lib) for name, (make, _, _) in cases.items() for lib in ("cnnlab", "torch")}
    for (name, lib), (run, _) in runs.items():          # warm-up
        for _ in range(cases[name][2]):
            run()
    best = {key: math.inf for key in runs}
    for r in range(args.rounds):
        for name in cases:
            for lib in ("cnnlab", "torch"):
                run, _ = runs[(name, lib)]
                time.sleep(0.3)   # OpenMP threads (torch's, and numba's under cnnlab) spin for a while after
                start = common.clock()   # their last op, taking a core from whatever runs next
                run()
                best[(name, lib)] = min(best[(name, lib)], common.clock() - start)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    results = []
    print(f"{'case':40s} {'cnnlab':>10s} {'torch':>10s} {'unit':>9s} {'ratio':>6s} {'peak MB':>8s} {'torch':>7s}"
          f" {'+code':>7s} {'torch':>7s}")
    for name, (_, unit, _) in cases.items():
        ours, theirs = (figure(unit, best[(name, lib)], runs[(name, lib)][1]) for lib in ("cnnlab", "torch"))
        ratio = theirs / ours if unit == "images/s" else ours / theirs     # always cnnlab time / torch time
        memory = (None,) * 4 if args.no_memory else tuple(peak_memory_mb(name, lib, code)
                                                           for code in (True, False) for lib in ("cnnlab", "torch"))
        results.append({"case": name, "unit": unit, "cnnlab": ours, "torch": theirs, "ratio": ratio,
                        "cnnlab_peak_mb": memory[0], "torch_peak_mb": memory[1],
                        "cnnlab_peak_with_code_mb": memory[2], "torch_peak_with_code_mb": memory[3]})
        mem = "" if memory[0] is None else f" {memory[0]:8.1f} {memory[1]:7.1f} {memory[2]:7.1f} {memory[3]:7.1f}"
        print(f"{name:40s} {ours:10.2f} {theirs:10.2f} {unit:>9s} {ratio:6.2f}{mem}", flush=True)
    print("ratio: cnnlab's time over torch's (for images/s: torch's rate over cnnlab's)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": facts, "cnnlab_threads": cnnlab.get_num_threads(), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()
