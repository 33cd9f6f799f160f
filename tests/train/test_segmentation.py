"""Segmentation metrics against confusion matrices worked out by hand, and against IoUs counted on the masks."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cnnlab.train.loop import confusion_matrix
from cnnlab.train.segmentation import class_iou, mean_iou, pixel_accuracy


def test_a_class_absent_from_truth_and_prediction_is_left_out_of_the_mean():
    # class 2 has no pixel anywhere: IoU0 = 5 / (6 + 7 - 5), IoU1 = 3 / (5 + 4 - 3)
    m = np.array([[5, 1, 0], [2, 3, 0], [0, 0, 0]])
    iou = class_iou(m)
    assert iou[0] == 5 / 8 and iou[1] == 3 / 6 and math.isnan(iou[2])
    assert mean_iou(m) == (5 / 8 + 3 / 6) / 2
    assert pixel_accuracy(m) == 8 / 11


def test_a_class_predicted_but_absent_from_the_truth_counts_with_iou_0():
    m = np.array([[4, 0, 1], [0, 2, 0], [0, 0, 0]])
    np.testing.assert_array_equal(class_iou(m), [4 / 5, 2 / 2, 0.0])
    assert mean_iou(m) == (4 / 5 + 1 + 0) / 3 and pixel_accuracy(m) == 6 / 7


def test_from_two_small_masks():
    truth = np.array([[0, 0, 1], [1, 2, 2]])
    predicted = np.array([[0, 1, 1], [1, 2, 0]])
    m = confusion_matrix(truth, predicted, 3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    np.testing.assert_allclose(class_iou(m), [1 / 3, 2 / 3, 1 / 2], rtol=1e-15)
    assert mean_iou(m) == pytest.approx(0.5, rel=1e-15) and pixel_accuracy(m) == 4 / 6


def test_against_intersections_and_unions_counted_on_random_masks():
    rng = np.random.default_rng(0)
    truth, predicted = rng.integers(0, 11, (3, 16, 16)), rng.integers(0, 9, (3, 16, 16))  # 9, 10 never predicted
    truth[truth == 7] = 0                                                                    # 7 never true
    m = confusion_matrix(truth, predicted, 11)
    want = []
    for c in range(11):
        inter, union = np.sum((truth == c) & (predicted == c)), np.sum((truth == c) | (predicted == c))
        want.append(inter / union if union else np.nan)
    np.testing.assert_allclose(class_iou(m), want, rtol=1e-14)
    assert mean_iou(m) == pytest.approx(np.nanmean(want), rel=1e-14)
    assert pixel_accuracy(m) == np.mean(truth == predicted)


def test_the_metrics_add_up_over_batches():
    rng = np.random.default_rng(1)
    truth, predicted = rng.integers(0, 4, (6, 8, 8)), rng.integers(0, 4, (6, 8, 8))
    whole = confusion_matrix(truth, predicted, 4)
    parts = confusion_matrix(truth[:2], predicted[:2], 4) + confusion_matrix(truth[2:], predicted[2:], 4)
    np.testing.assert_array_equal(whole, parts)
    assert mean_iou(parts) == mean_iou(whole)


def test_empty_and_bad_matrices():
    assert math.isnan(mean_iou(np.zeros((3, 3)))) and math.isnan(pixel_accuracy(np.zeros((2, 2))))
    with pytest.raises(ValueError, match=r"mean_iou: confusion must be a square \(C, C\) matrix of counts, "
                                         r"got shape \(2, 3\)"):
        mean_iou(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="pixel_accuracy: confusion must hold counts >= 0, got dtype int64 "
                                         "with minimum -1"):
        pixel_accuracy(np.array([[1, -1], [0, 2]]))
