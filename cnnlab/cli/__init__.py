"""The `cnnlab` command. Wiring only: the work is done by the library; each module here adds its commands.

    cnnlab train     train a model on a dataset, writing runs/NAME/ (checkpoint, metrics.json, curves.png)
    cnnlab eval      test loss, accuracy and confusion matrix of a checkpoint
    cnnlab predict   the top-k classes of image files
    cnnlab demo      a two-layer perceptron on MNIST, the whole loop on one screen
    cnnlab export    a checkpoint's weights for PyTorch (torch.save's format, safetensors) or its model as ONNX
    cnnlab import    a weights file (.pt/.pth, safetensors, .onnx) as a checkpoint of a zoo model
    cnnlab retrieve  image retrieval with a checkpoint's features: mAP on the test set, or an image's neighbours
    cnnlab segment   the class of every pixel of an image by a segmentation checkpoint, as a colour-coded PNG
    cnnlab upscale   an image enlarged by a super-resolution checkpoint (SRCNN, ESPCN), as a PNG
    cnnlab cam       CAM, Grad-CAM or saliency of a class in an image, as a PNG (cnnlab.viz)
    cnnlab features  the feature maps of every conv layer for one image, one PNG per layer
    cnnlab filters   the first conv layer's filters as a grid, as a PNG
    cnnlab explain   one conv or pooling output element term by term, or an output size (cnnlab.explain)
    cnnlab summary   a model's layers: shapes, parameters, MACs, receptive fields (`cnnlab.summary`)
    cnnlab serve     a local web page to explore trained models, and its JSON API (cnnlab.serve)

`cnnlab train` turns on `cnnlab.runtime.keep_freed_memory` for its own process
(glibc's malloc then reuses freed arrays instead of faulting in new pages); the
library never does that by itself.

User errors (a value out of range, an unknown name, a missing folder or file, a
foreign checkpoint) end with one line ``cnnlab CMD: error: ...`` that names the
flag, and exit status 2; ``cnnlab --traceback CMD ...`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import sys

from cnnlab.cli import explain, retrieve, segment, serve, train, upscale, viz, weights
from cnnlab.cli.common import Formatter, Parser
from cnnlab.data import DownloadError
from cnnlab.messages import SettingError
from cnnlab.train.inference import MissingExtraError

__all__ = ["main", "build_parser", "USER_ERRORS"]

#: exceptions that carry a message for the user: validation, missing files, a folder given for a file, unreadable
#: checkpoints, a failed download, a missing optional dependency. Anything else is a bug and shows its traceback.
USER_ERRORS = (ValueError, FileNotFoundError, IsADirectoryError, DownloadError, MissingExtraError)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="cnnlab", description="cnnlab: a CNN system you can read end to end.",
                     formatter_class=Formatter)
    parser.add_argument("--traceback", action="store_true",
                        help="on an error, show the whole traceback instead of a one-line message")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for commands in (train, weights, retrieve, segment, upscale, viz, explain, serve):   # in the order of `cnnlab --help`
        commands.add_parsers(sub)
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
