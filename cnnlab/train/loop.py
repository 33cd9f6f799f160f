"""The training loop, on one screen: `train_one_epoch`, `evaluate`, `fit`, and the confusion matrix.

    for each epoch:   loader.set_epoch(epoch)                    (the same batches on a rerun or a resume)
        for each batch:   logits = model(x); loss = cross_entropy(logits, y)
                          optimizer.zero_grad(); loss.backward(); optimizer.step()
                          scheduler.step()                       (schedules stepped per batch: OneCycleLR)
        scheduler.step()                                          (schedules stepped per epoch)
        evaluate on the test set                                  (model.eval(), no_grad)

These work with any `nn.Module`, any iterable of ``(images, labels)`` batches and
any `cnnlab.optim` optimizer; `cnnlab.train.run.train` adds the run folder
(checkpoints, metrics.json, curves.png) around them.
"""
from __future__ import annotations

import time

import numpy as np

import cnnlab.nn.functional as F
from cnnlab.autograd import no_grad
from cnnlab.train.progress import Progress

__all__ = ["train_one_epoch", "evaluate", "fit", "confusion_matrix", "format_confusion_matrix"]


def _count(loader) -> int | None:
    """Number of images an epoch of ``loader`` has, when it can tell (a DataLoader over a sized dataset
    or with a sampler: then the sampler's share)."""
    try:
        n = len(loader.dataset if getattr(loader, "sampler", None) is None else loader.sampler)
    except (AttributeError, TypeError):
        return None
    return n - n % loader.batch_size if getattr(loader, "drop_last", False) and loader.batch_size else n


def train_one_epoch(model, loader, optimizer, scheduler=None, loss_fn=F.cross_entropy, progress=None) -> dict:
    """One pass over ``loader``, updating ``model`` after every batch.

    Args:
        model: the network, put in training mode here.
        loader: yields ``(images, labels)`` Tensors.
        optimizer: updates the model's parameters from their gradients.
        scheduler: stepped after every batch (OneCycleLR); None for per-epoch schedules,
            which the caller steps. Default: None.
        loss_fn: ``loss_fn(logits, labels)``, a mean over the batch. Default: cross-entropy.
        progress: a `cnnlab.train.progress.Progress` told about every batch, or None.

    Returns:
        dict with ``loss`` (mean over the images, with the weights as they were at each batch),
        ``acc`` (fraction of images classified right before their update), ``images`` and ``seconds``.
    """
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    for images, labels in loader:
        logits = model(images)                      # (N, classes)
        loss = loss_fn(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        n = len(labels)
        total_loss += loss.item() * n
        correct += int((logits.data.argmax(axis=1) == labels.data).sum())
        seen += n
        if progress is not None:
            progress.update(n, total_loss / seen, correct / seen)
    if seen == 0:
        raise ValueError("train_one_epoch: the loader gave no batches")
    return {"loss": total_loss / seen, "acc": correct / seen, "images": seen,
            "seconds": time.perf_counter() - start}


def evaluate(model, loader, loss_fn=F.cross_entropy, num_classes: int | None = None) -> dict:
    """Mean loss and accuracy of ``model`` on ``loader``, without gradients, in eval mode.

    Args:
        model: the network (left in eval mode).
        loader: yields ``(images, labels)`` Tensors.
        loss_fn: ``loss_fn(logits, labels, reduction='sum')``. Default: cross-entropy.
        num_classes: when given, also return the confusion matrix (``num_classes`` × ``num_classes``).

    Returns:
        dict with ``loss``, ``acc``, ``images`` and, with num_classes, ``confusion_matrix``.
    """
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    targets, predictions = [], []
    with no_grad():
        for images, labels in loader:
            logits = model(images)                  # (N, classes)
            total_loss += loss_fn(logits, labels, reduction="sum").item()
            predicted = logits.data.argmax(axis=1)  # (N,)
            correct += int((predicted == labels.data).sum())
            seen += len(labels)
            if num_classes is not None:
                targets.append(labels.data)
                predictions.append(predicted)
    if seen == 0:
        raise ValueError("evaluate: the loader gave no batches")
    out = {"loss": total_loss / seen, "acc": correct / seen, "images": seen}
    if num_classes is not None:
        out["confusion_matrix"] = confusion_matrix(np.concatenate(targets), np.concatenate(predictions), num_classes)
    return out


def fit(model, train_loader, test_loader, optimizer, epochs: int, scheduler=None, per_batch: bool = False,
        start_epoch: int = 0, history=None, on_epoch_end=None, progress: bool = True, log=print,
        reduce_metrics=None) -> list[dict]:
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
            data); None: they are already whole. Default: None.

    Returns:
        ``history``: one dict per epoch with epoch, train_loss, train_acc, test_loss, test_acc,
        seconds (train + test) and images_per_second (training).
    """
    history = [] if history is None else history
    for epoch in range(start_epoch, epochs):
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch)  # the shuffle and augmentation of this epoch depend on (seed, epoch) only
        start = time.perf_counter()
        bar = Progress(_count(train_loader), f"epoch {epoch + 1}/{epochs}", log) if progress and log else None
        try:
            train = train_one_epoch(model, train_loader, optimizer, scheduler if per_batch else None, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        if scheduler is not None and not per_batch:
            scheduler.step()
        test = evaluate(model, test_loader)
        if reduce_metrics is not None:
            train, test = reduce_metrics(train), reduce_metrics(test)
        history.append({"epoch": epoch + 1, "train_loss": train["loss"], "train_acc": train["acc"],
                        "test_loss": test["loss"], "test_acc": test["acc"],
                        "seconds": time.perf_counter() - start,
                        "images_per_second": train["images"] / train["seconds"]})
        if log is not None:
            m = history[-1]
            log(f"epoch {m['epoch']}/{epochs}  train loss {m['train_loss']:.4f}  train acc {m['train_acc']:.2%}  "
                f"test loss {m['test_loss']:.4f}  test acc {m['test_acc']:.2%}  "
                f"({m['seconds']:.1f} s, {m['images_per_second']:.0f} img/s)")
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
