"""A global-average-pooling network: the CAM architecture of Zhou et al. 2016.

    conv blocks -> feature maps f_k (K, h, w) -> GAP -> F_k = mean f_k -> fc -> class scores

The class activation map of class c is M_c = Σ_k w[c, k]·f_k, with w the fc weights:
the model exposes `features` and `fc` so that a CAM tool can compute it.
"""
from __future__ import annotations

from cnnlab import nn


def conv_layers(in_channels: int, out_channels: int, batch_norm: bool = True) -> list:
    """The layers of two 3×3 conv(-BN)-ReLU with padding 1 (the conv has no bias when BN follows)."""
    layers, c = [], in_channels
    for _ in range(2):
        layers.append(nn.Conv2d(c, out_channels, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU())
        c = out_channels
    return layers


class GAPNet(nn.Module):
    def __init__(self, in_channels: int = 1, num_classes: int = 10, widths=(32, 64, 128), batch_norm: bool = True):
        super().__init__()
        if not widths:
            raise ValueError("gapnet: widths must name at least one block width")
        layers, c = [], in_channels
        for i, w in enumerate(widths):
            layers += conv_layers(c, w, batch_norm)
            c = w
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(self.gap(self.features(x)).flatten(1))


def gapnet(in_channels: int = 1, num_classes: int = 10, widths=(32, 64, 128), batch_norm: bool = True) -> GAPNet:
    """Blocks of two 3×3 conv(-BN)-ReLU with 2×2 max-pools between them, then GAP and one linear layer."""
    return GAPNet(in_channels, num_classes, tuple(widths), batch_norm)
