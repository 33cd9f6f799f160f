"""The training loop, on one screen: `train_one_epoch`, `evaluate`, `fit`, and the confusion matrix.

    for each epoch:   loader.set_epoch(epoch)                    (the same batches on a rerun or a resume)
        for each batch:   output = model(x); loss = task.loss(output, y)      (classify: cross-entropy)
                          optimizer.zero_grad(); loss.backward(); optimizer.step()
                          scheduler.step()                       (schedules stepped per batch: OneCycleLR)
                          meter.update(output, y)                (the task's running totals: accuracy, IoU, PSNR)
        scheduler.step()                                          (schedules stepped per epoch)
        evaluate on the test set                                  (model.eval(), no_grad)

These work with any `nn.Module`, any iterable of ``(inputs, targets)`` batches, any
`cnnlab.optim` optimizer and any `cnnlab.train.tasks.Task` (default: classify);
`cnnlab.train.run.train` adds the run folder (checkpoints, metrics.json, curves.png)
around them.
"""
from __future__ import annotations

import time

import numpy as np

from cnnlab.autograd import no_grad
from cnnlab.train.progress import Progress
from cnnlab.train.tasks import CLASSIFY, ClassifyMeter

__all__ = ["train_one_epoch", "evaluate", "fit", "confusion_matrix", "format_confusion_matrix"]


def _count(loader) -> int | None:
    """Number of images an epoch of ``loader`` has, when it can tell (a DataLoader over a sized dataset
    or with a sampler: then the sampler's share)."""
    try:
        n = len(loader.dataset if getattr(loader, "sampler", None) is None else loader.sampler)
    except (AttributeError, TypeError):
        return None
    return n - n % loader.batch_size if getattr(loader, "drop_last", False) and loader.batch_size else n


def _metrics(meter, totals, loss_sum, seen) -> dict:
    return {"loss": loss_sum / seen, **meter.result(totals), "images": seen, "totals": totals}


def train_one_epoch(model, loader, optimizer, scheduler=None, task=None, progress=None, meter=None) -> dict:
    """One pass over ``loader``, updating ``model`` after every batch.

    Args:
        model: the network, put in training mode here.
        loader: yields ``(inputs, targets)`` Tensors.
        optimizer: updates the model's parameters from their gradients.
        scheduler: stepped after every batch (OneCycleLR); None for per-epoch schedules,
            which the caller steps. Default: None.
        task: a `cnnlab.train.tasks.Task`: its loss is minimised and its metrics are measured.
            Default: None (classify: cross-entropy and accuracy).
        progress: a `cnnlab.train.progress.Progress` told about every batch, or None.
        meter: the fresh `Meter` to fill; None: ``task.meter()``.

    Returns:
        dict with ``loss`` (mean over the images, with the weights as they were at each batch), each of
        the task's metrics (measured on each batch before its update; classify: ``acc``), ``images``,
        ``seconds`` and ``totals`` (the meter's).
    """
    task = CLASSIFY if task is None else task
    meter = task.meter() if meter is None else meter
    model.train()
    total_loss, seen = 0.0, 0
    start = time.perf_counter()
    for inputs, targets in loader:
        output = model(inputs)
        loss = task.loss(output, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        n = len(targets)
        total_loss += loss.item() * n
        meter.update(output.data, targets.data)
        seen += n
        if progress is not None:
            headline = meter.result()[task.headline]
            progress.update(n, total_loss / seen, f"{task.headline} {task.format(task.headline, headline)}")
    if seen == 0:
        raise ValueError("train_one_epoch: the loader gave no batches")
    return {**_metrics(meter, meter.totals(), total_loss, seen), "seconds": time.perf_counter() - start}


def evaluate(model, loader, task=None, num_classes: int | None = None, meter=None) -> dict:
    """Mean loss and the task's metrics of ``model`` on ``loader``, without gradients, in eval mode.

    Args:
        model: the network (left in eval mode).
        loader: yields ``(inputs, targets)`` Tensors.
        task: a `cnnlab.train.tasks.Task`; None: classify.
        num_classes: classify only: the number of classes, to also return the confusion matrix
            (``num_classes`` × ``num_classes``). Default: None.
        meter: the fresh `Meter` to fill; None: ``task.meter()``.

    Returns:
        dict with ``loss``, each of the task's metrics (classify: ``acc``), ``images``, ``totals``
        and, with num_classes, ``confusion_matrix``.
    """
    task = CLASSIFY if task is None else task
    if num_classes is not None and task is not CLASSIFY:
        raise ValueError(f"evaluate: num_classes (the confusion matrix) is for classify, not {task.name}")
    if meter is None:
        meter = ClassifyMeter(num_classes) if num_classes is not None else task.meter()
    model.eval()
    total_loss, seen = 0.0, 0
    with no_grad():
        for inputs, targets in loader:
            output = model(inputs)
            total_loss += task.loss(output, targets, reduction="sum").item()
            meter.update(output.data, targets.data)
            seen += len(targets)
    if seen == 0:
        raise ValueError("evaluate: the loader gave no batches")
    out = _metrics(meter, meter.totals(), total_loss, seen)
    if num_classes is not None:
        out["confusion_matrix"] = meter.confusion_matrix()
    return out


def fit(model, train_loader, test_loader, optimizer, epochs: int, scheduler=None, per_batch: bool = False,
        start_epoch: int = 0, history=None, on_epoch_end=None, progress: bool = True, log=print,
        reduce_metrics=None, task=None, new_meter=None) -> list[dict]:
    """Train for ``epochs`` epochs, evaluating on ``test_loader`` after each; return the metrics of every epoch.

    Args:
        model, train_loader, test_loader, optimizer: as `train_one_epoch` / `evaluate`.
        epochs: the epoch to stop after (counted from 1).
        scheduler: an lr scheduler or None. Default: None.
        per_batch: step the scheduler after every batch (OneCycleLR) rather than every epoch. Default: False.
        start_epoch: epochs already done (to resume); epoch ``start_epoch + 1`` runs first. Default: 0.
        history: the metrics of the epochs already done, extended in place. Default: a new list.
        on_epoch_end: called as ``on_epoch_end(history)`` after each epoch (to save a checkpoint). Default: None.
        progress: show a progress bar (tqdm when installed and on a terminal, else plain lines). Default: True.
        log: where the one-line summary of each epoch goes; None for silence. Default: print.
        reduce_metrics: turns each epoch's training and test metrics of this process into those of
            all processes (`cnnlab.distributed.all_reduce_metrics`, each process with its shard of the
            data: the loss is averaged, the meter's totals summed and the metrics computed from them);
            None: they are already whole. Default: None.
        task: a `cnnlab.train.tasks.Task`; None: classify.
        new_meter: makes a fresh `Meter` for each pass; None: ``task.meter``.

    Returns:
        ``history``: one dict per epoch with epoch, train_loss, train_<m> and test_<m> for each metric m of
        the task (classify: train_acc, test_acc), test_loss, seconds (train + test) and
        images_per_second (training).
    """
    task = CLASSIFY if task is None else task
    new_meter = task.meter if new_meter is None else new_meter
    history = [] if history is None else history
    for epoch in range(start_epoch, epochs):
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch)  # the shuffle and augmentation of this epoch depend on (seed, epoch) only
        start = time.perf_counter()
        bar = Progress(_count(train_loader), f"epoch {epoch + 1}/{epochs}", log) if progress and log else None
        try:
            train = train_one_epoch(model, train_loader, optimizer, scheduler if per_batch else None, task, bar,
                                    new_meter())
        finally:
            if bar is not None:
                bar.close()
        if scheduler is not None and not per_batch:
            scheduler.step()
        meter = new_meter()
        test = evaluate(model, test_loader, task, meter=meter)
        if reduce_metrics is not None:
            train, test = ({**r, **meter.result(r["totals"])} for r in (reduce_metrics(train), reduce_metrics(test)))
        row = {"epoch": epoch + 1, "train_loss": train["loss"]}
        row.update({f"train_{m}": train[m] for m in task.metrics})
        row["test_loss"] = test["loss"]
        row.update({f"test_{m}": test[m] for m in task.metrics})
        row.update(seconds=time.perf_counter() - start, images_per_second=train["images"] / train["seconds"])
        history.append(row)
        if log is not None:
            def shown(split):
                return "  ".join([f"{split} loss {row[f'{split}_loss']:.4f}"]
                                 + [f"{split} {m} {task.format(m, row[f'{split}_{m}'])}" for m in task.metrics])
            log(f"epoch {row['epoch']}/{epochs}  {shown('train')}  {shown('test')}  "
                f"({row['seconds']:.1f} s, {row['images_per_second']:.0f} img/s)")
        if on_epoch_end is not None:
            on_epoch_end(history)
    return history


def confusion_matrix(targets, predictions, num_classes: int) -> np.ndarray:
    """Counts C[i, j] of images of true class i predicted as class j (rows: truth), int64 (C, C).

    The same layout as ``sklearn.metrics.confusion_matrix``: the diagonal holds the right answers.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 1, 0], 2)
        array([[1, 0],
               [1, 1]])
    """
    t, p = np.asarray(targets).reshape(-1), np.asarray(predictions).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"confusion_matrix: targets and predictions must have the same length, "
                         f"got {t.shape[0]} and {p.shape[0]}")
    for name, a in (("targets", t), ("predictions", p)):
        if a.size and (a.dtype.kind not in "iu" or a.min() < 0 or a.max() >= num_classes):
            raise ValueError(f"confusion_matrix: {name} must be class indices in [0, {num_classes}), "
                             f"got values in [{a.min()}, {a.max()}] of dtype {a.dtype}")
    counts = np.bincount(t.astype(np.int64) * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def format_confusion_matrix(matrix, classes=None) -> str:
    """A text table of a confusion matrix: rows are the true classes, columns the predicted ones.

    Args:
        matrix: (C, C) counts from `confusion_matrix`.
        classes: C names for the rows (the columns are numbered 0..C-1); default: the indices.
    """
    m = np.asarray(matrix)
    c = len(m)
    names = [str(i) for i in range(c)] if classes is None else [str(x) for x in classes]
    label_w = max(len("true \\ predicted"), *(len(n) for n in names))
    cell_w = max(len(str(m.max())) if m.size else 1, len(str(c - 1)), len("recall")) + 1
    recall = [m[i, i] / m[i].sum() if m[i].sum() else float("nan") for i in range(c)]
    lines = ["true \\ predicted".ljust(label_w) + "".join(str(j).rjust(cell_w) for j in range(c))
             + "recall".rjust(cell_w + 2)]
    for i in range(c):
        lines.append(names[i].ljust(label_w) + "".join(str(v).rjust(cell_w) for v in m[i])
                     + f"{recall[i]:.2%}".rjust(cell_w + 2))
    return "\n".join(lines)
