"""The layers, as ``torch.nn.modules``: one family per file (module, container, linear, activation, ...)."""
from cnnlab.nn.modules.module import Module, RemovableHandle  # noqa: F401
from cnnlab.nn.modules.container import ModuleDict, ModuleList, Sequential  # noqa: F401
from cnnlab.nn.modules.linear import Flatten, Identity, Linear  # noqa: F401
from cnnlab.nn.modules.activation import ReLU, Sigmoid, Tanh  # noqa: F401
