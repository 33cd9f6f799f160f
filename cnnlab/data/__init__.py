"""Datasets and loading, as ``torch.utils.data`` and ``torchvision.datasets``."""
from cnnlab.data.idx import read_idx  # noqa: F401
from cnnlab.data.mnist import load_mnist_arrays  # noqa: F401
