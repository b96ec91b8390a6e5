"""Video input through PyAV (FFmpeg): files (AVI/XviD, MP4/H.264, ...), stream URLs, cameras, image folders.

Frames are counted by decoding, never taken from the container's header (UT-Interaction's AVI
headers are off by one or two). The real frame rate is kept; ``target_fps`` resamples by
timestamps (for each output instant, the latest decoded frame at or before it). A decode error
or a file that ends well before its header says is an error naming the file, unless the caller
asks for the partial clip (``allow_partial=True``). A local camera is ``camera:N`` or ``/dev/videoN``
(Linux, V4L2); it never ends, so read it frame by frame (``iter_frames``), not with ``read_video``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass
class Video:
    """Decoded frames and where they came from."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    fps: float  # frame rate of ``frames`` (the source's, or the target after resampling)
    source: str
    source_fps: float  # the source's own frame rate
    complete: bool = True  # False when a partial clip was kept after a decode error


def open_arguments(source: str | Path) -> tuple[str, dict[str, str]]:
    """What FFmpeg opens for ``source`` and how: ``camera:N`` and ``/dev/videoN`` as a V4L2 camera
    (FFmpeg cannot probe a device's format), anything else as a file or URL."""
    text = str(source)
    camera = re.fullmatch(r"camera:(\d+)", text)
    text = f"/dev/video{camera.group(1)}" if camera else text
    return (text, {"format": "v4l2"}) if re.fullmatch(r"/dev/video\d+", text) else (text, {})


def _open(source: str | Path):
    import av

    path, options = open_arguments(source)
    try:
        return av.open(path, **options)
    except (av.error.FFmpegError, OSError) as e:  # missing file, not a video, unreachable URL or camera
        raise ValueError(f"{source}: cannot open as a video ({e})") from None


def iter_frames(
    source: str | Path, allow_partial: bool = False, status: dict | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time in seconds, (H, W, 3) uint8 RGB frame) from a video file or URL, as decoded.

    With ``allow_partial`` a decode error or truncation warns and sets ``status["complete"] = False``."""
    import av

    container = _open(source)
    try:
        stream = container.streams.video[0] if container.streams.video else None
        if stream is None:
            raise ValueError(f"{source}: no video stream")
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        header, duration = stream.frames, (container.duration or 0) / 1e6
        n, t = 0, 0.0
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else n / fps
                yield t, frame.to_ndarray(format="rgb24")
                n += 1
        except av.error.FFmpegError as e:
            _partial(source, f"decoding stopped after {n} frames ({e})", allow_partial, status)
        if header and n < 0.9 * header - 2:
            _partial(source, f"{n} frames decoded but the header announces {header}: truncated?", allow_partial, status)
        elif duration and n and t < duration - max(3.0 / fps, 0.1):
            problem = f"frames end at {t:.2f} s but the file lasts {duration:.2f} s: truncated?"
            _partial(source, problem, allow_partial, status)
    finally:
        container.close()


def _partial(source: str | Path, problem: str, allow_partial: bool, status: dict | None) -> None:
    if not allow_partial:
        raise ValueError(f"{source}: {problem}; pass allow_partial=True to keep the frames decoded so far")
    if status is not None:
        status["complete"] = False
    warnings.warn(f"{source}: {problem}; keeping the partial clip", stacklevel=3)


def video_fps(source: str | Path) -> float:
    """The stream's average frame rate (from the container; frames themselves are counted by decoding)."""
    container = _open(source)
    try:
        if not container.streams.video:
            raise ValueError(f"{source}: no video stream")
        stream = container.streams.video[0]
        return float(stream.average_rate or stream.guessed_rate or 0) or 25.0
    finally:
        container.close()


def resample_indices(times: np.ndarray, target_fps: float) -> np.ndarray:
    """Indices of the frames to keep so that they fall on a ``target_fps`` grid (latest frame <= t)."""
    if target_fps <= 0:
        raise ValueError(f"target fps must be positive, got {target_fps}")
    times = np.asarray(times, dtype=np.float64) - times[0]
    grid = np.arange(0.0, times[-1] + 1e-9, 1.0 / target_fps)
    return np.clip(np.searchsorted(times, grid + 1e-6, side="right") - 1, 0, len(times) - 1)


def read_video(source: str | Path, target_fps: float | None = None, allow_partial: bool = False) -> Video:
    """Decode a whole video (file, URL or image folder) into memory."""
    path = Path(source)
    if path.is_dir():
        return read_image_folder(path, fps=target_fps or 25.0)
    times, frames, status = [], [], {"complete": True}
    for t, frame in iter_frames(source, allow_partial, status):
        times.append(t)
        frames.append(frame)
    complete = status["complete"]
    if not frames:
        raise ValueError(f"{source}: no frame could be decoded")
    fps = video_fps(source)
    stack = np.stack(frames)
    if target_fps is not None and abs(target_fps - fps) > 1e-3:
        stack = stack[resample_indices(np.array(times), target_fps)]
        return Video(stack, float(target_fps), str(source), fps, complete)
    return Video(stack, fps, str(source), fps, complete)


def read_image_folder(folder: str | Path, fps: float = 25.0) -> Video:
    """Frames from image files in name order (PNG/JPEG/BMP), at the frame rate given."""
    from PIL import Image

    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    frames = []
    for p in files:
        try:
            frames.append(np.asarray(Image.open(p).convert("RGB")))
        except OSError as e:
            raise ValueError(f"{p}: not a readable image ({e})") from None
    if len({f.shape for f in frames}) > 1:
        raise ValueError(f"{folder}: images differ in size")
    return Video(np.stack(frames), float(fps), str(folder), float(fps))
