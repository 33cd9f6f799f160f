"""`cnnlab upscale`: enlarge an image with a super-resolution checkpoint (cnnlab.apps.superres)."""
from __future__ import annotations

from cnnlab.cli.common import Formatter, flag_names, image_and_checkpoint, png_out
from cnnlab.messages import SettingError

TASK = "super-resolution"


def _upscale(args) -> int:
    from cnnlab.apps import superres
    from cnnlab.train import load_checkpoint, model_from_checkpoint

    out = png_out(args.out)
    ckpt = load_checkpoint(args.checkpoint)
    config = ckpt["config"]
    task = getattr(config, "task", "classify")
    if task != TASK:
        raise SettingError("upscale", f"{{checkpoint}} {ckpt['path']} was trained for the task {task}, not {TASK}: "
                           f"give a checkpoint of cnnlab train --task {TASK}", "checkpoint")
    if args.scale is not None and args.scale != config.scale:
        raise SettingError("upscale", f"{{scale}} {args.scale} is not the checkpoint's: its {config.model} was trained "
                           f"to enlarge ×{config.scale}", "scale")
    model, _ = model_from_checkpoint(ckpt)
    image = superres.read_image(args.image)
    args.flags = {**args.flags, "image": f"IMAGE {args.image}"}
    big = superres.upscale(model, image)
    superres.save_png(big, out)
    kind = "RGB" if image.ndim == 3 else "gray"
    print(f"wrote {out}: {image.shape[1]}×{image.shape[0]} -> {big.shape[1]}×{big.shape[0]} {kind} "
          f"({config.model} ×{config.scale} on the luminance, bicubic on the colour)")
    return 0


def _add_upscale_parser(sub):
    up = sub.add_parser("upscale", help="enlarge an image with a super-resolution checkpoint (SRCNN, ESPCN)",
                        formatter_class=Formatter,
                        description="Enlarge an image by the scale a super-resolution checkpoint was trained for\n"
                                    "(cnnlab train --task super-resolution): the model enlarges the luminance Y\n"
                                    "(ITU-R BT.601), Pillow's bicubic filter the chroma Cb and Cr, as the papers do;\n"
                                    "a gray image stays gray. Writes a PNG.",
                        epilog="example:\n"
                               "  cnnlab upscale --checkpoint runs/espcn-skimage photo.png --out big.png\n")
    image_and_checkpoint(up)
    up.add_argument("--out", required=True, metavar="PNG", help="the PNG file to write")
    up.add_argument("--scale", type=int, metavar="S",
                    help="the enlargement; it must be the checkpoint's (default: the checkpoint's)")
    up.set_defaults(run=_upscale)
    return up


def add_parsers(sub) -> None:
    command = _add_upscale_parser(sub)
    command.set_defaults(flags=flag_names(command))
