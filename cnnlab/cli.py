"""The `cnnlab` command. Wiring only: the work is done by the library (`cnnlab.train`, `cnnlab.demo`).

    cnnlab train     train a model on a dataset, writing runs/NAME/ (checkpoint, metrics.json, curves.png)
    cnnlab eval      test loss, accuracy and confusion matrix of a checkpoint
    cnnlab predict   the top-k classes of image files
    cnnlab demo      a two-layer perceptron on MNIST, the whole loop on one screen
    cnnlab export    a checkpoint's weights for PyTorch (torch.save's format, or safetensors)
    cnnlab import    a PyTorch weights file (.pt/.pth, safetensors) as a checkpoint of a zoo model
    cnnlab retrieve  image retrieval with a checkpoint's features: mAP on the test set, or an image's neighbours

`cnnlab train` turns on `cnnlab.runtime.keep_freed_memory` for its own process
(glibc's malloc then reuses freed arrays instead of faulting in new pages); the
library never does that by itself.

User errors (a value out of range, an unknown name, a missing folder or file, a
foreign checkpoint) end with one line ``cnnlab CMD: error: ...`` that names the
flag, and exit status 2; ``cnnlab --traceback CMD ...`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from cnnlab.data import DownloadError
from cnnlab.messages import SettingError, counted
from cnnlab.train.inference import MissingExtraError

#: exceptions that carry a message for the user: validation, missing files, a folder given for a file, unreadable
#: checkpoints, a failed download, a missing optional dependency. Anything else is a bug and shows its traceback.
USER_ERRORS = (ValueError, FileNotFoundError, IsADirectoryError, DownloadError, MissingExtraError)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line: ``cnnlab train: error: argument --model: invalid choice ...``."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=32)


# ---------------------------------------------------------------- train
def _train_flags(parser) -> None:
    from cnnlab.train import DATASETS, DEFAULT_PATTERN, MODEL_NAMES, OPTIMIZERS, SCHEDULES, TrainConfig

    d = TrainConfig()
    # Every default is None here, so that `--resume` can tell a flag that was given from one that was not;
    # the defaults themselves live in TrainConfig and are shown in the help.
    g = parser.add_argument_group("model and data")
    g.add_argument("--model", choices=MODEL_NAMES, metavar="NAME",
                   help=f"the network: {', '.join(MODEL_NAMES)}; 'pattern' builds the lecture's pattern with "
                        f"cnnlab.models.from_pattern (default: {d.model})")
    g.add_argument("--model-args", nargs="+", action="extend", metavar="KEY=VALUE",
                   help="keyword arguments of the model's constructor, each value read as JSON or else as text, "
                        "e.g. variant=classic, or for --model pattern: pattern='INPUT -> [CONV -> RELU -> POOL]*2 "
                        f"-> FC' widths=[32,64] fc_widths=[128] (pattern's default: '{DEFAULT_PATTERN}'); "
                        "the image size and number of classes come from the dataset (default: none)")
    g.add_argument("--dataset", choices=tuple(DATASETS), metavar="NAME",
                   help=f"{', '.join(DATASETS)}; MNIST is bundled, the others need --data-dir (default: {d.dataset})")
    g.add_argument("--data-dir", metavar="DIR",
                   help="folder of the dataset's files: the four IDX files (gzipped or not) for MNIST and "
                        "Fashion-MNIST, cifar-10-batches-bin/ for CIFAR-10 (default: the MNIST bundled with cnnlab)")
    g.add_argument("--download", action="store_const", const=True,
                   help="download missing dataset files into --data-dir and check their checksums (default: off)")
    g.add_argument("--augment", action=argparse.BooleanOptionalAction,
                   help="random augmentation of the training images: shifts of up to 10%%, turns of up to 10° and "
                        "scaling by 0.9-1.1 for 1-channel images; 4-pixel random crops and horizontal flips for "
                        f"CIFAR-10 (default: {'on' if d.augment else 'off'})")
    g.add_argument("--limit-train", type=int, metavar="N",
                   help="train on the first N training images only, for quick runs (default: all)")
    g.add_argument("--limit-test", type=int, metavar="N",
                   help="evaluate on the first N test images only (default: all)")
    g = parser.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, metavar="E", help=f"passes over the training images (default: {d.epochs})")
    g.add_argument("--batch-size", type=int, metavar="B", help=f"images per step (default: {d.batch_size})")
    g.add_argument("--optimizer", choices=OPTIMIZERS, metavar="NAME",
                   help=f"{', '.join(OPTIMIZERS)} (AdamW: Adam with decoupled weight decay) (default: {d.optimizer})")
    g.add_argument("--lr", type=float, metavar="LR",
                   help="learning rate; with --schedule onecycle its peak (default: 3e-3 for adam and adamw, "
                        "0.05 for sgd)")
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
    from cnnlab.train import CHECKPOINT, TrainConfig, read_run_config, train

    given = {**_given(args), "distributed": args.distributed}   # how this run is run, not taken from a resumed one
    if args.resume:
        base = TrainConfig(**{k: v for k, v in given.items() if k in ("model", "dataset")})
        out = Path(args.out or f"runs/{base.model}-{base.dataset}")
        if not (out / CHECKPOINT).is_file():
            raise FileNotFoundError(f"--resume: there is no checkpoint to resume from at {out / CHECKPOINT}")
        config = dataclasses.replace(read_run_config(out), **{**given, "out": str(out)})
    else:
        config = TrainConfig(**given).resolved()
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


# ---------------------------------------------------------------- eval and predict
def _eval(args) -> int:
    from cnnlab.data import DataLoader
    from cnnlab.train import (DATASETS, build_datasets, evaluate, format_confusion_matrix, load_checkpoint,
                              model_from_checkpoint)

    ckpt = load_checkpoint(args.checkpoint)
    model, trained_on = model_from_checkpoint(ckpt)
    config = ckpt["config"]
    dataset = args.dataset or config.dataset
    info = DATASETS[dataset]
    if (info.in_channels, info.input_size, info.num_classes) != (
            trained_on.in_channels, trained_on.input_size, trained_on.num_classes):
        def shape(d):
            return f"{d.in_channels}×{d.input_size}×{d.input_size}, {counted(d.num_classes, 'class', 'classes')}"
        raise ValueError(f"the model was trained on {trained_on.name} ({shape(trained_on)}) and can't be tested on "
                         f"--dataset {dataset} ({shape(info)})")
    data_dir = args.data_dir if args.data_dir is not None else (config.data_dir if dataset == config.dataset else None)
    test_config = dataclasses.replace(config, dataset=dataset, data_dir=data_dir, download=args.download,
                                      augment=False, limit_test=args.limit_test, eval_batch_size=args.eval_batch_size)
    test_config.validate()
    _, test_set, info = build_datasets(test_config, train=False)
    result = evaluate(model, DataLoader(test_set, batch_size=test_config.eval_batch_size),
                      num_classes=info.num_classes)
    correct = int(result["confusion_matrix"].trace())
    print(f"{ckpt['path']}: {config.model} trained on {config.dataset} for {counted(ckpt['epoch'], 'epoch')}")
    print(f"test loss {result['loss']:.4f}  test accuracy {result['acc']:.2%} ({correct}/{result['images']} "
          f"{dataset} test images)")
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(format_confusion_matrix(result["confusion_matrix"], info.classes))
    return 0


def _predict(args) -> int:
    import numpy as np

    from cnnlab.train import light_border, load_checkpoint, model_from_checkpoint, predict, preprocess, read_image

    ckpt = load_checkpoint(args.checkpoint)
    model, info = model_from_checkpoint(ckpt)
    if not 1 <= args.top_k <= info.num_classes:
        raise ValueError(f"--top-k must be in [1, {info.num_classes}] (the number of classes), got {args.top_k}")
    images = []
    for path in args.images:
        pixels = read_image(path, info.in_channels, info.input_size)  # uint8 (H, W) or (H, W, 3)
        invert = args.invert
        if invert is None:  # neither --invert nor --no-invert: look at the image
            invert = info.light_on_dark and light_border(pixels)
            if invert:
                print(f"note: {path} has a light background, unlike {info.name}'s light-on-dark images: inverted "
                      "it (--no-invert keeps it as it is)", file=sys.stderr)
        images.append(preprocess(pixels, info.mean, info.std, invert))
    images = np.stack(images)  # (N, C, H, W)
    for path, top in zip(args.images, predict(model, images, args.top_k)):
        print(path)
        for rank, (k, p) in enumerate(top, 1):
            print(f"  {rank}. {info.classes[k]:<24} {p:8.2%}")
    return 0


# ---------------------------------------------------------------- demo
def _demo(args) -> int:
    from cnnlab.demo import mnist_mlp

    metrics = mnist_mlp(epochs=args.epochs, hidden=args.hidden, batch_size=args.batch_size, lr=args.lr,
                        seed=args.seed, data_dir=args.data_dir)
    print(f"test accuracy: {100 * metrics['test_acc']:.2f}% on the 10,000 MNIST test images")
    return 0


# ---------------------------------------------------------------- export and import
EXPORT_FORMATS = ("torch", "safetensors")


def _export(args) -> int:
    from cnnlab.io import save_torch, save_torch_compatible
    from cnnlab.train import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    model, _ = model_from_checkpoint(ckpt)
    if args.format == "torch":
        save_torch(model.state_dict(), args.out)
    else:
        save_torch_compatible(model, args.out)
    print(f"wrote {args.out}: {counted(len(model.state_dict()), 'tensor')} of {ckpt['config'].model} "
          f"({args.format} format, PyTorch's names)")
    return 0


def _add_export_parser(sub):
    ex = sub.add_parser("export", help="a checkpoint's weights for PyTorch: torch.save's format or safetensors",
                        formatter_class=_Formatter,
                        description="Write the weights of a checkpoint of `cnnlab train` with PyTorch's state-dict\n"
                                    "names and dtypes, for the twin PyTorch model's load_state_dict. Written\n"
                                    "without torch, atomically.",
                        epilog="examples:\n"
                               "  cnnlab export --checkpoint runs/lenet5-mnist --format torch --out lenet5.pt\n"
                               "  cnnlab export --checkpoint runs/lenet5-mnist --format safetensors --out lenet5.safetensors\n")
    ex.add_argument("--checkpoint", required=True, metavar="PATH",
                    help="a checkpoint.safetensors written by cnnlab train, or its run folder")
    ex.add_argument("--format", required=True, choices=EXPORT_FORMATS,
                    help="torch: a torch.save file (torch.load reads it, weights_only too); safetensors: "
                         "for safetensors.torch.load_file")
    ex.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    ex.set_defaults(run=_export)
    return ex


def _import(args) -> int:
    from cnnlab.train import TrainConfig, import_weights, parse_model_args

    config = TrainConfig(model=args.model, model_args=parse_model_args(args.model_args), dataset=args.dataset)
    path = import_weights(args.file, args.out, config, key=args.key)
    print(f"wrote {path}: {args.model} for {args.dataset} with the weights of {args.file} "
          "(for cnnlab eval, predict and train --resume)")
    return 0


def _add_import_parser(sub):
    from cnnlab.train import DATASETS, MODEL_NAMES

    im = sub.add_parser("import", help="a PyTorch weights file (.pt/.pth or safetensors) as a checkpoint of a zoo model",
                        formatter_class=_Formatter,
                        description="Read a torch.save file (without torch: its pickle may hold only tensors,\n"
                                    "containers and numbers) or a safetensors file, load it strictly into a zoo\n"
                                    "model built for a dataset, and write a checkpoint that cnnlab eval, predict\n"
                                    "and train --resume accept.",
                        epilog="example:\n"
                               "  cnnlab import lenet5.pt --model lenet5 --out runs/imported/checkpoint.safetensors\n")
    im.add_argument("file", metavar="FILE", help="a .pt/.pth file of torch.save, or a safetensors file")
    im.add_argument("--model", required=True, choices=MODEL_NAMES, metavar="NAME",
                    help=f"the zoo model the weights are for: {', '.join(MODEL_NAMES)}")
    im.add_argument("--model-args", nargs="+", action="extend", metavar="KEY=VALUE",
                    help="keyword arguments of the model's constructor, as for cnnlab train (default: none)")
    im.add_argument("--dataset", choices=tuple(DATASETS), default="mnist", metavar="NAME",
                    help="the dataset whose channels, image size and classes the model is built for "
                         f"({', '.join(DATASETS)}; default: mnist)")
    im.add_argument("--key", metavar="KEY",
                    help="the entry of a nested checkpoint that holds the state dict, e.g. model or state_dict "
                         "(dotted for deeper ones; default: the file holds the state dict itself)")
    im.add_argument("--out", required=True, metavar="CHECKPOINT", help="the checkpoint file to write")
    im.set_defaults(run=_import)
    return im


# ---------------------------------------------------------------- retrieve
def _model_input(path, info, invert):
    """(the pixels as the model sees them, uint8 (H, W) or (H, W, 3); the preprocessed float32 (C, H, W)) of
    one image file, read as `predict` reads it: --invert, --no-invert, or (None) inverted when its border is
    light and the model was trained on light-on-dark images, with a note on stderr."""
    from cnnlab.train import light_border, preprocess, read_image

    pixels = read_image(path, info.in_channels, info.input_size)  # uint8 (H, W) or (H, W, 3)
    if invert is None:  # neither --invert nor --no-invert: look at the image
        invert = info.light_on_dark and light_border(pixels)
        if invert:
            print(f"note: {path} has a light background, unlike {info.name}'s light-on-dark images: inverted "
                  "it (--no-invert keeps it as it is)", file=sys.stderr)
    return (255 - pixels if invert else pixels), preprocess(pixels, info.mean, info.std, invert)


def _retrieve(args) -> int:
    import numpy as np

    from cnnlab.apps import retrieval
    from cnnlab.train import dataset_arrays, load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    model, info = model_from_checkpoint(ckpt)
    config = ckpt["config"]
    if (args.images == []) == (not args.evaluate):
        raise ValueError("give image files to search for, or --evaluate (not both)")
    if args.evaluate and args.out is not None:
        raise ValueError("--out is for the neighbours of image files, not for --evaluate")
    layer = args.layer if args.layer is not None else retrieval.default_layer(model)
    raw_gallery, gallery_images, gallery_labels = dataset_arrays(config, train=True, limit=args.limit_gallery)
    gallery = retrieval.embed(model, gallery_images, args.layer)
    if not 1 <= args.k <= len(gallery):
        raise ValueError(f"--k must be in [1, {len(gallery)}] (the gallery's size), got {args.k}")
    what = f"layer {layer!r}'s {'output' if args.layer else 'input'} ({gallery.shape[1]} values)"
    if args.evaluate:
        raw_queries, query_images, query_labels = dataset_arrays(config, train=False, limit=args.limit_queries)
        rows = [("features", retrieval.evaluate(retrieval.embed(model, query_images, args.layer), query_labels,
                                                gallery, gallery_labels, k=args.k)),
                ("raw pixels", retrieval.evaluate(retrieval.normalize(raw_queries), query_labels,
                                                  retrieval.normalize(raw_gallery), gallery_labels, k=args.k))]
        print(f"{config.model} trained on {config.dataset}, features: {what}; {len(query_labels)} test images "
              f"as queries against {len(gallery_labels)} training images")
        print(f"{'':12s} {'mAP':>7s} {f'precision@{args.k}':>14s} {f'recall@{args.k}':>11s}")
        for name, r in rows:
            print(f"{name:12s} {r['map']:7.4f} {r['precision_at_k']:14.4f} {r['recall_at_k']:11.4f}")
        return 0
    read = [_model_input(path, info, args.invert) for path in args.images]      # (pixels, model input) each
    index, score = retrieval.search(retrieval.embed(model, np.stack([x for _, x in read]), args.layer), gallery,
                                    k=args.k)
    for path, row, sims in zip(args.images, index, score):
        print(f"{path}: the {counted(args.k, 'nearest training image')} by {what}:")
        for i, s in zip(row, sims):
            print(f"  #{i:<6d} {info.classes[gallery_labels[i]]:<24} similarity {s:.4f}")
    if args.out is not None:
        retrieval.save_neighbours([pixels for pixels, _ in read], raw_gallery, index, args.out)
        print(f"wrote {args.out}: each query (left) and its neighbours, most similar first")
    return 0


def _add_retrieve_parser(sub):
    rt = sub.add_parser("retrieve", help="image retrieval with a checkpoint's features",
                        formatter_class=_Formatter,
                        description="Search the training images of a checkpoint's dataset by cosine similarity of\n"
                                    "the model's features (by default the input of its last linear layer, L2-\n"
                                    "normalised): with --evaluate, mAP, precision@k and recall@k of the test\n"
                                    "images as queries, beside the same search on raw pixels; with image files,\n"
                                    "their k nearest training images (and, with --out, a picture of them).",
                        epilog="examples:\n"
                               "  cnnlab retrieve --checkpoint runs/lenet5-mnist --evaluate\n"
                               "  cnnlab retrieve --checkpoint runs/lenet5-mnist digit.png --k 10 --out neighbours.png\n")
    rt.add_argument("images", nargs="*", metavar="IMAGE", help="image files to search for (PNG, JPEG, ...)")
    rt.add_argument("--checkpoint", required=True, metavar="PATH",
                    help="a checkpoint.safetensors written by cnnlab train, or its run folder")
    rt.add_argument("--evaluate", action="store_true",
                    help="score the search with the test images as queries (mAP, precision@k, recall@k)")
    rt.add_argument("--k", type=int, default=10, metavar="K", help="neighbours per query, and the cut-off of "
                                                                    "precision@k and recall@k (default: 10)")
    rt.add_argument("--layer", metavar="NAME", help="the layer whose output is the feature, by its name in "
                                                     "named_modules() (default: the input of the last linear layer)")
    rt.add_argument("--out", metavar="PNG", help="write the queries and their neighbours as a picture (with Pillow)")
    rt.add_argument("--limit-queries", type=int, metavar="N", help="use the first N test images only (default: all)")
    rt.add_argument("--limit-gallery", type=int, metavar="N",
                    help="search the first N training images only (default: all)")
    rt.add_argument("--invert", action=argparse.BooleanOptionalAction,
                    help="invert the gray levels of the image files first, as predict does (default: invert an "
                         "image with a mostly light border, for a model trained on light-on-dark digits)")
    rt.set_defaults(run=_retrieve)
    return rt


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cnnlab", description="cnnlab: a CNN system you can read end to end.",
                     formatter_class=_Formatter)
    parser.add_argument("--traceback", action="store_true",
                        help="on an error, show the whole traceback instead of a one-line message")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser(
        "train", help="train a model (default: LeNet-5 on the bundled MNIST) and print its test accuracy",
        formatter_class=_Formatter,
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

    ev = sub.add_parser("eval", help="test loss, accuracy and confusion matrix of a trained checkpoint",
                        formatter_class=_Formatter,
                        description="Evaluate a checkpoint written by `cnnlab train` on its dataset's test set\n"
                                    "and print the loss, the accuracy and the confusion matrix.")
    ev.add_argument("--checkpoint", required=True, metavar="PATH",
                    help="a checkpoint.safetensors written by cnnlab train, or its run folder")
    ev.add_argument("--dataset", choices=("mnist", "fashion-mnist", "cifar10"), metavar="NAME",
                    help="test on another dataset with the same image size and classes (default: the one trained on)")
    ev.add_argument("--data-dir", metavar="DIR", help="folder of the dataset's files (default: the one trained on)")
    ev.add_argument("--download", action="store_true",
                    help="download missing dataset files into --data-dir and check their checksums (default: off)")
    ev.add_argument("--batch-size", dest="eval_batch_size", type=int, default=1000, metavar="B",
                    help="images per forward pass (default: 1000)")
    ev.add_argument("--limit-test", type=int, metavar="N", help="use the first N test images only (default: all)")
    ev.set_defaults(run=_eval)

    pr = sub.add_parser(
        "predict", help="the most probable classes of image files, by a trained checkpoint",
        formatter_class=_Formatter,
        description="Classify image files with a checkpoint written by `cnnlab train`. Each image is read with\n"
                    "Pillow, converted to grayscale (1-channel models) or RGB (3-channel models), resized to the\n"
                    "model's input size (bilinear, aspect ratio ignored), scaled to [0, 1] and normalised with the\n"
                    "training set's mean and std, as in training. MNIST's and Fashion-MNIST's images are light\n"
                    "on dark: by default an image with a mostly light border is inverted first, with a note\n"
                    "saying so (--invert: always, --no-invert: never).")
    pr.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ... anything Pillow reads)")
    pr.add_argument("--checkpoint", required=True, metavar="PATH",
                    help="a checkpoint.safetensors written by cnnlab train, or its run folder")
    pr.add_argument("--top-k", type=int, default=3, metavar="K", help="classes to show per image (default: 3)")
    pr.add_argument("--invert", action=argparse.BooleanOptionalAction,
                    help="invert the gray levels first (dark digits on white paper -> MNIST's white on black); "
                         "--no-invert never does (default: invert an image whose border is mostly light, for a "
                         "model trained on MNIST or Fashion-MNIST, with a note saying so)")
    pr.set_defaults(run=_predict)

    demo = sub.add_parser("demo", help="train a two-layer perceptron on the bundled MNIST and print test accuracy",
                          formatter_class=_Formatter,
                          description="Train 784 -> hidden -> ReLU -> 10 with Adam on MNIST (bundled, offline).")
    demo.add_argument("--epochs", type=int, default=3, help="passes over the 60,000 training images (default 3)")
    demo.add_argument("--hidden", type=int, default=256, help="width of the hidden layer (default 256)")
    demo.add_argument("--batch-size", type=int, default=128, help="images per step (default 128)")
    demo.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    demo.add_argument("--seed", type=int, default=0, help="seed for init and shuffling (default 0)")
    demo.add_argument("--data-dir", default=None,
                      help="folder with the four MNIST IDX files (default: the copy bundled with cnnlab)")
    demo.set_defaults(run=_demo)
    ex = _add_export_parser(sub)
    im = _add_import_parser(sub)
    rt = _add_retrieve_parser(sub)
    for command in (train, ev, pr, demo, ex, im, rt):  # SettingErrors name the flag of their setting (see main)
        command.set_defaults(flags={a.dest: a.option_strings[-1] for a in command._actions if a.option_strings})
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except USER_ERRORS as e:
        if args.traceback:
            raise
        message = e.with_flags(args.flags) if isinstance(e, SettingError) else str(e)
        message = " ".join(message.split())  # one line, whatever the message
        message = message.removeprefix(f"{args.command}: ")  # "cnnlab train: error: train: ..." says it twice
        print(f"cnnlab {args.command}: error: {message}", file=sys.stderr)
        return 2

if __name__ == "__main__":
    sys.exit(main())
