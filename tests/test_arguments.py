"""cnnlab.arguments: the parsers that ops and layers share, in one message style (op, argument, rule, what came)."""
import doctest

import numpy as np
import pytest

from cnnlab import arguments
from cnnlab.arguments import check_nonnegative, check_positive, ntuple


def test_docstring_examples():
    failed, attempted = doctest.testmod(arguments)
    assert attempted > 8 and failed == 0


def test_ntuple_normalises():
    assert ntuple(3, 2, op="conv2d", arg="kernel_size") == (3, 3)
    assert ntuple((1, 2), 2, op="conv2d", arg="stride") == (1, 2)
    assert ntuple([1, 2, 3], 3, op="conv3d", arg="stride") == (1, 2, 3)
    assert ntuple(0, 1, op="conv1d", arg="padding") == (0,)
    out = ntuple([4, 5], 2, op="x", arg="y")
    assert type(out) is tuple and all(type(v) is int for v in out)


def test_ntuple_wrong_length():
    with pytest.raises(ValueError, match=r"^conv2d: kernel_size must be an int or a tuple of 2 "
                                         r"ints, got \(3, 3, 3\)$"):
        ntuple((3, 3, 3), 2, op="conv2d", arg="kernel_size")
    with pytest.raises(ValueError, match=r"conv1d: stride must be an int or a tuple of 1 int, "
                                         r"got \[\]"):
        ntuple([], 1, op="conv1d", arg="stride")


@pytest.mark.parametrize("bad", [True, 2.0, "3", None, (2, 2.5), (True, 1), [1, None]])
def test_ntuple_rejects_non_ints(bad):
    with pytest.raises(TypeError, match=r"^conv2d: kernel_size must be an int or a tuple of 2 ints"):
        ntuple(bad, 2, op="conv2d", arg="kernel_size")


def test_ntuple_accepts_int_like():
    class Index:
        def __index__(self):
            return 7
    assert ntuple(Index(), 2, op="x", arg="k") == (7, 7)


def test_check_positive_and_nonnegative():
    assert check_positive((2, 1), op="max_pool2d", arg="stride") == (2, 1)
    assert check_positive(3, op="conv2d", arg="stride") == 3
    assert check_nonnegative((0, 0), op="conv2d", arg="padding") == (0, 0)
    with pytest.raises(ValueError, match=r"^max_pool2d: stride must be positive, "
                                         r"got stride=\(2, 0\)$"):
        check_positive((2, 0), op="max_pool2d", arg="stride")
    with pytest.raises(ValueError, match=r"^conv2d: stride must be positive, got stride=\(0, 1\)$"):
        check_positive((0, 1), op="conv2d", arg="stride")
    with pytest.raises(ValueError, match=r"^conv2d: padding must be non-negative, "
                                         r"got padding=\(1, -1\)$"):
        check_nonnegative((1, -1), op="conv2d", arg="padding")
    with pytest.raises(TypeError, match=r"^conv2d: stride must be an int"):
        check_positive((1, True), op="conv2d", arg="stride")



def test_scalar_checkers_one_message_style():
    """The one int, positive-int, bool and number checker of ops and layers: op, argument, rule, what came."""
    assert arguments.integer(-1, op="Softmax", arg="dim") == -1
    assert arguments.positive_int(np.int64(3), op="Conv2d", arg="in_channels") == 3
    assert type(arguments.positive_int(np.int64(3), op="Conv2d", arg="in_channels")) is int
    assert arguments.nonnegative_int(0, op="x", arg="seed") == 0
    assert arguments.boolean(np.bool_(True), op="ReLU", arg="inplace") is True
    assert arguments.number(0.5, op="lp_pool2d", arg="norm_type") == 0.5
    with pytest.raises(TypeError, match=r"^Softmax: dim must be an int, got dim=1.0 \(float\)$"):
        arguments.integer(1.0, op="Softmax", arg="dim")
    with pytest.raises(ValueError, match=r"^Conv2d: in_channels must be positive, got in_channels=0$"):
        arguments.positive_int(0, op="Conv2d", arg="in_channels")
    with pytest.raises(TypeError, match=r"^Conv2d: groups must be an int, got groups=True \(bool\)$"):
        arguments.positive_int(True, op="Conv2d", arg="groups")
    with pytest.raises(ValueError, match=r"^x: seed must be non-negative, got seed=-1$"):
        arguments.nonnegative_int(-1, op="x", arg="seed")
    with pytest.raises(TypeError, match=r"^ReLU: inplace must be True or False, got inplace=1 \(int\)$"):
        arguments.boolean(1, op="ReLU", arg="inplace")
    with pytest.raises(TypeError, match=r"^LPPool2d: norm_type must be a number, got norm_type=True \(bool\)$"):
        arguments.number(True, op="LPPool2d", arg="norm_type")


def test_window_args():
    assert arguments.window_args(2, 3, None, (1, 0), op="max_pool2d") == ((3, 3), (3, 3), (1, 0), (1, 1))
    assert arguments.window_args(1, [2], (), 0, op="max_pool1d") == ((2,), (2,), (0,), (1,))
    assert arguments.window_args(3, 2, 1, 0, 2, op="max_pool3d") == ((2, 2, 2), (1, 1, 1), (0, 0, 0), (2, 2, 2))
    assert arguments.positive_ints(2, 2, op="x", arg="k") == (2, 2)
    assert arguments.nonnegative_ints([0, 1], 2, op="x", arg="p") == (0, 1)
    with pytest.raises(ValueError, match=r"^max_pool2d: kernel_size must be positive, got kernel_size=\(0, 2\)$"):
        arguments.window_args(2, (0, 2), None, 0, op="max_pool2d")
    with pytest.raises(ValueError, match=r"^MaxPool2d: stride must be positive, got stride=0$"):
        arguments.window_args(2, 2, 0, 0, op="MaxPool2d")
    with pytest.raises(ValueError, match=r"^avg_pool1d: padding must be non-negative, got padding=-1$"):
        arguments.window_args(1, 2, None, -1, op="avg_pool1d")
    with pytest.raises(ValueError, match=r"^max_pool2d: dilation must be an int or a tuple of 2 ints, got \(1, 1, 1\)$"):
        arguments.window_args(2, 2, None, 0, (1, 1, 1), op="max_pool2d")


def test_pooling_arguments():
    assert arguments.divisor_override(None, op="avg_pool2d") is None
    assert arguments.divisor_override(np.int32(-2), op="avg_pool2d") == -2
    with pytest.raises(ValueError, match=r"^avg_pool2d: divisor_override must not be zero, got divisor_override=0$"):
        arguments.divisor_override(0, op="avg_pool2d")
    with pytest.raises(TypeError, match=r"^AvgPool2d: divisor_override must be an int or None, got "
                                        r"divisor_override=True \(bool\)$"):
        arguments.divisor_override(True, op="AvgPool2d")
    assert arguments.adaptive_output_size(3, 2, (7, 9), op="adaptive_avg_pool2d") == (3, 3)
    assert arguments.adaptive_output_size((None, 3), 2, (7, 9), op="adaptive_avg_pool2d") == (7, 3)
    assert arguments.adaptive_output_size((None, 3), 2, op="AdaptiveAvgPool2d") == (1, 3)  # a layer, no input yet
    with pytest.raises(TypeError, match=r"^adaptive_max_pool1d: output_size must be an int or a tuple of 1 int, "
                                        r"got \(None,\)$"):
        arguments.adaptive_output_size((None,), 1, (5,), op="adaptive_max_pool1d")
    with pytest.raises(ValueError, match=r"^AdaptiveAvgPool2d: output_size must be positive, got "
                                         r"output_size=\(0, None\)$"):
        arguments.adaptive_output_size((0, None), 2, op="AdaptiveAvgPool2d")


# ---------------------------------------------------------------- memoized checks
def test_memoized_remembers_results_by_value_and_type():
    calls = []

    @arguments.memoized
    def check(value, *, op="x"):
        calls.append(value)
        return arguments.positive_ints(value, 2, op=op, arg="stride")

    assert check((2, 1)) == (2, 1) and check((2, 1)) == (2, 1)
    assert calls == [(2, 1)]                                   # the second call was a lookup
    with pytest.raises(TypeError, match=r"x: stride must be an int"):
        check((True, 1))                                       # == (1, 1) as a value, but not as a type
    assert check((1, 1)) == (1, 1) and check([1, 1]) == (1, 1)
    assert len(calls) == 4                                     # (True, 1), (1, 1) and the list each ran
    assert check((2, 1), op="y") == (2, 1) and len(calls) == 5  # keywords are part of the key


def test_memoized_reraises_every_time_and_checks_unhashable_values_each_call():
    calls = []

    @arguments.memoized
    def check(value):
        calls.append(value)
        return arguments.positive_int(value, op="op", arg="n")

    for _ in range(2):
        with pytest.raises(ValueError, match="op: n must be positive, got n=0"):
            check(0)
    assert len(calls) == 2                                     # errors are never remembered
    unhashable = {"a": 1}
    with pytest.raises(TypeError, match=r"op: n must be an int, got n=\{'a': 1\} \(dict\)"):
        check(unhashable)


def test_memoized_holds_at_most_memo_size_entries():
    @arguments.memoized
    def double(n):
        return 2 * n

    for n in range(arguments.MEMO_SIZE + 10):
        assert double(n) == 2 * n
    assert len(double.cache) == arguments.MEMO_SIZE
