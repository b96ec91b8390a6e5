import numpy as np
import pytest
import torch

from earlyact.evaluate import (
    confusion_matrix,
    markdown_table,
    observed_frames,
    ratio_accuracy,
    ratio_predictions,
    results_dict,
)


@pytest.mark.parametrize(
    ("T", "r", "n"),
    [
        (10, 0.1, 1),
        (10, 0.3, 3),
        (10, 0.7, 7),
        (10, 1.0, 10),
        (15, 0.1, 2),
        (15, 0.5, 8),
        (3, 0.1, 1),
        (40, 0.3, 12),
    ],
)
def test_observed_frames_is_ceil_without_float_error(T, r, n):
    assert observed_frames(T, r) == n


@pytest.mark.parametrize("r", [0.0, -0.1, 1.01])
def test_observed_frames_rejects_bad_ratio(r):
    with pytest.raises(ValueError, match="not in"):
        observed_frames(10, r)


def test_ratio_predictions_hand_made():
    # clip 0 (T=4): predicts class 1 on frames 0-1, class 0 after; clip 1 (T=2, padded): class 1 then 0
    K = 2
    pred0 = [1, 1, 0, 0]
    pred1 = [1, 0, 1, 1]  # the last two frames are padding and must never be read
    logits = torch.zeros(2, 4, K)
    for b, seq in enumerate((pred0, pred1)):
        for t, k in enumerate(seq):
            logits[b, t, k] = 5.0
    lengths = torch.tensor([4, 2])
    ratios = [0.25, 0.5, 0.75, 1.0]
    # observed frames: clip 0 -> 1, 2, 3, 4; clip 1 -> 1, 1, 2, 2
    preds = ratio_predictions(logits, lengths, ratios)
    assert preds.tolist() == [[1, 1], [1, 1], [0, 0], [0, 0]]
    acc = ratio_accuracy(logits, torch.tensor([0, 0]), lengths, ratios)
    assert acc == [0.0, 0.0, 1.0, 1.0]


def test_confusion_and_results_schema():
    m = confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), 2)
    assert m.tolist() == [[1, 1], [0, 1]]
    res = results_dict([0.5, 1.0], {"a": [[50.0, 100.0], [70.0, 100.0]]}, 3, ["x", "y"], ["context"], [0, 1])
    assert res["accuracy"] == {"a": [60.0, 100.0]}
    assert res["accuracy_std"]["a"] == [10.0, 0.0]
    assert res["mean_over_ratios"]["a"] == 80.0
    assert {"ratios", "accuracy", "n_clips", "classes", "streams", "seeds"} <= set(res)
    assert "| a | 60.0 ± 10.0 | 100.0 ± 0.0 | 80.0 |" in markdown_table(res)
