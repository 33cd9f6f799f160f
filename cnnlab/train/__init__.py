"""Training, from Python and from ``cnnlab train``: the loop, runs with checkpoints, evaluation and prediction.

- `train_one_epoch`, `evaluate`, `fit`: the plain loop, for any model, loader, optimizer and task.
- `TASKS`: what a model learns (`cnnlab.train.tasks`: classify, segment; their datasets, losses and metrics);
  `pixel_accuracy`, `class_iou`, `mean_iou`: segmentation's metrics from a confusion matrix.
- `TrainConfig` and `train`: a whole run from its settings, with a run folder
  (checkpoint.safetensors, metrics.json, curves.png) written after every epoch, and resume.
- `load_checkpoint`, `model_from_checkpoint`: the trained model back from its checkpoint; `strip_checkpoint`: a
  checkpoint without its optimizer state, to ship (not to resume).
- `confusion_matrix`, `format_confusion_matrix`; `read_image`, `light_border`, `preprocess`, `load_image`, `predict`;
  `decode_image`, `convert_pixels`, `resize_pixels`, `center_digit` (images as bytes or arrays, digits drawn by hand).

Example:
    >>> from cnnlab.train import TrainConfig, train
    >>> history = train(TrainConfig(model="lenet5", epochs=10, out="runs/lenet5"))   # doctest: +SKIP
"""
from cnnlab.train.tasks import CLASSIFY, TASK_NAMES, TASKS, Meter, Task
from cnnlab.train.segmentation import class_iou, mean_iou, pixel_accuracy
from cnnlab.train.config import (
    DATASETS, DEFAULT_PATTERN, MODEL_NAMES, OPTIMIZERS, SCHEDULES, DatasetInfo, TrainConfig, build_datasets,
    build_model, build_optimizer, build_scheduler, dataset_arrays, parse_model_args,
)
from cnnlab.train.loop import confusion_matrix, evaluate, fit, format_confusion_matrix, train_one_epoch
from cnnlab.train.inference import (
    MAX_PIXELS, MissingExtraError, center_digit, convert_pixels, decode_image, light_border, load_image, predict,
    preprocess, read_image, resize_pixels,
)
from cnnlab.train.run import (
    CHECKPOINT, CURVES, METRICS, import_weights, load_checkpoint, model_from_checkpoint, read_run_config,
    save_checkpoint, strip_checkpoint, train,
)

__all__ = [
    "CLASSIFY", "TASKS", "TASK_NAMES", "Meter", "Task",
    "CHECKPOINT", "CURVES", "DATASETS", "DEFAULT_PATTERN", "MAX_PIXELS", "METRICS", "MODEL_NAMES", "OPTIMIZERS",
    "SCHEDULES",
    "DatasetInfo", "MissingExtraError", "TrainConfig", "build_datasets", "build_model", "build_optimizer",
    "build_scheduler", "center_digit", "confusion_matrix", "convert_pixels", "dataset_arrays", "decode_image",
    "evaluate", "fit", "format_confusion_matrix", "import_weights", "load_checkpoint", "light_border", "load_image",
    "model_from_checkpoint", "parse_model_args", "predict", "preprocess", "read_image", "read_run_config",
    "resize_pixels", "save_checkpoint", "strip_checkpoint", "train", "train_one_epoch",
    "class_iou", "mean_iou", "pixel_accuracy",
]
