import numpy as np
import pytest

from earlyact.pose import IoUTracker, iou
from earlyact.skeleton import BLAZEPOSE33, COCO18


def test_iou_by_hand():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]], float)
    np.testing.assert_allclose(iou(a, b), [[50 / 150, 0.0]])


def test_tracker_keeps_identities_through_crossing_and_gaps():
    tr = IoUTracker(max_tracks=2, max_missed=2)
    left, right = np.array([0, 0, 10, 20.0]), np.array([50, 0, 60, 20.0])
    first = tr.update(np.stack([right, left]))  # detector order must not matter: slots left to right
    assert np.array_equal(first[0], left) and np.array_equal(first[1], right)
    moved = tr.update(np.stack([right + [2, 0, 2, 0], left + [2, 0, 2, 0]]))
    assert moved[0][0] == 2 and moved[1][0] == 52
    gap = tr.update(np.zeros((0, 4)))  # nobody detected: frame kept, slots empty
    assert gap == [None, None]
    back = tr.update(np.stack([left + [3, 0, 3, 0]]))
    assert back[0] is not None and back[1] is None  # the left person resumes slot 0
    for _ in range(4):
        tr.update(np.zeros((0, 4)))
    newcomer = tr.update(np.stack([np.array([100, 0, 110, 20.0])]))
    assert newcomer[0] is not None  # stale tracks expire and their slot is reused


def test_blazepose_layout_matches_the_installed_mediapipe_enum():
    mp_pose = pytest.importorskip("mediapipe").solutions.pose
    assert len(mp_pose.PoseLandmark) == BLAZEPOSE33.num_joints
    for lm in mp_pose.PoseLandmark:
        name = lm.name.lower().replace("left_", "l_").replace("right_", "r_")
        name = {"l_foot_index": "l_foot_index", "r_foot_index": "r_foot_index"}.get(name, name)
        assert BLAZEPOSE33.joints[lm.value] == name, (lm, BLAZEPOSE33.joints[lm.value])
    assert {"l_shoulder", "r_shoulder"} <= set(BLAZEPOSE33.joints) and "neck" in COCO18.joints


@pytest.mark.shared
@pytest.mark.slow
def test_pose_on_real_videos(shared_data):
    from earlyact.pose import estimate_video
    from earlyact.video import read_video

    one = estimate_video(read_video(shared_data / "videos" / "eye_makeup_ucf101_like.avi").frames[:20], 1)
    assert one.shape == (20, 1, 18, 3)
    assert np.isfinite(one[:, 0, COCO18.index("nose"), 0]).mean() > 0.9  # a face close-up: the head is found
    frames = read_video(shared_data / "videos" / "eye_makeup_ucf101_like.avi").frames[:10]
    fallback = estimate_video(frames, 2)  # HOG finds no body in a close-up; the whole-frame pass does
    assert np.isfinite(fallback[:, :, COCO18.index("nose"), 0]).any(axis=1).mean() > 0.8
    frames = read_video(shared_data / "videos" / "two_person_interaction_1080p.mp4").frames[:12]
    two = estimate_video(frames, 2)
    assert two.shape == (12, 2, 18, 3)
    neck = np.isfinite(two[:, :, COCO18.index("neck"), 0])
    assert neck.any(axis=1).all()  # somebody in every frame
    assert (two[..., 0][np.isfinite(two[..., 0])] <= 1920).all()  # pixels of the full frame


def test_detector_on_tiny_and_empty_frames():
    from earlyact.pose import detect_people

    assert detect_people(np.zeros((40, 30, 3), np.uint8)).shape == (0, 4)  # below HOG's window
    assert detect_people(np.zeros((300, 200, 3), np.uint8)).shape == (0, 4)  # nobody there
