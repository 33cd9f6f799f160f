"""How `cnnlab.explain` writes what it shows, and reads what a command line types.

Numbers the lecture's way (`number`: 370, not 370.0), products with negative factors in parentheses
(`factor`), text grids of a padded input with the window marked (`grid`), the one-line notes about
padding, and `matrix`, which reads an inline matrix ("1 2; 3 4 | 5 6; 7 8") or a .npy file.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from cnnlab.messages import SettingError, counted

__all__ = ["GRID_MAX", "GRID_CHANNELS", "AXES", "number", "factor", "sum_text", "axes", "per_axis", "position_text",
           "channel_span", "padding_note", "grid", "grid_lines", "channel_lines", "head", "matrix"]

#: the largest padded axis a text grid shows whole; longer axes are cut to the window and 2 cells around it
GRID_MAX = 15
#: grids of at most this many channels are shown (the window is the same in every channel)
GRID_CHANNELS = 4
#: the names of an output element's coordinates, by the number of spatial axes
AXES = {1: ("i",), 2: ("i", "j"), 3: ("d", "i", "j")}


def number(value) -> str:
    """A number the lecture's way: integral values without a trailing .0, others to 6 significant digits.

    Example:
        >>> number(370.0), number(-2.0), number(0.1 + 0.2), number(float("inf"))
        ('370', '-2', '0.3', 'inf')
    """
    v = float(value)
    if math.isfinite(v) and v == round(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}"


def factor(value) -> str:
    """A factor of a product: negative numbers in parentheses, 2×(-3)."""
    text = number(value)
    return f"({text})" if text.startswith("-") else text


def sum_text(parts) -> str:
    """a + b + (-c) ... of already formatted parts ('0' for none)."""
    return " + ".join(parts) if parts else "0"


def axes(values) -> str:
    """(2, 2) as 2, (2, 1) as (2, 1)."""
    return str(values[0]) if len(set(values)) == 1 else str(tuple(values))


def per_axis(value, D) -> tuple:
    return tuple(value) if isinstance(value, tuple) else (value,) * D


def position_text(position) -> str:
    """(1, 2) as (1, 2), (3,) as 3."""
    return str(position[0]) if len(position) == 1 else f"({', '.join(map(str, position))})"


def channel_span(channels) -> str:
    return str(channels[0]) if len(channels) == 1 else f"{channels[0]}-{channels[-1]}"


def _axis_range(size, coords):
    """The positions of one axis a grid shows: all, or (when long) the window's and 2 around it."""
    if size <= GRID_MAX:
        return list(range(size))
    return list(range(max(min(coords) - 2, 0), min(max(coords) + 3, size)))


def padding_note(shape, pads, overhang=None, fill=None) -> str:
    """'input 3×3 (no padding)', 'padded input 5×5 (padding 1 on each side)', the (before, after) pairs per
    axis when they differ; for pooling, the ceil-mode overhang past the padding and what the padding reads."""
    dims = "×".join(map(str, shape))
    overhang = overhang or (0,) * len(pads)
    nominal = tuple((a, b - o) for (a, b), o in zip(pads, overhang))
    parts = []
    if any(a or b for a, b in nominal):
        uniform = len({a for pair in nominal for a in pair}) == 1
        parts.append(f"padding {nominal[0][0]} on each side" if uniform else
                     f"padding (before, after) per axis {', '.join(map(str, nominal))}")
    if any(overhang):
        parts.append(f"ceil-mode overhang {axes(overhang)} after " +
                     ("each axis" if len(set(overhang)) == 1 else "the axes"))
    if not parts:
        return f"input {dims} (no padding)"
    return f"padded input {dims} ({'; '.join(parts + ([f'it reads {fill}'] if fill else []))})"


def grid(plane: np.ndarray, marked, special=()) -> str:
    """A text grid of a D-d plane (padded coordinates as row and column labels), the cells `marked` in [ ]
    and those in `special` in < > (max pooling's winner); leading axes of a 3-d plane as 'slice d'.

    Example:
        >>> print(grid(np.arange(1., 5).reshape(2, 2), [(0, 1), (1, 1)]))
            0   1
        0   1  [2]
        1   3  [4]
    """
    plane = np.asarray(plane)
    if plane.ndim == 1:
        plane, marked, special = plane[None], [(0,) + tuple(c) for c in marked], [(0,) + tuple(c) for c in special]
        return _grid_2d(plane, set(map(tuple, marked)), set(map(tuple, special)), row_labels=False)
    marked, special = set(map(tuple, marked)), set(map(tuple, special))
    if plane.ndim == 2:
        return _grid_2d(plane, marked, special)
    blocks = []
    for lead in sorted({c[:-2] for c in marked}):
        inner = {c[-2:] for c in marked if c[:-2] == lead}
        star = {c[-2:] for c in special if c[:-2] == lead}
        blocks.append(f"slice {', '.join(map(str, lead))}:\n" + _grid_2d(plane[lead], inner, star))
    return "\n".join(blocks)


def _grid_2d(plane, marked, special, row_labels=True) -> str:
    rows = _axis_range(plane.shape[0], [c[0] for c in marked] or [0])
    cols = _axis_range(plane.shape[1], [c[1] for c in marked] or [0])

    def cell(r, c):
        text = number(plane[r, c])
        return f"<{text}>" if (r, c) in special else f"[{text}]" if (r, c) in marked else f" {text} "

    cells = {(r, c): cell(r, c) for r in rows for c in cols}
    width = max(max(map(len, cells.values())), max(len(str(c)) for c in cols) + 1) + 1
    label = max(len(str(r)) for r in rows) + 1 if row_labels else 0
    cut_left, cut_right = cols[0] > 0, cols[-1] < plane.shape[1] - 1
    lines = [" " * label + (" …" if cut_left else "") + "".join(f"{c:>{width - 1}} " for c in cols)]
    if rows[0] > 0:
        lines.append(" " * label + " …")
    for r in rows:
        head = f"{r:<{label}}" if row_labels else ""
        body = "".join(f"{cells[r, c]:>{width}}" for c in cols)
        lines.append(head + (" …" if cut_left else "") + body + (" …" if cut_right else ""))
    if rows[-1] < plane.shape[0] - 1:
        lines.append(" " * label + " …")
    return "\n".join(line.rstrip() for line in lines)


def grid_lines(grids, caption="") -> list[str]:
    """Text grids (channel, text), indented, each under ``caption.format(channel=c)`` (none if '').

    Example:
        >>> grid_lines([(2, "a\\nb")], "input channel {channel}:")
        ['  input channel 2:', '    a', '    b']
    """
    lines = []
    for channel, text in grids:
        lines += ["  " + caption.format(channel=channel)] if caption else []
        lines += ["    " + line for line in text.splitlines()]
    return lines


def channel_lines(terms, sums, bias, total, single) -> list[str]:
    """'1×10 + 2×20 = 50' for one channel, or a line per channel and then their sum with the bias."""
    by_channel = {}
    for t in terms:
        by_channel.setdefault(t.channel, []).append(str(t))
    if single:
        (c, s), = sums
        lines = [f"{sum_text(by_channel.get(c, []))} = {number(s)}"]
        if bias is not None:
            lines.append(f"{number(s)} + bias {factor(bias)} = {number(total)}")
        return lines
    lines = [f"channel {c}: {sum_text(by_channel.get(c, []))} = {number(s)}" for c, s in sums]
    parts = [factor(s) for _, s in sums] + ([f"bias {factor(bias)}"] if bias is not None else [])
    return lines + [f"{sum_text(parts)} = {number(total)}"]


def head(op, index, **settings) -> str:
    b, c, *pos = index
    shown = ", ".join(f"{name.replace('_', ' ')} {axes(v) if isinstance(v, tuple) else v}"
                      for name, v in settings.items())
    return f"{op} output[{', '.join(map(str, index))}] (batch {b}, channel {c}, at {position_text(pos)}): {shown}"


def _row(text, arg, where):
    values = []
    for word in text.replace(",", " ").split():
        try:
            values.append(float(word))
        except ValueError:
            raise SettingError("explain.matrix", f"{{{arg}}}: {word!r} in {where} is not a number", arg) from None
    return values


def matrix(text: str, *, arg: str, ndim: int, most: int = 4) -> np.ndarray:
    """An array typed inline, or read from a .npy file, as float64 with `ndim` to `most` axes.

    Inline: rows separated by ';', the numbers of a row by spaces or commas, and channels by '|':
    ``"1 2 3; 4 5 6"`` is one channel of 2×3, ``"1 2; 3 4 | 5 6; 7 8"`` two channels of 2×2, read as
    (C, H, W). A path ending in .npy is read with ``np.load(allow_pickle=False)``. Axes of size 1 are
    put in front of an array of fewer than `ndim` axes (so a 2×2 kernel becomes the weight (1, 1, 2, 2)).

    Args:
        text: the inline numbers or a .npy path.
        arg: the name of the setting, for messages (a `SettingError` names it, or its flag).
        ndim: how many axes the result has at least.
        most: how many axes an array may have (at least 2). Default: 4.

    Example:
        >>> matrix("1 2; 3 4 | 5 6; 7 8", arg="input", ndim=3).shape
        (2, 2, 2)
        >>> matrix("10, 20; 30, 40", arg="kernel", ndim=4).shape
        (1, 1, 2, 2)
    """
    text = text.strip()
    if text.endswith(".npy"):
        if not Path(text).is_file():
            raise SettingError("explain.matrix", f"{{{arg}}}: there is no .npy file {text}", arg)
        try:
            array = np.load(text, allow_pickle=False)
        except ValueError as e:
            raise SettingError("explain.matrix", f"{{{arg}}}: {text} is not a plain .npy array ({e})", arg) from None
        if array.dtype.kind not in "biuf":
            raise SettingError("explain.matrix", f"{{{arg}}}: {text} holds {array.dtype} values, not numbers", arg)
        array = array.astype(np.float64)
    else:
        channels = []
        for c, block in enumerate(text.split("|")):
            rows = [_row(r, arg, f"channel {c}, row {i}") for i, r in enumerate(block.split(";"))]
            if not any(rows):
                raise SettingError("explain.matrix", f"{{{arg}}}: channel {c} has no numbers (rows are separated "
                                   "by ';', numbers by spaces or commas, channels by '|'), got " + repr(text), arg)
            for i, r in enumerate(rows):
                if len(r) != len(rows[0]):
                    raise SettingError("explain.matrix", f"{{{arg}}}: channel {c}, row {i} has "
                                       f"{counted(len(r), 'number')}, but row 0 has {len(rows[0])} (rows are "
                                       "separated by ';', numbers by spaces or commas)", arg)
            channels.append(np.array(rows, dtype=np.float64))
            if channels[-1].shape != channels[0].shape:
                raise SettingError("explain.matrix", f"{{{arg}}}: channel {c} is "
                                   f"{'×'.join(map(str, channels[-1].shape))}, but channel 0 is "
                                   f"{'×'.join(map(str, channels[0].shape))} (channels are separated by '|')", arg)
        array = np.stack(channels)                                            # (C, H, W)
    if not 2 <= array.ndim <= most:
        raise SettingError("explain.matrix", f"{{{arg}}} must have 2 to {most} axes, got shape {array.shape}", arg)
    return array.reshape((1,) * max(ndim - array.ndim, 0) + array.shape)
