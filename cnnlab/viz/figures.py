"""Figures and PNG files: the one place where cnnlab.viz makes a matplotlib figure and writes it.

Only matplotlib's object API is used (a `Figure` drawn by the Agg renderer), so drawing never switches
the backend of a notebook or program that imported cnnlab; matplotlib is imported when a figure is made.
"""
from __future__ import annotations

import io
from pathlib import Path

from cnnlab.io.files import atomic_write_bytes
from cnnlab.messages import MissingExtraError

__all__ = ["new_figure", "figure_png", "write_png"]


def new_figure(op: str, figsize):
    """A matplotlib `Figure` (constrained layout) drawn by Agg, for the function ``op``.

    Raises:
        MissingExtraError: matplotlib is not installed; the message names ``op`` and the extra.
    """
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415 - lazy: matplotlib is an optional extra
    except ImportError:
        raise MissingExtraError(f"{op}: drawing needs matplotlib: pip install 'cnnlab[viz]'") from None
    return Figure(figsize=figsize, layout="constrained")


def figure_png(fig, dpi: int = 100) -> bytes:
    """The PNG bytes of a figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def write_png(fig, path, dpi: int = 100) -> Path:
    """Write the figure to ``path`` as a PNG, atomically (the old file stays whole if anything fails)."""
    atomic_write_bytes(path, figure_png(fig, dpi))
    return Path(path)
