"""Training curves: loss and the task's metric (accuracy for classification) per epoch, train and test, as a PNG.

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


def curves_png(history, title: str | None = None, **metric) -> bytes:
    """The PNG bytes of `curves_figure`."""
    return figure_png(curves_figure(history, title, **metric))


def curves_figure(history, title: str | None = None, metric: str = "acc", label: str = "accuracy",
                  percent: bool = True):
    """A matplotlib `Figure` of two panels: loss (train, test) and a metric (train, test) against the epoch.

    Args:
        history: one dict per epoch with epoch, train_loss, test_loss, train_<metric>, test_<metric>
            (the ``metrics.json`` of a run).
        title: a line above the panels, e.g. the model and dataset. Default: None.
        metric: the metric of the second panel, e.g. 'acc', 'miou', 'psnr'. Default: 'acc'.
        label: its name on the axis. Default: 'accuracy'.
        percent: the metric is a fraction of 1, drawn in % on an axis that ends at 100%. Default: True.

    Raises:
        ModuleNotFoundError: matplotlib is not installed.
        ValueError: ``history`` is empty or lacks a field.
    """
    keys = ("epoch", "train_loss", "test_loss", f"train_{metric}", f"test_{metric}")
    if not history:
        raise ValueError("plot_curves: history is empty (no epoch finished yet)")
    missing = [k for k in keys if any(k not in row for row in history)]
    if missing:
        raise ValueError(f"plot_curves: every epoch needs {', '.join(keys)}; {missing[0]!r} is missing")
    from matplotlib.figure import Figure  # noqa: PLC0415 - lazy: matplotlib is an optional extra

    epochs = [row["epoch"] for row in history]
    fig = Figure(figsize=(10, 4), layout="constrained")
    loss_ax, metric_ax = fig.subplots(1, 2)
    scale = 100 if percent else 1
    for ax, key, axis in ((loss_ax, "loss", "loss"), (metric_ax, metric, f"{label} (%)" if percent else label)):
        for split, style in (("train", "o-"), ("test", "s-")):
            ax.plot(epochs, [(scale if key == metric else 1) * row[f"{split}_{key}"] for row in history], style,
                    label=split, markersize=4)
        ax.set_xlabel("epoch")
        ax.set_ylabel(axis)
        ax.grid(True, alpha=0.3)
        ax.legend()
    final = scale * history[-1][f"test_{metric}"]
    if percent:  # the axis ends at 100% and starts just below the lowest point: every point is inside the axes
        low = 100 * min(min(row[f"train_{metric}"], row[f"test_{metric}"]) for row in history)
        metric_ax.set_ylim(max(low - max(0.05 * (100 - low), 0.1), 0), 100.05)
    metric_ax.set_title(f"final test {label} {final:.2f}{'%' if percent else ''}")
    loss_ax.set_title(f"final test loss {history[-1]['test_loss']:.4f}")
    if title:
        fig.suptitle(title)
    return fig


def plot_curves(history, path: str | os.PathLike, title: str | None = None, **metric) -> None:
    """Write `curves_png` to ``path`` atomically (the old file stays whole if anything fails); ``metric``:
    the keyword arguments metric, label and percent of `curves_figure`."""
    atomic_write_bytes(path, curves_png(history, title, **metric))


def plot_metrics_file(metrics, path: str | os.PathLike, title: str | None = None, **metric) -> Path:
    """Write the curves of a run's ``metrics.json`` (or of the run folder that holds it) to ``path``;
    ``metric``: as for `plot_curves` (default: accuracy in %).

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
    plot_curves(history, path, title, **metric)
    return Path(path)
