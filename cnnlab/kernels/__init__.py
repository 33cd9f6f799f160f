"""Fast array-level kernels of the hot ops (convolution), each owning its forward and its backward.

The reference path of every op lives in `cnnlab.nn.functional` and is complete; a kernel here computes
the same numbers (to float rounding) faster for the calls it applies to. One function, `select_conv`,
picks the kernel of a call, and the op keeps it for that call's backward, so a forward and its backward
always come from one kernel.

The selection table (auto), for a conv with C input and O output channels (of the conv proper: for
a transposed conv, its output and input channels), groups G, kernel taps K and stride s:

    kernel     applies when                                  selected (auto) when it applies and
    depthwise  G = C = O, compiled loops run (`jit`)          always
    bands      G = 1, 2-d or 3-d, stride 1 on the last axis  C >= 16 and W >= 8
    im2row     G = 1                                         C >= 8, or C >= 4 and C·K >= 128
    (None)     always: the reference in nn.functional        otherwise

(W: the output positions along the last axis.)

The thresholds are measured (`cnnlab.tuning`). `use(name)` forces a kernel for the calls in
its block where that kernel applies; a call it does not apply to runs the reference (it never raises):

    >>> with cnnlab.kernels.use("reference"):
    ...     y = cnnlab.nn.functional.conv2d(x, w)

Other ops than conv have one fast form each, compiled loops (`jit.load`), which run where numba is
installed, except inside ``use("reference")``.
"""
from __future__ import annotations

import contextlib

from cnnlab.kernels import switch
from cnnlab.kernels.conv_bands import Bands
from cnnlab.kernels.conv_depthwise import Depthwise
from cnnlab.kernels.conv_im2row import Im2row

#: The conv kernels in the order the selection tries them.
CONV_KERNELS = {"depthwise": Depthwise, "bands": Bands, "im2row": Im2row}

_forced = switch.forced


def available() -> tuple:
    """The names `use` accepts: 'auto', 'reference' and each kernel's."""
    return ("auto", "reference") + tuple(CONV_KERNELS)


active = switch.active        # the name that `use` set for this thread ('auto' outside any `use` block)


@contextlib.contextmanager
def use(name: str):
    """Within the block, run `name`'s kernel on every call it applies to, and the reference on the rest.

    'auto' is the selection table, 'reference' the reference path everywhere. Nests, and is per thread."""
    if name not in available():
        raise ValueError(f"kernels.use: name must be one of {', '.join(map(repr, available()))}, got {name!r}")
    token = _forced.set(name)
    try:
        yield
    finally:
        _forced.reset(token)


def select_conv(in_channels: int, out_channels: int, groups: int, kernel, stride, width=None):
    """The kernel for a conv of `in_channels` input and `out_channels` output channels (of the correlation
    itself), `groups`, kernel size `kernel` and `stride` (tuples of the spatial dims) and `width` output
    positions along the last axis (None: unknown, taken as many), or None for the reference path."""
    name = _forced.get()
    if name == "reference":
        return None
    args = (in_channels, out_channels, groups, kernel, stride, width)
    if name != "auto":
        k = CONV_KERNELS[name]
        return k if k.applies(*args) else None
    for k in CONV_KERNELS.values():
        if k.pays(*args):
            return k
    return None
