"""What the commands share: the argument parser that errs on one line, the help formatter, the flags that
several commands take (--checkpoint, IMAGE, --invert), and reading an image as `predict` does."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


class Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line: ``cnnlab train: error: argument --model: invalid choice ...``."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog):
        super().__init__(prog, max_help_position=32)


def flag_names(command) -> dict:
    """dest -> flag of a command's options: SettingErrors name the flag of their setting (see main). A flag
    with a --no- form (--augment/--no-augment) is named by its positive form."""
    def name(options):
        positive = [o for o in options if not o.startswith("--no-")]
        return (positive or options)[-1]

    return {a.dest: name(a.option_strings) for a in command._actions if a.option_strings}


def checkpoint_flag(parser) -> None:
    parser.add_argument("--checkpoint", required=True, metavar="PATH",
                        help="a checkpoint.safetensors written by cnnlab train, or its run folder")


def image_and_checkpoint(parser) -> None:
    parser.add_argument("image", metavar="IMAGE", help="an image file (PNG, JPEG, ... anything Pillow reads)")
    checkpoint_flag(parser)


def png_out(path) -> Path:
    """--out as a PNG file to write: its folder must exist, and it must not be a folder itself."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"--out {path} is a folder; give the PNG file to write, e.g. {path / 'out.png'}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"--out: there is no folder {path.parent} to write {path.name} in")
    return path


def model_input(path, info, invert, resize: bool = True):
    """(the pixels as the model sees them, uint8 (H, W) or (H, W, 3); the preprocessed float32 (C, H, W)) of
    one image file, read as `predict` reads it: --invert, --no-invert, or (None) inverted when its border is
    light and the model was trained on light-on-dark images, with a note on stderr. resize=False keeps the
    image's own size instead of the model's input size (segmentation)."""
    from cnnlab.train import light_border, preprocess, read_image

    pixels = read_image(path, info.in_channels, info.input_size if resize else None)  # uint8 (H, W) or (H, W, 3)
    if invert is None:  # neither --invert nor --no-invert: look at the image
        invert = info.light_on_dark and light_border(pixels)
        if invert:
            print(f"note: {path} has a light background, unlike {info.name}'s light-on-dark images: inverted "
                  "it (--no-invert keeps it as it is)", file=sys.stderr)
    return (255 - pixels if invert else pixels), preprocess(pixels, info.mean, info.std, invert)


def invert_flag(parser) -> None:
    parser.add_argument("--invert", action=argparse.BooleanOptionalAction,
                        help="invert the gray levels first (dark digits on white paper -> MNIST's white on black); "
                             "--no-invert never does (default: invert an image whose border is mostly light, for a "
                             "model trained on MNIST or Fashion-MNIST, with a note saying so)")
