"""Layers and their building blocks, as ``torch.nn``."""
from cnnlab.nn import functional  # noqa: F401
from cnnlab.nn.parameter import Parameter  # noqa: F401
