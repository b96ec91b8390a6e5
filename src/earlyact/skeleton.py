"""Joint layouts and causal pose normalisation.

A pose array is (T, P, J, C): frames, persons, joints, channels (x, y[, confidence]);
NaN marks a missing joint or person. Normalisation here is *causal* (frame t uses frames
<= t only) so that the same code serves offline training and live prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class JointLayout:
    """Names and anatomy of a skeleton format."""

    name: str
    joints: tuple[str, ...]  # joint names, in array order
    root: tuple[int, ...]  # joints averaged into the body root (centring)
    torso: tuple[tuple[int, ...], tuple[int, ...]]  # two joint groups; their distance = body size
    edges: tuple[tuple[int, int], ...]  # bones, for drawing

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, name: str) -> int:
        return self.joints.index(name)


# fmt: off
COCO18 = JointLayout(
    name="coco18",
    joints=("nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip",
            "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear"),
    root=(1,),  # neck, as in OpenPose
    torso=((1,), (8, 11)),  # neck to mid-hip
    edges=((1, 0), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
           (12, 13), (0, 14), (14, 16), (0, 15), (15, 17)),
)

JHMDB15 = JointLayout(
    name="jhmdb15",
    joints=("neck", "belly", "face", "r_shoulder", "l_shoulder", "r_hip", "l_hip", "r_elbow", "l_elbow", "r_knee",
            "l_knee", "r_wrist", "l_wrist", "r_ankle", "l_ankle"),
    root=(0,),  # neck
    torso=((0,), (5, 6)),  # neck to mid-hip
    edges=((0, 2), (0, 1), (0, 3), (0, 4), (3, 7), (7, 11), (4, 8), (8, 12), (1, 5), (1, 6), (5, 9), (9, 13),
           (6, 10), (10, 14)),
)

BLAZEPOSE33 = JointLayout(
    name="blazepose33",  # MediaPipe's PoseLandmark order
    joints=("nose", "l_eye_inner", "l_eye", "l_eye_outer", "r_eye_inner", "r_eye", "r_eye_outer", "l_ear", "r_ear",
            "mouth_left", "mouth_right", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
            "l_pinky", "r_pinky", "l_index", "r_index", "l_thumb", "r_thumb", "l_hip", "r_hip", "l_knee", "r_knee",
            "l_ankle", "r_ankle", "l_heel", "r_heel", "l_foot_index", "r_foot_index"),
    root=(11, 12),  # mid-shoulders (= COCO-18's neck)
    torso=((11, 12), (23, 24)),
    edges=((11, 12), (11, 13), (13, 15), (12, 14), (14, 16), (11, 23), (12, 24), (23, 24), (23, 25), (25, 27),
           (24, 26), (26, 28), (0, 2), (0, 5), (2, 7), (5, 8)),
)

OPENPOSE25 = JointLayout(
    name="openpose25",  # OpenPose BODY_25
    joints=("nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "mid_hip",
            "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
            "l_big_toe", "l_small_toe", "l_heel", "r_big_toe", "r_small_toe", "r_heel"),
    root=(1,),
    torso=((1,), (8,)),
    edges=((1, 0), (1, 2), (2, 3), (3, 4), (1, 5), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (10, 11), (8, 12),
           (12, 13), (13, 14), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21), (11, 22),
           (22, 23), (11, 24)),
)

# Kinect v1 (HipCenter, Spine, ShoulderCenter, Head, ...); v2 / NTU RGB+D keeps these 20 first
_KINECT_BODY = ("mid_hip", "spine", "neck", "head", "l_shoulder", "l_elbow", "l_wrist", "l_hand", "r_shoulder",
                "r_elbow", "r_wrist", "r_hand", "l_hip", "l_knee", "l_ankle", "l_foot", "r_hip", "r_knee",
                "r_ankle", "r_foot")
_KINECT_LIMBS = ((2, 3), (4, 5), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (0, 12), (12, 13), (13, 14), (14, 15),
                 (0, 16), (16, 17), (17, 18), (18, 19))

KINECT20 = JointLayout(
    name="kinect20", joints=_KINECT_BODY, root=(2,), torso=((2,), (0,)),
    edges=((0, 1), (1, 2), (2, 4), (2, 8), *_KINECT_LIMBS),
)

KINECT25 = JointLayout(
    name="kinect25",
    joints=(*_KINECT_BODY, "spine_shoulder", "l_handtip", "l_thumb", "r_handtip", "r_thumb"),
    root=(20,),
    torso=((20,), (0,)),
    edges=((0, 1), (1, 20), (20, 2), (20, 4), (20, 8), *_KINECT_LIMBS, (7, 21), (7, 22), (11, 23), (11, 24)),
)
# fmt: on

LAYOUTS: dict[str, JointLayout] = {
    layout.name: layout for layout in (COCO18, JHMDB15, BLAZEPOSE33, OPENPOSE25, KINECT20, KINECT25)
}

# joints a layout lacks but can derive from two others (mean position, min confidence)
DERIVED: dict[str, tuple[str, str]] = {"neck": ("l_shoulder", "r_shoulder"), "mid_hip": ("l_hip", "r_hip")}


def convert_layout(pose: np.ndarray, src: JointLayout, dst: JointLayout, coords: int = 2) -> np.ndarray:
    """(T, P, J_src, C) -> (T, P, J_dst, C): joints matched by name, ``DERIVED`` joints computed,
    joints ``dst`` has but ``src`` cannot provide are NaN (missing). E.g. BlazePose-33 -> COCO-18
    takes the neck as the mid-point of the shoulders, as OpenPose defines it. A derived joint's
    ``coords`` coordinates are the mean, a confidence channel after them the minimum."""
    T, P, _, C = pose.shape
    out = np.full((T, P, dst.num_joints, C), np.nan, dtype=pose.dtype)
    for j, name in enumerate(dst.joints):
        if name in src.joints:
            out[:, :, j] = pose[:, :, src.index(name)]
        elif name in DERIVED and all(n in src.joints for n in DERIVED[name]):
            a, b = (pose[:, :, src.index(n)] for n in DERIVED[name])
            out[:, :, j, :coords] = (a[..., :coords] + b[..., :coords]) / 2
            if coords < C:
                out[:, :, j, coords:] = np.minimum(a[..., coords:], b[..., coords:])
    return out


def persons_found(pose: np.ndarray, layout: JointLayout) -> np.ndarray:
    """(T, P, J, C) -> (T,) how many persons each frame holds: a person counts as found when its root
    is present (every joint it is made of; COCO-18: the neck, i.e. both shoulders for BlazePose), not
    merely a stray limb."""
    return np.isfinite(np.asarray(pose)[:, :, list(layout.root), 0]).all(-1).sum(1)


def _mirror_name(name: str) -> str:
    for a, b in (("l_", "r_"), ("r_", "l_")):
        if name.startswith(a):
            return b + name[2:]
    for a, b in (("_left", "_right"), ("_right", "_left")):
        if name.endswith(a):
            return name[: -len(a)] + b
    return name


def mirror_order(layout: JointLayout) -> list[int]:
    """For each joint, the index of its left/right counterpart (itself for midline joints)."""
    names = [_mirror_name(n) for n in layout.joints]
    return [layout.index(m) if m in layout.joints else i for i, m in enumerate(names)]


def get_layout(name: str) -> JointLayout:
    if name not in LAYOUTS:
        raise ValueError(f"unknown joint layout {name!r}; known: {sorted(LAYOUTS)}")
    return LAYOUTS[name]


def check_channels(pose: np.ndarray, coords: int, where: str) -> None:
    """A (..., C) pose must hold ``coords`` coordinates (2: x, y; 3: x, y, z), optionally followed by a
    confidence: C = coords or coords + 1. Anything else is refused with ``where`` (a clip, a file) named,
    since a 3rd channel read the wrong way (depth as confidence, or confidence as depth) fails silently."""
    if coords not in (2, 3):
        raise ValueError(f"features.coords must be 2 (x, y) or 3 (x, y, z); got {coords}")
    if pose.ndim != 4 or pose.shape[-1] not in (coords, coords + 1):
        raise ValueError(
            f"{where}: pose of shape {pose.shape} does not match features.coords={coords}: expected (T, P, J, C) "
            f"with C = {coords} (coordinates) or {coords + 1} (coordinates, confidence)"
        )


def visible(pose: np.ndarray, min_confidence: float = 0.0, coords: int = 2) -> np.ndarray:
    """(T, P, J) bool: joint present (finite coordinates and, if a channel follows the ``coords``
    coordinates, confidence >= min)."""
    ok = np.isfinite(pose[..., :coords]).all(-1)
    if pose.shape[-1] > coords and min_confidence > 0:
        ok &= np.nan_to_num(pose[..., coords], nan=0.0) >= min_confidence
    return ok


def coordinates(pose: np.ndarray, min_confidence: float = 0.0, coords: int = 2) -> np.ndarray:
    """(T, P, J, C) -> (T, P, J, coords) float64 coordinates, NaN where a joint is not ``visible``."""
    return np.where(visible(pose, min_confidence, coords)[..., None], pose[..., :coords], np.nan).astype(np.float64)


def _group_mean(xy: np.ndarray, group: tuple[int, ...]) -> np.ndarray:
    """Mean over the joints of ``group``: (T, P, J, D) -> (T, P, D); NaN when all are missing."""
    part = xy[:, :, list(group)]
    count = np.isfinite(part[..., 0]).sum(-1)
    total = np.nansum(part, axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count[..., None] > 0, total / np.maximum(count, 1)[..., None], np.nan)


def causal_scale(xy: np.ndarray, layout: JointLayout) -> np.ndarray:
    """(T,) body size at each frame: running mean of the torso length seen so far (all persons).

    A running mean is causal, O(1) per frame online, and steadier than a per-frame length.
    Frames before any torso is seen get the first later value (or 1 if never seen).
    """
    a, b = (_group_mean(xy, g) for g in layout.torso)
    length = np.linalg.norm(a - b, axis=-1)  # (T, P)
    per_frame = _nanmean(length, axis=1)
    valid = np.isfinite(per_frame) & (per_frame > 1e-6)
    csum = np.cumsum(np.where(valid, per_frame, 0.0))
    ccount = np.cumsum(valid)
    scale = np.where(ccount > 0, csum / np.maximum(ccount, 1), np.nan)
    if not valid.any():
        return np.ones(len(per_frame))
    first = scale[np.argmax(ccount > 0)]
    return np.where(np.isfinite(scale), scale, first)


def normalize(
    pose: np.ndarray, layout: JointLayout, min_confidence: float = 0.0, per_person: bool = False, coords: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Centre on the persons' mean root per frame and divide by the causal body size.

    Returns ``(xy, centre)``: xy (T, P, J, D) with NaN where a joint is missing, and the
    centre (T, D) in body-size units (its frame differences are the global motion); D = ``coords``
    (2: x, y; 3: x, y, z, the body size then measured in 3-D).
    One shared centre for all persons keeps their relative position (approach, contact);
    ``per_person`` centres each person on its own root instead (body shape apart from position;
    ``person_offsets`` then carries the positions).
    """
    xy = coordinates(pose, min_confidence, coords)  # (T, P, J, D)
    scale = causal_scale(xy, layout)  # (T,)
    root = _group_mean(xy, layout.root)  # (T, P, D)
    centre = _fill_forward(_nanmean(root, axis=1))  # frames with no root keep the last known centre
    own = _hold_rows(root) if per_person else centre[:, None, :]  # (T, P or 1, D)
    norm = (xy - own[:, :, None, :]) / scale[:, None, None, None]
    return norm, centre / scale[:, None]


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    """Mean of the finite values along ``axis``; NaN where there are none (no warning)."""
    ok = np.isfinite(x)
    count = ok.sum(axis)
    total = np.where(ok, x, 0.0).sum(axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _fill_forward(x: np.ndarray) -> np.ndarray:
    """Replace NaN rows by the last finite row (causal); leading NaN rows become 0."""
    last = _last_index(np.isfinite(x).reshape(len(x), -1).all(1))  # (T,)
    return np.where((last >= 0)[(...,) + (None,) * (x.ndim - 1)], x[np.maximum(last, 0)], 0.0)


def _last_index(ok: np.ndarray) -> np.ndarray:
    """Per position along axis 0, the index of the last True at or before it (-1: none yet)."""
    steps = np.arange(len(ok)).reshape((-1,) + (1,) * (ok.ndim - 1))
    return np.maximum.accumulate(np.where(ok, steps, -1), axis=0)


def _person_x(pose: np.ndarray, min_confidence: float, coords: int) -> np.ndarray:
    """(T, P) mean x of each person's visible joints; NaN where the person is missing."""
    x = np.where(visible(pose, min_confidence, coords), pose[..., 0], np.nan)
    return _nanmean(x, axis=2)


def _slots(xs: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Slots for the persons seen in a frame (x positions ``xs``), given each slot's last x.

    All slots filled: left to right. Fewer persons than slots: the assignment nearest to the
    slots' last positions (slots never seen cost more than any distance, then go left to right).
    """
    if len(xs) == len(last) or not np.isfinite(last).any():
        return np.argsort(np.argsort(xs, kind="stable"), kind="stable")
    if len(xs) == 1:  # the common case: the nearest known slot
        return np.array([np.nanargmin(np.abs(last - xs[0]))])
    far = np.nanmax(np.abs(xs[:, None] - np.nan_to_num(last)[None, :])) + 1.0
    cost = np.where(np.isfinite(last)[None, :], np.abs(xs[:, None] - last[None, :]), far + np.arange(len(last)))
    rows, cols = linear_sum_assignment(cost)
    return cols[np.argsort(rows)]


def order_left_right(pose: np.ndarray, min_confidence: float = 0.0, coords: int = 2) -> np.ndarray:
    """(T, P, J, C) -> the same poses with persons in left-to-right slots (causal, O(1) state).

    A tracker numbers persons by track, and tracks swap when people cross, touch or are lost; the
    roles of an interaction (the one who pushes, the one pushed) stay put better by position. A
    frame with all persons sorts them by x; a frame with fewer keeps each in the slot whose last
    known x is nearest, so one person briefly lost does not shift the other into its slot.
    """
    xs = _person_x(pose, min_confidence, coords)  # (T, P)
    count = np.isfinite(xs).sum(1)
    full = count == xs.shape[1]
    order = np.argsort(np.where(np.isfinite(xs), xs, np.inf), axis=1, kind="stable")  # (T, P) person per slot
    out = np.full(pose.shape, np.nan, dtype=np.float64)
    out[full] = np.take_along_axis(pose[full], order[full][:, :, None, None], axis=1)
    sorted_x = np.take_along_axis(xs, order, axis=1)
    last, prev = np.full(xs.shape[1], np.nan), -1
    for t in np.flatnonzero((count > 0) & ~full):  # frames with some persons missing, in order
        between = np.flatnonzero(full[prev + 1 : t])
        if len(between):  # a full frame since the last partial one: slots restart from it
            last = sorted_x[prev + 1 + between[-1]].copy()
        seen = np.flatnonzero(np.isfinite(xs[t]))
        slots = _slots(xs[t, seen], last)
        out[t, slots] = pose[t, seen]
        last[slots], prev = xs[t, seen], t
    return out


def hold_missing(pose: np.ndarray, min_confidence: float = 0.0, coords: int = 2) -> np.ndarray:
    """(T, P, J, C) -> a person missing in a frame keeps its last seen pose (causal).

    Pose estimators lose people for a few frames (occlusion, contact: a hug hides one body);
    holding the last pose keeps the descriptor continuous instead of jumping to "absent".
    """
    pose = np.asarray(pose, dtype=np.float64)
    last = _last_index(visible(pose, min_confidence, coords).any(axis=2))  # (T, P)
    held = pose[np.maximum(last, 0), np.arange(pose.shape[1])[None, :]]  # (T, P, J, C)
    return np.where((last >= 0)[..., None, None], held, pose)


def person_offsets(pose: np.ndarray, layout: JointLayout, min_confidence: float = 0.0, coords: int = 2) -> np.ndarray:
    """(T, P, D) each person's root relative to the persons' mean root, in body sizes (causal).

    With per-person centring this is what keeps the persons' relative position (approach,
    contact); a person's missing root keeps its last value.
    """
    xy = coordinates(pose, min_confidence, coords)
    root = _hold_rows(_group_mean(xy, layout.root))  # (T, P, D)
    centre = _nanmean(root, axis=1)  # (T, D)
    return np.nan_to_num((root - centre[:, None]) / causal_scale(xy, layout)[:, None, None])


def _hold_rows(x: np.ndarray) -> np.ndarray:
    """(T, P, D): NaN entries take the person's last finite value (leading NaNs stay NaN)."""
    last = _last_index(np.isfinite(x))  # (T, P, D)
    return np.where(last >= 0, np.take_along_axis(x, np.maximum(last, 0), axis=0), np.nan)
