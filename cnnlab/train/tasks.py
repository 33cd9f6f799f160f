"""What a model is trained to do: a `Task` says which datasets it learns from, what its model must
output, its loss and its metrics; `cnnlab train --task NAME` picks one from `TASKS`.

    task.build_datasets(config)  -> (train set, test set, DatasetInfo)     pairs (input, target)
    task.model_sizes(info, config) -> the constructor's in_channels, num_classes, ...
    task.check_output(...)        a blank image's output must fit the task (before any training)
    task.loss(output, target)     a mean over the batch (reduction='sum' for evaluation)
    task.meter(info, config)      a `Meter`: running totals over an epoch -> the task's metrics

A Meter's totals are plain sums (counts, a confusion matrix, sums of squared errors), so the
totals of several batches, or of the shards of several MPI ranks, add up to those of the whole,
and the metrics computed from them are exact: a mean IoU is not the mean of the ranks' IoUs.

`Classify` is the default task (one class per image, cross-entropy, accuracy); `Segment` gives a
class to every pixel (cross-entropy per pixel, or Dice; pixel accuracy and mean IoU);
`SuperResolution` enlarges the luminance of images (MSE, PSNR beside bicubic's).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import cnnlab.nn.functional as F
from cnnlab.data import CIFAR10, MNIST, FashionMNIST, MNISTSegmentation, Subset
from cnnlab.data import superres as SR
from cnnlab.data import transforms as T
from cnnlab.messages import SettingError, check_int, counted
from cnnlab.train.psnr import psnr
from cnnlab.train.segmentation import class_iou, mean_iou, pixel_accuracy

__all__ = ["DatasetInfo", "DATASETS", "Meter", "Task", "ClassifyMeter", "Classify", "CLASSIFY", "SegmentMeter",
           "Segment", "SEGMENT_LOSSES", "PSNRMeter", "SuperResolution", "SUPER_RESOLUTION", "SR_DATASETS", "TASKS",
           "TASK_NAMES", "all_datasets"]


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset: image shape, classes, and the normalisation used."""

    name: str
    cls: type
    in_channels: int
    input_size: int
    mean: tuple
    std: tuple
    bundled: bool = False
    light_on_dark: bool = False  # light objects on a dark background, as MNIST's digits (see predict)

    @property
    def classes(self) -> list[str]:
        return list(self.cls.classes)

    @property
    def num_classes(self) -> int:
        return len(self.cls.classes)


#: the datasets of classification: name -> DatasetInfo; mean and std are the usual per-channel statistics of
#: each training set.
DATASETS = {
    "mnist": DatasetInfo("mnist", MNIST, 1, 28, (0.1307,), (0.3081,), bundled=True, light_on_dark=True),
    "fashion-mnist": DatasetInfo("fashion-mnist", FashionMNIST, 1, 28, (0.2860,), (0.3530,), light_on_dark=True),
    "cifar10": DatasetInfo("cifar10", CIFAR10, 3, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}


class Meter:
    """Running totals of a task's metrics over the batches of an epoch.

    Subclasses keep their totals in one float64 vector (`totals`), a sum over the batches, and
    compute the metrics from any such vector (`result`): the same code gives the metrics of one
    process and, after the vectors of all ranks are summed, of the whole world.
    """

    def update(self, output: np.ndarray, target: np.ndarray) -> None:
        """Add one batch: the model's output array and the target array."""
        raise NotImplementedError

    def totals(self) -> np.ndarray:
        """The totals so far, a float64 1-D array that adds up over batches and ranks."""
        raise NotImplementedError

    def result(self, totals: np.ndarray | None = None) -> dict[str, float]:
        """metric name -> value, from ``totals`` (default: this meter's own)."""
        raise NotImplementedError


class Task:
    """The base of the tasks: subclasses set the class attributes and implement the methods.

    Attributes:
        name: the ``--task`` value.
        metrics: the keys of the meter's `result`, in display order; a run's metrics.json has
            ``train_<m>`` and ``test_<m>`` for each.
        headline: the metric shown in the progress bar and at the end of a run.
        names: metric -> its name in sentences (e.g. ``'acc'`` -> ``'accuracy'``).
        fractions: the metrics that are fractions of 1, shown in % (in the logs and the curves).
        datasets: the ``--dataset`` names the task accepts -> what a model needs to know of each.
        takes_scale: whether the task takes the ``scale`` setting (super-resolution).
        default_model, default_dataset: what ``cnnlab train --task NAME`` trains when --model and
            --dataset are not given.
        losses: the values the ``loss`` setting may take (the first is the default); () for a task
            with one loss, which takes no ``loss`` setting.
    """

    name: str = ""
    metrics: tuple[str, ...] = ()
    headline: str = ""
    names: dict[str, str] = {}
    fractions: tuple[str, ...] = ()
    datasets: dict[str, DatasetInfo] = {}
    losses: tuple[str, ...] = ()
    takes_scale: bool = False
    default_model: str = ""
    default_dataset: str = ""

    def defaults(self, config) -> dict:
        """Settings of ``config`` that this task fills in when they are None (`TrainConfig.resolved`)."""
        return {}

    def check_config(self, config) -> None:
        """Raise SettingError for settings this task can't use (`TrainConfig.validate` calls it)."""
        if config.scale is not None and not self.takes_scale:
            raise SettingError("TrainConfig", f"{{scale}} is for the super-resolution task, not {self.name}, "
                               f"got {config.scale!r}", "scale")
        if config.loss is not None and config.loss not in self.losses:
            if not self.losses:
                raise SettingError("TrainConfig", f"{{loss}} is for the segment task, not {self.name}, "
                                   f"got {config.loss!r}", "loss")
            raise SettingError("TrainConfig", f"unknown {{loss}} {config.loss!r} for the {{task}} {self.name}; "
                               f"choose from {', '.join(self.losses)}", "loss", "task")

    def configured(self, config) -> Task:
        """The task as a run with ``config`` trains it: a task whose loss is a setting (segment's ``loss``)
        returns a copy that uses it; the others themselves."""
        return self

    def build_datasets(self, config, train: bool = True, test: bool = True):
        """(train set or None, test set or None, DatasetInfo): items are ``(input (C, H, W), target)``."""
        raise NotImplementedError

    def model_sizes(self, info: DatasetInfo, config) -> dict:
        """Keyword arguments this task gives a model's constructor (when the constructor takes them)."""
        raise NotImplementedError

    def check_output(self, name: str, info: DatasetInfo, config, input_shape, output_shape) -> None:
        """Raise SettingError when the output of a blank input of ``input_shape`` does not fit the task."""
        raise NotImplementedError

    def eval_batch_size(self, test_set, config) -> int:
        """Images per forward pass on ``test_set``: ``config.eval_batch_size`` (1 for a task whose test
        images differ in size, which can't be stacked into one batch)."""
        return config.eval_batch_size

    def loss(self, output, target, reduction: str = "mean"):
        """The training loss of a batch, a Tensor (the mean over the batch, or with reduction='sum' the sum)."""
        raise NotImplementedError

    def meter(self, info: DatasetInfo | None = None, config=None) -> Meter:
        """A fresh `Meter`. ``info`` and ``config`` are None when the loop runs outside a training run
        (`cnnlab.train.loop` with any model and loader): the meter then learns its sizes from the arrays."""
        raise NotImplementedError

    def format(self, metric: str, value: float) -> str:
        """``value`` of ``metric`` as the progress bar and the logs show it: a fraction in %, else 4 decimals."""
        return f"{value:.2%}" if metric in self.fractions else f"{value:.4f}"

    def describe(self, metric: str) -> str:
        """The metric's name in a sentence."""
        return self.names.get(metric, metric)

    def report(self, totals: np.ndarray, info: DatasetInfo) -> list[str]:
        """Lines that `cnnlab eval` prints after the metrics, from a meter's ``totals`` (default: none)."""
        return []


# ---------------------------------------------------------------- classify
def _transforms(info: DatasetInfo, augment: bool):
    """uint8 images -> normalised float32 (C, H, W); with augment, random geometry first (on the uint8 images)."""
    pipeline = [T.ToTensor(), T.Normalize(info.mean, info.std)]
    if augment and info.in_channels == 1:  # digits and clothes: small shifts, turns and zooms
        pipeline.insert(0, T.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1)))
    elif augment:  # CIFAR: the usual crop of the 4-padded image and a mirror
        pipeline[:0] = [T.RandomCrop(info.input_size, padding=4), T.RandomHorizontalFlip()]
    return T.Compose(pipeline)


class ClassifyMeter(Meter):
    """Accuracy, from the confusion matrix of the batches (rows: the true class, columns: the predicted one).

    Args:
        num_classes: the number of classes; None: the width of the first output.
    """

    def __init__(self, num_classes: int | None = None):
        self.num_classes = num_classes
        self.counts = None if num_classes is None else np.zeros(num_classes * num_classes, dtype=np.float64)

    def update(self, output, target) -> None:
        output, target = np.asarray(output), np.asarray(target)
        if self.counts is None:
            self.num_classes = output.shape[1]
            self.counts = np.zeros(self.num_classes * self.num_classes, dtype=np.float64)
        c = self.num_classes
        self._check_shapes(output, target, c)
        if target.size and (target.min() < 0 or target.max() >= c):
            raise ValueError(f"{type(self).__name__}: targets must be class indices in [0, {c}), "
                             f"got values in [{target.min()}, {target.max()}]")
        predicted = output.argmax(axis=1)                                   # the class dim is 1
        pairs = target.reshape(predicted.shape).astype(np.int64) * c + predicted
        self.counts += np.bincount(pairs.reshape(-1), minlength=c * c)

    def _check_shapes(self, output, target, c) -> None:
        """(N, C) scores for N targets."""
        if output.ndim != 2 or output.shape[1] != c or len(output) != target.size:
            raise ValueError(f"ClassifyMeter: the output must be (N, {c}) scores for N targets, got "
                             f"{output.shape} for {target.size}")

    def totals(self) -> np.ndarray:
        return np.zeros(0) if self.counts is None else self.counts.copy()

    def confusion_matrix(self, totals: np.ndarray | None = None) -> np.ndarray:
        """int64 (C, C) counts of the images of true class i predicted as class j."""
        counts = self.totals() if totals is None else np.asarray(totals)
        c = int(round(np.sqrt(counts.size)))
        return np.rint(counts).astype(np.int64).reshape(c, c)

    def result(self, totals: np.ndarray | None = None) -> dict[str, float]:
        m = self.confusion_matrix(totals)
        seen = m.sum()
        return {"acc": float(np.trace(m) / seen) if seen else 0.0}


class Classify(Task):
    """One class per image: the model gives (N, classes) scores; cross-entropy; accuracy."""

    name = "classify"
    default_model, default_dataset = "lenet5", "mnist"
    metrics = ("acc",)
    headline = "acc"
    names = {"acc": "accuracy"}
    fractions = ("acc",)
    datasets = DATASETS

    def build_datasets(self, config, train: bool = True, test: bool = True):
        """The dataset's files (the bundled MNIST, or those in ``config.data_dir``), with ToTensor,
        Normalize and, for the training images with ``config.augment``, random geometry.

        Raises:
            FileNotFoundError: ``config.data_dir`` is not a folder (and ``download`` is off).
            ValueError: the dataset is not bundled and no ``data_dir`` was given; a file is damaged.
        """
        info = self.datasets[config.dataset]
        root = None if config.data_dir is None else Path(config.data_dir)
        if root is None and not info.bundled:
            raise SettingError("build_datasets", f"{info.name} is not bundled with cnnlab; give the folder of its "
                               "files with {data_dir}, and {download} to fetch them", "data_dir", "download",
                               download="download=True")
        if root is not None and not root.is_dir() and not config.download:
            raise FileNotFoundError(f"data directory {root} does not exist")
        kwargs = {"download": True} if config.download else {}

        def split(is_train, limit):
            ds = info.cls(root, train=is_train, transform=_transforms(info, config.augment and is_train), **kwargs)
            return Subset(ds, range(limit)) if limit is not None and limit < len(ds) else ds

        return (split(True, config.limit_train) if train else None,
                split(False, config.limit_test) if test else None, info)

    def model_sizes(self, info: DatasetInfo, config) -> dict:
        return {"in_channels": info.in_channels, "input_size": info.input_size, "num_classes": info.num_classes}

    def check_output(self, name, info, config, input_shape, output_shape) -> None:
        if tuple(output_shape) != (input_shape[0], info.num_classes):
            raise SettingError("build_model", f"{{model}} {name} gives scores of shape {tuple(output_shape)[1:]} per "
                               f"image, but {info.name} has {counted(info.num_classes, 'class', 'classes')}", "model")

    def loss(self, output, target, reduction: str = "mean"):
        return F.cross_entropy(output, target, reduction=reduction)

    def meter(self, info: DatasetInfo | None = None, config=None) -> ClassifyMeter:
        return ClassifyMeter(None if info is None else info.num_classes)


CLASSIFY = Classify()


# ---------------------------------------------------------------- segment
#: the losses of segment: cross-entropy per pixel, soft Dice (`cnnlab.nn.functional.dice_loss`), their sum
SEGMENT_LOSSES = ("ce", "dice", "ce+dice")


class SegmentMeter(ClassifyMeter):
    """Pixel accuracy and mean IoU (`cnnlab.train.segmentation`), from the confusion matrix of every pixel.

    Args:
        num_classes: the number of classes; None: the class dim of the first output.
    """

    def _check_shapes(self, output, target, c) -> None:
        """(N, C, H, W) scores for (N, H, W) targets."""
        if output.ndim != 4 or output.shape[1] != c or target.shape != output.shape[:1] + output.shape[2:]:
            raise ValueError(f"SegmentMeter: the output must be (N, {c}, H, W) scores for (N, H, W) targets, got "
                             f"{output.shape} for {target.shape}")

    def result(self, totals: np.ndarray | None = None) -> dict[str, float]:
        m = self.confusion_matrix(totals)
        if not m.sum():
            return {"pixel_acc": 0.0, "miou": 0.0}
        return {"pixel_acc": pixel_accuracy(m), "miou": mean_iou(m)}


class Segment(Task):
    """A class for every pixel: the model gives (N, classes, H, W) scores for (N, C, H, W) images;
    cross-entropy per pixel (``loss='ce'``, the default), soft Dice (``'dice'``) or their sum
    (``'ce+dice'``); pixel accuracy and the mean IoU over the classes present (`cnnlab.train.segmentation`).

    The loss of a batch is a mean over its pixels (Dice: over its classes); with reduction='sum', as
    `cnnlab.train.loop.evaluate` asks, that mean times the batch's images, so the test loss is the
    mean per image of the same quantity as the training loss.

    Dataset: ``mnist-seg``, `cnnlab.data.MNISTSegmentation` (seed 0: the same canvases for every run;
    ``limit_train`` and ``limit_test`` are the numbers of canvases made, by default 10,000 and 2,000).
    """

    name = "segment"
    default_model, default_dataset = "unet", "mnist-seg"
    metrics = ("pixel_acc", "miou")
    headline = "miou"
    names = {"pixel_acc": "pixel accuracy", "miou": "mean IoU"}
    fractions = ("pixel_acc",)
    losses = SEGMENT_LOSSES
    datasets = {"mnist-seg": DatasetInfo("mnist-seg", MNISTSegmentation, 1, 64, MNISTSegmentation.MEAN,
                                         MNISTSegmentation.STD, bundled=True, light_on_dark=True)}

    def __init__(self, loss: str = "ce"):
        if loss not in SEGMENT_LOSSES:
            raise SettingError("Segment", f"unknown {{loss}} {loss!r}; choose from {', '.join(SEGMENT_LOSSES)}",
                               "loss")
        self.loss_name = loss

    def defaults(self, config) -> dict:
        return {"loss": self.losses[0]}

    def check_config(self, config) -> None:
        super().check_config(config)
        if config.augment:
            raise SettingError("TrainConfig", "{augment} is for classify (it would move the digits but not "
                               "their masks)", "augment")

    def configured(self, config) -> Segment:
        return Segment(config.loss or self.losses[0])

    def build_datasets(self, config, train: bool = True, test: bool = True):
        """The canvases of `MNISTSegmentation` (from the bundled MNIST, or that in ``config.data_dir``),
        with ToTensor and Normalize; ``limit_train`` / ``limit_test`` canvases (default 10,000 / 2,000)."""
        info = self.datasets[config.dataset]
        root = None if config.data_dir is None else Path(config.data_dir)
        if root is not None and not root.is_dir():
            raise FileNotFoundError(f"data directory {root} does not exist")
        transform = T.Compose([T.ToTensor(), T.Normalize(info.mean, info.std)])

        def split(is_train, limit):
            return MNISTSegmentation(root, train=is_train, size=limit, transform=transform)

        return (split(True, config.limit_train) if train else None,
                split(False, config.limit_test) if test else None, info)

    def model_sizes(self, info: DatasetInfo, config) -> dict:
        return {"in_channels": info.in_channels, "num_classes": info.num_classes}

    def check_output(self, name, info, config, input_shape, output_shape) -> None:
        want = (input_shape[0], info.num_classes, *input_shape[2:])
        if tuple(output_shape) != want:
            raise SettingError("build_model", f"{{model}} {name} gives scores of shape {tuple(output_shape)[1:]} per "
                               f"image, but segment needs {want[1:]}: a score for each of the "
                               f"{counted(info.num_classes, 'class', 'classes')} of {info.name} at every pixel "
                               "(fcn, unet)", "model")

    def loss(self, output, target, reduction: str = "mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"Segment.loss: reduction must be 'mean' or 'sum', got {reduction!r}")
        terms = []
        if self.loss_name in ("ce", "ce+dice"):
            terms.append(F.cross_entropy(output, target))                    # mean over the pixels
        if self.loss_name in ("dice", "ce+dice"):
            terms.append(F.dice_loss(output, target))                        # mean over the classes
        loss = terms[0] if len(terms) == 1 else terms[0] + terms[1]
        return loss * len(target) if reduction == "sum" else loss

    def meter(self, info: DatasetInfo | None = None, config=None) -> SegmentMeter:
        return SegmentMeter(None if info is None else info.num_classes)

    def report(self, totals: np.ndarray, info: DatasetInfo) -> list[str]:
        """The IoU of each class ('-' for a class with no pixel in the truth nor in the prediction)."""
        iou = class_iou(SegmentMeter(info.num_classes).confusion_matrix(totals))
        cells = [f"{name} {'-' if np.isnan(v) else f'{v:.4f}'}" for name, v in zip(info.classes, iou)]
        return ["IoU per class: " + ", ".join(cells)]


# ---------------------------------------------------------------- super-resolution
class PSNRMeter(Meter):
    """The mean PSNR on Y of a model's images (`cnnlab.train.psnr.psnr`: 8-bit, border = scale), and that
    of Pillow's bicubic enlargement of the same images, the baseline.

    The baseline comes from the target alone: its shrinking by s (`downscale`, as the data made the
    model's input from it) enlarged again by s (`bicubic_baseline`). An image that comes out exactly
    (a flat patch: PSNR inf) counts as if one of its n pixels were one level off, 10·log10(255²·n),
    the largest finite PSNR of its size, so that the means stay finite.

    Args:
        scale: s, also the border cut off.

    Totals: [Σ PSNR, Σ bicubic PSNR, images].
    """

    def __init__(self, scale: int):
        self.scale = int(scale)
        self._totals = np.zeros(3, np.float64)

    def update(self, output, target) -> None:
        out, ref = np.asarray(output), np.asarray(target)
        if out.ndim != 4 or out.shape[1] != 1 or out.shape != ref.shape:
            raise ValueError(f"PSNRMeter: the output and the target must be (N, 1, H, W) of the same shape, got "
                             f"{out.shape} and {ref.shape}")
        ref, s = ref[:, 0], self.scale
        bicubic = SR.bicubic_baseline(SR.downscale(ref, s), s)                      # (N, H, W)
        top = 10.0 * np.log10(255.0 ** 2 * (ref.shape[1] - 2 * s) * (ref.shape[2] - 2 * s))
        self._totals += [np.minimum(psnr(out[:, 0], ref, s), top).sum(), np.minimum(psnr(bicubic, ref, s), top).sum(),
                         len(ref)]

    def totals(self) -> np.ndarray:
        return self._totals.copy()

    def result(self, totals: np.ndarray | None = None) -> dict[str, float]:
        t = self._totals if totals is None else np.asarray(totals, dtype=np.float64)
        if t[2] == 0:
            return {"psnr": float("nan"), "psnr_bicubic": float("nan")}
        return {"psnr": float(t[0] / t[2]), "psnr_bicubic": float(t[1] / t[2])}


#: the datasets of super-resolution, the luminance of each (no normalisation: Y / 255 in and out);
#: input_size is the LR side of a training sample (a patch of the photographs, a digit at ×2)
SR_DATASETS = {
    "skimage": DatasetInfo("skimage", SR.SRPatches, 1, 17, (0.0,), (1.0,), bundled=True),
    "mnist": DatasetInfo("mnist", SR.SRImages, 1, 14, (0.0,), (1.0,), bundled=True),
}


class SuperResolution(Task):
    """Enlarge an image's luminance ``scale`` times: the model maps the LR Y (N, 1, h, w) to the HR Y
    (N, 1, s·h, s·w); MSE; PSNR on Y beside Pillow's bicubic (`cnnlab.data.superres`).

    Datasets: 'skimage', random patches (17×17 LR, `PATCHES` an epoch) of the photographs of
    `cnnlab.data.superres.SKIMAGE_TRAIN`, tested on the whole `SKIMAGE_TEST` photographs; 'mnist',
    the digits 14×14 -> 28×28. ``limit_train`` is the patches of an epoch for skimage.
    """

    name = "super-resolution"
    default_model, default_dataset = "espcn", "skimage"
    metrics = ("psnr", "psnr_bicubic")
    headline = "psnr"
    names = {"psnr": "PSNR", "psnr_bicubic": "bicubic PSNR"}
    datasets = SR_DATASETS
    #: LR patches of the photographs an epoch (each 17×17, so 17·s × 17·s HR, as ESPCN's): 768 batches of 64
    PATCHES = 49152

    def defaults(self, config) -> dict:
        """Scale 2; with Adam or AdamW an lr of 1e-3 (their 3e-3 made ESPCN's one-cycle run unsteady here)."""
        return {"scale": 2, **({"lr": 1e-3} if config.optimizer in ("adam", "adamw") else {})}

    takes_scale = True

    def check_config(self, config) -> None:
        super().check_config(config)
        check_int("TrainConfig", "scale", config.scale, 2, allow_none=True)
        if config.dataset == "skimage" and config.data_dir is not None:
            raise SettingError("TrainConfig", "{data_dir} is not for skimage: its photographs ship inside "
                               f"scikit-image, got {config.data_dir!r}", "data_dir")

    def build_datasets(self, config, train: bool = True, test: bool = True):
        """The photographs of scikit-image (patches to train, whole images to test), or MNIST's digits
        (the bundled copy, or those in ``config.data_dir``), each limited to the first ``limit_*`` items."""
        info, scale = self.datasets[config.dataset], config.scale or self.defaults(config)["scale"]

        def limited(ds, limit):
            return Subset(ds, range(limit)) if limit is not None and limit < len(ds) else ds

        if config.dataset == "skimage":
            train_set = SR.skimage_sr(True, scale, length=config.limit_train or self.PATCHES,
                                      augment=config.augment) if train else None
            test_set = limited(SR.skimage_sr(False, scale), config.limit_test) if test else None
        else:
            def digits(is_train, limit):
                return SR.mnist_sr(is_train, scale, root=config.data_dir, limit=limit)
            train_set = digits(True, config.limit_train) if train else None
            test_set = digits(False, config.limit_test) if test else None
        return train_set, test_set, info

    def model_sizes(self, info: DatasetInfo, config) -> dict:
        return {"in_channels": info.in_channels, "scale": config.scale if config is not None else 2}

    def check_output(self, name, info, config, input_shape, output_shape) -> None:
        n, c, h, w = input_shape
        s = config.scale if config is not None else 2
        if tuple(output_shape) != (n, c, s * h, s * w):
            raise SettingError("build_model", f"{{model}} {name} gives outputs of shape {tuple(output_shape)[1:]} per "
                               f"image, but super-resolution ×{s} of {c}×{h}×{w} images needs {c}×{s * h}×{s * w}",
                               "model")

    def eval_batch_size(self, test_set, config) -> int:
        same = getattr(getattr(test_set, "dataset", test_set), "same_size", True)
        return config.eval_batch_size if same else 1

    def loss(self, output, target, reduction: str = "mean"):
        """The mean squared error over the pixels; with reduction='sum', the sum over the images of each one's."""
        if reduction == "mean":
            return F.mse_loss(output, target)
        return F.mse_loss(output, target, reduction="sum") / float(np.prod(target.shape[1:]))

    def meter(self, info: DatasetInfo | None = None, config=None) -> PSNRMeter:
        return PSNRMeter(config.scale if config is not None and config.scale is not None else 2)

    def format(self, metric: str, value: float) -> str:
        return f"{value:.2f} dB"


SUPER_RESOLUTION = SuperResolution()

#: --task name -> Task
TASKS: dict[str, Task] = {"classify": CLASSIFY, "segment": Segment(), "super-resolution": SUPER_RESOLUTION}
TASK_NAMES = tuple(TASKS)


def all_datasets() -> dict[str, DatasetInfo]:
    """Every dataset name of every task (the ``--dataset`` choices), the first task's info for a shared name."""
    out = {}
    for task in TASKS.values():
        for name, info in task.datasets.items():
            out.setdefault(name, info)
    return out


