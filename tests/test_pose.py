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


def _body(cx: float, cy: float = 100.0, shoulder: float = 20.0) -> np.ndarray:
    joints = np.full((33, 3), np.nan, dtype=np.float32)
    joints[:, 2] = 0.9
    joints[:, 0] = cx + np.linspace(-shoulder, shoulder, 33)
    joints[:, 1] = cy + np.linspace(-60, 60, 33)
    joints[11, :2], joints[12, :2] = (cx + shoulder / 2, cy - 40), (cx - shoulder / 2, cy - 40)
    return joints


def test_landmark_box_grows_and_stays_in_the_frame():
    from earlyact.pose import landmark_box

    box = landmark_box(_body(30.0), (200, 300, 3), margin=0.25)
    np.testing.assert_allclose(box, [0.0, 10.0, 60.0, 190.0])  # x 10..50 grown by 10, clipped at 0
    hidden = _body(100.0)
    hidden[:, 2] = 0.1  # landmarks BlazePose itself calls invisible give no box
    assert landmark_box(hidden, (200, 300, 3)) is None


def test_side_strips_and_duplicates():
    from earlyact.pose import _same_person, side_strips

    assert side_strips(400, np.array([200.0, 0, 300, 100])) == [(0, 230), (270, 400)]  # 30 % into the box
    assert side_strips(400, np.array([20.0, 0, 300, 100])) == [(216, 400)]  # no room on the left
    assert side_strips(400, np.array([20.0, 0, 390, 100])) == []
    assert _same_person(_body(100.0), _body(105.0)) and not _same_person(_body(100.0), _body(140.0))


def test_tracker_add_uses_free_slots_only():
    tr = IoUTracker(max_tracks=2)
    assert tr.add(np.array([0.0, 0, 10, 10])) == 0 and tr.add(np.array([50.0, 0, 60, 10])) == 1
    assert tr.add(np.array([90.0, 0, 99, 10])) is None
