"""`cnnlab cam`, `features` and `filters`: pictures of what a trained model does (cnnlab.viz)."""
from __future__ import annotations

from pathlib import Path

from cnnlab.cli.common import Formatter, checkpoint_flag, flag_names, image_and_checkpoint, invert_flag, model_input, png_out


def _cam(args) -> int:
    from cnnlab import viz
    from cnnlab.train import load_checkpoint, model_from_checkpoint

    out = png_out(args.out)
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
    pixels, image = model_input(args.image, info, args.invert)
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
        formatter_class=Formatter,
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
    image_and_checkpoint(cam)
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
    invert_flag(cam)
    cam.set_defaults(run=_cam, flags=flag_names(cam))


def _features(args) -> int:
    from cnnlab import viz
    from cnnlab.train import load_checkpoint, model_from_checkpoint

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; give the folder to write one PNG per conv layer in")
    model, info = model_from_checkpoint(load_checkpoint(args.checkpoint))
    _, image = model_input(args.image, info, args.invert)
    for path in viz.plot_feature_maps(model, image, out):
        print(path)
    return 0


def _add_features_parser(sub) -> None:
    features = sub.add_parser(
        "features", help="the feature maps of every conv layer of a trained model for one image, as PNGs",
        formatter_class=Formatter,
        description="Write DIR/NAME.png for every Conv2d of the model (NAME: its module name, e.g.\n"
                    "features.0): the layer's output maps for the image (read and preprocessed as by\n"
                    "`cnnlab predict`), on one colour scale with a colour bar. Prints the files written.")
    image_and_checkpoint(features)
    features.add_argument("--out", required=True, metavar="DIR", help="the folder to write in (made if missing)")
    invert_flag(features)
    features.set_defaults(run=_features, flags=flag_names(features))


def _filters(args) -> int:
    from cnnlab import viz
    from cnnlab.train import load_checkpoint, model_from_checkpoint

    out = png_out(args.out)
    model, _ = model_from_checkpoint(load_checkpoint(args.checkpoint))
    print(viz.plot_filters(model, out))
    return 0


def _add_filters_parser(sub) -> None:
    filters = sub.add_parser(
        "filters", help="the first conv layer's filters of a trained model as a grid, as a PNG",
        formatter_class=Formatter,
        description="Write a PNG of the first Conv2d's filters: one RGB tile per filter for 3 input channels\n"
                    "(grey is 0), else one tile per filter and input channel on one diverging colour scale\n"
                    "with a colour bar.")
    checkpoint_flag(filters)
    filters.add_argument("--out", required=True, metavar="PNG", help="the PNG file to write (its folder must exist)")
    filters.set_defaults(run=_filters, flags=flag_names(filters))


def add_parsers(sub) -> None:
    _add_cam_parser(sub)
    _add_features_parser(sub)
    _add_filters_parser(sub)
