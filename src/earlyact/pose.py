"""Multi-person 2D pose from video: people detection, per-person BlazePose, identity tracking.

BlazePose (MediaPipe 0.10.14, ``model_complexity=1``: the full model shipped in the wheel; the
lite and heavy models are never requested) finds one person per image. To follow the two people
of an interaction, each frame goes through OpenCV's built-in HOG people detector (no download),
the boxes are matched to tracks by IoU with the Hungarian method (``scipy``), and BlazePose runs
on each tracked person's crop. Output: (T, P, 18, 3) COCO-18 joints (x, y in frame pixels,
confidence = BlazePose's visibility), NaN for a missing joint or person; a frame with nobody is
kept (all NaN), never dropped. Track slots are ordered left to right at their first appearance.
When HOG finds nobody in a frame (close-ups, seated people), BlazePose runs on the whole frame and
its person goes to the slot whose last box is nearest.
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

    def __init__(self, static: bool = True, min_confidence: float = 0.5):
        import mediapipe as mp

        self._pose = mp.solutions.pose.Pose(
            static_image_mode=static, model_complexity=1, min_detection_confidence=min_confidence
        )

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


def estimate_video(frames: np.ndarray, max_persons: int = 2, raw: bool = False) -> np.ndarray:
    """(T, H, W, 3) RGB -> (T, P, 18, 3) COCO-18 poses (or (T, P, 33, 3) BlazePose with ``raw``).

    With ``max_persons == 1`` BlazePose runs on the whole frame in video (tracking) mode.
    """
    T = len(frames)
    out = np.full((T, max_persons, 33, 3), np.nan, dtype=np.float32)
    if max_persons == 1:
        model = BlazePose(static=False)
        for t, frame in enumerate(frames):
            out[t, 0] = model(frame)
    else:
        import cv2

        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        model, tracker = BlazePose(static=True), IoUTracker(max_persons)
        for t, frame in enumerate(frames):
            boxes = tracker.update(detect_people(frame, hog))
            for slot, box in enumerate(boxes):
                if box is not None:
                    crop, offset = _crop(frame, box)
                    out[t, slot] = model(crop, offset)
            if all(b is None for b in boxes):  # HOG sees no body (close-ups, sitting): try the whole frame
                joints = model(frame)
                if np.isfinite(joints[:, 0]).any():
                    out[t, _nearest_slot(tracker, joints)] = joints
    model.close()
    return out if raw else convert_layout(out, BLAZEPOSE33, COCO18)
