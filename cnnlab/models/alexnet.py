"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012): torchvision's layout, and the paper's.

torchvision's (the default): 224×224 input, 64/192/384/256/256 filters, adaptive
average pooling to 6×6, no LRN; 61,100,840 parameters for 1000 classes.

The paper's ('2012'): 227×227 input, 96/256/384/384/256 filters, local response
normalization after conv1 and conv2 (size 5, α = 1e-4, β = 0.75, k = 2), and
conv2, conv4, conv5 split into two groups (the two GPUs); 60,965,224 parameters.
"""
from __future__ import annotations

from cnnlab import nn


class AlexNet(nn.Module):
    """features -> avgpool -> flatten -> classifier, with torchvision's module names."""

    def __init__(self, features: nn.Module, avgpool: nn.Module, classifier: nn.Module):
        super().__init__()
        self.features, self.avgpool, self.classifier = features, avgpool, classifier

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def alexnet(variant: str = "torchvision", num_classes: int = 1000, dropout: float = 0.5) -> AlexNet:
    """AlexNet; ``variant='torchvision'`` (224×224, as torchvision.models.alexnet) or ``'2012'`` (227×227, the paper)."""
    if variant == "torchvision":
        features = nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        )
        avgpool = nn.AdaptiveAvgPool2d((6, 6))
    elif variant == "2012":
        features = nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        )
        avgpool = nn.Identity()  # 227×227 gives 6×6 maps exactly
    else:
        raise ValueError(f"alexnet: variant must be 'torchvision' or '2012', got {variant!r}")
    classifier = nn.Sequential(
        nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
        nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
        nn.Linear(4096, num_classes),
    )
    return AlexNet(features, avgpool, classifier)
