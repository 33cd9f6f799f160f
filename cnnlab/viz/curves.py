"""Training curves: loss and accuracy per epoch, train and test, as a PNG.

matplotlib is imported only when a plot is made (``pip install 'cnnlab[train]'``),
and only its object API is used (a `Figure` drawn by the Agg renderer), so making a
plot never switches the backend of a notebook or program that imported cnnlab.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from cnnlab.io.files import atomic_write_bytes
from cnnlab.viz.figures import figure_png

__all__ = ["plot_curves", "curves_png", "curves_figure", "plot_metrics_file"]


def curves_png(history, title: str | None = None) -> bytes:
    """The PNG bytes of `curves_figure`."""
    return figure_png(curves_figure(history, title))


def curves_figure(history, title: str | None = None):
    """A matplotlib `Figure` of two panels: loss (train, test) and accuracy in % (train, test) against the epoch.

    Args:
        history: one dict per epoch with epoch, train_loss, test_loss, train_acc, test_acc
            (the ``metrics.json`` of a run).
        title: a line above the panels, e.g. the model and dataset. Default: None.

    Raises:
        ModuleNotFoundError: matplotlib is not installed.
        ValueError: ``history`` is empty or lacks a field.
    """
    keys = ("epoch", "train_loss", "test_loss", "train_acc", "test_acc")
    if not history:
        raise ValueError("plot_curves: history is empty (no epoch finished yet)")
    missing = [k for k in keys if any(k not in row for row in history)]
    if missing:
        raise ValueError(f"plot_curves: every epoch needs {', '.join(keys)}; {missing[0]!r} is missing")
    from matplotlib.figure import Figure  # noqa: PLC0415 - lazy: matplotlib is an optional extra

    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(10, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    for ax, key, label in ((loss_ax, "loss", "loss (cross-entropy)"), (acc_ax, "acc", "accuracy (%)")):
        scale = 100 if key == "acc" else 1
        for split, style in (("train", "o-"), ("test", "s-")):
            ax.plot(epochs, [scale * row[f"{split}_{key}"] for row in history], style, label=split, markersize=4)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
    # the accuracy axis ends at 100% and starts just below the lowest point: every point is inside the axes
    low = 100 * min(min(row["train_acc"], row["test_acc"]) for row in history)
    acc_ax.set_ylim(max(low - max(0.05 * (100 - low), 0.1), 0), 100.05)
    acc_ax.set_title(f"final test accuracy {100 * history[-1]['test_acc']:.2f}%")
    loss_ax.set_title(f"final test loss {history[-1]['test_loss']:.4f}")
    if title:
        fig.suptitle(title)
    return fig


def plot_curves(history, path: str | os.PathLike, title: str | None = None) -> None:
    """Write `curves_png` to ``path`` atomically (the old file stays whole if anything fails)."""
    atomic_write_bytes(path, curves_png(history, title))


def plot_metrics_file(metrics, path: str | os.PathLike, title: str | None = None) -> Path:
    """Write the curves of a run's ``metrics.json`` (or of the run folder that holds it) to ``path``.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: the file is not JSON, or not a list of epochs with the fields `curves_figure` needs.
    """
    metrics = Path(os.fspath(metrics))
    if metrics.is_dir():
        metrics = metrics / "metrics.json"
    if not metrics.is_file():
        raise FileNotFoundError(f"plot_metrics_file: no metrics file at {metrics}")
    try:
        history = json.loads(metrics.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"plot_metrics_file: {metrics} is not a JSON file: {e}") from None
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        raise ValueError(f"plot_metrics_file: {metrics} must hold a list of one object per epoch, "
                         f"got {type(history).__name__}")
    plot_curves(history, path, title)
    return Path(path)
