"""The argument checks that cnnlab's ops and layers share: one parser per kind of argument.

Each parser takes the value as it came and returns it canonical (an int, a D-tuple of ints, ...), or
raises ``ValueError``/``TypeError`` whose message names the op (the ``op`` keyword), the argument, the
rule and what came, in one style: ``"{op}: {arg} must be {rule}, got {arg}={value!r}"`` (with the type,
for a TypeError), e.g. ``max_pool2d: kernel_size must be positive, got kernel_size=(0, 2)``.

A layer calls the parser of its op's arguments when it is made (so it fails early, under its own
name); the size formulas of `cnnlab.shapes` call them on their inputs.
"""
from __future__ import annotations

import functools
import numbers
import operator

__all__ = ["memoized", "integer", "positive_int", "nonnegative_int", "boolean", "number", "padding_pair", "ntuple", "check_positive", "check_nonnegative", "positive_ints", "nonnegative_ints", "window_args", "conv_padding", "divisor_override", "adaptive_output_size", "normalized_shape"]

#: how many argument combinations each `memoized` check remembers (a training loop has a handful per op)
MEMO_SIZE = 1024


def _typed(value):
    """A cache key for `value` that tells its type too: True is not 1 there, (2, 2) is not [2, 2]."""
    kind = type(value)
    if kind is tuple or kind is list:
        return (kind, tuple(map(_typed, value)))
    return (kind, value)


def memoized(check):
    """Remember the results of a pure argument check (a function of shapes, ints, tuples, strings).

    An op's arguments are checked on every call, but a training loop calls each op with the same few
    combinations over and over: the checks then cost a dict lookup. A call whose arguments are not
    hashable (a list of numpy arrays) runs the check itself; a check that raises is not remembered,
    so every bad call raises again, with the same message.
    """
    cache = {}

    @functools.wraps(check)
    def remembered(*args, **kwargs):
        try:
            key = _typed(args) if not kwargs else (_typed(args), _typed(tuple(kwargs.items())))
            return cache[key]
        except KeyError:
            result = check(*args, **kwargs)
            if len(cache) < MEMO_SIZE:
                cache[key] = result
            return result
        except TypeError:      # unhashable: check it every time
            return check(*args, **kwargs)

    remembered.cache = cache
    return remembered


# The one set of argument checks of cnnlab's ops and layers (one message style:
# "{op}: {arg} must be {rule}, got {arg}={value!r}", with the type for a TypeError).

def _is_bool(value) -> bool:
    """True for Python's and NumPy's bools (``numpy.bool_``, named ``bool`` in NumPy 2)."""
    return isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"))


def _is_int(value) -> bool:
    """True for ints and int-like scalars (``operator.index``), never for bools."""
    if _is_bool(value):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def integer(value, *, op, arg) -> int:
    """`value` as an int (Python or NumPy, never a bool), or TypeError.

    Example:
        >>> integer(-1, op="Softmax", arg="dim")
        -1
    """
    if not _is_int(value):
        raise TypeError(f"{op}: {arg} must be an int, got {arg}={value!r} ({type(value).__name__})")
    return operator.index(value)


def positive_int(value, *, op, arg) -> int:
    """`value` as an int >= 1, or TypeError/ValueError.

    Example:
        >>> positive_int(16, op="Conv2d", arg="in_channels")
        16
    """
    value = integer(value, op=op, arg=arg)
    if value <= 0:
        raise ValueError(f"{op}: {arg} must be positive, got {arg}={value}")
    return value


def nonnegative_int(value, *, op, arg) -> int:
    """`value` as an int >= 0, or TypeError/ValueError."""
    value = integer(value, op=op, arg=arg)
    if value < 0:
        raise ValueError(f"{op}: {arg} must be non-negative, got {arg}={value}")
    return value


def boolean(value, *, op, arg) -> bool:
    """`value` (a Python or NumPy bool) as a bool, or TypeError.

    Example:
        >>> boolean(False, op="max_pool2d", arg="ceil_mode")
        False
    """
    if not _is_bool(value):
        raise TypeError(f"{op}: {arg} must be True or False, got {arg}={value!r} ({type(value).__name__})")
    return bool(value)


def number(value, *, op, arg):
    """`value` if it is a real number (int or float, Python or NumPy, never a bool), or TypeError."""
    if not isinstance(value, numbers.Real) or _is_bool(value):
        raise TypeError(f"{op}: {arg} must be a number, got {arg}={value!r} ({type(value).__name__})")
    return value


def padding_pair(padding, *, op, arg="padding") -> tuple[int, int]:
    """An int (both sides) or a (before, after) pair -> (before, after), both >= 0."""
    if isinstance(padding, (tuple, list)):
        if len(padding) != 2 or not all(_is_int(v) for v in padding):
            raise TypeError(f"{op}: {arg} must be an int or a (before, after) pair of ints, "
                            f"got {arg}={padding!r}")
        pair = tuple(operator.index(v) for v in padding)
    else:
        pair = (integer(padding, op=op, arg=arg),) * 2
    if min(pair) < 0:
        raise ValueError(f"{op}: {arg} must be non-negative, got {arg}={padding!r}")
    return pair


def ntuple(value, n, *, op, arg) -> tuple[int, ...]:
    """Normalise an int or a length-n tuple/list of ints to an n-tuple of ints.

    The one helper every op and layer uses for ``kernel_size``, ``stride``,
    ``padding`` and ``dilation`` (no private ``_pair`` copies).

    Example:
        >>> ntuple(3, 2, op="conv2d", arg="kernel_size")
        (3, 3)
        >>> ntuple([1, 2], 2, op="conv2d", arg="stride")
        (1, 2)
    """
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) != n or not all(_is_int(v) for v in items):
        error = ValueError if len(items) != n else TypeError
        raise error(f"{op}: {arg} must be an int or a tuple of {n} int{'s' * (n != 1)}, "
                    f"got {value!r}")
    return tuple(operator.index(v) for v in items)


def _check_all(values, rule, ok, *, op, arg):
    items = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    for v in items:
        integer(v, op=op, arg=arg)
    if not all(ok(v) for v in items):
        raise ValueError(f"{op}: {arg} must be {rule}, got {arg}={values!r}")
    return values


def check_positive(values, *, op, arg):
    """Raise ValueError unless every entry of an int or tuple is > 0; return ``values``.

    Example:
        >>> check_positive((2, 1), op="max_pool2d", arg="stride")
        (2, 1)
    """
    return _check_all(values, "positive", lambda v: v > 0, op=op, arg=arg)


def check_nonnegative(values, *, op, arg):
    """Raise ValueError unless every entry of an int or tuple is >= 0; return ``values``.

    Example:
        >>> check_nonnegative((0, 1), op="conv2d", arg="padding")
        (0, 1)
    """
    return _check_all(values, "non-negative", lambda v: v >= 0, op=op, arg=arg)


def positive_ints(value, n, *, op, arg) -> tuple[int, ...]:
    """An int or n ints, all > 0, as an n-tuple (``ntuple`` + ``check_positive``).

    Example:
        >>> positive_ints(2, 2, op="max_pool2d", arg="kernel_size")
        (2, 2)
    """
    items = ntuple(value, n, op=op, arg=arg)
    check_positive(value, op=op, arg=arg)  # the message shows the value as it came
    return items


def nonnegative_ints(value, n, *, op, arg) -> tuple[int, ...]:
    """An int or n ints, all >= 0, as an n-tuple (``ntuple`` + ``check_nonnegative``)."""
    items = ntuple(value, n, op=op, arg=arg)
    check_nonnegative(value, op=op, arg=arg)
    return items


def window_args(D, kernel_size, stride, padding, dilation=1, *, op):
    """(kernel, stride, padding, dilation) of a D-d pooling window as D-tuples of ints, checked.

    ``stride=None`` (or ``()``) means the kernel size, as in PyTorch; kernel, stride and dilation
    must be positive, padding non-negative. Messages show each value as it came.

    Example:
        >>> window_args(2, 3, None, (1, 0), op="max_pool2d")
        ((3, 3), (3, 3), (1, 0), (1, 1))
    """
    k = positive_ints(kernel_size, D, op=op, arg="kernel_size")
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        positive_ints(stride, D, op=op, arg="stride")
    return k, s, nonnegative_ints(padding, D, op=op, arg="padding"), positive_ints(dilation, D, op=op, arg="dilation")


def conv_padding(padding, D, stride, *, op, transposed=False):
    """A conv's ``padding``: an int or D ints >= 0 as a D-tuple, or (not for a transposed conv) the
    strings 'valid' and 'same', kept as they are; 'same' needs stride 1 (PyTorch's rule).

    Example:
        >>> conv_padding(1, 2, (1, 1), op="conv2d"), conv_padding("same", 2, (1, 1), op="conv2d")
        ((1, 1), 'same')
    """
    if not isinstance(padding, str):
        return nonnegative_ints(padding, D, op=op, arg="padding")
    if transposed:
        raise ValueError(f"{op}: padding must be an int or a tuple of {D} ints, got {padding!r} "
                         "(string padding is not supported for transposed convolutions)")
    if padding not in ("valid", "same"):
        raise ValueError(f"{op}: padding must be an int, a tuple of {D} ints, 'valid' or 'same', got {padding!r}")
    if padding == "same" and any(s != 1 for s in stride):
        raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride}); "
                         "pad explicitly, or use cnnlab.keras for TensorFlow's 'same'")
    return padding


def divisor_override(value, *, op):
    """avg_pool's ``divisor_override``: None, or a non-zero int.

    Example:
        >>> divisor_override(None, op="avg_pool2d") is None
        True
    """
    if value is None:
        return None
    if not _is_int(value):
        raise TypeError(f"{op}: divisor_override must be an int or None, got divisor_override={value!r} "
                        f"({type(value).__name__})")
    if value == 0:
        raise ValueError(f"{op}: divisor_override must not be zero, got divisor_override=0")
    return operator.index(value)


def adaptive_output_size(output_size, D, spatial=None, *, op):
    """The ``output_size`` of D-d adaptive pooling as a D-tuple of positive ints.

    An int, or D entries, where (2-d and 3-d only, as PyTorch) None keeps that input size
    (`spatial`; without it, when a layer checks its argument, None stands for 1).

    Example:
        >>> adaptive_output_size((None, 3), 2, (7, 9), op="adaptive_avg_pool2d")
        (7, 3)
    """
    items = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * D
    if output_size is None or (D == 1 and None in items):
        raise TypeError(f"{op}: output_size must be an int or a tuple of {D} int{'s' * (D > 1)}"
                        f"{' (or None to keep that input size)' if D > 1 else ''}, got {output_size!r}")
    if len(items) == D:
        keep = (1,) * D if spatial is None else spatial
        items = tuple(n if o is None else o for n, o in zip(keep, items))
    size = ntuple(items, D, op=op, arg="output_size")
    if min(size) < 1:
        raise ValueError(f"{op}: output_size must be positive, got output_size={output_size!r}")
    return size


def normalized_shape(value, *, op) -> tuple[int, ...]:
    """layer_norm's ``normalized_shape``: an int or a non-empty sequence of positive ints, as a tuple.

    Example:
        >>> normalized_shape(8, op="layer_norm")
        (8,)
    """
    shape = (value,) if _is_int(value) or _is_bool(value) else value
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"{op}: normalized_shape must be an int or a tuple of ints, "
                        f"got {type(value).__name__}") from None
    if not shape or not all(_is_int(s) and operator.index(s) >= 1 for s in shape):
        raise ValueError(f"{op}: normalized_shape must be a positive int or a non-empty tuple of positive ints, "
                         f"got {value!r}")
    return tuple(operator.index(s) for s in shape)
