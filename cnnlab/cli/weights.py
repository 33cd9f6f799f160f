"""`cnnlab export` and `cnnlab import`: a checkpoint's weights to PyTorch and ONNX, and a weights file back."""
from __future__ import annotations

from cnnlab.cli.common import Formatter, checkpoint_flag, flag_names
from cnnlab.messages import counted

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
                        formatter_class=Formatter,
                        description="Write the weights of a checkpoint of `cnnlab train` with PyTorch's state-dict\n"
                                    "names and dtypes, for the twin PyTorch model's load_state_dict (written\n"
                                    "without torch), or the whole model as an ONNX file (the [onnx] extra).\n"
                                    "Written atomically.",
                        epilog="examples:\n"
                               "  cnnlab export --checkpoint runs/lenet5-mnist --format torch --out lenet5.pt\n"
                               "  cnnlab export --checkpoint runs/lenet5-mnist --format safetensors --out lenet5.safetensors\n"
                               "  cnnlab export --checkpoint runs/lenet5-mnist --format onnx --out lenet5.onnx\n")
    checkpoint_flag(ex)
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
                        formatter_class=Formatter,
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


def add_parsers(sub) -> None:
    for command in (_add_export_parser(sub), _add_import_parser(sub)):
        command.set_defaults(flags=flag_names(command))
