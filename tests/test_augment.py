import numpy as np
import pytest

from earlyact.augment import augment, change_speed, jitter, mirror, mirror_clips, scale_rotate
from earlyact.config import AugmentConfig
from earlyact.data import Clip
from earlyact.skeleton import BLAZEPOSE33, COCO18, JHMDB15, mirror_order, normalize


def _pose(T=10):
    rng = np.random.default_rng(0)
    pose = rng.uniform(100, 300, size=(T, 2, 18, 3))
    pose[3, 1, 5] = np.nan
    return pose


def test_rotation_alone_keeps_distances_and_missing():
    pose = _pose()
    out = scale_rotate(pose, np.random.default_rng(1), scale=0.0, degrees=30)
    d = lambda p: np.linalg.norm(p[:, 0, 2, :2] - p[:, 0, 9, :2], axis=-1)  # noqa: E731
    np.testing.assert_allclose(d(out), d(pose))
    assert not np.allclose(out[..., :2], pose[..., :2])
    assert np.isnan(out[3, 1, 5, :2]).all() and np.array_equal(out[..., 2], pose[..., 2], equal_nan=True)


def test_scale_is_removed_by_normalisation_when_isotropic():
    pose = _pose()
    out = scale_rotate(pose, np.random.default_rng(2), scale=0.0, degrees=0.0) * 1.0
    np.testing.assert_allclose(normalize(out, COCO18)[0], normalize(pose, COCO18)[0], atol=1e-9)


def test_speed_change_resamples_time():
    pose = _pose(20)
    fast, slow = change_speed(pose, 2.0), change_speed(pose, 0.5)
    assert len(fast) == 10 and len(slow) == 40
    np.testing.assert_allclose(fast[0], pose[0]) and np.testing.assert_allclose(fast[-1], pose[-1])
    np.testing.assert_allclose(slow[1, 0, 0], (pose[0, 0, 0] + pose[1, 0, 0]) / 2, rtol=0.1)


def test_jitter_scale_follows_body_size():
    pose = _pose()
    a = jitter(pose, np.random.default_rng(0), 0.05, COCO18) - pose
    b = jitter(pose * 3, np.random.default_rng(0), 0.05, COCO18) - pose * 3
    np.testing.assert_allclose(np.nanstd(b[..., :2]), 3 * np.nanstd(a[..., :2]), rtol=1e-6)


def test_augment_is_seeded_and_can_be_disabled():
    pose = _pose()
    cfg = AugmentConfig(enabled=True, prefix=1.0)
    a, b = (augment(pose, np.random.default_rng(5), cfg, COCO18) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert 2 <= len(a) <= 12
    assert augment(pose, np.random.default_rng(5), AugmentConfig(enabled=False), COCO18) is pose


def test_mirror_swaps_sides_negates_x_and_reverses_persons():
    pose = _pose()
    out = mirror(pose, COCO18)
    r, l_ = COCO18.index("r_wrist"), COCO18.index("l_wrist")
    assert np.array_equal(out[:, 0, l_, 0], -pose[:, 1, r, 0])  # person 1's right wrist -> slot 0's left wrist
    assert np.array_equal(out[:, 0, l_, 1:], pose[:, 1, r, 1:])  # y and confidence unchanged
    nose = COCO18.index("nose")
    assert np.array_equal(out[:, 1, nose, 0], -pose[:, 0, nose, 0])  # midline joints keep their index
    assert np.array_equal(mirror(out, COCO18), pose, equal_nan=True)  # an involution
    assert np.isnan(out[3, 0, COCO18.index("r_shoulder")]).all()  # person 1's missing l_shoulder (joint 5)


def test_mirror_order_pairs_every_sided_joint():
    for layout in (COCO18, BLAZEPOSE33, JHMDB15):
        order = mirror_order(layout)
        assert sorted(order) == list(range(layout.num_joints))
        for i, j in enumerate(order):
            name = layout.joints[i]
            if name.startswith(("l_", "r_")) or name.endswith(("_left", "_right")):
                assert j != i, name
    assert BLAZEPOSE33.joints[mirror_order(BLAZEPOSE33)[BLAZEPOSE33.index("mouth_left")]] == "mouth_right"


def test_mirror_probability_is_seeded():
    cfg = AugmentConfig(enabled=True, scale=0, rotation=0, noise=0, speed=0, mirror=1.0)
    out = augment(_pose(), np.random.default_rng(0), cfg, COCO18)
    centre = np.nanmean(_pose()[..., :2].reshape(-1, 2), axis=0)
    expected = mirror(_pose() - np.r_[centre, 0], COCO18) + np.r_[-centre[0], centre[1], 0]
    assert np.allclose(out, expected, atol=1e-3, equal_nan=True)


def test_mirror_clips_mirror_the_pose_and_drop_the_streams_made_from_it():
    clip = Clip("a", 1, _pose(), context=np.ones((len(_pose()), 4), np.float32))
    (out,) = mirror_clips([clip], COCO18)
    assert np.array_equal(out.pose, mirror(_pose(), COCO18), equal_nan=True)
    assert out.context is None and out.action is None and (out.clip_id, out.label) == ("a", 1)
    assert clip.context is not None  # the input is left as it was
    with pytest.raises(ValueError, match="'b' has none"):
        mirror_clips([clip, Clip("b", 0, None, context=np.ones((3, 4), np.float32))], COCO18)


def test_three_d_rotation_turns_about_the_vertical_axis_and_keeps_depth_distances():
    pose = np.concatenate([_pose()[..., :2], np.random.default_rng(3).uniform(0, 200, (10, 2, 18, 1))], -1)
    pose = np.concatenate([pose, np.full((10, 2, 18, 1), 0.7)], -1)  # (x, y, z, confidence)
    pose[3, 1, 5, :3] = np.nan
    out = scale_rotate(pose, np.random.default_rng(1), scale=0.0, degrees=30, coords=3)
    np.testing.assert_allclose(out[..., 1], pose[..., 1])  # y (up) unchanged: a turn of the viewpoint
    d = lambda p: np.linalg.norm(p[:, 0, 2, :3] - p[:, 1, 9, :3], axis=-1)  # noqa: E731
    np.testing.assert_allclose(d(out), d(pose))  # a rigid turn in 3-D
    assert not np.allclose(out[..., [0, 2]], pose[..., [0, 2]])  # x and z mixed
    assert np.isnan(out[3, 1, 5, :3]).all() and np.array_equal(out[..., 3], pose[..., 3])  # confidence kept
    noisy = jitter(pose, np.random.default_rng(2), 0.05, COCO18, coords=3)
    assert not np.allclose(noisy[..., 2], pose[..., 2], equal_nan=True)  # depth gets noise too ...
    assert np.array_equal(noisy[..., 3], pose[..., 3])  # ... the confidence none
    cfg = AugmentConfig(enabled=True, mirror=1.0, noise=0.0, speed=0.0, scale=0.0, rotation=0.0)
    flipped = augment(pose, np.random.default_rng(0), cfg, COCO18, coords=3)
    np.testing.assert_allclose(flipped[..., 1:3], mirror(pose, COCO18)[..., 1:3], rtol=1e-6)  # y, z as mirrored
