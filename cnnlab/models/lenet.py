"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998), in its classic and modern forms.

    INPUT 1@32×32 -> C1 6@28×28 (k5) -> S2 6@14×14 -> C3 16@10×10 (k5) -> S4 16@5×5
          -> C5 120 -> F6 84 -> 10 outputs

MNIST's 28×28 digits are padded by 2 to the 32×32 of the paper (C1 has padding=2).
'classic' uses tanh and average pooling (the paper's subsampling; its trainable
coefficients, partial C3 connection table and RBF output are simplified to a plain
conv and a linear layer, as is usual); 'modern' uses ReLU and max-pooling.
"""
from __future__ import annotations

from cnnlab import nn


def lenet5(variant: str = "modern", num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """LeNet-5 as an `nn.Sequential` taking (N, in_channels, 28, 28) (or 32×32 with padding removed).

    Args:
        variant: 'modern' (ReLU, max-pool) or 'classic' (tanh, average pool, as in 1998).
        num_classes: outputs of the last layer. Default: 10.
        in_channels: 1 for digits.

    The modern variant has 61,706 parameters for 10 classes, as the same net in PyTorch.
    """
    if variant not in ("modern", "classic"):
        raise ValueError(f"lenet5: variant must be 'modern' or 'classic', got {variant!r}")
    act = nn.ReLU if variant == "modern" else nn.Tanh
    pool = (lambda: nn.MaxPool2d(2)) if variant == "modern" else (lambda: nn.AvgPool2d(2))
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=2), act(), pool(),    # C1 6@28×28, S2 6@14×14
        nn.Conv2d(6, 16, 5), act(), pool(),                         # C3 16@10×10, S4 16@5×5
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), act(),                          # C5: a 5×5 conv on 5×5 maps is a linear layer
        nn.Linear(120, 84), act(),                                  # F6
        nn.Linear(84, num_classes),                                 # output
    )
