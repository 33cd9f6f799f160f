"""Training, from Python and from ``cnnlab train``: the loop, runs with checkpoints, evaluation and prediction.

- `train_one_epoch`, `evaluate`, `fit`: the plain loop, for any model, loader, optimizer and task.
- `TASKS`: what a model learns (`cnnlab.train.tasks`: classify; its datasets, loss and metrics).
- `TrainConfig` and `train`: a whole run from its settings, with a run folder
  (checkpoint.safetensors, metrics.json, curves.png) written after every epoch, and resume.
- `load_checkpoint`, `model_from_checkpoint`: the trained model back from its checkpoint.
- `confusion_matrix`, `format_confusion_matrix`; `read_image`, `light_border`, `preprocess`, `load_image`, `predict`.

Example:
    >>> from cnnlab.train import TrainConfig, train
    >>> history = train(TrainConfig(model="lenet5", epochs=10, out="runs/lenet5"))   # doctest: +SKIP
"""
from cnnlab.train.tasks import CLASSIFY, TASK_NAMES, TASKS, Meter, Task
from cnnlab.train.config import (
    DATASETS, DEFAULT_PATTERN, MODEL_NAMES, OPTIMIZERS, SCHEDULES, DatasetInfo, TrainConfig, build_datasets,
    build_model, build_optimizer, build_scheduler, dataset_arrays, parse_model_args,
)
from cnnlab.train.loop import confusion_matrix, evaluate, fit, format_confusion_matrix, train_one_epoch
from cnnlab.train.inference import MissingExtraError, light_border, load_image, predict, preprocess, read_image
from cnnlab.train.run import (
    CHECKPOINT, CURVES, METRICS, import_weights, load_checkpoint, model_from_checkpoint, read_run_config,
    save_checkpoint, train,
)

__all__ = [
    "CLASSIFY", "TASKS", "TASK_NAMES", "Meter", "Task",
    "CHECKPOINT", "CURVES", "DATASETS", "DEFAULT_PATTERN", "METRICS", "MODEL_NAMES", "OPTIMIZERS", "SCHEDULES",
    "DatasetInfo", "MissingExtraError", "TrainConfig", "build_datasets", "build_model", "build_optimizer",
    "build_scheduler", "confusion_matrix", "dataset_arrays", "evaluate", "fit", "format_confusion_matrix", "import_weights",
    "load_checkpoint",
    "light_border", "load_image", "model_from_checkpoint", "parse_model_args", "predict", "preprocess", "read_image",
    "read_run_config", "save_checkpoint", "train", "train_one_epoch",
]
