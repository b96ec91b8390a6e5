"""Multi-person 2D pose from video: people detection, per-person BlazePose, identity tracking.

BlazePose (MediaPipe 0.10.14, ``model_complexity=1``: the full model shipped in the wheel; the
lite and heavy models are never requested) finds one person per image. To follow the two people
of an interaction, OpenCV's built-in HOG people detector (no download) finds the people, the
boxes are matched to tracks by IoU with the Hungarian method (``scipy``), and BlazePose runs
on each tracked person's crop. Output: (T, P, 18, 3) COCO-18 joints (x, y in frame pixels,
confidence = BlazePose's visibility), NaN for a missing joint or person; a frame with nobody is
kept (all NaN), never dropped. Track slots are ordered left to right at their first appearance.
Detection runs every few frames (and whenever somebody is missing); in between, each person's box
follows its own landmarks, and a person HOG misses is searched for in the part of the frame no one
else covers (``MultiPersonPose``). When nobody is found (close-ups, seated people), BlazePose runs
on the whole frame and its person goes to the slot whose last box is nearest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from earlyact.skeleton import BLAZEPOSE33, COCO18, convert_layout

Box = np.ndarray  # (4,) x0, y0, x1, y1 in pixels


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) boxes -> (N, M) intersection over union."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


@dataclass
class IoUTracker:
    """Keeps up to ``max_tracks`` identities across frames by IoU matching of boxes."""

    max_tracks: int = 2
    min_iou: float = 0.2  # below this a box does not continue a track
    max_missed: int = 15  # frames a track survives without a match
    boxes: list[Box | None] = field(default_factory=list)  # last box per slot
    missed: list[int] = field(default_factory=list)

    def update(self, detections: np.ndarray) -> list[Box | None]:
        """detections (N, 4) -> the box of each slot in this frame (None: not seen)."""
        out: list[Box | None] = [None] * len(self.boxes)
        live = [i for i, b in enumerate(self.boxes) if b is not None]
        used: set[int] = set()
        if live and len(detections):
            cost = 1 - iou(np.stack([self.boxes[i] for i in live]), detections)
            for r, c in zip(*linear_sum_assignment(cost), strict=True):
                if 1 - cost[r, c] >= self.min_iou:
                    out[live[r]], used = detections[c], used | {c}
        for i in range(len(self.boxes)):
            self.missed[i] = 0 if out[i] is not None else self.missed[i] + 1
            self.boxes[i] = (
                out[i] if out[i] is not None else (None if self.missed[i] > self.max_missed else self.boxes[i])
            )
        new = sorted((d for j, d in enumerate(detections) if j not in used), key=lambda d: d[0])
        for d in new:
            free = [i for i, b in enumerate(self.boxes) if b is None]
            if free:
                self.boxes[free[0]], self.missed[free[0]], out[free[0]] = d, 0, d
            elif len(self.boxes) < self.max_tracks:
                self.boxes.append(d)
                self.missed.append(0)
                out.append(d)
        return out + [None] * (self.max_tracks - len(out))

    def add(self, box: Box) -> int | None:
        """Start a track with ``box`` in a free slot; returns the slot (None when all are taken)."""
        free = [i for i, b in enumerate(self.boxes) if b is None]
        if free:
            self.boxes[free[0]], self.missed[free[0]] = box, 0
            return free[0]
        if len(self.boxes) < self.max_tracks:
            self.boxes.append(box)
            self.missed.append(0)
            return len(self.boxes) - 1
        return None


def detect_people(frame: np.ndarray, hog=None, min_height: int = 48) -> np.ndarray:
    """(H, W, 3) RGB -> (N, 4) person boxes from OpenCV's HOG people detector (NMS applied)."""
    import cv2

    if hog is None:
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    scale = min(2.0, 480 / frame.shape[0])  # ~480 px tall: people >= 128 px for HOG, large frames fast
    img = cv2.resize(frame, None, fx=scale, fy=scale) if abs(scale - 1.0) > 1e-3 else frame
    if img.shape[0] < 128 or img.shape[1] < 64:  # smaller than HOG's 64x128 window (OpenCV would crash)
        return np.zeros((0, 4))
    rects, weights = hog.detectMultiScale(img, winStride=(8, 8), padding=(8, 8), scale=1.05)
    if len(rects) == 0:
        return np.zeros((0, 4))
    boxes = np.array([[x, y, x + w, y + h] for x, y, w, h in rects], dtype=np.float64) / scale
    keep = cv2.dnn.NMSBoxes([list(map(float, r)) for r in rects], list(map(float, np.ravel(weights))), 0.0, 0.4)
    boxes = boxes[np.ravel(keep)] if len(keep) else boxes
    return boxes[(boxes[:, 3] - boxes[:, 1]) >= min_height]


class BlazePose:
    """MediaPipe BlazePose (full model) on one image or crop -> (33, 3) landmarks in pixels."""

    def __init__(self, static: bool = True, min_confidence: float = 0.5, smooth: bool = True):
        import mediapipe as mp

        self._pose = mp.solutions.pose.Pose(
            static_image_mode=static,
            model_complexity=1,
            min_detection_confidence=min_confidence,
            smooth_landmarks=smooth,
        )

    def reset(self) -> None:
        """Forget the tracked region (tracking mode): the next image runs the person detector."""
        self._pose.reset()

    def __call__(self, image: np.ndarray, offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        h, w = image.shape[:2]
        result = self._pose.process(np.ascontiguousarray(image))
        out = np.full((33, 3), np.nan, dtype=np.float32)
        if result.pose_landmarks is not None:
            for i, lm in enumerate(result.pose_landmarks.landmark):
                out[i] = (lm.x * w + offset[0], lm.y * h + offset[1], lm.visibility)
        return out

    def close(self) -> None:
        self._pose.close()


def _crop(frame: np.ndarray, box: Box, margin: float = 0.15) -> tuple[np.ndarray, tuple[float, float]]:
    h, w = frame.shape[:2]
    bw, bh = box[2] - box[0], box[3] - box[1]
    x0, y0 = int(max(0, box[0] - margin * bw)), int(max(0, box[1] - margin * bh))
    x1, y1 = int(min(w, box[2] + margin * bw)), int(min(h, box[3] + margin * bh))
    return frame[y0:y1, x0:x1], (float(x0), float(y0))


def _nearest_slot(tracker: IoUTracker, joints: np.ndarray) -> int:
    """The slot whose last box centre is closest to the joints' centre (slot 0 if none is known)."""
    centre = np.nanmean(joints[:, :2], axis=0)
    known = [(i, b) for i, b in enumerate(tracker.boxes) if b is not None]
    if not known:
        return 0
    return min(known, key=lambda ib: float(np.hypot(*(centre - (ib[1][:2] + ib[1][2:]) / 2))))[0]


def landmark_box(joints: np.ndarray, shape: tuple[int, ...], margin: float = 0.25) -> Box | None:
    """The box around a person's visible landmarks (33, 3), grown by ``margin`` per side, in the frame."""
    ok = np.isfinite(joints[:, 0]) & (np.nan_to_num(joints[:, 2]) > 0.3)
    if ok.sum() < 4:
        return None
    (x0, y0), (x1, y1) = joints[ok, :2].min(0), joints[ok, :2].max(0)
    mx, my = margin * max(x1 - x0, 1.0), margin * max(y1 - y0, 1.0)
    h, w = shape[:2]
    return np.array([max(0.0, x0 - mx), max(0.0, y0 - my), min(w, x1 + mx), min(h, y1 + my)])


def _neck(joints: np.ndarray) -> np.ndarray:
    return (joints[11, :2] + joints[12, :2]) / 2  # BlazePose shoulders 11, 12


def _same_person(a: np.ndarray, b: np.ndarray) -> bool:
    """Two landmark sets on one body: necks closer than half a shoulder width."""
    width = max(np.linalg.norm(a[11, :2] - a[12, :2]), np.linalg.norm(b[11, :2] - b[12, :2]), 1.0)
    return bool(np.linalg.norm(_neck(a) - _neck(b)) < 0.5 * width)


def side_strips(frame_width: int, box: Box, overlap: float = 0.3, min_width: float = 0.15) -> list[tuple[int, int]]:
    """The vertical strips left and right of a found person's box, each reaching ``overlap`` of the
    box's width into it (a second person often stands partly behind or against the first);
    strips whose free part is narrower than ``min_width`` of the frame are left out."""
    reach = overlap * (box[2] - box[0])
    strips = []
    if box[0] >= min_width * frame_width:
        strips.append((0, int(min(frame_width, box[0] + reach))))
    if frame_width - box[2] >= min_width * frame_width:
        strips.append((int(max(0.0, box[2] - reach)), frame_width))
    return strips


class MultiPersonPose:
    """Online multi-person BlazePose: call it on each frame in order; O(1) state per frame.

    People detection (HOG) runs every ``detect_every`` frames and whenever nobody is found; in
    between, each person's box follows its own landmarks (as MediaPipe's single-person tracking
    does). When a frame ends with one person where there should be two, BlazePose searches the
    strips left and right of that person (HOG misses people who bend, crouch or touch
    someone). Two slots landing on one body are merged.
    """

    def __init__(self, max_persons: int = 2, detect_every: int = 5):
        import cv2

        self.max_persons, self.detect_every = max_persons, detect_every
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.model, self.tracker = BlazePose(static=True), IoUTracker(max_persons)
        # per slot, BlazePose in tracking mode on the crop that follows the person: its landmark model
        # reuses the previous frame's region and skips the person detector while the track holds
        self.followers = [BlazePose(static=False, smooth=False) for _ in range(max_persons)]  # crops move: no smoothing
        self.last: list[np.ndarray | None] = [None] * max_persons  # landmarks of the previous frame
        self.frame_index = 0

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) RGB -> (P, 33, 3) BlazePose landmarks in frame pixels (NaN: not found)."""
        P = self.max_persons
        found = sum(x is not None for x in self.last)
        detect = self.frame_index % self.detect_every == 0 or found == 0
        if detect:
            candidates = detect_people(frame, self.hog)
        else:
            candidates = np.array(
                [b for x in self.last if x is not None and (b := landmark_box(x, frame.shape)) is not None]
            )
        boxes = self.tracker.update(candidates.reshape(-1, 4))
        out = np.full((P, 33, 3), np.nan, dtype=np.float32)
        for slot, box in enumerate(boxes):
            if box is not None:
                if self.last[slot] is None:  # a new or re-found person: the follower starts afresh
                    self.followers[slot].reset()
                out[slot] = self.followers[slot](*_crop(frame, box))
        self._merge_duplicates(out)
        if self._count(out) == 1 and P > 1:
            self._search_beside(frame, out)
        if self._count(out) == 0:  # HOG sees no body (close-ups, sitting): try the whole frame
            joints = self.model(frame)
            if np.isfinite(joints[:, 0]).any():
                out[_nearest_slot(self.tracker, joints)] = joints
        self.last = [out[i] if self._has_body(out[i]) else None for i in range(P)]
        self.frame_index += 1
        return out

    @staticmethod
    def _has_body(joints: np.ndarray) -> bool:
        return bool(np.isfinite(joints[[11, 12], 0]).all())

    def _count(self, out: np.ndarray) -> int:
        return sum(self._has_body(x) for x in out)

    def _merge_duplicates(self, out: np.ndarray) -> None:
        for i in range(len(out)):
            for j in range(i + 1, len(out)):
                if self._has_body(out[i]) and self._has_body(out[j]) and _same_person(out[i], out[j]):
                    out[j] = np.nan

    def _search_beside(self, frame: np.ndarray, out: np.ndarray) -> None:
        """One person found: look for the other in the strips beside them; the first hit takes a slot."""
        person = next(x for x in out if self._has_body(x))
        box = landmark_box(person, frame.shape, 0.05)
        for x0, x1 in side_strips(frame.shape[1], box) if box is not None else []:
            joints = self.model(frame[:, x0:x1], (float(x0), 0.0))
            if self._has_body(joints) and not _same_person(joints, person):
                new_box = landmark_box(joints, frame.shape)
                slot = self._slot_for(new_box, out) if new_box is not None else None
                if slot is not None:
                    out[slot] = joints
                    self.followers[slot].reset()  # its follower picks this person up next frame
                    return

    def _slot_for(self, box: Box, out: np.ndarray) -> int | None:
        """The slot a newly found person takes: an empty tracked slot (re-found person), else a free one."""
        empty = [i for i, b in enumerate(self.tracker.boxes) if b is not None and not self._has_body(out[i])]
        if empty:
            self.tracker.boxes[empty[0]], self.tracker.missed[empty[0]] = box, 0
            return empty[0]
        return self.tracker.add(box)

    def close(self) -> None:
        for m in [self.model, *self.followers]:
            m.close()


def estimate_video(frames: np.ndarray, max_persons: int = 2, raw: bool = False, detect_every: int = 5) -> np.ndarray:
    """(T, H, W, 3) RGB -> (T, P, 18, 3) COCO-18 poses (or (T, P, 33, 3) BlazePose with ``raw``).

    With ``max_persons == 1`` BlazePose runs on the whole frame in video (tracking) mode; with more,
    ``MultiPersonPose`` follows each person.
    """
    T = len(frames)
    out = np.full((T, max_persons, 33, 3), np.nan, dtype=np.float32)
    model = BlazePose(static=False) if max_persons == 1 else MultiPersonPose(max_persons, detect_every)
    for t, frame in enumerate(frames):
        out[t] = model(frame)
    model.close()
    return out if raw else convert_layout(out, BLAZEPOSE33, COCO18)
