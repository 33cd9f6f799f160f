"""VGG (Simonyan and Zisserman, 2014) with torchvision's layout and module names.

Each configuration lists the 3×3 conv widths (padding 1, so the size is kept) with
'M' for a 2×2 max-pool: the lecture's INPUT -> [[CONV -> RELU]*N -> POOL]*M -> [FC -> RELU]*2 -> FC.
VGG-16 has 138,357,544 parameters for 1000 classes.
"""
from __future__ import annotations

from cnnlab import nn

CONFIGS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    def __init__(self, features: nn.Module, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def make_layers(config, batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    layers = []
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers.append(nn.Conv2d(in_channels, v, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(True))
            in_channels = v
    return nn.Sequential(*layers)


def _vgg(depth, batch_norm, num_classes, dropout):
    return VGG(make_layers(CONFIGS[depth], batch_norm), num_classes, dropout)


def vgg11(batch_norm: bool = False, num_classes: int = 1000, dropout: float = 0.5) -> VGG:
    """VGG-11 (configuration A), as torchvision's vgg11 / vgg11_bn."""
    return _vgg(11, batch_norm, num_classes, dropout)


def vgg13(batch_norm: bool = False, num_classes: int = 1000, dropout: float = 0.5) -> VGG:
    """VGG-13 (configuration B)."""
    return _vgg(13, batch_norm, num_classes, dropout)


def vgg16(batch_norm: bool = False, num_classes: int = 1000, dropout: float = 0.5) -> VGG:
    """VGG-16 (configuration D)."""
    return _vgg(16, batch_norm, num_classes, dropout)


def vgg19(batch_norm: bool = False, num_classes: int = 1000, dropout: float = 0.5) -> VGG:
    """VGG-19 (configuration E)."""
    return _vgg(19, batch_norm, num_classes, dropout)
