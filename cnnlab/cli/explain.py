"""`cnnlab explain conv|pool|size` and `cnnlab summary`: the lecture's arithmetic, and a model's layers
(cnnlab.explain, cnnlab.summary)."""
from __future__ import annotations

import argparse
from pathlib import Path

from cnnlab.cli.common import Formatter, flag_names


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
        formatter_class=Formatter,
        description="Show the lecture's arithmetic on real numbers, computed by the op's own code (cnnlab.explain).",
        epilog="examples:\n"
               '  cnnlab explain conv --input "1 2 3; 4 5 6; 7 8 9" --kernel "10 20; 30 40" --at 0,1,1\n'
               "  cnnlab explain pool --input \"1 2; 3 4\" --kernel-size 2 --mode avg --padding 1 --at 0,0,0\n"
               "  cnnlab explain size 227 --kernel 11 --stride 4\n"
               "  cnnlab explain size 11 --kernel 3 --stride 2 --padding 1 --dilation 2\n")
    what = explain.add_subparsers(dest="what", required=True, metavar="WHAT")
    conv = what.add_parser(
        "conv", help="one output element of conv2d: its terms, the per-channel sums, the bias, the window",
        formatter_class=Formatter,
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
        formatter_class=Formatter,
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
        formatter_class=Formatter,
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
        command.set_defaults(flags=flag_names(command))


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
        formatter_class=Formatter,
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


def add_parsers(sub) -> None:
    command = _add_summary_parser(sub)
    command.set_defaults(flags=flag_names(command))
    _add_explain_parser(sub)
