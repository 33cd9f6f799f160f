"""The `cnnlab` command. Wiring only: the work is done by the library (`cnnlab.train`, `cnnlab.demo`, `cnnlab.viz`).

    cnnlab train     train a model on a dataset, writing runs/NAME/ (checkpoint, metrics.json, curves.png)
    cnnlab eval      test loss, accuracy and confusion matrix of a checkpoint
    cnnlab predict   the top-k classes of image files
    cnnlab demo      a two-layer perceptron on MNIST, the whole loop on one screen
    cnnlab export    a checkpoint's weights for PyTorch (torch.save's format, safetensors) or its model as ONNX
    cnnlab import    a weights file (.pt/.pth, safetensors, .onnx) as a checkpoint of a zoo model
    cnnlab retrieve  image retrieval with a checkpoint's features: mAP on the test set, or an image's neighbours
    cnnlab cam       CAM, Grad-CAM or saliency of a class in an image, as a PNG (cnnlab.viz)
    cnnlab features  the feature maps of every conv layer for one image, one PNG per layer
    cnnlab filters   the first conv layer's filters as a grid, as a PNG
    cnnlab explain   one conv or pooling output element term by term, or an output size (cnnlab.explain)
    cnnlab summary   a model's layers: shapes, parameters, MACs, receptive fields (`cnnlab.summary`)

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


def _invert_flag(parser) -> None:
    parser.add_argument("--invert", action=argparse.BooleanOptionalAction,
                        help="invert the gray levels first (dark digits on white paper -> MNIST's white on black); "
                             "--no-invert never does (default: invert an image whose border is mostly light, for a "
                             "model trained on MNIST or Fashion-MNIST, with a note saying so)")


def _predict(args) -> int:
    import numpy as np

    from cnnlab.train import load_checkpoint, model_from_checkpoint, predict

    ckpt = load_checkpoint(args.checkpoint)
    model, info = model_from_checkpoint(ckpt)
    if not 1 <= args.top_k <= info.num_classes:
        raise ValueError(f"--top-k must be in [1, {info.num_classes}] (the number of classes), got {args.top_k}")
    images = np.stack([_model_input(path, info, args.invert)[1] for path in args.images])  # (N, C, H, W)
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
EXPORT_FORMATS = ("torch", "safetensors", "onnx")


def _export(args) -> int:
    from cnnlab.io import save_torch, save_torch_compatible
    from cnnlab.train import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(args.checkpoint)
    model, info = model_from_checkpoint(ckpt)
    if args.format == "onnx":
        import cnnlab.onnx
        from cnnlab import zeros

        cnnlab.onnx.export(model, zeros(1, info.in_channels, info.input_size, info.input_size), args.out)
        print(f"wrote {args.out}: {ckpt['config'].model} as ONNX (input 'input' of (N, {info.in_channels}, "
              f"{info.input_size}, {info.input_size}), output 'output'; the weights under PyTorch's names)")
        return 0
    if args.format == "torch":
        save_torch(model.state_dict(), args.out)
    else:
        save_torch_compatible(model, args.out)
    print(f"wrote {args.out}: {counted(len(model.state_dict()), 'tensor')} of {ckpt['config'].model} "
          f"({args.format} format, PyTorch's names)")
    return 0


def _add_export_parser(sub):
    ex = sub.add_parser("export", help="a checkpoint's model for PyTorch (torch.save's format, safetensors) or ONNX",
                        formatter_class=_Formatter,
                        description="Write the weights of a checkpoint of `cnnlab train` with PyTorch's state-dict\n"
                                    "names and dtypes, for the twin PyTorch model's load_state_dict (written\n"
                                    "without torch), or the whole model as an ONNX file (the [onnx] extra).\n"
                                    "Written atomically.",
                        epilog="examples:\n"
                               "  cnnlab export --checkpoint runs/lenet5-mnist --format torch --out lenet5.pt\n"
                               "  cnnlab export --checkpoint runs/lenet5-mnist --format safetensors --out lenet5.safetensors\n"
                               "  cnnlab export --checkpoint runs/lenet5-mnist --format onnx --out lenet5.onnx\n")
    ex.add_argument("--checkpoint", required=True, metavar="PATH",
                    help="a checkpoint.safetensors written by cnnlab train, or its run folder")
    ex.add_argument("--format", required=True, choices=EXPORT_FORMATS,
                    help="torch: a torch.save file (torch.load reads it, weights_only too); safetensors: "
                         "for safetensors.torch.load_file; onnx: the model, for onnxruntime and other runtimes")
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

    im = sub.add_parser("import", help="a weights file (.pt/.pth, safetensors or .onnx) as a checkpoint of a zoo model",
                        formatter_class=_Formatter,
                        description="Read a torch.save file (without torch: its pickle may hold only tensors,\n"
                                    "containers and numbers), a safetensors file or an ONNX file's initializers,\n"
                                    "load them strictly (by name and shape) into a zoo\n"
                                    "model built for a dataset, and write a checkpoint that cnnlab eval, predict\n"
                                    "and train --resume accept.",
                        epilog="example:\n"
                               "  cnnlab import lenet5.pt --model lenet5 --out runs/imported/checkpoint.safetensors\n")
    im.add_argument("file", metavar="FILE", help="a .pt/.pth file of torch.save, a safetensors file, or a .onnx file")
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
    _invert_flag(rt)
    rt.set_defaults(run=_retrieve)
    return rt


# ---------------------------------------------------------------- cam, features, filters (cnnlab.viz)
def _flag_names(command) -> dict:
    """dest -> flag of a command's options: SettingErrors name the flag of their setting (see main)."""
    return {a.dest: a.option_strings[-1] for a in command._actions if a.option_strings}


def _checkpoint_flag(parser) -> None:
    parser.add_argument("--checkpoint", required=True, metavar="PATH",
                        help="a checkpoint.safetensors written by cnnlab train, or its run folder")


def _image_and_checkpoint(parser) -> None:
    parser.add_argument("image", metavar="IMAGE", help="an image file (PNG, JPEG, ... anything Pillow reads)")
    _checkpoint_flag(parser)


def _png_out(path) -> Path:
    """--out as a PNG file to write: its folder must exist, and it must not be a folder itself."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"--out {path} is a folder; give the PNG file to write, e.g. {path / 'out.png'}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"--out: there is no folder {path.parent} to write {path.name} in")
    return path


def _cam(args) -> int:
    from cnnlab import viz
    from cnnlab.train import load_checkpoint, model_from_checkpoint

    out = _png_out(args.out)
    ckpt = load_checkpoint(args.checkpoint)
    model, info = model_from_checkpoint(ckpt)
    name = ckpt["config"].model
    if args.target is not None and not 0 <= args.target < info.num_classes:
        raise ValueError(f"--class must be a class index in [0, {info.num_classes}) ({name} was trained on "
                         f"{info.name}'s {info.num_classes} classes), got {args.target}")
    if args.layer is not None and args.method != "gradcam":
        raise ValueError(f"--layer chooses the layer of --method gradcam; --method {args.method} takes none")
    if args.method == "cam" and viz.gap_classifier(model) is None:
        raise ValueError(f"--method cam needs a model with global average pooling before a linear classifier "
                         f"(conv maps -> AdaptiveAvgPool2d(1) -> Linear), and {name} has none; --method gradcam "
                         "works for any model")
    if args.layer is not None:
        viz.find_layer(model, args.layer, "cam")
    pixels, image = _model_input(args.image, info, args.invert)
    if args.method == "cam":
        result = viz.cam(model, image, args.target)
    elif args.method == "gradcam":
        result = viz.grad_cam(model, image, args.target, args.layer)
    else:
        result = viz.saliency(model, image, args.target)
    viz.plot_class_map(result, pixels, out, info.classes)
    label = {"cam": "CAM", "gradcam": f"Grad-CAM of layer {result.layer}", "saliency": "saliency"}[args.method]
    print(f"{out}: {label} for class {info.classes[result.target]} (score {result.scores[result.target]:.3f}; "
          f"the model's top class: {info.classes[int(result.scores.argmax())]})")
    return 0


def _add_cam_parser(sub) -> None:
    cam = sub.add_parser(
        "cam", help="where a trained model finds a class in an image: CAM, Grad-CAM or saliency, as a PNG",
        formatter_class=_Formatter,
        description="Write a PNG of the image (as the model sees it: read and preprocessed as by `cnnlab predict`)\n"
                    "beside a map of where the evidence for one class lies, with a colour bar:\n"
                    "  cam       M_c = sum_k w_k^c f_k, the maps f_k that enter the global average pooling\n"
                    "            weighted by the linear classifier's weights (models with GAP, e.g. gapnet)\n"
                    "  gradcam   ReLU(sum_k a_k A^k), a_k = the mean over positions of d(score_c)/dA^k, for\n"
                    "            the maps A^k of any conv layer (--layer) of any model\n"
                    "  saliency  max over channels of |d(score_c)/d(input)|\n"
                    "The maps are resized to the input bilinearly; score_c is the class score before softmax.",
        epilog="examples:\n"
               "  cnnlab cam --checkpoint runs/gapnet-mnist digit.png --out cam.png\n"
               "  cnnlab cam --checkpoint runs/lenet5-mnist digit.png --out gradcam.png --method gradcam --class 3\n")
    _image_and_checkpoint(cam)
    cam.add_argument("--out", required=True, metavar="PNG", help="the PNG file to write (its folder must exist)")
    cam.add_argument("--method", choices=("cam", "gradcam", "saliency"), default="cam",
                     help="cam (models with global average pooling), gradcam (any model) or saliency "
                          "(default: cam)")
    cam.add_argument("--layer", metavar="NAME",
                     help="--method gradcam: the layer, by its module name (e.g. features.3; an unknown name "
                          "lists the conv layers) (default: the last Conv2d, with the BatchNorm and activation "
                          "layers right after it)")
    cam.add_argument("--class", dest="target", type=int, metavar="K",
                     help="the class index whose evidence to map (default: the model's top class for the image)")
    _invert_flag(cam)
    cam.set_defaults(run=_cam, flags=_flag_names(cam))


def _features(args) -> int:
    from cnnlab import viz
    from cnnlab.train import load_checkpoint, model_from_checkpoint

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give the folder to write one PNG per conv layer in")
    model, info = model_from_checkpoint(load_checkpoint(args.checkpoint))
    _, image = _model_input(args.image, info, args.invert)
    for path in viz.plot_feature_maps(model, image, out):
        print(path)
    return 0


def _add_features_parser(sub) -> None:
    features = sub.add_parser(
        "features", help="the feature maps of every conv layer of a trained model for one image, as PNGs",
        formatter_class=_Formatter,
        description="Write DIR/NAME.png for every Conv2d of the model (NAME: its module name, e.g.\n"
                    "features.0): the layer's output maps for the image (read and preprocessed as by\n"
                    "`cnnlab predict`), on one colour scale with a colour bar. Prints the files written.")
    _image_and_checkpoint(features)
    features.add_argument("--out", required=True, metavar="DIR", help="the folder to write in (made if missing)")
    _invert_flag(features)
    features.set_defaults(run=_features, flags=_flag_names(features))


def _filters(args) -> int:
    from cnnlab import viz
    from cnnlab.train import load_checkpoint, model_from_checkpoint

    out = _png_out(args.out)
    model, _ = model_from_checkpoint(load_checkpoint(args.checkpoint))
    print(viz.plot_filters(model, out))
    return 0


def _add_filters_parser(sub) -> None:
    filters = sub.add_parser(
        "filters", help="the first conv layer's filters of a trained model as a grid, as a PNG",
        formatter_class=_Formatter,
        description="Write a PNG of the first Conv2d's filters: one RGB tile per filter for 3 input channels\n"
                    "(grey is 0), else one tile per filter and input channel on one diverging colour scale\n"
                    "with a colour bar.")
    _checkpoint_flag(filters)
    filters.add_argument("--out", required=True, metavar="PNG", help="the PNG file to write (its folder must exist)")
    filters.set_defaults(run=_filters, flags=_flag_names(filters))


# ---------------------------------------------------------------- explain
def _ints(text, flag, count=None, words=()):
    """'2' or '2,1' as ints (one for every axis, or per axis), or one of `words` as it is; else a ValueError."""
    if text in words:
        return text
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        values = ()
    if not values or (count is not None and len(values) not in count):
        allowed = " or ".join(f"{n} comma-separated ints" if n > 1 else "an int" for n in (count or (1, 2)))
        raise ValueError(f"{flag} must be {allowed}{''.join(f' or {w!r}' for w in words)}, got {text!r}")
    return values[0] if len(values) == 1 else values


def _explain_conv(args) -> int:
    import cnnlab
    from cnnlab import explain

    x = cnnlab.tensor(explain.matrix(args.input, arg="input", ndim=3))       # (C, H, W) or (N, C, H, W)
    w = cnnlab.tensor(explain.matrix(args.kernel, arg="kernel", ndim=4))     # (C_out, C_in/groups, kH, kW)
    b = None if args.bias is None else cnnlab.tensor(explain.matrix(args.bias, arg="bias", ndim=3).reshape(-1))
    print(explain.conv2d(x, w, b, stride=_ints(args.stride, "--stride", (1, 2)),
                         padding=_ints(args.padding, "--padding", (1, 2), ("same", "valid")),
                         dilation=_ints(args.dilation, "--dilation", (1, 2)), groups=args.groups,
                         at=_ints(args.at, "--at", (3,)), batch=args.batch))
    return 0


def _explain_pool(args) -> int:
    import cnnlab
    from cnnlab import explain

    x = cnnlab.tensor(explain.matrix(args.input, arg="input", ndim=3))       # (C, H, W) or (N, C, H, W)
    window = dict(kernel_size=_ints(args.kernel_size, "--kernel-size", (1, 2)),
                  stride=None if args.stride is None else _ints(args.stride, "--stride", (1, 2)),
                  padding=_ints(args.padding, "--padding", (1, 2)), ceil_mode=args.ceil_mode,
                  at=_ints(args.at, "--at", (3,)), batch=args.batch)
    if args.mode == "max":
        if args.divisor_override is not None or not args.count_include_pad:
            raise ValueError("--divisor-override and --no-count-include-pad apply to --mode avg only")
        print(explain.max_pool2d(x, dilation=_ints(args.dilation, "--dilation", (1, 2)), **window))
    else:
        if args.dilation != "1":
            raise ValueError(f"--dilation applies to --mode max only (average pooling has none), got {args.dilation!r}")
        print(explain.avg_pool2d(x, count_include_pad=args.count_include_pad, divisor_override=args.divisor_override,
                                 **window))
    return 0


def _explain_size(args) -> int:
    from cnnlab import explain

    padding = _ints(args.padding, "--padding", (1, 2))
    print(explain.output_size(args.n, args.kernel, args.stride, padding, args.dilation, args.ceil_mode, args.mode,
                              args.output_padding))
    return 0


def _add_explain_parser(sub) -> None:
    """`cnnlab explain conv|pool|size`: the arithmetic of one output element, or of an output size (cnnlab.explain)."""
    explain = sub.add_parser(
        "explain", help="the arithmetic of one conv or pooling output element, term by term, or of an output size",
        formatter_class=_Formatter,
        description="Show the lecture's arithmetic on real numbers, computed by the op's own code (cnnlab.explain).",
        epilog="examples:\n"
               '  cnnlab explain conv --input "1 2 3; 4 5 6; 7 8 9" --kernel "10 20; 30 40" --at 0,1,1\n'
               "  cnnlab explain pool --input \"1 2; 3 4\" --kernel-size 2 --mode avg --padding 1 --at 0,0,0\n"
               "  cnnlab explain size 227 --kernel 11 --stride 4\n"
               "  cnnlab explain size 11 --kernel 3 --stride 2 --padding 1 --dilation 2\n")
    what = explain.add_subparsers(dest="what", required=True, metavar="WHAT")
    conv = what.add_parser(
        "conv", help="one output element of conv2d: its terms, the per-channel sums, the bias, the window",
        formatter_class=_Formatter,
        description="One output element of conv2d, term by term: the window marked on the padded input, the\n"
                    "products input×weight, their sum per input channel, the bias, and the op's own output\n"
                    "there. Matrices are typed inline: rows separated by ';', numbers by spaces or commas,\n"
                    "channels by '|' (\"1 2; 3 4 | 5 6; 7 8\" is 2 channels of 2×2), or given as a .npy file.",
        epilog="example:\n"
               '  cnnlab explain conv --input "1 2 3; 4 5 6; 7 8 9" --kernel "10 20; 30 40" --at 0,1,1\n')
    conv.add_argument("--input", required=True, metavar="MATRIX",
                      help="the input: inline channels (C, H, W), or a .npy file of (H, W), (C, H, W) or (N, C, H, W)")
    conv.add_argument("--kernel", required=True, metavar="MATRIX",
                      help="the weight: inline (one output channel, its input channels separated by '|'), or a .npy "
                           "file of (kH, kW), (C_in/groups, kH, kW) or (C_out, C_in/groups, kH, kW)")
    conv.add_argument("--bias", metavar="NUMBERS", help="one number per output channel (default: no bias)")
    conv.add_argument("--at", required=True, metavar="C,I,J",
                      help="the output element: output channel, row, column (from 0)")
    conv.add_argument("--stride", default="1", metavar="S", help="an int, or S_H,S_W (default: 1)")
    conv.add_argument("--padding", default="0", metavar="P",
                      help="an int, P_H,P_W, 'valid' or 'same' (stride 1 only, as PyTorch) (default: 0)")
    conv.add_argument("--dilation", default="1", metavar="D", help="an int, or D_H,D_W (default: 1)")
    conv.add_argument("--groups", type=int, default=1, metavar="G", help="groups of channels (default: 1)")
    conv.add_argument("--batch", type=int, default=0, metavar="N",
                      help="the sample, for an (N, C, H, W) input (default: 0)")
    conv.set_defaults(run=_explain_conv)
    pool = what.add_parser(
        "pool", help="one output element of max_pool2d (which element won) or avg_pool2d (the sum and the divisor)",
        formatter_class=_Formatter,
        description="One output element of max or average pooling: the window marked on the padded input, and\n"
                    "which element won (the first maximum in the window's row-major order, as PyTorch's\n"
                    "return_indices) or the window's sum and the divisor (count_include_pad, divisor_override,\n"
                    "the ceil-mode overhang). The input as for `cnnlab explain conv`.",
        epilog="example:\n"
               '  cnnlab explain pool --input "1 2 3; 4 5 6; 7 8 9" --kernel-size 2 --ceil-mode --at 0,1,1\n')
    pool.add_argument("--input", required=True, metavar="MATRIX",
                      help="the input: inline channels (C, H, W) (rows separated by ';', numbers by spaces or commas, "
                           "channels by '|'), or a .npy file of (H, W), (C, H, W) or (N, C, H, W)")
    pool.add_argument("--mode", choices=("max", "avg"), default="max", metavar="MODE",
                      help="max or avg (default: max)")
    pool.add_argument("--kernel-size", required=True, metavar="K", help="an int, or K_H,K_W")
    pool.add_argument("--stride", metavar="S", help="an int, or S_H,S_W (default: the kernel size)")
    pool.add_argument("--padding", default="0", metavar="P", help="an int, or P_H,P_W, at most K/2 (default: 0)")
    pool.add_argument("--dilation", default="1", metavar="D", help="with --mode max: an int, or D_H,D_W (default: 1)")
    pool.add_argument("--ceil-mode", action="store_true", help="round the output size up (default: off)")
    pool.add_argument("--count-include-pad", action=argparse.BooleanOptionalAction, default=True,
                      help="with --mode avg: divide by the window's cells in the padded input, or (--no-...) in the "
                           "input only (default: on)")
    pool.add_argument("--divisor-override", type=int, metavar="N",
                      help="with --mode avg: divide every window's sum by N (default: none)")
    pool.add_argument("--at", required=True, metavar="C,I,J", help="the output element: channel, row, column (from 0)")
    pool.add_argument("--batch", type=int, default=0, metavar="N",
                      help="the sample, for an (N, C, H, W) input (default: 0)")
    pool.set_defaults(run=_explain_pool)
    size = what.add_parser(
        "size", help="an output size along one axis: the formula with the numbers, and where the windows start",
        formatter_class=_Formatter,
        description="An output size along one axis, from cnnlab.shapes: the formula in the lecture's letters with\n"
                    "the numbers substituted, and the start of every window on the padded axis.",
        epilog="examples:\n"
               "  cnnlab explain size 227 --kernel 11 --stride 4\n"
               "  cnnlab explain size 5 --kernel 2 --padding 1 --mode pool --ceil-mode\n")
    size.add_argument("n", type=int, help="the input size along the axis")
    size.add_argument("--kernel", type=int, required=True, metavar="K", help="the kernel size")
    size.add_argument("--stride", type=int, metavar="S", help="the stride (default: 1, or K with --mode pool)")
    size.add_argument("--padding", default="0", metavar="P",
                      help="p on both sides, or P_BEFORE,P_AFTER with --mode conv (default: 0)")
    size.add_argument("--dilation", type=int, default=1, metavar="D", help="the dilation (default: 1)")
    size.add_argument("--mode", choices=("conv", "pool", "transpose", "same-tf"), default="conv", metavar="MODE",
                      help="conv, pool (PyTorch's pooling rule), transpose (transposed conv) or same-tf "
                           "(TensorFlow's 'same' padding) (default: conv)")
    size.add_argument("--ceil-mode", action="store_true", help="with --mode pool: round up (default: off)")
    size.add_argument("--output-padding", type=int, default=0, metavar="OP",
                      help="with --mode transpose: extra positions at the end (default: 0)")
    size.set_defaults(run=_explain_size)
    for command in (conv, pool, size):  # SettingErrors name the flag of their setting (see main)
        command.set_defaults(flags=_flag_names(command))


# ---------------------------------------------------------------- summary
def _onnx_input_size(path):
    """(C, *spatial) of an ONNX file's first graph input when its dims past the batch are fixed, else None."""
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    names = {t.name for t in graph.initializer}
    inputs = [v for v in graph.input if v.name not in names]
    dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim] if inputs else []
    return tuple(dims[1:]) if len(dims) >= 3 and all(d > 0 for d in dims[1:]) else None


def _summary(args) -> int:
    import json

    from cnnlab.models import INPUT_SIZES, MODELS
    from cnnlab.tools.summary import summary

    if args.model in MODELS:
        model, size = MODELS[args.model](), INPUT_SIZES[args.model]
    elif args.model.endswith(".onnx"):
        import cnnlab.onnx

        model, size = cnnlab.onnx.load(args.model), _onnx_input_size(args.model)
        if size is None and args.input_size is None:
            raise ValueError(f"{args.model}'s input has no fixed size: give --input-size")
    elif Path(args.model).exists():
        from cnnlab.train import load_checkpoint, model_from_checkpoint

        model, info = model_from_checkpoint(load_checkpoint(args.model))
        size = (info.in_channels, info.input_size, info.input_size)
    else:
        raise ValueError(f"MODEL {args.model!r} is neither a model name ({', '.join(MODELS)}) nor a checkpoint "
                         "file or run folder")
    if args.input_size is not None:
        if not 2 <= len(args.input_size) <= 4 or min(args.input_size) < 1:
            raise ValueError("--input-size must be C and 1 to 3 spatial sizes (C H W for images), each an int >= 1, "
                             f"got {' '.join(map(str, args.input_size))}")
        size = tuple(args.input_size)
    if args.batch < 1:
        raise ValueError(f"--batch must be an int >= 1, got {args.batch}")
    if args.layer is not None and args.unit is None:
        raise ValueError("--layer names the layer of --unit: give --unit too")
    try:
        result = summary(model, (args.batch, *size))
    except ValueError as e:
        raise ValueError(f"--input-size {' '.join(map(str, size))}: {str(e).removeprefix('summary: ')}") from None
    try:
        region = None if args.unit is None else result.receptive_field(tuple(args.unit), args.layer)
    except ValueError as e:
        flags = "--unit" if args.layer is None else "--unit/--layer"
        raise ValueError(f"{flags}: {str(e).removeprefix('receptive_field: ')}") from None
    if args.json:
        out = result.to_dict()
        if region is not None:
            out["unit"] = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(region).items()}
        print(json.dumps(out, indent=1))
        return 0
    print(result)
    if region is not None:
        span = lambda a, b: " × ".join(f"{x}..{y}" for x, y in zip(a, b))  # noqa: E731
        where = "the model's output" if region.layer is None else f"layer '{region.layer}'"
        print(f"unit {region.unit} of {where} sees input pixels {span(region.start, region.end)} "
              f"(clipped to the input: {span(region.clipped_start, region.clipped_end)})")
    return 0


def _add_summary_parser(sub):
    from cnnlab.models import MODELS

    su = sub.add_parser(
        "summary", help="a model's layers: output shapes, parameters, MACs/FLOPs, receptive fields",
        formatter_class=_Formatter,
        description="Print cnnlab.summary of a model of the zoo or of a checkpoint written by `cnnlab train`: per\n"
                    "layer the output shape, parameters, MACs (one multiply-add; FLOPs = 2·MACs), the window, and\n"
                    "the receptive field, effective stride and effective padding in input pixels; then the totals.",
        epilog="examples:\n"
               "  cnnlab summary vgg16                                   # 3×224×224\n"
               "  cnnlab summary resnet_cifar --input-size 3 64 64 --json\n"
               "  cnnlab summary runs/lenet5-mnist                       # a trained model\n"
               "  cnnlab summary vgg16 --unit 0 3 3 --layer features.30  # the input region of one unit\n")
    su.add_argument("model", metavar="MODEL|CHECKPOINT",
                    help=f"a model name ({', '.join(MODELS)}), a checkpoint.safetensors / run folder, or an ONNX "
                         "file (.onnx, loaded by cnnlab.onnx.load)")
    su.add_argument("--input-size", type=int, nargs="+", metavar="N",
                    help="C and the spatial sizes, e.g. 3 224 224 (default: what the model is made for, or the "
                         "checkpoint's images)")
    su.add_argument("--batch", type=int, default=1, metavar="N",
                    help="batch size of the MACs and activation memory (default: 1)")
    su.add_argument("--json", action="store_true", help="print the rows and totals as JSON (default: a table)")
    su.add_argument("--unit", type=int, nargs="+", metavar="I",
                    help="also print the input region of one unit: its channel and position, e.g. 0 3 3")
    su.add_argument("--layer", metavar="NAME",
                    help="the layer of --unit, named as in the table (default: the model's output)")
    su.set_defaults(run=_summary)
    return su


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
    _invert_flag(pr)
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
    _add_cam_parser(sub)
    _add_features_parser(sub)
    _add_filters_parser(sub)
    summary = _add_summary_parser(sub)
    for command in (train, ev, pr, demo, ex, im, rt, summary):
        command.set_defaults(flags=_flag_names(command))
    _add_explain_parser(sub)
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
