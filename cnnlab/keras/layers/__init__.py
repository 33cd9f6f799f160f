"""Keras-style layers: Keras 3's names, defaults, weight layout (HWIO kernels) and channels_last images."""
from cnnlab.keras.layers.base import InputSpec, Layer
from cnnlab.keras.layers.conv import (
    Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Conv3D, Conv3DTranspose, DepthwiseConv1D,
    DepthwiseConv2D, SeparableConv1D, SeparableConv2D,
)
from cnnlab.keras.layers.core import Activation, Dense, Dropout, Flatten
from cnnlab.keras.layers.normalization import BatchNormalization
from cnnlab.keras.layers.padding import ZeroPadding1D, ZeroPadding2D, ZeroPadding3D
from cnnlab.keras.layers.pooling import (
    AveragePooling1D, AveragePooling2D, AveragePooling3D, AvgPool1D, AvgPool2D, AvgPool3D, GlobalAveragePooling1D,
    GlobalAveragePooling2D, GlobalAveragePooling3D, GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D,
    GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D, GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
    MaxPool1D, MaxPool2D, MaxPool3D, MaxPooling1D, MaxPooling2D, MaxPooling3D,
)

__all__ = [
    "InputSpec", "Layer", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "Activation", "Dense", "Dropout",
    "Flatten", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "GlobalMaxPooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D",
    "AvgPool3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D",
    "GlobalMaxPool3D", "BatchNormalization",
]
