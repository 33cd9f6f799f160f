"""What a training run is made of: its settings (`TrainConfig`) and the builders that turn them into objects.

    TrainConfig -> build_datasets -> (train set, test set, DatasetInfo)
                -> build_model    -> a Module that takes the dataset's images
                -> build_optimizer, build_scheduler

Every builder validates its input first and raises ValueError (or
FileNotFoundError for a missing folder) with a message that names the setting.
Errors about settings are `cnnlab.messages.SettingError`s: from Python they name
the argument (``TrainConfig: batch_size must be an int >= 1, got 0``), and the
command line prints them with the flag instead (``--batch-size must be ...``).
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import math
from dataclasses import dataclass, field

import numpy as np

from cnnlab import no_grad, optim, zeros
from cnnlab.data import transforms as T
from cnnlab.messages import SettingError, check_int, check_real
from cnnlab.models import MODELS, from_pattern
from cnnlab.train.tasks import CLASSIFY, DATASETS, TASK_NAMES, TASKS, DatasetInfo

__all__ = ["TrainConfig", "DatasetInfo", "DATASETS", "TASKS", "TASK_NAMES", "MODEL_NAMES", "OPTIMIZERS", "SCHEDULES", "DEFAULT_PATTERN",
           "build_datasets", "build_model", "build_optimizer", "build_scheduler", "parse_model_args"]


#: the pattern built by ``--model pattern`` when no ``pattern=`` is given: two stages of 3×3 conv-BN-ReLU-pool
DEFAULT_PATTERN = "INPUT -> [CONV -> BN -> RELU -> POOL]*2 -> FC -> RELU -> FC"


def pattern(pattern: str = DEFAULT_PATTERN, in_channels: int = 1, input_size: int = 28, num_classes: int = 10,
            **options):
    """`cnnlab.models.from_pattern` with the default pattern above (``--model pattern``)."""
    return from_pattern(pattern, in_channels=in_channels, input_size=input_size, num_classes=num_classes, **options)


_CONSTRUCTORS = {**MODELS, "pattern": pattern}
MODEL_NAMES = tuple(sorted(_CONSTRUCTORS))
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine", "onecycle")

#: lr and weight decay used when the config leaves them None, per optimizer
OPTIMIZER_DEFAULTS = {"sgd": {"lr": 0.05, "weight_decay": 5e-4},
                      "adam": {"lr": 3e-3, "weight_decay": 0.0},
                      "adamw": {"lr": 3e-3, "weight_decay": 0.01}}


@dataclass
class TrainConfig:
    """Every setting of a training run; the command line's ``cnnlab train`` flags, one field each.

    The defaults train the modern LeNet-5 on the bundled MNIST to >= 99% test accuracy.

    Attributes:
        task: what the model learns, a name of `cnnlab.train.tasks.TASKS`: 'classify' (one class per image),
            'segment' (a class per pixel) or 'super-resolution' (the image enlarged ``scale`` times).
            Default: 'classify'.
        model: a name of `cnnlab.models.MODELS` or ``'pattern'`` (`from_pattern`). Default: 'lenet5'.
        model_args: keyword arguments of the model's constructor, e.g. ``{'variant': 'classic'}`` or
            ``{'pattern': '...', 'widths': [32, 64]}``. in_channels, input_size and num_classes come
            from the dataset. Default: {}.
        dataset: a dataset of the task; for classify 'mnist' (bundled), 'fashion-mnist' or 'cifar10';
            for segment 'mnist-seg' (made from the bundled MNIST); for super-resolution 'skimage' (the
            photographs inside scikit-image) or 'mnist'. Default: 'mnist'.
        data_dir: folder of the dataset's files; None: the bundled MNIST. Default: None.
        download: fetch missing dataset files (MNIST, Fashion-MNIST, CIFAR-10). Default: False.
        epochs: passes over the training set. Default: 10.
        batch_size: images per step. Default: 64.
        optimizer: 'sgd', 'adam' or 'adamw'. Default: 'adamw'.
        lr: learning rate (the peak for 'onecycle'); None: 0.05 for SGD, 3e-3 for Adam(W). Default: None.
        momentum: SGD's momentum, Adam(W)'s β1 (with 'onecycle', the top of the momentum cycle). Default: 0.9.
        weight_decay: None: 5e-4 for SGD, 0 for Adam, 0.01 for AdamW (decoupled). Default: None.
        schedule: 'none', 'step' (×0.1 after each third of the epochs), 'cosine' (to 0 over the epochs,
            stepped per epoch) or 'onecycle' (per batch). Default: 'onecycle'.
        augment: random shifts, rotations and scaling for digits; random crops and flips for CIFAR. Default: False.
        seed: seeds the init, the shuffling and the augmentation. Default: 0.
        limit_train, limit_test: use only the first N images of each split (quick runs). Default: None (all).
        prefetch: batches made ahead by a background thread. Default: 2.
        eval_batch_size: images per forward pass when evaluating. Default: 1000.
        out: the run folder (checkpoint.safetensors, metrics.json, curves.png); None writes nothing. Default: None.
        distributed: data-parallel over the ranks of ``mpiexec -n W`` (`cnnlab.distributed`): each rank trains
            on batch_size / W images of every batch of batch_size; may change on resume. Default: False.
        sync_batchnorm: with distributed, batch norm uses the statistics of the whole batch over all ranks
            (`cnnlab.distributed.SyncBatchNorm`) instead of each rank's own. Default: False.
        scale: the upscaling factor of the super-resolution task (None there: 2); None for the other tasks.
            Default: None.
        loss: the segment task's loss: 'ce' (cross-entropy per pixel), 'dice' (soft Dice) or 'ce+dice';
            None: 'ce' for segment; the other tasks take none. Default: None.
    """

    task: str = "classify"
    model: str = "lenet5"
    model_args: dict = field(default_factory=dict)
    dataset: str = "mnist"
    data_dir: str | None = None
    download: bool = False
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adamw"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float | None = None
    schedule: str = "onecycle"
    augment: bool = False
    seed: int = 0
    limit_train: int | None = None
    limit_test: int | None = None
    prefetch: int = 2
    eval_batch_size: int = 1000
    out: str | None = None
    distributed: bool = False
    sync_batchnorm: bool = False
    scale: int | None = None
    loss: str | None = None

    #: fields that may change when a run is resumed: where things are and how it is run, not what is computed
    RESUMABLE_CHANGES = ("data_dir", "download", "prefetch", "eval_batch_size", "out", "distributed")

    def resolved(self) -> TrainConfig:
        """A checked copy with the settings left None filled in: first from the task's defaults (`Task.defaults`:
        super-resolution's scale and lr), then lr and weight_decay from the optimizer's."""
        self.validate()
        defaults = OPTIMIZER_DEFAULTS[self.optimizer]
        filled = {k: v for k, v in TASKS[self.task].defaults(self).items() if getattr(self, k) is None}
        c = dataclasses.replace(self, model_args=dict(self.model_args), **filled)
        return dataclasses.replace(
            c, lr=float(defaults["lr"] if c.lr is None else c.lr),
            weight_decay=float(defaults["weight_decay"] if c.weight_decay is None else c.weight_decay))

    def validate(self) -> None:
        """Raise ValueError naming the first setting that is out of range (before any work is done)."""
        def choice(name, options):
            value = getattr(self, name)
            if value not in options:
                raise SettingError("TrainConfig", f"unknown {{{name}}} {value!r}; choose from {', '.join(options)}",
                                   name)

        def integer(name, low, allow_none=False):
            check_int("TrainConfig", name, getattr(self, name), low, allow_none)

        def real(name, low, allow_none=False):
            check_real("TrainConfig", name, getattr(self, name), low, allow_none)

        choice("task", TASK_NAMES)
        choice("model", MODEL_NAMES)
        task = TASKS[self.task]
        if self.dataset not in task.datasets:
            which = "" if task is CLASSIFY else f" for the {{task}} {self.task}"
            raise SettingError("TrainConfig", f"unknown {{dataset}} {self.dataset!r}{which}; choose from "
                               f"{', '.join(task.datasets)}", "dataset", "task")
        choice("optimizer", OPTIMIZERS)
        choice("schedule", SCHEDULES)
        if not isinstance(self.model_args, dict) or not all(isinstance(k, str) for k in self.model_args):
            raise SettingError("TrainConfig", f"{{model_args}} must be a dict with str keys, got {self.model_args!r}",
                               "model_args")
        for name in ("epochs", "batch_size", "eval_batch_size"):
            integer(name, 1)
        integer("seed", 0)
        integer("prefetch", 0)
        integer("limit_train", 1, allow_none=True)
        integer("limit_test", 1, allow_none=True)
        real("lr", 0, allow_none=True)
        real("weight_decay", 0, allow_none=True)
        real("momentum", 0)
        if self.momentum >= 1:
            raise SettingError("TrainConfig", f"{{momentum}} must be in [0, 1), got {self.momentum!r}", "momentum")
        task.check_config(self)

    def to_dict(self) -> dict:
        """The settings as plain JSON-able values (what a checkpoint stores)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """The inverse of `to_dict`; unknown keys are an error (a checkpoint of another version)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"TrainConfig: unknown setting {unknown[0]!r} (known: {', '.join(sorted(names))})")
        return cls(**values)


# ---------------------------------------------------------------- data
def build_datasets(config: TrainConfig, train: bool = True, test: bool = True):
    """(train set or None, test set or None, DatasetInfo) of ``config.dataset`` for ``config.task``, transformed
    and limited (`cnnlab.train.tasks.Task.build_datasets`).

    Raises:
        FileNotFoundError: ``config.data_dir`` is not a folder (and ``download`` is off).
        ValueError: an unknown task or dataset; the dataset is not bundled and no ``data_dir`` was given; a file
            is damaged.
    """
    task = TASKS.get(config.task)
    if task is None:
        raise SettingError("build_datasets", f"unknown {{task}} {config.task!r}; choose from {', '.join(TASKS)}",
                           "task")
    if config.dataset not in task.datasets:
        which = "" if task is CLASSIFY else f" for the {{task}} {config.task}"
        raise SettingError("build_datasets", f"unknown {{dataset}} {config.dataset!r}{which}; choose from "
                           f"{', '.join(task.datasets)}", "dataset", "task")
    return task.build_datasets(config, train, test)


def dataset_arrays(config: TrainConfig, train: bool, limit: int | None = None):
    """One split of ``config.dataset`` as whole arrays, for work on all images at once (retrieval):
    (uint8 images (N, H, W) or (N, H, W, 3), float32 (N, C, H, W) normalised as in training, labels (N,)).

    Args:
        config: the dataset, its folder and download setting (the rest is not used).
        train: the training split (True) or the test split.
        limit: keep the first `limit` images only (None: all).
    """
    info = DATASETS[config.dataset]
    ds = build_datasets(dataclasses.replace(config, augment=False, limit_train=None, limit_test=None),
                        train=train, test=not train)[0 if train else 1]
    raw, labels = np.asarray(ds.data)[:limit], np.asarray(ds.targets, dtype=np.int64)[:limit]
    images = T.Normalize(info.mean, info.std).apply_batch(T.ToTensor().apply_batch(raw))    # (N, C, H, W)
    return raw, images, labels


# ---------------------------------------------------------------- model
def parse_model_args(items) -> dict:
    """``['variant=classic', 'widths=[32, 64]']`` -> ``{'variant': 'classic', 'widths': [32, 64]}``.

    Each value is read as JSON (numbers, true/false, null, [lists], "strings"); a value that
    is not JSON stays the text as given (so ``variant=classic`` needs no quotes).
    """
    args = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        if not sep or not key.isidentifier():
            raise SettingError("parse_model_args", f"{{model_args}} takes KEY=VALUE items, got {item!r}", "model_args")
        try:
            args[key] = json.loads(text)
        except json.JSONDecodeError:
            args[key] = text
    return args


def build_model(name: str, info: DatasetInfo, model_args: dict | None = None, task=None, config=None):
    """The model ``name`` sized for the dataset and the task, checked with one forward pass of a blank image.

    The task's sizes (`Task.model_sizes`: for classify in_channels, input_size and num_classes)
    are passed when the constructor takes them; ``model_args`` adds or overrides keyword arguments.

    Args:
        name, info, model_args: the model, the dataset it is for, and its extra arguments.
        task: a `cnnlab.train.tasks.Task`; None: classify.
        config: the run's settings, for tasks whose model depends on them (super-resolution's scale).

    Raises:
        ValueError: unknown model or argument, bad arguments, or a model that can't take the
            dataset's images (e.g. AlexNet on 28×28 digits) or whose output does not fit the
            task (classify: one score per class).
    """
    task = CLASSIFY if task is None else task
    if name not in _CONSTRUCTORS:
        raise SettingError("build_model", f"unknown {{model}} {name!r}; choose from {', '.join(MODEL_NAMES)}", "model")
    ctor, model_args = _CONSTRUCTORS[name], dict(model_args or {})
    params = inspect.signature(ctor).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [k for k in model_args if k not in params and not takes_any]
    if unknown:
        takes = ', '.join(p for p in params if p not in task.model_sizes(info, config))
        raise SettingError("build_model", f"{{model}} {name} has no argument {unknown[0]!r} ({{model_args}}); "
                           f"it takes {takes}", "model", "model_args")
    sizes = task.model_sizes(info, config)
    kwargs = {k: v for k, v in sizes.items() if k in params}
    kwargs.update(model_args)
    if model_args:  # the user's arguments may have the wrong types: report it as their error
        try:
            model = ctor(**kwargs)
        except TypeError as e:
            raise SettingError("build_model", f"can't build {{model}} {name} with {{model_args}} {model_args}: {e}",
                               "model", "model_args") from None
    else:
        model = ctor(**kwargs)
    shape = (1, info.in_channels, info.input_size, info.input_size)
    model.eval()
    try:
        with no_grad():
            scores = model(zeros(*shape))
    except ValueError as e:
        raise SettingError("build_model", f"{{model}} {name} can't take {info.name}'s {shape[1]}×{shape[2]}×{shape[3]} "
                           f"images: {e}", "model") from None
    model.train()
    task.check_output(name, info, config, shape, tuple(scores.shape))
    return model


# ---------------------------------------------------------------- optimizer and schedule
def build_optimizer(config: TrainConfig, params):
    """SGD (momentum), Adam or AdamW (β1 = momentum) with the config's lr and weight decay (resolved first)."""
    c = config.resolved() if config.lr is None or config.weight_decay is None else config
    if c.optimizer == "sgd":
        return optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)
    cls = optim.Adam if c.optimizer == "adam" else optim.AdamW
    return cls(params, lr=c.lr, betas=(c.momentum, 0.999), weight_decay=c.weight_decay)


def build_scheduler(config: TrainConfig, optimizer, steps_per_epoch: int):
    """(scheduler or None, per_batch): how the lr changes over the run.

    - 'none': the lr stays.
    - 'step': StepLR, ×0.1 after every ⌈epochs / 3⌉ epochs; stepped per epoch.
    - 'cosine': CosineAnnealingLR from lr to 0 over the epochs; stepped per epoch.
    - 'onecycle': OneCycleLR peaking at lr, 30% warm-up; stepped per batch. The momentum
      (β1) cycles between 0.85 and ``momentum`` when ``momentum`` > 0.85.
    """
    s = optim.lr_scheduler
    if config.schedule == "none":
        return None, False
    if config.schedule == "step":
        return s.StepLR(optimizer, step_size=max(1, math.ceil(config.epochs / 3)), gamma=0.1), False
    if config.schedule == "cosine":
        return s.CosineAnnealingLR(optimizer, T_max=config.epochs), False
    lr = optimizer.param_groups[0]["lr"]
    cycle = config.momentum > 0.85
    return s.OneCycleLR(optimizer, max_lr=lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch,
                        cycle_momentum=cycle, base_momentum=0.85, max_momentum=config.momentum if cycle else 0.95
                        ), True

