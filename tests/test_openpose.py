import json

import numpy as np
import pytest

from earlyact.openpose import read_openpose_folder
from earlyact.skeleton import COCO18


def _write(folder, frame, people):
    (folder / f"clip_{frame:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))


def _body25(x0, rng):
    k = np.zeros((25, 3))
    k[:, 0], k[:, 1], k[:, 2] = x0 + rng.uniform(0, 50, 25), rng.uniform(0, 200, 25), 0.9
    k[3] = 0  # right elbow not found
    return k


def test_body25_folder_to_coco18(tmp_path):
    rng = np.random.default_rng(0)
    right, left = _body25(500, rng), _body25(100, rng)
    for f in range(3):
        _write(
            tmp_path, f, [{"pose_keypoints_2d": right.ravel().tolist()}, {"pose_keypoints_2d": left.ravel().tolist()}]
        )
    _write(tmp_path, 3, [])  # nobody in the last frame: kept, all missing
    pose = read_openpose_folder(tmp_path, max_persons=2)
    assert pose.shape == (4, 2, 18, 3)
    np.testing.assert_allclose(pose[0, 0, COCO18.index("l_wrist")], left[7])  # BODY_25 7 = LWrist
    np.testing.assert_allclose(pose[0, 1, COCO18.index("r_ankle")], right[11])  # left person first
    assert np.isnan(pose[0, 0, COCO18.index("r_elbow")]).all()
    assert np.isnan(pose[3]).all()


def test_coco18_files_and_errors(tmp_path):
    k = np.ones((18, 3))
    _write(tmp_path, 0, [{"pose_keypoints_2d": k.ravel().tolist()}])
    _write(tmp_path, 2, [{"pose_keypoints_2d": k.ravel().tolist()}])
    with pytest.raises(ValueError, match="frames missing"):
        read_openpose_folder(tmp_path)
    _write(tmp_path, 1, [{"pose_keypoints_2d": [1.0, 2.0]}])
    with pytest.raises(ValueError, match="clip_000000000001_keypoints.json: 2 keypoint values"):
        read_openpose_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="no OpenPose"):
        read_openpose_folder(tmp_path / "nothing")
