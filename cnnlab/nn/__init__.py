"""Layers and their building blocks, as ``torch.nn``."""
from cnnlab.nn import functional  # noqa: F401
from cnnlab.nn.parameter import Parameter  # noqa: F401
from cnnlab.nn import init, utils  # noqa: F401
from cnnlab.nn.modules import *  # noqa: F401,F403  (the layers; the list is cnnlab.nn.modules.__all__)
