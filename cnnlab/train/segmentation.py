"""The metrics of semantic segmentation, from a confusion matrix of pixels (`cnnlab.train.loop.confusion_matrix`).

With C[i, j] the pixels of true class i predicted as class j:

    pixel accuracy   Σ_i C[i, i] / Σ_ij C[i, j]
    IoU of class c   C[c, c] / (Σ_j C[c, j] + Σ_i C[i, c] − C[c, c])     (true positives over the union)
    mean IoU         the mean of the IoUs of the classes present: a class with no pixel in the truth
                     and none in the prediction (union 0) has no IoU (nan) and is left out of the mean,
                     as in ``tf.keras.metrics.MeanIoU`` ("the mean is only computed over classes that
                     appear in the label or prediction")

The confusion matrix adds up over batches and over processes, so these are exact over a whole test set
(not means of per-batch values).
"""
from __future__ import annotations

import numpy as np

__all__ = ["pixel_accuracy", "class_iou", "mean_iou"]


def _matrix(op: str, confusion) -> np.ndarray:
    m = np.asarray(confusion)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"{op}: confusion must be a square (C, C) matrix of counts, got shape {m.shape}")
    if m.dtype.kind not in "iuf" or (m.size and m.min() < 0):
        raise ValueError(f"{op}: confusion must hold counts >= 0, got dtype {m.dtype}"
                         + (f" with minimum {m.min()}" if m.dtype.kind in "iuf" else ""))
    return m.astype(np.float64)


def pixel_accuracy(confusion) -> float:
    """The fraction of pixels whose predicted class is their true class (nan for a matrix of zeros)."""
    m = _matrix("pixel_accuracy", confusion)
    total = m.sum()
    return float(np.trace(m) / total) if total else float("nan")


def class_iou(confusion) -> np.ndarray:
    """float64 (C,): the IoU of each class; nan for a class with no pixel in the truth nor in the prediction."""
    return _iou("class_iou", confusion)


def _iou(op: str, confusion) -> np.ndarray:
    m = _matrix(op, confusion)
    hits = np.diag(m)
    union = m.sum(axis=0) + m.sum(axis=1) - hits
    out = np.full(len(m), np.nan)
    np.divide(hits, union, out=out, where=union > 0)
    return out


def mean_iou(confusion) -> float:
    """The mean of `class_iou` over the classes present (in truth or prediction); nan when none is."""
    iou = _iou("mean_iou", confusion)
    present = ~np.isnan(iou)
    return float(iou[present].mean()) if present.any() else float("nan")
