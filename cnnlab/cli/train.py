"""`cnnlab train`, `eval`, `predict` and `demo`: training runs and what a checkpoint says of images (cnnlab.train)."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from cnnlab.cli.common import Formatter, checkpoint_flag, flag_names, invert_flag, model_input
from cnnlab.messages import counted

#: cnnlab eval of a super-resolution checkpoint lists each test image's PSNR when there are at most this many
PER_IMAGE = 20


def _train_flags(parser) -> None:
    from cnnlab.train import DEFAULT_PATTERN, MODEL_NAMES, OPTIMIZERS, SCHEDULES, TASKS, TrainConfig
    from cnnlab.train.tasks import all_datasets

    d = TrainConfig()
    # Every default is None here, so that `--resume` can tell a flag that was given from one that was not;
    # the defaults themselves live in TrainConfig and are shown in the help.
    g = parser.add_argument_group("model and data")
    g.add_argument("--task", choices=tuple(TASKS), metavar="NAME",
                   help="what the model learns: "
                        + "; ".join(f"{name} ({', '.join(task.datasets)})" for name, task in TASKS.items())
                        + f" (default: {d.task})")
    g.add_argument("--model", choices=MODEL_NAMES, metavar="NAME",
                   help=f"the network: {', '.join(MODEL_NAMES)}; 'pattern' builds the lecture's pattern with "
                        f"cnnlab.models.from_pattern (default: the task's: "
                        + ", ".join(f"{t.default_model} for {name}" for name, t in TASKS.items()) + ")")
    g.add_argument("--model-args", nargs="+", action="extend", metavar="KEY=VALUE",
                   help="keyword arguments of the model's constructor, each value read as JSON or else as text, "
                        "e.g. variant=classic, or for --model pattern: pattern='INPUT -> [CONV -> RELU -> POOL]*2 "
                        f"-> FC' widths=[32,64] fc_widths=[128] (pattern's default: '{DEFAULT_PATTERN}'); "
                        "the image size and number of classes come from the dataset (default: none)")
    g.add_argument("--dataset", choices=tuple(all_datasets()), metavar="NAME",
                   help="one of the task's datasets (see --task); MNIST is bundled, fashion-mnist and cifar10 need "
                        "--data-dir (default: the task's: "
                        + ", ".join(f"{t.default_dataset} for {name}" for name, t in TASKS.items()) + ")")
    g.add_argument("--scale", type=int, metavar="S",
                   help="--task super-resolution: the upscaling factor (default: 2 for that task; the other tasks "
                        "take none)")
    g.add_argument("--loss", metavar="NAME",
                   help="--task segment: ce (cross-entropy per pixel), dice (soft Dice, each class weighing alike) "
                        "or ce+dice (default: ce for that task; the other tasks take none)")
    g.add_argument("--data-dir", metavar="DIR",
                   help="folder of the dataset's files: the four IDX files (gzipped or not) for MNIST and "
                        "Fashion-MNIST, cifar-10-batches-bin/ for CIFAR-10 (default: the MNIST bundled with cnnlab)")
    g.add_argument("--download", action="store_const", const=True,
                   help="download missing dataset files into --data-dir and check their checksums (default: off)")
    g.add_argument("--augment", action=argparse.BooleanOptionalAction,
                   help="random augmentation of the training images: shifts of up to 10%%, turns of up to 10° and "
                        "scaling by 0.9-1.1 for 1-channel images; 4-pixel random crops and horizontal flips for "
                        "CIFAR-10; the 8 flips and quarter turns of super-resolution's patches of the skimage "
                        f"photographs (default: {'on' if d.augment else 'off'})")
    g.add_argument("--limit-train", type=int, metavar="N",
                   help="train on the first N training images only, for quick runs; for super-resolution on the "
                        "skimage photographs, N random patches an epoch (default: all; skimage: 49152 patches)")
    g.add_argument("--limit-test", type=int, metavar="N",
                   help="evaluate on the first N test images only (default: all)")
    g = parser.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, metavar="E", help=f"passes over the training images (default: {d.epochs})")
    g.add_argument("--batch-size", type=int, metavar="B", help=f"images per step (default: {d.batch_size})")
    g.add_argument("--optimizer", choices=OPTIMIZERS, metavar="NAME",
                   help=f"{', '.join(OPTIMIZERS)} (AdamW: Adam with decoupled weight decay) (default: {d.optimizer})")
    g.add_argument("--lr", type=float, metavar="LR",
                   help="learning rate; with --schedule onecycle its peak (default: 3e-3 for adam and adamw, "
                        "1e-3 for them with --task super-resolution, 0.05 for sgd)")
    g.add_argument("--momentum", type=float, metavar="M",
                   help="SGD's momentum, or Adam's and AdamW's beta1; with onecycle the momentum cycles between "
                        f"0.85 and M (default: {d.momentum})")
    g.add_argument("--weight-decay", type=float, metavar="WD",
                   help="weight decay (L2 for sgd and adam, decoupled for adamw) (default: 0.01 for adamw, "
                        "5e-4 for sgd, 0 for adam)")
    g.add_argument("--schedule", choices=SCHEDULES, metavar="NAME",
                   help="how the lr changes: none; step (x0.1 after each third of the epochs); cosine (down to 0 "
                        "over the epochs); onecycle (up to LR over the first 30%% of the steps, then down to "
                        f"LR/250000, per batch) (default: {d.schedule})")
    g.add_argument("--seed", type=int, metavar="S",
                   help="seeds the initial weights, the shuffling and the augmentation: the same seed gives the "
                        f"same numbers (default: {d.seed})")
    g = parser.add_argument_group("run")
    g.add_argument("--out", metavar="DIR",
                   help="the run folder: checkpoint.safetensors, metrics.json and curves.png are written there after "
                        "every epoch (default: runs/MODEL-DATASET, or runs/MODEL-DATASET-2, -3, ... when that "
                        "holds a run already)")
    g.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint, with its saved settings (flags that change "
                        "the computation must agree with them; --epochs must too) (default: off)")
    g.add_argument("--distributed", action="store_true",
                   help="data-parallel training over the ranks of mpirun/mpiexec -n W (needs the [distributed] "
                        "extra): each rank trains on B/W images of every batch of --batch-size B (a multiple of "
                        "W) and the gradients are averaged; each rank evaluates every W-th test image; only rank 0 "
                        "prints and writes --out; cnnlab's threads per rank are the machine's cores / its ranks; "
                        "--resume may use another W (default: off)")
    g.add_argument("--sync-batchnorm", action="store_const", const=True,
                   help="with --distributed, batch norm normalises with the statistics of the whole batch over "
                        "all ranks (SyncBatchNorm) instead of each rank's own share (default: off)")
    g.add_argument("--prefetch", type=int, metavar="N",
                   help=f"batches prepared ahead by a background thread; 0 for none (default: {d.prefetch})")
    g.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar, only one line per epoch (default: a tqdm bar when tqdm is installed "
                        "and stderr is a terminal, else a line every 10 seconds)")


def _given(args) -> dict:
    """The TrainConfig fields that were given on the command line."""
    from cnnlab.train import TrainConfig, parse_model_args

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if "model_args" in given:
        given["model_args"] = parse_model_args(given["model_args"])
    return given


def _train(args) -> int:
    from cnnlab import runtime
    from cnnlab.train import CHECKPOINT, TASKS, TrainConfig, read_run_config, train

    given = {**_given(args), "distributed": args.distributed}   # how this run is run, not taken from a resumed one
    task = TASKS[given.get("task", TrainConfig.task)]              # --task's choices are the tasks
    chosen = {"model": given.get("model", task.default_model),       # the task's, where not given
              "dataset": given.get("dataset", task.default_dataset)}
    if args.resume:
        out = Path(args.out or f"runs/{chosen['model']}-{chosen['dataset']}")
        if not (out / CHECKPOINT).is_file():
            raise FileNotFoundError(f"--resume: there is no checkpoint to resume from at {out / CHECKPOINT}")
        config = dataclasses.replace(read_run_config(out), **{**given, "out": str(out)})
    else:
        config = TrainConfig(**{**given, **chosen}).resolved()
        if args.out is None:
            stem, k = f"runs/{config.model}-{config.dataset}", 1
            while Path(stem if k == 1 else f"{stem}-{k}", CHECKPOINT).exists():
                k += 1
            config.out = stem if k == 1 else f"{stem}-{k}"
        elif (Path(args.out) / CHECKPOINT).exists():
            raise ValueError(f"{args.out} holds a run already ({CHECKPOINT}); pass --resume to continue it, "
                             "or choose another --out")
    runtime.keep_freed_memory(True)   # this process is the run's own: let malloc reuse the steps' freed arrays
    try:
        train(config, resume=args.resume, progress=args.progress)
    except KeyboardInterrupt:
        print(f"\ninterrupted: {config.out} holds the checkpoint of the last finished epoch; continue with "
              f"cnnlab train --resume --out {config.out}", file=sys.stderr)
        return 130
    return 0


def _eval(args) -> int:
    from cnnlab.data import DataLoader
    from cnnlab.train import (TASKS, build_datasets, evaluate, format_confusion_matrix, load_checkpoint,
                              model_from_checkpoint)

    ckpt = load_checkpoint(args.checkpoint)
    model, trained_on = model_from_checkpoint(ckpt)
    config = ckpt["config"]
    task = TASKS[config.task].configured(config)
    dataset = args.dataset or config.dataset
    if dataset not in task.datasets:
        raise ValueError(f"--dataset {dataset} is not a dataset of the task {task.name} the model was trained for "
                         f"(its datasets: {', '.join(task.datasets)})")
    info = task.datasets[dataset]
    if (info.in_channels, info.input_size, info.num_classes) != (
            trained_on.in_channels, trained_on.input_size, trained_on.num_classes):
        def shape(d):
            classes = f", {counted(d.num_classes, 'class', 'classes')}" if d.num_classes else ""
            return f"{d.in_channels}×{d.input_size}×{d.input_size}{classes}"
        raise ValueError(f"the model was trained on {trained_on.name} ({shape(trained_on)}) and can't be tested on "
                         f"--dataset {dataset} ({shape(info)})")
    data_dir = args.data_dir if args.data_dir is not None else (config.data_dir if dataset == config.dataset else None)
    test_config = dataclasses.replace(config, dataset=dataset, data_dir=data_dir, download=args.download,
                                      augment=False, limit_test=args.limit_test, eval_batch_size=args.eval_batch_size)
    test_config.validate()
    _, test_set, info = build_datasets(test_config, train=False)
    loader = DataLoader(test_set, batch_size=task.eval_batch_size(test_set, test_config))
    trained = f"{config.model} trained on {config.dataset} for {counted(ckpt['epoch'], 'epoch')}"
    if config.task != "classify":
        result = evaluate(model, loader, task, meter=task.meter(info, test_config))
        print(f"{ckpt['path']}: {trained} (task {task.name})")
        print("  ".join([f"test loss {result['loss']:.4f}"]
                        + [f"test {task.describe(m)} {task.format(m, result[m])}" for m in task.metrics])
              + f" ({result['images']} {dataset} test images)")
        for line in task.report(result["totals"], info):
            print(line)
        if task.name == "super-resolution" and len(test_set) <= PER_IMAGE:
            from cnnlab.apps.superres import evaluate as per_image

            print(f"PSNR per image (dB): {'bicubic':>8s} {config.model:>8s}")
            for row in per_image(model, test_set):
                print(f"  {row['name']:<16s} {row['bicubic']:8.2f} {row['model']:8.2f}  "
                      f"{row['model'] - row['bicubic']:+.2f}")
        return 0
    result = evaluate(model, loader, num_classes=info.num_classes)
    correct = int(result["confusion_matrix"].trace())
    print(f"{ckpt['path']}: {trained}")
    print(f"test loss {result['loss']:.4f}  test accuracy {result['acc']:.2%} ({correct}/{result['images']} "
          f"{dataset} test images)")
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(format_confusion_matrix(result["confusion_matrix"], info.classes))
    return 0


def _predict(args) -> int:
    import numpy as np

    from cnnlab.train import load_checkpoint, model_from_checkpoint, predict

    ckpt = load_checkpoint(args.checkpoint)
    if ckpt["config"].task != "classify":
        raise ValueError(f"--checkpoint {ckpt['path']} was trained for the task {ckpt['config'].task}; predict "
                         "takes classification checkpoints (--task classify)")
    model, info = model_from_checkpoint(ckpt)
    if not 1 <= args.top_k <= info.num_classes:
        raise ValueError(f"--top-k must be in [1, {info.num_classes}] (the number of classes), got {args.top_k}")
    images = np.stack([model_input(path, info, args.invert)[1] for path in args.images])  # (N, C, H, W)
    for path, top in zip(args.images, predict(model, images, args.top_k)):
        print(path)
        for rank, (k, p) in enumerate(top, 1):
            print(f"  {rank}. {info.classes[k]:<24} {p:8.2%}")
    return 0


def _demo(args) -> int:
    from cnnlab.demo import mnist_mlp

    metrics = mnist_mlp(epochs=args.epochs, hidden=args.hidden, batch_size=args.batch_size, lr=args.lr,
                        seed=args.seed, data_dir=args.data_dir)
    print(f"test accuracy: {100 * metrics['test_acc']:.2f}% on the 10,000 MNIST test images")
    return 0


def add_parsers(sub) -> None:
    train = sub.add_parser(
        "train", help="train a model (default: LeNet-5 on the bundled MNIST) and print its test accuracy",
        formatter_class=Formatter,
        description="Train a model on a dataset, evaluating it on the test set after every epoch. After every epoch\n"
                    "the run folder (--out) gets checkpoint.safetensors (for --resume, eval and predict),\n"
                    "metrics.json and curves.png (loss and accuracy curves, with matplotlib), each written\n"
                    "atomically. With no flags: LeNet-5 on the bundled MNIST, AdamW with a one-cycle schedule.",
        epilog="examples:\n"
               "  cnnlab train                                   # LeNet-5 on MNIST, >= 99% in 10 epochs\n"
               "  cnnlab train --epochs 1 --limit-train 2000     # a quick look\n"
               "  cnnlab train --resume --out runs/lenet5-mnist  # continue a stopped run\n"
               "  cnnlab train --model pattern --augment --epochs 15  # conv-BN-ReLU-pool x2, > 99.4% on MNIST\n"
               "  cnnlab train --model lenet5 --model-args variant=classic --optimizer sgd --schedule cosine\n"
               "  mpirun -n 2 cnnlab train --distributed        # 2 processes, 32 images each of every batch of 64\n")
    _train_flags(train)
    train.set_defaults(run=_train)

    ev = sub.add_parser("eval", help="test loss and metrics (classify: accuracy and confusion matrix) of a checkpoint",
                        formatter_class=Formatter,
                        description="Evaluate a checkpoint written by `cnnlab train` on its dataset's test set\n"
                                    "and print the loss and the metrics of its task (classify: the accuracy and\n"
                                    "the confusion matrix).")
    checkpoint_flag(ev)
    ev.add_argument("--dataset", metavar="NAME",
                    help="test on another dataset of the task with the same image size and classes (default: the one "
                         "trained on)")
    ev.add_argument("--data-dir", metavar="DIR", help="folder of the dataset's files (default: the one trained on)")
    ev.add_argument("--download", action="store_true",
                    help="download missing dataset files into --data-dir and check their checksums (default: off)")
    ev.add_argument("--batch-size", dest="eval_batch_size", type=int, default=1000, metavar="B",
                    help="images per forward pass (default: 1000)")
    ev.add_argument("--limit-test", type=int, metavar="N", help="use the first N test images only (default: all)")
    ev.set_defaults(run=_eval)

    pr = sub.add_parser(
        "predict", help="the most probable classes of image files, by a trained checkpoint",
        formatter_class=Formatter,
        description="Classify image files with a checkpoint written by `cnnlab train`. Each image is read with\n"
                    "Pillow, converted to grayscale (1-channel models) or RGB (3-channel models), resized to the\n"
                    "model's input size (bilinear, aspect ratio ignored), scaled to [0, 1] and normalised with the\n"
                    "training set's mean and std, as in training. MNIST's and Fashion-MNIST's images are light\n"
                    "on dark: by default an image with a mostly light border is inverted first, with a note\n"
                    "saying so (--invert: always, --no-invert: never).")
    pr.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ... anything Pillow reads)")
    checkpoint_flag(pr)
    pr.add_argument("--top-k", type=int, default=3, metavar="K", help="classes to show per image (default: 3)")
    invert_flag(pr)
    pr.set_defaults(run=_predict)

    demo = sub.add_parser("demo", help="train a two-layer perceptron on the bundled MNIST and print test accuracy",
                          formatter_class=Formatter,
                          description="Train 784 -> hidden -> ReLU -> 10 with Adam on MNIST (bundled, offline).")
    demo.add_argument("--epochs", type=int, default=3, help="passes over the 60,000 training images (default 3)")
    demo.add_argument("--hidden", type=int, default=256, help="width of the hidden layer (default 256)")
    demo.add_argument("--batch-size", type=int, default=128, help="images per step (default 128)")
    demo.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    demo.add_argument("--seed", type=int, default=0, help="seed for init and shuffling (default 0)")
    demo.add_argument("--data-dir", default=None,
                      help="folder with the four MNIST IDX files (default: the copy bundled with cnnlab)")
    demo.set_defaults(run=_demo)
    for command in (train, ev, pr, demo):
        command.set_defaults(flags=flag_names(command))
