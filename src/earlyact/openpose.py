"""Import poses a user already has: OpenPose's per-frame ``*_keypoints.json`` files.

OpenPose writes one JSON file per frame (``<name>_<frame:012d>_keypoints.json``) holding
``{"people": [{"pose_keypoints_2d": [x0, y0, c0, x1, ...]}, ...]}`` in the BODY_25 (25 joints)
or COCO (18 joints) model. A joint OpenPose did not find has confidence 0 (and x = y = 0): it
becomes NaN. Poses are returned in the COCO-18 layout the method uses (BODY_25 is converted by
joint name). Persons are ordered left to right by their mean x in each frame (no tracking here).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from earlyact.skeleton import COCO18, OPENPOSE25, convert_layout

_FRAME = re.compile(r"_(\d+)_keypoints\.json$")


def read_openpose_frame(path: str | Path, max_persons: int) -> np.ndarray:
    """(P, 18, 3) COCO-18 joints (x, y, confidence) of one frame; NaN rows for absent persons."""
    path = Path(path)
    try:
        people = json.loads(path.read_text())["people"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not an OpenPose keypoints file ({type(e).__name__}: {e})") from None
    out = np.full((max_persons, 18, 3), np.nan, dtype=np.float32)
    persons = []
    for person in people:
        flat = np.asarray(person.get("pose_keypoints_2d", []), dtype=np.float32)
        if flat.size == 25 * 3:
            joints = convert_layout(flat.reshape(1, 1, 25, 3), OPENPOSE25, COCO18)[0, 0]
        elif flat.size == 18 * 3:
            joints = flat.reshape(18, 3)
        else:
            raise ValueError(f"{path}: {flat.size} keypoint values; expected 75 (BODY_25) or 54 (COCO)")
        joints = np.where((joints[:, 2:] > 0) & np.isfinite(joints[:, 2:]), joints, np.nan)
        if np.isfinite(joints[:, 0]).any():
            persons.append(joints)
    persons.sort(key=lambda j: float(np.nanmean(j[:, 0])))
    for i, joints in enumerate(persons[:max_persons]):
        out[i] = joints
    return out


def read_openpose_folder(folder: str | Path, max_persons: int = 2) -> np.ndarray:
    """(T, P, 18, 3) pose of a video from its folder of per-frame keypoint files, in frame order."""
    folder = Path(folder)
    files = [(int(m.group(1)), p) for p in folder.glob("*_keypoints.json") if (m := _FRAME.search(p.name))]
    if not files:
        raise FileNotFoundError(f"{folder}: no OpenPose *_<frame>_keypoints.json files")
    files.sort()
    frames = [n for n, _ in files]
    if frames != list(range(frames[0], frames[0] + len(frames))):
        missing = sorted(set(range(frames[0], frames[-1] + 1)) - set(frames))[:5]
        raise ValueError(f"{folder}: frames missing from the keypoint files (e.g. {missing})")
    return np.stack([read_openpose_frame(p, max_persons) for _, p in files])
