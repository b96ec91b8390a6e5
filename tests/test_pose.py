import numpy as np
import pytest

from earlyact.skeleton import BLAZEPOSE33, COCO18


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
    fallback = estimate_video(frames, 2)  # a close-up: the detector still finds the one person
    assert np.isfinite(fallback[:, :, COCO18.index("nose"), 0]).any(axis=1).mean() > 0.8
    frames = read_video(shared_data / "videos" / "two_person_interaction_1080p.mp4").frames[:12]
    two = estimate_video(frames, 2)
    assert two.shape == (12, 2, 18, 3)
    neck = np.isfinite(two[:, :, COCO18.index("neck"), 0])
    assert neck.any(axis=1).all()  # somebody in every frame
    assert (two[..., 0][np.isfinite(two[..., 0])] <= 1920).all()  # pixels of the full frame


def _body(cx: float, cy: float = 100.0, shoulder: float = 20.0) -> np.ndarray:
    joints = np.full((33, 3), np.nan, dtype=np.float32)
    joints[:, 2] = 0.9
    joints[:, 0] = cx + np.linspace(-shoulder, shoulder, 33)
    joints[:, 1] = cy + np.linspace(-60, 60, 33)
    joints[11, :2], joints[12, :2] = (cx + shoulder / 2, cy - 40), (cx - shoulder / 2, cy - 40)
    return joints


def test_detection_region_follows_mediapipe():
    from earlyact.pose import detection_region

    up = detection_region(np.array([100.0, 150]), np.array([100.0, 70]), width=400, height=300)  # circle above hips
    assert up.rotation == pytest.approx(0.0)
    assert (up.x_center, up.y_center) == pytest.approx((0.25, 0.5))
    assert (up.width * 400, up.height * 300) == pytest.approx((200.0, 200.0))  # 1.25 x the circle's diameter, square
    lying = detection_region(np.array([100.0, 150]), np.array([180.0, 150]), width=400, height=300)  # head right
    assert lying.rotation == pytest.approx(np.pi / 2)


def test_duplicates_and_free_slots():
    from earlyact.pose import nearest_free_slot, on_someone

    assert on_someone(np.array([104.0, 60]), [_body(100.0)]) and not on_someone(np.array([130.0, 60]), [_body(100.0)])
    neck = np.array([115.0, 60])  # 15 px from a body 20 px wide: apart, unless the other body is 40 px wide
    assert not on_someone(neck, [_body(100.0)]) and on_someone(neck, [_body(100.0)], width=40.0)
    held = object()
    assert nearest_free_slot([None, None], [None, None], 0.9) == 1  # never-used slots stand left to right
    assert nearest_free_slot([None, None], [0.8, 0.3], 0.9) == 0  # a re-found person returns to its slot
    assert nearest_free_slot([held, None], [0.2, 0.3], 0.1) == 1  # held slots are not free
    assert nearest_free_slot([held, held], [0.2, 0.8], 0.5) is None


class _World:
    """Fake detector and landmark model over a scripted scene: frame t is an image filled with t."""

    def __init__(self, people: dict[str, list[float | None]]):
        self.people, self.detector_calls = people, []

    def at(self, frame: np.ndarray) -> list[float]:
        t = int(frame[0, 0, 0])
        return [xs[t] for xs in self.people.values() if xs[t] is not None]

    def detect(self, frame: np.ndarray) -> np.ndarray:
        self.detector_calls.append(int(frame[0, 0, 0]))
        return np.array([[(x, 160.0), (x, 40.0), (x, 60.0)] for x in self.at(frame)]).reshape(-1, 3, 2)

    def landmarks(self, frame: np.ndarray, region):
        from earlyact.pose import detection_region

        near = [x for x in self.at(frame) if abs(x - region.x_center * frame.shape[1]) < 25]
        if not near:
            return np.full((33, 3), np.nan, np.float32), None
        x = near[0]
        return _body(x), detection_region(np.array([x, 160.0]), np.array([x, 40.0]), frame.shape[1], frame.shape[0])


def _track(world: _World, T: int, detect_every: int = 1) -> np.ndarray:
    from earlyact.pose import MultiPersonPose

    pose = MultiPersonPose(2, detect_every, detector=world.detect, landmarks=world.landmarks)
    return np.stack([pose(np.full((200, 400, 3), t, np.uint8)) for t in range(T)])  # (T, P, 33, 3)


def test_multi_person_tracking_logic():
    right = [None, 300.0, 310.0, 320.0, 330.0, None, None, 350.0, 355.0, 360.0]  # enters late, hides at 5-6
    left = [100.0 + 5 * t for t in range(10)]
    world = _World({"right": right, "left": left})
    out = _track(world, 10)
    neck_x = (out[:, :, 11, 0] + out[:, :, 12, 0]) / 2  # (T, P)
    np.testing.assert_allclose(neck_x[:, 0], left)  # the left person holds slot 0 from the first frame
    assert np.isnan(neck_x[[0, 5, 6], 1]).all()
    np.testing.assert_allclose(neck_x[[1, 2, 3, 4, 7, 8, 9], 1], [r for r in right if r is not None])  # back in slot 1
    assert world.detector_calls == [0, 1, 5, 6, 7]  # only while someone is missing; none once both are held
    sparse = _World({"right": right, "left": left})
    _track(sparse, 10, detect_every=3)
    assert sparse.detector_calls == [0, 3, 6, 9]  # the right person is found again only at frame 9


def test_two_slots_on_one_body_are_merged():
    world = _World({"a": [100.0] * 4, "b": [110.0] * 4})  # 10 px apart: one body for the neck test
    out = _track(world, 4)
    assert np.isfinite(out[:, 0, 11, 0]).all() and np.isnan(out[:, 1, 11, 0]).all()


class _Suppressing(_World):
    """A detector with non-maximum suppression gone wrong: of the people painted in the frame (255 in
    their columns) it returns only the leftmost; a person masked out is no longer painted."""

    def at(self, frame: np.ndarray) -> list[float]:
        return [xs[0] for xs in self.people.values() if frame[100, int(xs[0])].max() == 255]

    def detect(self, frame: np.ndarray) -> np.ndarray:
        return super().detect(frame)[:1]  # super() logs each call: here the frame's top-left pixel, 0


def _painted(xs: list[float]) -> np.ndarray:
    frame = np.zeros((200, 400, 3), np.uint8)
    for x in xs:
        frame[:, int(x) - 3 : int(x) + 4] = 255  # inside the body's landmark hull (20 px wide)
    return frame


def test_masking_the_held_person_finds_the_one_the_detector_suppressed():
    from earlyact.pose import MultiPersonPose

    for mask_held, found in ((False, 1), (True, 2)):
        world = _Suppressing({"a": [100.0], "b": [300.0]})
        pose = MultiPersonPose(2, 1, mask_held=mask_held, detector=world.detect, landmarks=world.landmarks)
        out = pose(_painted([100.0, 300.0]))
        assert np.isfinite(out[:, 11, 0]).sum() == found
        assert len(world.detector_calls) == 1 + mask_held  # masked: once more, a still missing
    np.testing.assert_allclose((out[:, 11, 0] + out[:, 12, 0]) / 2, [100.0, 300.0])


def test_a_person_found_inside_the_held_body_is_refused():
    from earlyact.pose import mask_people, part_of

    held, legs, beside = _body(100.0), _body(105.0, 130.0, 8.0), _body(300.0)
    fragment = held.copy()
    fragment[:, :2] = (held[:, :2] - held[:, :2].mean(0)) * 0.3 + (140.0, 30.0)  # squeezed, outside the box
    assert part_of(legs, held) and part_of(fragment, held)
    assert not part_of(beside, held) and not part_of(np.full((33, 3), np.nan), held)
    masked = mask_people(_painted([100.0, 300.0]), [held])
    assert masked[100, 100].max() < 255 and masked[100, 300].max() == 255  # the held body hidden, the other kept


@pytest.mark.shared
@pytest.mark.slow
def test_two_people_followed_on_a_real_ut_interaction_clip(shared_data):
    from earlyact.pose import estimate_video
    from earlyact.video import read_video

    frames = read_video(shared_data / "ut_interaction" / "segmented_set1" / "1_1_2.avi").frames  # a kick
    pose = estimate_video(frames, 2)  # (T, 2, 18, 3)
    neck = pose[:, :, COCO18.index("neck"), 0]  # (T, 2) x
    both = np.isfinite(neck).all(axis=1)
    assert both.mean() > 0.9  # measured 100 % with the defaults
    assert (neck[both, 0] < neck[both, 1]).all()  # identities kept: the left person stays in slot 0
