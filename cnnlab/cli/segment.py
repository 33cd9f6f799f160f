"""`cnnlab segment`: the class of every pixel of an image by a segmentation checkpoint, drawn over the image
(cnnlab.apps.segmentation)."""
from __future__ import annotations

from cnnlab.cli.common import Formatter, checkpoint_flag, flag_names, invert_flag, model_input, png_out


def _segment(args) -> int:
    import numpy as np

    from cnnlab.apps import segmentation
    from cnnlab.messages import SettingError
    from cnnlab.train import load_checkpoint, model_from_checkpoint

    out = png_out(args.out)
    if not 0 <= args.alpha <= 1:
        raise ValueError(f"--alpha must be in [0, 1], got {args.alpha}")
    ckpt = load_checkpoint(args.checkpoint)
    task = getattr(ckpt["config"], "task", "classify")
    if task != "segment":
        raise SettingError("segment", f"{ckpt['path']} is a checkpoint of task {task!r}, not of a segmentation "
                           "model; give {checkpoint} of a run of cnnlab train --task segment", "checkpoint")
    model, info = model_from_checkpoint(ckpt)
    pixels, _ = model_input(args.image, info, args.invert, resize=False)      # uint8 (H, W), as the model sees it
    labels = segmentation.segment(model, pixels, info.mean, info.std)
    segmentation.save_mask(out, pixels, labels, info.classes, alpha=args.alpha)
    counts = np.bincount(labels.reshape(-1), minlength=len(info.classes))
    found = [f"{info.classes[c]} ({counts[c]} px)" for c in np.flatnonzero(counts) if c > 0]
    print(f"{args.image}: {labels.shape[1]}×{labels.shape[0]} pixels; "
          + (", ".join(found) if found else "only background"))
    print(f"wrote {out}: the classes in colour over the image, with a legend")
    return 0


def add_parsers(sub) -> None:
    sg = sub.add_parser("segment", help="the class of every pixel of an image, as a colour-coded PNG",
                        formatter_class=Formatter,
                        description="Segment an image with a checkpoint of `cnnlab train --task segment`: the image\n"
                                    "is read in grayscale at its own size (padded with background up to the model's\n"
                                    "size multiple, then cropped back), normalised as in training, and each pixel\n"
                                    "gets the class of highest score. --out gets the classes' colours blended over\n"
                                    "the image, enlarged to at least 256 pixels a side, beside a legend. MNIST's\n"
                                    "digits are light on dark: an image with a mostly light border is inverted\n"
                                    "first, with a note (--invert: always, --no-invert: never).",
                        epilog="example:\n"
                               "  cnnlab segment --checkpoint runs/unet-mnist-seg canvas.png --out mask.png\n")
    sg.add_argument("image", metavar="IMAGE", help="an image file (PNG, JPEG, ... anything Pillow reads)")
    checkpoint_flag(sg)
    sg.add_argument("--out", required=True, metavar="PNG", help="the PNG to write: the mask over the image")
    sg.add_argument("--alpha", type=float, default=0.6, metavar="A",
                    help="how much of each class's colour is blended into its pixels, in [0, 1] (default: 0.6)")
    invert_flag(sg)
    sg.set_defaults(run=_segment, flags=flag_names(sg))
