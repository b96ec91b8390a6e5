"""Person order, held persons and per-person centring (skeleton.order_left_right and friends)."""

import numpy as np
import pytest

from earlyact.config import FeatureConfig
from earlyact.features import action_input, prepare_pose, skeleton_context, skeleton_context_dim
from earlyact.skeleton import COCO18, hold_missing, normalize, order_left_right, person_offsets


def _body(x: float, y: float = 200.0) -> np.ndarray:
    """(18, 2) a person whose joints spread around (x, y); neck at (x, y), hips 60 px below."""
    rng = np.random.default_rng(int(x))
    joints = np.array([x, y]) + rng.uniform(-20, 20, size=(18, 2))
    joints[1] = [x, y]
    joints[8] = joints[11] = [x, y + 60]
    return joints


def _two(left: float, right: float, swap: bool = False) -> np.ndarray:
    a, b = _body(left), _body(right)
    return np.stack([b, a] if swap else [a, b])


def test_order_left_right_undoes_track_swaps():
    pose = np.stack([_two(100, 400), _two(110, 390, swap=True), _two(120, 380)])  # (3, 2, 18, 2)
    out = order_left_right(pose)
    assert (out[:, 0, 1, 0] < out[:, 1, 1, 0]).all()
    np.testing.assert_allclose(out[1], _two(110, 390))


def test_lone_person_keeps_the_slot_nearest_its_last_position():
    pose = np.stack([_two(100, 400), _two(110, 390), _two(120, 380)])
    pose[1, 0] = np.nan  # the left person is lost ...
    pose[2, 0], pose[2, 1] = _body(380), np.nan  # ... and the tracker moves the right one into slot 0
    out = order_left_right(pose)
    assert np.isnan(out[1, 0]).all() and np.isnan(out[2, 0]).all()
    np.testing.assert_allclose(out[2, 1], _body(380))


def test_order_left_right_is_causal():
    pose = np.stack([_two(100 + 5 * t, 400 - 5 * t, swap=t % 2 == 1) for t in range(6)])
    changed = pose.copy()
    changed[4:] = changed[4:, ::-1] + 50.0
    np.testing.assert_allclose(order_left_right(pose)[:4], order_left_right(changed)[:4])


def test_hold_missing_repeats_the_last_seen_pose_and_keeps_leading_gaps():
    pose = np.stack([_two(100, 400) + t for t in range(5)])
    pose[0, 1] = np.nan  # right person not seen yet
    pose[2:4, 0] = np.nan  # left person lost for two frames
    out = hold_missing(pose)
    assert np.isnan(out[0, 1]).all()
    np.testing.assert_allclose(out[2, 0], pose[1, 0])
    np.testing.assert_allclose(out[3, 0], pose[1, 0])
    np.testing.assert_allclose(out[4], pose[4])


def test_person_offsets_are_half_the_distance_in_body_sizes():
    pose = np.stack([_two(100, 400)] * 3)  # torso (neck to mid-hip) = 60 px
    off = person_offsets(pose, COCO18)
    np.testing.assert_allclose(off[:, 0], [[-150 / 60, 0]] * 3)
    np.testing.assert_allclose(off[:, 1], [[150 / 60, 0]] * 3)


def test_per_person_centring_ignores_where_the_other_person_stands():
    pose = np.stack([_two(100, 400)] * 4)
    moved = pose.copy()
    moved[:, 1] += [80.0, 0.0]
    a, _ = normalize(pose, COCO18, per_person=True)
    b, _ = normalize(moved, COCO18, per_person=True)
    np.testing.assert_allclose(a, b, atol=1e-12)
    shared, _ = normalize(pose, COCO18)
    assert not np.allclose(shared, a)


def test_descriptor_with_every_person_option():
    pose = np.stack([_two(100 + t, 400 - t, swap=t == 2) for t in range(6)])
    pose[3, 1] = np.nan
    cfg = FeatureConfig(person_order="left_right", hold_missing=True, per_person=True, long_motion=2)
    feats = skeleton_context(prepare_pose(pose, cfg), COCO18, cfg)
    assert feats.shape == (6, skeleton_context_dim(2, COCO18, cfg)) and np.isfinite(feats).all()
    plain = skeleton_context(pose, COCO18, FeatureConfig(long_motion=2))
    assert feats.shape[1] == plain.shape[1] + 8  # offsets and their velocities, 2 persons x 2
    held = action_input(prepare_pose(pose, cfg), COCO18)
    assert held[3, 18:, 4].all()  # the lost person is held: all its joints visible


def test_unknown_person_order_is_a_clear_error():
    with pytest.raises(ValueError, match="person_order"):
        prepare_pose(np.zeros((2, 2, 18, 2)), FeatureConfig(person_order="size"))
