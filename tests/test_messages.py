"""cnnlab.messages: counted nouns (singular and plural right) and SettingError's two names for a setting."""
from __future__ import annotations

import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional as F
from cnnlab import nn
from cnnlab.messages import SettingError, counted


def test_counted_says_one_channel_and_two_channels():
    assert [counted(n, "channel") for n in (0, 1, 2)] == ["0 channels", "1 channel", "2 channels"]
    assert counted(1, "class", "classes") == "1 class" and counted(10, "class", "classes") == "10 classes"


def test_setting_error_names_the_argument_in_python_and_the_flag_on_the_command_line():
    e = SettingError("TrainConfig", "{data_dir} is missing; add {download} ({'a': 1} stays as it is)",
                     "data_dir", "download", download="download=True")
    assert isinstance(e, ValueError)
    assert str(e) == "TrainConfig: data_dir is missing; add download=True ({'a': 1} stays as it is)"
    assert e.with_flags({"data_dir": "--data-dir", "download": "--download"}) == \
        "--data-dir is missing; add --download ({'a': 1} stays as it is)"
    assert e.with_flags({}) == "data_dir is missing; add download ({'a': 1} stays as it is)"


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(cnnlab.zeros(1, 1, 5, 5), cnnlab.zeros(2, 3, 3, 3)), "conv2d: input has 1 channel, but weight "
                                                                            "expects 3"),
    (lambda: F.conv2d(cnnlab.zeros(1, 2, 5, 5), cnnlab.zeros(2, 3, 3, 3)), "conv2d: input has 2 channels, but "),
    (lambda: F.conv_transpose2d(cnnlab.zeros(1, 1, 5, 5), cnnlab.zeros(3, 2, 3, 3)),
     "conv_transpose2d: input has 1 channel, but weight expects 3"),
    (lambda: nn.GroupNorm(1, 1)(cnnlab.zeros(2, 3, 4)), "GroupNorm: expected input with 1 channel, got"),
    (lambda: F.softmax(cnnlab.zeros(3), dim=1), "softmax: dim 1 is out of range for a tensor of 1 dimension "),
    (lambda: F.pad(cnnlab.zeros(3), (1, 1, 1, 1)), "pad: pad of length 4 pads 2 dims, but the input has only 1"),
])
def test_messages_that_count_say_one_thing_in_the_singular(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value).startswith(message), str(info.value)


def test_normalize_counts_its_values():
    from cnnlab.data import transforms as T
    with pytest.raises(ValueError, match=r"Normalize: mean/std have 2 values, but the image has 1 channel$"):
        T.Normalize((0.5, 0.5), (0.5, 0.5))(T.ToTensor()(np.zeros((4, 4), np.uint8)))


def test_missing_extra_error_is_an_import_error_shared_by_train_and_viz():
    import cnnlab.train
    from cnnlab.messages import MissingExtraError

    assert issubclass(MissingExtraError, ImportError)
    assert cnnlab.train.MissingExtraError is MissingExtraError  # the one class the command line catches
