"""Networks for semantic segmentation: a class score for every pixel, (N, C, H, W) -> (N, classes, H, W).

FCN (Long, Shelhamer and Darrell, 2015, "Fully convolutional networks for semantic segmentation"),
FCN-8s in spirit, sized for 64×64 canvases: an encoder of conv blocks with 2×2 max-pools after each
(strides 2, 4, 8, 16), class scores from the last three strides by 1×1 convs, fused coarse to fine
by transposed convs initialised to bilinear upsampling:

    x -> block1 -> pool (/2) -> block2 -> pool (/4) -> block3 -> pool (/8) -> block4 -> pool (/16) -> block5
    scores/16 = score(block5);  up ×2, + score_pool8(pool /8);  up ×2, + score_pool4(pool /4);  up ×4 -> H×W

(the paper's strides 32, 16, 8, for 224×224 images, become 16, 8, 4 here).

U-Net (Ronneberger, Fischer and Brox, 2015), small: a contracting path of conv blocks and 2×2
max-pools, an expanding path of 2×2 transposed convs (stride 2), each followed by the
concatenation of the contracting path's features at that size and a conv block; a 1×1 conv gives
the scores. Unlike the paper's unpadded convs, the convs keep the size (padding 1), so the output
has the input's size and nothing is cropped.

A conv block is two 3×3 conv(-BN)-ReLU (padding 1). The input's height and width must be
multiples of ``size_multiple`` (2 to the number of pools): 16 for FCN, 8 for the default U-Net.
"""
from __future__ import annotations

import numpy as np

from cnnlab import nn
from cnnlab.autograd import no_grad
from cnnlab.models.gapnet import conv_layers

__all__ = ["FCN", "UNet", "conv_block", "fcn", "unet"]


def conv_block(in_channels: int, out_channels: int, batch_norm: bool = True) -> nn.Sequential:
    """Two 3×3 conv(-BN)-ReLU with padding 1: (N, in, H, W) -> (N, out, H, W)."""
    return nn.Sequential(*conv_layers(in_channels, out_channels, batch_norm))


def _blocks(in_channels: int, widths, batch_norm: bool) -> nn.ModuleList:
    """One `conv_block` per width, each taking the previous one's channels."""
    channels = (in_channels,) + tuple(widths)
    return nn.ModuleList([conv_block(a, b, batch_norm) for a, b in zip(channels[:-1], channels[1:])])


def _check(name: str, widths, levels: int, exactly: bool = False):
    widths = tuple(widths)
    count = len(widths) == levels if exactly else len(widths) >= levels
    if not count or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1 for w in widths):
        raise ValueError(f"{name}: widths must be {'' if exactly else 'at least '}{levels} ints >= 1 "
                         f"(one per {'block' if exactly else 'level'}), got {widths!r}")
    return widths


def _check_input(name: str, x, multiple: int) -> None:
    h, w = x.shape[-2:]
    if h % multiple or w % multiple:
        raise ValueError(f"{name}: the input's height and width must be multiples of {multiple} (its "
                         f"downsampling), got {h}×{w}; pad the image to {-(-h // multiple) * multiple}×"
                         f"{-(-w // multiple) * multiple}")


def bilinear_kernel(channels: int, size: int) -> np.ndarray:
    """(channels, channels, size, size) weights of a transposed conv that upsamples each channel bilinearly
    (FCN's initialisation): w[c, c] = (1 − |i − m|/f)(1 − |j − m|/f), f = ⌈size/2⌉, m the kernel's centre."""
    f = (size + 1) // 2
    centre = f - 1 if size % 2 == 1 else f - 0.5
    taps = 1 - np.abs(np.arange(size) - centre) / f                    # (size,)
    weight = np.zeros((channels, channels, size, size), np.float32)
    weight[np.arange(channels), np.arange(channels)] = np.outer(taps, taps)
    return weight


class FCN(nn.Module):
    """FCN-8s in spirit (see the module docstring); ``widths`` are the five blocks' channels."""

    def __init__(self, in_channels: int = 1, num_classes: int = 11, widths=(16, 32, 64, 128, 128),
                 batch_norm: bool = True):
        super().__init__()
        widths = _check("fcn", widths, 5, exactly=True)
        self.size_multiple = 16
        self.blocks = _blocks(in_channels, widths, batch_norm)
        self.pool = nn.MaxPool2d(2)
        self.score = nn.Conv2d(widths[4], num_classes, 1)
        self.score_pool8 = nn.Conv2d(widths[2], num_classes, 1)
        self.score_pool4 = nn.Conv2d(widths[1], num_classes, 1)
        self.up16 = nn.ConvTranspose2d(num_classes, num_classes, 4, stride=2, padding=1, bias=False)
        self.up8 = nn.ConvTranspose2d(num_classes, num_classes, 4, stride=2, padding=1, bias=False)
        self.up4 = nn.ConvTranspose2d(num_classes, num_classes, 8, stride=4, padding=2, bias=False)
        with no_grad():
            for up in (self.up16, self.up8, self.up4):
                up.weight.data[...] = bilinear_kernel(num_classes, up.kernel_size[0])

    def forward(self, x):
        _check_input("fcn", x, self.size_multiple)
        pooled = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < 4:
                x = self.pool(x)
                pooled.append(x)                                   # strides 2, 4, 8, 16
        scores = self.up16(self.score(x))                          # (N, classes, H/8, W/8)
        scores = self.up8(scores + self.score_pool8(pooled[2]))    # (N, classes, H/4, W/4)
        return self.up4(scores + self.score_pool4(pooled[1]))      # (N, classes, H, W)


class UNet(nn.Module):
    """A small U-Net (see the module docstring); ``widths`` are the channels of each level, top to bottom."""

    def __init__(self, in_channels: int = 1, num_classes: int = 11, widths=(16, 32, 64, 128),
                 batch_norm: bool = True):
        super().__init__()
        widths = _check("unet", widths, 2)
        self.size_multiple = 2 ** (len(widths) - 1)
        self.down = _blocks(in_channels, widths, batch_norm)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                 for i in reversed(range(len(widths) - 1))])
        self.decode = nn.ModuleList([conv_block(2 * widths[i], widths[i], batch_norm)
                                     for i in reversed(range(len(widths) - 1))])
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x):
        _check_input("unet", x, self.size_multiple)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        for up, decode, skip in zip(self.up, self.decode, reversed(skips[:-1])):
            x = decode(nn.functional.cat([skip, up(x)], dim=1))     # (N, 2·width, h, w)
        return self.head(x)                                          # (N, classes, H, W)


def fcn(in_channels: int = 1, num_classes: int = 11, widths=(16, 32, 64, 128, 128), batch_norm: bool = True) -> FCN:
    """FCN-8s in spirit: five conv blocks, class scores fused from strides 16, 8 and 4 (see `FCN`)."""
    return FCN(in_channels, num_classes, widths, batch_norm)


def unet(in_channels: int = 1, num_classes: int = 11, widths=(16, 32, 64, 128), batch_norm: bool = True) -> UNet:
    """A small U-Net: one level per width (three 2×2 max-pools by default), padded 3×3 convs."""
    return UNet(in_channels, num_classes, widths, batch_norm)
