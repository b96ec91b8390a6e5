"""The analysis functions of scripts under benchmarks/ (imported from that folder)."""

import sys

import numpy as np
import pytest
from conftest import REPO
from test_video import _write_video

sys.path.insert(0, str(REPO / "benchmarks"))
from ut_crop_shape import first_frame_context, frame_shape, main, nearest_mean_loso  # noqa: E402

from earlyact.data import Clip, ClipEntry, DatasetIndex, save_dataset  # noqa: E402
from earlyact.datasets import UT_CLASSES  # noqa: E402


def test_nearest_mean_loso_never_scores_a_group_against_its_own_clips():
    # Two groups, two classes. Group B's class-0 clip (10) is nearest class 1's mean (4) when the class
    # means come from group A alone, as they must; with its own clip in them class 0's mean would be 5
    # and it would be called 0. Group A, scored against B's means (10 and 4), is called 1 twice.
    x = np.array([[0.0], [4.0], [10.0], [4.0]])
    labels, groups = np.array([0, 1, 0, 1]), np.array(["A", "A", "B", "B"])
    assert nearest_mean_loso(x, labels, groups, 2).tolist() == [1, 1, 1, 1]


def test_nearest_mean_loso_never_picks_a_class_absent_from_the_other_groups():
    x = np.array([[0.0], [1.0], [9.0], [0.2]])
    labels, groups = np.array([0, 0, 2, 0]), np.array(["A", "B", "C", "C"])
    pred = nearest_mean_loso(x, labels, groups, 3)
    assert pred[2] == 0 and pred.tolist() == [0, 0, 0, 0]  # class 2 is only in group C, class 1 nowhere


def test_crop_shape_reads_the_decoded_frame_and_classifies_by_aspect(tmp_path, capsys, monkeypatch):
    # A UT-Interaction layout whose point clips are tall and push clips wide: the script finds every one.
    for seq in (1, 2, 3):
        _write_video(tmp_path / f"{2 * seq}_{seq}_3.avi", n=3, size=(48, 96))  # point: width / height 0.5
        _write_video(tmp_path / f"{2 * seq + 1}_{seq}_5.avi", n=3, size=(128, 64))  # push: 2.0
    assert frame_shape(tmp_path / "2_1_3.avi") == (96, 48)
    monkeypatch.setattr(sys, "argv", ["ut_crop_shape.py", "--root", str(tmp_path)])
    main()
    out = capsys.readouterr().out
    assert "| point | 3 | 0.50 / 0.50 / 0.50 | 3 |" in out and "| push | 3 | 2.00 / 2.00 / 2.00 | 3 |" in out
    assert "all classes: 6 of 6 right (100.0 %)" in out


def test_crop_shape_reads_each_clips_first_context_row_normalised(tmp_path):
    clips = [Clip(f"c{i}", i % 2, context=np.full((4, 3), 10.0 * (i + 1), np.float32)) for i in range(4)]
    clips[2].context[0] = [3.0, 4.0, 0.0]  # only row 0 is read
    entries = [ClipEntry(c.clip_id, c.label, "all", str(i // 2)) for i, c in enumerate(clips)]
    save_dataset(DatasetIndex(list(UT_CLASSES), entries), clips, tmp_path / "store")
    x, labels, groups = first_frame_context(tmp_path / "store")
    np.testing.assert_allclose(x[2], [0.6, 0.8, 0.0])
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0)
    assert labels.tolist() == [0, 1, 0, 1] and groups.tolist() == ["0", "0", "1", "1"]
    save_dataset(
        DatasetIndex(list(UT_CLASSES), entries[:1]), [Clip("c0", 0, pose=np.zeros((2, 1, 18, 2)))], tmp_path / "p"
    )
    with pytest.raises(ValueError, match="has no context stream"):
        first_frame_context(tmp_path / "p")


@pytest.mark.shared
def test_crop_shape_runs_on_the_real_set(shared_data):
    path = shared_data / "ut_interaction" / "segmented_set1" / "0_1_4.avi"
    height, width = frame_shape(path)
    assert (height, width) == (296, 400)  # the crop's size, not a fixed camera frame


def test_refit_validation_splits_its_scores_by_clip_length(capsys):
    from refit_validation import print_length_table

    held = [[Clip("a", 0, pose=np.zeros((20, 1, 15, 2))), Clip("b", 0, pose=np.zeros((40, 1, 15, 2)))],
            [Clip("c", 1, pose=np.zeros((31, 1, 15, 2)))]]  # fmt: skip
    units = [("seed_0", 0, [], held[0]), ("seed_1", 1, [], held[1])]
    right = np.array([[True, False, False], [True, True, True]])  # (R, N): clips a, b, c in unit order
    print_length_table(units, [("ref", {"kd-ms-lstm": right})], 32, [0.5, 1.0])
    out = capsys.readouterr().out
    assert "| ref kd-ms-lstm | 2 clips < 32 frames | 50.0 | 100.0 | 75.0 |" in out  # clips a and c
    assert "| ref kd-ms-lstm | 1 clips >= 32 frames | 0.0 | 100.0 | 50.0 |" in out  # clip b
    print_length_table(units, [("ref", {"kd-ms-lstm": right})], 50, [0.5, 1.0])  # no clip of 50 frames or more
    assert "3 clips < 50 frames" in capsys.readouterr().out


def test_stream_accuracy_rows_whole_or_split_by_length():
    from stream_accuracy import accuracy_rows

    clips = [Clip("a", 0, pose=np.zeros((20, 1, 15, 2))), Clip("b", 1, pose=np.zeros((40, 1, 15, 2)))]
    pred = {"net": np.array([[0, 0], [0, 1]])}  # (R, N)
    np.testing.assert_allclose(accuracy_rows(pred, clips)["net"], [50.0, 100.0])
    rows = accuracy_rows(pred, clips, 32)
    assert list(rows) == ["net, 1 clips < 32 frames", "net, 1 clips >= 32 frames"]
    np.testing.assert_allclose(rows["net, 1 clips >= 32 frames"], [0.0, 100.0])


def test_stream_accuracy_counts_right_predictions_per_class_and_length_part():
    from stream_accuracy import class_counts

    clips = [
        Clip(str(i), k, pose=np.zeros((n, 1, 15, 2))) for i, (k, n) in enumerate([(0, 20), (0, 40), (1, 20), (1, 25)])
    ]
    got = class_counts(np.array([0, 1, 1, 0]), clips, ["a", "b"], 32)  # (N,) predictions at one ratio
    assert {p: {k: v.tolist() for k, v in per.items()} for p, per in got.items()} == {
        "3 clips < 32 frames": {"a": [1, 1], "b": [1, 2]},
        "1 clips >= 32 frames": {"a": [0, 1]},  # class b has no long clip: no row
    }
    whole = class_counts(np.zeros(4), clips, ["a", "b"])  # no split: one part
    assert list(whole) == ["all clips"] and whole["all clips"]["a"].tolist() == [2, 2]


def test_stream_accuracy_reads_a_checkpoint_with_another_twin_ramp_without_touching_it():
    from stream_accuracy import with_twin_ramp

    from earlyact.checkpoint import Bundle

    bundle = Bundle(predictor=None, nets=None, info={"model": {"twin_ramp": 12, "fuse_context": 0.7}})
    assert with_twin_ramp(bundle, None) is bundle
    zero = with_twin_ramp(bundle, 0)
    assert zero.info["model"] == {"twin_ramp": 0, "fuse_context": 0.7} and bundle.info["model"]["twin_ramp"] == 12
