"""The lecture's networks, as ``torchvision.models`` names them where it has them.

LeNet-5, AlexNet (torchvision's and the 2012 paper's), VGG-11/13/16/19, a
global-average-pooling net (CAM-ready), ResNet-18/34 and the CIFAR ResNets, FCN and U-Net for
segmentation (a class score per pixel), SRCNN and ESPCN (super-resolution), and
`from_pattern` for the lecture's ``INPUT -> [[CONV -> RELU]*N -> POOL?]*M -> [FC -> RELU]*K -> FC``.
"""
from cnnlab.models.alexnet import AlexNet, alexnet
from cnnlab.models.gapnet import GAPNet, gapnet
from cnnlab.models.lenet import lenet5
from cnnlab.models.pattern import PatternError, from_pattern, parse_pattern
from cnnlab.models.resnet import BasicBlock, CifarResNet, ResNet, resnet18, resnet34, resnet_cifar
from cnnlab.models.segmentation import FCN, UNet, fcn, unet
from cnnlab.models.superres import ESPCN, SRCNN, espcn, srcnn
from cnnlab.models.vgg import VGG, vgg11, vgg13, vgg16, vgg19

#: name -> constructor, for the command line (`cnnlab train --model NAME`)
MODELS = {
    "lenet5": lenet5, "alexnet": alexnet, "vgg11": vgg11, "vgg13": vgg13, "vgg16": vgg16, "vgg19": vgg19,
    "gapnet": gapnet, "resnet18": resnet18, "resnet34": resnet34, "resnet_cifar": resnet_cifar,
    "fcn": fcn, "unet": unet, "srcnn": srcnn, "espcn": espcn,
}

#: name -> the (C, *spatial) input each model is made for (`cnnlab summary MODEL`'s default --input-size)
INPUT_SIZES = {
    "lenet5": (1, 28, 28), "alexnet": (3, 224, 224), "vgg11": (3, 224, 224), "vgg13": (3, 224, 224),
    "vgg16": (3, 224, 224), "vgg19": (3, 224, 224), "gapnet": (1, 28, 28), "resnet18": (3, 224, 224),
    "resnet34": (3, 224, 224), "resnet_cifar": (3, 32, 32), "fcn": (1, 64, 64), "unet": (1, 64, 64),
    "srcnn": (1, 32, 32), "espcn": (1, 32, 32),
}

__all__ = ["AlexNet", "alexnet", "GAPNet", "gapnet", "lenet5", "PatternError", "from_pattern", "parse_pattern",
           "BasicBlock", "CifarResNet", "ResNet", "resnet18", "resnet34", "resnet_cifar", "VGG", "vgg11", "vgg13",
           "vgg16", "vgg19", "FCN", "UNet", "fcn", "unet", "SRCNN", "srcnn", "ESPCN", "espcn", "MODELS", "INPUT_SIZES"]
