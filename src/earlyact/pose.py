"""Multi-person 2D pose from video: BlazePose's person detector, its landmark model per person, tracking.

BlazePose (MediaPipe 0.10.14, ``model_complexity=1``: the full model shipped in the wheel; the
lite and heavy models are never requested) is a two-step model: a person detector
(``pose_detection.tflite``) and a landmark model (``pose_landmark_full.tflite``) that runs on a
rotated square region around one person and, from its own output, predicts that region in the
next frame. MediaPipe's ready-made graph keeps one person. ``MultiPersonPose`` runs the same two
steps through MediaPipe's own subgraphs, but for several people: the detector's every detection
(``PersonDetector``) starts a track, each track's landmark model follows its region from frame to
frame (``RegionLandmarks``), and the detector runs again while somebody is missing.
Output: (T, P, 18, 3) COCO-18 joints (x, y in frame pixels, confidence = BlazePose's visibility),
NaN for a missing joint or person; a frame with nobody is kept (all NaN), never dropped. A new
person takes the free slot whose last person stood nearest (slots start left to right).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from earlyact.skeleton import BLAZEPOSE33, COCO18, convert_layout

if TYPE_CHECKING:
    from mediapipe.framework.formats.rect_pb2 import NormalizedRect

DETECTOR_GRAPH = """
input_stream: "image"
output_stream: "detections"
node { calculator: "PoseDetectionCpu" input_stream: "IMAGE:image" output_stream: "DETECTIONS:detections" }
"""  # BlazePose's detection subgraph alone: every person left after non-maximum suppression

LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "roi"
output_stream: "landmarks"
output_stream: "next_roi"
node { calculator: "ImagePropertiesCalculator" input_stream: "IMAGE:image" output_stream: "SIZE:size" }
node {
  calculator: "PoseLandmarkByRoiCpu"
  input_stream: "IMAGE:image" input_stream: "ROI:roi"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity" input_side_packet: "ENABLE_SEGMENTATION:segmentation"
  output_stream: "LANDMARKS:landmarks" output_stream: "AUXILIARY_LANDMARKS:auxiliary"
}
node {
  calculator: "PoseLandmarksToRoi"
  input_stream: "LANDMARKS:auxiliary" input_stream: "IMAGE_SIZE:size" output_stream: "ROI:next_roi"
}
"""  # BlazePose's landmark subgraph on a given region, and the region its output predicts for the next frame
PRESENCE = "poselandmarkbyroicpu__tensorstoposelandmarksandsegmentation__ThresholdingCalculator.threshold"


def detection_region(hip: np.ndarray, circle: np.ndarray, width: int, height: int) -> NormalizedRect:
    """The landmark model's region for one detection, as MediaPipe's ``PoseDetectionToRoi`` builds it.

    hip, circle: the detection's hip centre and a point on the circle around the body (pixels).
    The region is a square of 1.25 x the circle's diameter centred on the hips, rotated so that
    the hips-to-circle direction points up (a tilted or lying person is turned upright).
    """
    from mediapipe.framework.formats.rect_pb2 import NormalizedRect

    dx, dy = float(circle[0] - hip[0]), float(circle[1] - hip[1])
    side = 2.5 * float(np.hypot(dx, dy))
    angle = 0.5 * np.pi - np.arctan2(-dy, dx)
    rotation = float(np.arctan2(np.sin(angle), np.cos(angle)))  # wrapped into (-pi, pi]
    return NormalizedRect(
        x_center=float(hip[0]) / width, y_center=float(hip[1]) / height,
        width=side / width, height=side / height, rotation=rotation,
    )  # fmt: skip


class PersonDetector:
    """Every person in an image, from BlazePose's own detector (``pose_detection.tflite``, in the wheel).

    MediaPipe's single-person graph keeps only the first detection; its ``PoseDetectionCpu``
    subgraph run on its own returns them all (after non-maximum suppression). Each detection gives
    the hip centre, a point on the circle around the whole body and the mid-shoulder point
    (MediaPipe's pose-detection keypoints 0, 1, 2).
    """

    def __init__(self) -> None:
        from mediapipe.python.solution_base import SolutionBase

        self._graph = SolutionBase(graph_config=DETECTOR_GRAPH, outputs=["detections"])

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) RGB -> (N, 3, 2) hip centre, body-circle point and neck of each person, in pixels."""
        h, w = frame.shape[:2]
        found = self._graph.process({"image": np.ascontiguousarray(frame)}).detections or []
        return np.array(
            [[(p.x * w, p.y * h) for p in d.location_data.relative_keypoints[:3]] for d in found], dtype=np.float64
        ).reshape(-1, 3, 2)

    def close(self) -> None:
        self._graph.close()


class RegionLandmarks:
    """BlazePose's landmark model on a given region of a frame: (33, 3) landmarks and the next region.

    ``min_presence`` is the landmark model's own "a person is in this region" score below which it
    reports nobody (MediaPipe's ``min_tracking_confidence``).
    """

    def __init__(self, min_presence: float = 0.5) -> None:
        from mediapipe.python.solution_base import SolutionBase

        self._graph = SolutionBase(
            graph_config=LANDMARK_GRAPH,
            side_inputs={"model_complexity": 1, "segmentation": False},
            calculator_params={PRESENCE: min_presence},
            outputs=["landmarks", "next_roi"],
        )

    def __call__(self, frame: np.ndarray, region: NormalizedRect) -> tuple[np.ndarray, NormalizedRect | None]:
        """Landmarks (33, 3): x, y in frame pixels, visibility (NaN: nobody), and the next frame's region."""
        h, w = frame.shape[:2]
        result = self._graph.process({"image": np.ascontiguousarray(frame), "roi": region})
        out = np.full((33, 3), np.nan, dtype=np.float32)
        if result.landmarks is None:
            return out, None
        out[:] = [(lm.x * w, lm.y * h, lm.visibility) for lm in result.landmarks.landmark]
        return out, result.next_roi

    def close(self) -> None:
        self._graph.close()


class BlazePose:
    """MediaPipe's ready-made single-person BlazePose (full model) -> (33, 3) landmarks in pixels."""

    def __init__(self, static: bool = True, min_confidence: float = 0.5, smooth: bool = True):
        import mediapipe as mp

        self._pose = mp.solutions.pose.Pose(
            static_image_mode=static,
            model_complexity=1,
            min_detection_confidence=min_confidence,
            smooth_landmarks=smooth,
        )

    def __call__(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        result = self._pose.process(np.ascontiguousarray(image))
        out = np.full((33, 3), np.nan, dtype=np.float32)
        if result.pose_landmarks is not None:
            out[:] = [(lm.x * w, lm.y * h, lm.visibility) for lm in result.pose_landmarks.landmark]
        return out

    def close(self) -> None:
        self._pose.close()


def _neck(joints: np.ndarray) -> np.ndarray:
    return (joints[11, :2] + joints[12, :2]) / 2  # BlazePose shoulders 11, 12


def _has_body(joints: np.ndarray) -> bool:
    return bool(np.isfinite(joints[[11, 12], 0]).all())


def _shoulder_width(joints: np.ndarray) -> float:
    return float(np.linalg.norm(joints[11, :2] - joints[12, :2]))


def on_someone(neck: np.ndarray, people: list[np.ndarray], width: float = 0.0) -> bool:
    """A neck within half a shoulder width (the larger of ``width`` and that person's) of one of
    ``people``'s necks: the same body, already followed."""
    return any(np.linalg.norm(_neck(x) - neck) < 0.5 * max(width, _shoulder_width(x), 1.0) for x in people)


def mask_people(frame: np.ndarray, people: list[np.ndarray]) -> np.ndarray:
    """A copy of ``frame`` with each person's landmarks' convex hull, and a disc over the face, filled with
    the frame's mean colour: what the person detector sees once the people already followed are hidden."""
    import cv2

    out, fill = frame.copy(), frame.reshape(-1, frame.shape[-1]).mean(0).tolist()
    for x in people:
        points = x[np.isfinite(x[:, 0]), :2]
        cv2.fillConvexPoly(out, cv2.convexHull(points.astype(np.int32)), fill)
        face = x[:11, :2][np.isfinite(x[:11, 0])]  # BlazePose landmarks 0-10: nose, eyes, ears, mouth
        if len(face):  # BlazePose's detector keys on faces: hide the head whole, not only its landmarks' hull
            radius = 1.2 * max(np.ptp(face[:, 0]), np.ptp(face[:, 1]), 4.0)
            cv2.circle(out, tuple(int(v) for v in face.mean(0)), int(radius), fill, -1)
    return out


def part_of(new: np.ndarray, held: np.ndarray, share: float = 0.5, smallest: float = 0.25) -> bool:
    """``new`` is a part of the ``held`` body, or a fragment beside it, not a second person: more than
    ``share`` of its landmarks inside the held body's bounding box (its legs taken for someone), or its
    own box under ``smallest`` of the held box's area (a few landmarks squeezed on a head)."""
    box = held[np.isfinite(held[:, 0]), :2]
    points = new[np.isfinite(new[:, 0]), :2]
    if not len(box) or not len(points):
        return False
    lo, hi = box.min(0), box.max(0)
    inside = ((points >= lo) & (points <= hi)).all(1).mean() > share
    return bool(inside or np.prod(np.ptp(points, 0)) < smallest * np.prod(hi - lo))


def nearest_free_slot(regions: list[NormalizedRect | None], last_x: list[float | None], x: float) -> int | None:
    """The slot a newly found person at x (normalised) takes: among the slots nobody holds, the one
    whose last person stood nearest; never-used slots count as standing at their place in a
    left-to-right order. None when every slot is held."""
    free = [i for i, r in enumerate(regions) if r is None]
    if not free:
        return None
    P = len(regions)
    where = [last_x[i] if last_x[i] is not None else (i + 0.5) / P for i in free]
    return free[int(np.argmin([abs(w - x) for w in where]))]


class MultiPersonPose:
    """Online multi-person BlazePose: call it on each frame in order; O(1) state per frame.

    Each slot holds one person's region; the landmark model follows it from frame to frame (a
    person it no longer sees frees the slot). While fewer than ``max_persons`` are held, the person
    detector runs every ``detect_every`` frames (every frame while nobody is held); a detection
    whose neck is not on a held person takes a free slot. Two slots on one body are merged.
    With ``mask_held``, a slot still free after that is sought once more on the frame with the held
    persons masked out (``mask_people``): the detector can miss a person beside a stronger detection
    (after a hug, say) and find that person once the other is out of view; a person found there that is
    part of a held one, or a fragment beside it, is refused (``part_of``).
    """

    def __init__(
        self,
        max_persons: int = 2,
        detect_every: int = 1,
        min_presence: float = 0.3,
        mask_held: bool = False,
        detector: Callable[[np.ndarray], np.ndarray] | None = None,
        landmarks: Callable[[np.ndarray, NormalizedRect], tuple[np.ndarray, NormalizedRect | None]] | None = None,
    ):
        """detector, landmarks: stand-ins for ``PersonDetector`` and ``RegionLandmarks`` (tests)."""
        self.max_persons, self.detect_every, self.mask_held = max_persons, detect_every, mask_held
        self.detector = detector or PersonDetector()
        self.landmarks = landmarks or RegionLandmarks(min_presence)  # stateless between calls: one serves every slot
        self.regions: list[NormalizedRect | None] = [None] * max_persons
        self.last_x: list[float | None] = [None] * max_persons  # where each slot's person was last seen (0..1)
        self.frame_index, self.last_detection = 0, -(10**9)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) RGB -> (P, 33, 3) BlazePose landmarks in frame pixels (NaN: not found)."""
        out = np.full((self.max_persons, 33, 3), np.nan, dtype=np.float32)
        for slot, region in enumerate(self.regions):
            if region is not None:
                out[slot], self.regions[slot] = self.landmarks(frame, region)
        self._merge_duplicates(out)
        held = sum(r is not None for r in self.regions)
        if held < self.max_persons and (held == 0 or self.frame_index - self.last_detection >= self.detect_every):
            self._add_detected(frame, out)
            self.last_detection = self.frame_index
        for slot in range(self.max_persons):
            if _has_body(out[slot]):
                self.last_x[slot] = float(_neck(out[slot])[0]) / frame.shape[1]
        self.frame_index += 1
        return out

    def _add_detected(self, frame: np.ndarray, out: np.ndarray) -> None:
        """Detect people; each one nobody holds takes a free slot (left to right) and is found at once."""
        self._take(frame, out, self.detector(frame), [])
        if not self.mask_held or all(r is not None for r in self.regions):
            return
        held = [x.copy() for x in out if _has_body(x)]
        if held:
            self._take(frame, out, self.detector(mask_people(frame, held)), held)

    def _take(self, frame: np.ndarray, out: np.ndarray, detections: np.ndarray, refuse: list[np.ndarray]) -> None:
        """Free slots to the detections nobody holds, but to a person ``part_of`` one of ``refuse``."""
        h, w = frame.shape[:2]
        for hip, circle, neck in sorted(detections, key=lambda k: k[2][0]):
            if on_someone(neck, [x for x in out if _has_body(x)]):
                continue
            slot = nearest_free_slot(self.regions, self.last_x, neck[0] / w)
            if slot is None:
                return
            found, region = self.landmarks(frame, detection_region(hip, circle, w, h))
            if any(part_of(found, x) for x in refuse):
                continue
            out[slot], self.regions[slot] = found, region
            self._merge_duplicates(out)

    def _merge_duplicates(self, out: np.ndarray) -> None:
        """A slot on the same body as an earlier slot is emptied (its region freed); so is a slot without a body."""
        for j in range(len(out)):
            earlier = [x for x in out[:j] if _has_body(x)]
            if not _has_body(out[j]) or on_someone(_neck(out[j]), earlier, _shoulder_width(out[j])):
                out[j], self.regions[j] = np.nan, None

    def close(self) -> None:
        for part in (self.detector, self.landmarks):
            if hasattr(part, "close"):
                part.close()


def estimate_video(
    frames: np.ndarray,
    max_persons: int = 2,
    raw: bool = False,
    detect_every: int = 1,
    min_presence: float = 0.3,
    mask_held: bool = False,
) -> np.ndarray:
    """(T, H, W, 3) RGB -> (T, P, 18, 3) COCO-18 poses (or (T, P, 33, 3) BlazePose with ``raw``).

    With ``max_persons == 1`` BlazePose runs on the whole frame in video (tracking) mode; with more,
    ``MultiPersonPose`` follows each person.
    """
    T = len(frames)
    out = np.full((T, max_persons, 33, 3), np.nan, dtype=np.float32)
    if max_persons == 1:
        model = BlazePose(static=False)
    else:
        model = MultiPersonPose(max_persons, detect_every, min_presence, mask_held)
    for t, frame in enumerate(frames):
        out[t] = model(frame)
    model.close()
    return out if raw else convert_layout(out, BLAZEPOSE33, COCO18)
