"""Datasets, transforms and loading, as ``torch.utils.data`` and ``torchvision.datasets`` / ``.transforms``;
and `MNISTSegmentation`, canvases of MNIST digits with a class per pixel."""
from cnnlab.data.idx import read_idx
from cnnlab.data.mnist import load_mnist_arrays
from cnnlab.data import transforms
from cnnlab.data.dataset import Dataset, ImageArrayDataset, Subset, TensorDataset, random_split
from cnnlab.data.loader import DataLoader, default_collate, default_convert
from cnnlab.data.datasets import MNIST, FashionMNIST
from cnnlab.data.cifar import CIFAR10
from cnnlab.data.folder import IMG_EXTENSIONS, ImageFolder
from cnnlab.data.segmentation import MNISTSegmentation
from cnnlab.data.download import DownloadError, download_file

__all__ = [
    "CIFAR10", "DataLoader", "Dataset", "DownloadError", "FashionMNIST", "IMG_EXTENSIONS", "ImageArrayDataset",
    "ImageFolder", "MNIST", "MNISTSegmentation", "Subset", "TensorDataset", "default_collate", "default_convert", "download_file",
    "load_mnist_arrays", "random_split", "read_idx", "transforms",
]
