import numpy as np
import pytest

from earlyact.config import ContextNetConfig, FeatureConfig
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


def test_blazepose_to_coco18_neck_is_mid_shoulders():
    from earlyact.skeleton import BLAZEPOSE33, convert_layout

    rng = np.random.default_rng(0)
    bp = rng.uniform(0, 1, size=(4, 1, 33, 3))
    coco = convert_layout(bp, BLAZEPOSE33, COCO18)
    assert coco.shape == (4, 1, 18, 3)
    np.testing.assert_allclose(coco[:, 0, 1, :2], (bp[:, 0, 11, :2] + bp[:, 0, 12, :2]) / 2)  # neck
    np.testing.assert_allclose(coco[:, 0, 1, 2], np.minimum(bp[:, 0, 11, 2], bp[:, 0, 12, 2]))
    # MediaPipe PoseLandmark: 12 RIGHT_SHOULDER, 15 LEFT_WRIST, 26 RIGHT_KNEE, 5 RIGHT_EYE, 7 LEFT_EAR
    for coco_name, bp_index in (("r_shoulder", 12), ("l_wrist", 15), ("r_knee", 26), ("r_eye", 5), ("l_ear", 7)):
        np.testing.assert_array_equal(coco[:, 0, COCO18.index(coco_name)], bp[:, 0, bp_index])


def test_derived_joint_in_3d_averages_depth_and_takes_the_lower_confidence():
    """With coords=3 the third channel is depth (averaged), not a confidence (the minimum)."""
    from earlyact.skeleton import BLAZEPOSE33, convert_layout

    bp = np.random.default_rng(2).uniform(0, 1, size=(4, 1, 33, 4))  # x, y, z, visibility
    coco = convert_layout(bp, BLAZEPOSE33, COCO18, coords=3)
    neck, l_sh, r_sh = coco[:, 0, COCO18.index("neck")], bp[:, 0, 11], bp[:, 0, 12]
    np.testing.assert_allclose(neck[:, :3], (l_sh[:, :3] + r_sh[:, :3]) / 2)
    np.testing.assert_allclose(neck[:, 3], np.minimum(l_sh[:, 3], r_sh[:, 3]))
    as_2d = convert_layout(bp, BLAZEPOSE33, COCO18)  # the 2-D reading takes z for a confidence
    assert not np.allclose(as_2d[:, 0, 1, 2], neck[:, 2])


@pytest.mark.parametrize("name", ["jhmdb15", "kinect20", "kinect25"])
def test_layout_conversions_keep_named_joints_and_mark_the_rest_missing(name):
    from earlyact.skeleton import convert_layout, get_layout

    src = get_layout(name)
    pose = np.random.default_rng(1).normal(size=(3, 2, src.num_joints, 2))
    coco = convert_layout(pose, src, COCO18)
    shared = [n for n in COCO18.joints if n in src.joints]
    assert {"neck", "l_wrist", "r_ankle"} <= set(shared)
    for n in shared:
        np.testing.assert_array_equal(coco[:, :, COCO18.index(n)], pose[:, :, src.index(n)])
    assert np.isnan(coco[:, :, COCO18.index("r_ear")]).all()
    back = convert_layout(coco, COCO18, src)
    for n in shared:
        np.testing.assert_array_equal(back[:, :, src.index(n)], pose[:, :, src.index(n)])


def test_unknown_layout_is_a_clear_error():
    from earlyact.skeleton import get_layout

    with pytest.raises(ValueError, match="unknown joint layout 'h36m17'"):
        get_layout("h36m17")


def test_long_motion_is_the_displacement_over_k_frames():
    pose = np.zeros((6, 1, 15, 2))
    pose[:, 0, :, 0] = np.arange(6)[:, None] * 2.0  # everybody walks 2 px a frame to the right
    pose[:, 0, 5:7, 1] = 1.0  # hips one pixel below the neck: body size 1
    cfg = FeatureConfig(velocities=False, distances=False, long_motion=2)
    base = skeleton_context(pose, JHMDB15, FeatureConfig(velocities=False, distances=False))
    feats = skeleton_context(pose, JHMDB15, cfg)
    assert feats.shape[1] == skeleton_context_dim(1, JHMDB15, cfg) == base.shape[1] + 30
    motion = feats[:, base.shape[1] :].reshape(6, 15, 2)
    np.testing.assert_allclose(motion[:, :, 0], np.array([0, 2, 4, 4, 4, 4])[:, None] * np.ones(15))  # causal
    np.testing.assert_allclose(motion[:, :, 1], 0)


def _windows(
    pose, length=8, span=64, rows=None, duration=False, positions=False, local_motion=False, real=False, both=False,
    stretched=False,
):  # fmt: skip
    from earlyact.config import ContextNetConfig
    from earlyact.features import prefix_windows

    window = ContextNetConfig(
        window=length,
        span=span,
        duration=duration,
        positions=positions,
        local_motion=local_motion,
        real_motion=real,
        frame_motion=both,
        stretched_speed=stretched,
    )
    return prefix_windows(pose, COCO18, FeatureConfig(), window, rows)


def test_prefix_windows_are_causal_and_resample_the_prefix_seen():
    pose = _pose(T=10)
    w = _windows(pose)
    assert w.shape == (10, 8, 2 * 153 + 2 * 36)
    later = pose.copy()
    later[6:] += 50.0
    np.testing.assert_allclose(_windows(later)[:6], w[:6], atol=1e-5)
    # the motion channels of a window sum to (last - first frame) of the prefix it covers
    xy, centre = normalize(pose, COCO18)
    q = (xy + centre[:, None, None, :]).reshape(10, -1)
    motion = w[..., 306:]  # (T, L, P*J*2)
    np.testing.assert_allclose(motion[7].sum(0), q[7] - q[0], atol=1e-4)
    np.testing.assert_allclose(motion[0], 0.0, atol=1e-6)  # one frame seen: nothing moved


def test_prefix_windows_distances_are_centred_per_window_and_span_limits_the_prefix():
    pose = _pose(T=12)
    w = _windows(pose, span=4)
    jcd = w[..., :306].reshape(12, 8, 2, 153)
    np.testing.assert_allclose(jcd.mean((1, 3)), 0.0, atol=1e-5)  # (d - mean) / mean per person
    motion = w[..., 306:]
    xy, centre = normalize(pose, COCO18)
    q = (xy + centre[:, None, None, :]).reshape(12, -1)
    np.testing.assert_allclose(motion[9].sum(0), q[9] - q[6], atol=1e-4)  # the last 4 frames only
    np.testing.assert_allclose(_windows(pose, span=4, rows=np.array([2, 9])), w[[2, 9]], atol=1e-6)


def test_prefix_windows_duration_channel_says_how_much_was_seen():
    from earlyact.features import window_dims

    pose = _pose(T=12)
    w = _windows(pose, span=4, duration=True)
    assert w.shape[-1] == sum(window_dims(2, COCO18, ContextNetConfig(duration=True))) == 1 + 2 * 153 + 2 * 36
    seen = np.minimum(np.arange(12) + 1, 4)  # frames in each row's prefix, at most the span
    np.testing.assert_allclose(w[..., 0], np.log(seen / 4)[:, None] * np.ones(8), atol=1e-6)
    np.testing.assert_allclose(w[..., 1:], _windows(pose, span=4), atol=1e-6)  # the rest unchanged


def test_prefix_windows_position_channels_are_the_root_centred_joints_after_the_distances():
    from earlyact.features import window_dims

    pose = _pose(T=12)
    w = _windows(pose, span=4, positions=True)
    dist, motion = window_dims(2, COCO18, ContextNetConfig(positions=True))
    assert (dist, motion) == (2 * 153 + 2 * 36, 2 * 36) and w.shape[-1] == dist + motion
    plain = _windows(pose, span=4)
    np.testing.assert_allclose(w[..., :306], plain[..., :306], atol=1e-6)  # distances, then positions,
    np.testing.assert_allclose(w[..., dist:], plain[..., 306:], atol=1e-6)  # then the motion as before
    xy, _ = normalize(pose, COCO18)
    pos = w[..., 306:dist]  # (T, L, P*J*2)
    np.testing.assert_allclose(pos[9, 0], xy[6].reshape(-1), atol=1e-5)  # window of frames 6..9: first,
    np.testing.assert_allclose(pos[9, -1], xy[9].reshape(-1), atol=1e-5)  # last window frame
    later = pose.copy()
    later[6:] += 50.0
    np.testing.assert_allclose(_windows(later, span=4, positions=True)[:6], w[:6], atol=1e-5)  # causal


def test_prefix_windows_local_motion_leaves_out_the_bodys_travel():
    pose = _pose(T=10)
    still = np.repeat(pose[:1], 10, axis=0)  # one posture held ...
    still[:, :, :, 0] += np.arange(10)[:, None, None] * 7.0  # ... while the whole body slides right
    local, plain = _windows(still, local_motion=True), _windows(still)
    np.testing.assert_allclose(local[..., 306:], 0.0, atol=1e-5)  # nothing moves about the root
    assert np.abs(plain[9, :-1, 306:]).max() > 0.03  # DD-Net's motion sees the travel
    np.testing.assert_allclose(local[..., :306], plain[..., :306], atol=1e-6)  # the distances are the same
    xy, _ = normalize(pose, COCO18)  # a moving posture: the joints' motion about the root
    q = _windows(pose, local_motion=True)[..., 306:].reshape(10, 8, -1)
    np.testing.assert_allclose(q[7].sum(0), (xy[7] - xy[0]).reshape(-1), atol=1e-4)


def test_prefix_windows_real_motion_is_per_frame_observed():
    from earlyact.features import window_dims

    pose = _pose(T=10)
    steady = np.repeat(pose[:1], 10, axis=0)
    steady[:, :, :, 0] += np.arange(10)[:, None, None] * 7.0  # the body slides right at a constant speed
    real, plain = _windows(steady, real=True), _windows(steady)
    _, centre = normalize(steady, COCO18)
    speed = centre[1, 0] - centre[0, 0]  # scaled units per frame
    x = real[..., 306:].reshape(10, 8, 2, 18, 2)[..., 0]  # (T, L, P, J): x motion
    np.testing.assert_allclose(x[1:, :-1], speed, rtol=1e-4)  # every prefix of 2+ frames: the speed itself
    np.testing.assert_allclose(real[0], plain[0], atol=1e-6)  # one frame seen: nothing moved either way
    # the plain channels are per window step: a prefix of t + 1 frames spread over 7 steps
    px = plain[..., 306:].reshape(10, 8, 2, 18, 2)[..., 0]
    np.testing.assert_allclose(px[3, :-1], speed * 3 / 7, rtol=1e-4)
    np.testing.assert_allclose(real[..., :306], plain[..., :306], atol=1e-6)  # distances unchanged
    both = _windows(steady, both=True)  # the per-frame motion after the distances, DD-Net's after it
    assert both.shape[-1] == sum(window_dims(2, COCO18, ContextNetConfig(frame_motion=True))) == 306 + 72 + 72
    assert window_dims(2, COCO18, ContextNetConfig(frame_motion=True))[0] == 306 + 72  # read with the distances
    np.testing.assert_allclose(both[..., :306], plain[..., :306], atol=1e-6)
    np.testing.assert_allclose(both[..., 306:378], real[..., 306:], atol=1e-6)
    np.testing.assert_allclose(both[..., 378:], plain[..., 306:], atol=1e-6)


def test_prefix_windows_stretched_speed_is_per_frame_until_the_prefix_fills_the_window():
    pose = _pose(T=14)
    steady = np.repeat(pose[:1], 14, axis=0)
    steady[:, :, :, 0] += np.arange(14)[:, None, None] * 7.0  # the body slides right at a constant speed
    stretched, real, plain = (_windows(steady, stretched=s, real=r) for s, r in ((True, False), (False, True), (0, 0)))
    # prefixes of up to 8 frames (the window) are stretched: their motion per frame observed, the speed
    np.testing.assert_allclose(stretched[:8], real[:8], atol=1e-5)
    # longer ones are compressed: DD-Net's motion per window step (more than a frame's), as without the option
    np.testing.assert_allclose(stretched[7:], plain[7:], atol=1e-5)  # both at 8 frames: the scale is continuous
    assert not np.allclose(stretched[12], real[12], atol=1e-3)
    np.testing.assert_allclose(stretched[..., :306], plain[..., :306], atol=1e-6)  # distances unchanged


def test_prefix_windows_cross_proximity_is_every_joint_pair_between_the_persons():
    from earlyact.features import prefix_windows, window_dims
    from earlyact.skeleton import causal_scale

    pose = _pose(T=10)
    pose[:, 1, 4] = pose[:, 0, 0]  # person 1's right wrist (joint 4) on person 0's nose (joint 0): contact
    cfg = ContextNetConfig(window=8, cross=True)
    w = prefix_windows(pose, COCO18, FeatureConfig(), cfg)
    dist, motion = window_dims(2, COCO18, cfg)
    assert (dist, motion) == (306 + 18 * 18, 72) and w.shape == (10, 8, dist + motion)
    plain = _windows(pose)
    np.testing.assert_allclose(w[..., :306], plain[..., :306], atol=1e-6)  # own distances, then proximity,
    np.testing.assert_allclose(w[..., dist:], plain[..., 306:], atol=1e-6)  # then the motion as before
    near = w[..., 306:dist].reshape(10, 8, 18, 18)  # [t, l, joint of person 0, joint of person 1]
    np.testing.assert_allclose(near[:, :, 0, 4], 1.0, atol=1e-6)
    scale = causal_scale(pose, COCO18)  # the last window frame of row t is frame t: d in body sizes
    d = np.linalg.norm(pose[:, 0, 7] - pose[:, 1, 11], axis=-1) / scale  # person 0's left wrist, person 1's hip
    np.testing.assert_allclose(near[:, -1, 7, 11], 1 / (1 + d), rtol=1e-5)
    later = pose.copy()
    later[6:, 1] += 80.0  # person 1 moves away from frame 6 on: rows before it do not change
    np.testing.assert_allclose(prefix_windows(later, COCO18, FeatureConfig(), cfg)[:6], w[:6], atol=1e-5)
    alone = pose.copy()
    alone[:, 1] = np.nan  # nobody to be near: proximity 0, not the distance 0's "touching"
    np.testing.assert_array_equal(prefix_windows(alone, COCO18, FeatureConfig(), cfg)[..., 306:dist], 0.0)
    assert window_dims(1, COCO18, cfg) == window_dims(1, COCO18)  # one person: no channels


def test_prefix_windows_missing_person_gives_zeros_not_nan():
    pose = _pose(T=5)
    pose[:, 1] = np.nan
    w = _windows(pose)
    assert np.isfinite(w).all()
    assert np.all(w[..., 153:306] == 0)  # person 1's distances


def test_three_d_poses_at_one_depth_give_the_2d_features_and_depth_is_read():
    from earlyact.features import action_channels, prefix_windows, window_dims

    pose = _pose(T=8)  # (T, 2, 18, 2) x, y
    flat = np.concatenate([pose, np.full((8, 2, 18, 1), 40.0)], -1)  # x, y, z: everyone at one depth
    a2, c2 = normalize(pose, COCO18)
    a3, c3 = normalize(flat, COCO18, coords=3)
    np.testing.assert_allclose(a3[..., :2], a2, atol=1e-12)
    np.testing.assert_allclose(a3[..., 2], 0.0, atol=1e-12)  # depth about the root
    x2, x3 = action_input(pose, COCO18), action_input(flat, COCO18, coords=3)
    assert x3.shape == (8, 36, 7) and action_channels(3) == 7 and action_channels() == x2.shape[-1] == 5
    np.testing.assert_allclose(x3[..., [0, 1, 3, 4, 6]], x2, atol=1e-6)  # x, y, z, vx, vy, vz, visibility
    np.testing.assert_allclose(x3[..., [2, 5]], 0.0, atol=1e-6)
    window = ContextNetConfig(window=8)
    w2 = prefix_windows(pose, COCO18, FeatureConfig(), window)
    w3 = prefix_windows(flat, COCO18, FeatureConfig(coords=3), window)
    assert w3.shape[-1] == sum(window_dims(2, COCO18, window, coords=3)) == 306 + 2 * 18 * 3
    np.testing.assert_allclose(w3[..., :306], w2[..., :306], atol=1e-5)  # the same distances
    motion = w3[..., 306:].reshape(8, 8, 2, 18, 3)
    np.testing.assert_allclose(motion[..., :2], w2[..., 306:].reshape(8, 8, 2, 18, 2), atol=1e-5)
    # depth in body sizes moves only as the running body size does: the same for every joint of everyone
    np.testing.assert_allclose(motion[..., 2], motion[..., :1, :1, 2] * np.ones((2, 18)), atol=1e-6)
    deep = flat.copy()
    deep[:, 0, 4, 2] += 150.0  # person 0's right wrist reaches towards the camera: only depth changes
    assert not np.allclose(prefix_windows(deep, COCO18, FeatureConfig(coords=3), window)[..., :306], w3[..., :306])
    assert not np.allclose(normalize(deep, COCO18, coords=3)[0][:, 0, 4, 2], 0.0)
    for cfg in (FeatureConfig(coords=3), FeatureConfig(coords=3, per_person=True, long_motion=2)):
        assert skeleton_context(flat, COCO18, cfg).shape[1] == skeleton_context_dim(2, COCO18, cfg)


def test_the_channel_after_the_coordinates_is_the_confidence_and_a_mismatch_is_refused():
    from earlyact.data import Clip
    from earlyact.features import prepared
    from earlyact.skeleton import visible

    pose = np.concatenate([_pose(T=4), np.full((4, 2, 18, 1), 0.05)], -1)  # a 3rd channel of 0.05
    assert not visible(pose, 0.1).any()  # 2-D: the 3rd channel is a confidence below 0.1: all missing
    assert visible(pose, 0.1, coords=3).all()  # 3-D: it is the depth, and there is no confidence
    assert not visible(np.concatenate([pose, pose[..., :1] * 0], -1), 0.1, coords=3).any()  # (x, y, z, 0)
    clip = Clip("kinect_007", 0, pose=pose[..., :2].astype(np.float32), source="skeletons/kinect_007.npy")
    with pytest.raises(ValueError, match=r"kinect_007.*skeletons/kinect_007.npy.*coords=3"):
        prepared([clip], FeatureConfig(coords=3))  # x, y only, but the config says x, y, z
    with pytest.raises(ValueError, match="must be 2"):
        prepared([clip], FeatureConfig(coords=4))
    assert prepared([clip], FeatureConfig())[0].pose.shape == (4, 2, 18, 2)
