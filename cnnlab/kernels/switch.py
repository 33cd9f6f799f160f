"""The state behind `cnnlab.kernels.use`: the kernel name forced in this thread (and context).

Its own module, below the kernels and the gate of the compiled loops (`jit`), which all read it."""
from __future__ import annotations

import contextvars

#: 'auto', 'reference' or a conv kernel's name; set by `cnnlab.kernels.use`.
forced = contextvars.ContextVar("cnnlab_kernel", default="auto")


def active() -> str:
    """The name that `kernels.use` set for this thread ('auto' outside any `use` block)."""
    return forced.get()
