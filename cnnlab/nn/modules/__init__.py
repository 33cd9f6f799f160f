"""The layers, as ``torch.nn.modules``: one family per file (module, container, linear, activation, conv, ...)."""
from cnnlab.nn.modules.module import Module, RemovableHandle
from cnnlab.nn.modules.container import ModuleDict, ModuleList, Sequential
from cnnlab.nn.modules.linear import Flatten, Identity, Linear
from cnnlab.nn.modules.activation import (
    ELU, GELU, Hardswish, LeakyReLU, LogSoftmax, ReLU, ReLU6, Sigmoid, SiLU, Softmax, Tanh,
)
from cnnlab.nn.modules.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss
from cnnlab.nn.modules.conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from cnnlab.nn.modules.deform_conv import DeformConv2d
from cnnlab.nn.modules.pooling import (
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d,
    AvgPool1d, AvgPool2d, AvgPool3d, LPPool1d, LPPool2d, LPPool3d, MaxPool1d, MaxPool2d, MaxPool3d, MaxUnpool1d,
    MaxUnpool2d, MaxUnpool3d,
)
from cnnlab.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from cnnlab.nn.modules.normalization import GroupNorm, LayerNorm, LocalResponseNorm
from cnnlab.nn.modules.dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d
from cnnlab.nn.modules.upsampling import (
    PixelShuffle, PixelUnshuffle, Upsample, UpsamplingBilinear2d, UpsamplingNearest2d,
)
from cnnlab.nn.modules.padding import (
    CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d, ConstantPad3d, ReflectionPad1d,
    ReflectionPad2d, ReflectionPad3d, ReplicationPad1d, ReplicationPad2d, ReplicationPad3d, ZeroPad1d, ZeroPad2d,
    ZeroPad3d,
)

__all__ = [
    "Module", "RemovableHandle", "ModuleDict", "ModuleList", "Sequential", "Flatten", "Identity", "Linear",
    "ReLU", "Sigmoid", "Tanh", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
    "ConvTranspose3d", "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d",
    "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
    "ReplicationPad2d", "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "BatchNorm1d", "BatchNorm2d",
    "BatchNorm3d", "GroupNorm", "LayerNorm", "LocalResponseNorm", "AlphaDropout", "Dropout", "Dropout1d",
    "Dropout2d", "Dropout3d", "DeformConv2d", "ELU", "GELU", "Hardswish", "LeakyReLU", "LogSoftmax", "ReLU6",
    "SiLU", "Softmax", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss",
    "SmoothL1Loss", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "LPPool1d", "LPPool2d",
    "LPPool3d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
    "PixelShuffle", "PixelUnshuffle", "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d",
]
