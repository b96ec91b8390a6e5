import numpy as np
import pytest

from earlyact.config import FeatureConfig
from earlyact.features import action_input, skeleton_context, skeleton_context_dim
from earlyact.skeleton import COCO18, JHMDB15, causal_scale, normalize


def _pose(T=6, P=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(100, 300, size=(T, P, 18, 2))


def test_normalisation_removes_translation_and_scale():
    pose = _pose()
    a, _ = normalize(pose, COCO18)
    b, _ = normalize(pose * 2.5 + np.array([40.0, -7.0]), COCO18)
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_normalisation_is_causal_and_keeps_missing_as_nan():
    pose = _pose()
    pose[2, 1, 4] = np.nan
    a, _ = normalize(pose, COCO18)
    changed = pose.copy()
    changed[4:] *= 3.0
    b, _ = normalize(changed, COCO18)
    np.testing.assert_allclose(a[:4], b[:4])
    assert np.isnan(a[2, 1, 4]).all() and np.isfinite(a[2, 0]).all()


def test_low_confidence_joints_are_missing():
    pose = np.concatenate([_pose(), np.ones((6, 2, 18, 1))], -1)
    pose[0, 0, 7, 2] = 0.05
    a, _ = normalize(pose, COCO18, min_confidence=0.1)
    assert np.isnan(a[0, 0, 7]).all() and np.isfinite(a[0, 0, 6]).all()


def test_causal_scale_running_mean():
    pose = np.zeros((3, 1, 15, 2))
    pose[:, 0, 0] = [0, 0]  # neck
    for t, L in enumerate([1.0, 3.0, 2.0]):
        pose[t, 0, 5] = pose[t, 0, 6] = [0, L]  # hips
    np.testing.assert_allclose(causal_scale(pose, JHMDB15), [1.0, 2.0, 2.0])


def test_skeleton_context_shape_and_no_nan():
    pose = _pose()
    pose[3] = np.nan  # nobody visible in a frame
    cfg = FeatureConfig()
    feats = skeleton_context(pose, COCO18, cfg)
    assert feats.shape == (6, skeleton_context_dim(2, COCO18, cfg)) and np.isfinite(feats).all()
    assert feats.dtype == np.float32


@pytest.mark.parametrize(("vel", "dist"), [(False, False), (True, False), (False, True)])
def test_skeleton_context_options(vel, dist):
    cfg = FeatureConfig(velocities=vel, distances=dist)
    assert skeleton_context(_pose(), COCO18, cfg).shape[1] == skeleton_context_dim(2, COCO18, cfg)


def test_action_input_stacks_persons():
    x = action_input(_pose(), COCO18)
    assert x.shape == (6, 36, 5)
    np.testing.assert_allclose(x[0, :, 2:4], 0.0)  # no velocity at frame 0
    assert (x[..., 4] == 1).all()
