"""Training augmentation of pose sequences (T, P, J, C): every function is pure given its ``rng``.

Scale, rotation, mirroring and noise act on the image plane around the clip's mean joint (3-D poses,
``coords=3``: rotation about the vertical y axis, a change of viewpoint, and scale and noise on x, y, z);
the speed change resamples time by linear interpolation (missing joints stay missing); a random prefix keeps the
first part of a clip. Label-preserving for the actions we model; the features computed after
augmentation are what the networks see, so pose normalisation stays in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from earlyact.config import AugmentConfig
from earlyact.data import Clip
from earlyact.skeleton import JointLayout, causal_scale, mirror_order


def scale_rotate(
    pose: np.ndarray, rng: np.random.Generator, scale: float, degrees: float, coords: int = 2
) -> np.ndarray:
    """Random anisotropic scale and rotation about the mean of all visible joints: of x, y in the image
    plane, or (``coords=3``) of x, z about the vertical y axis, the camera moving round the people."""
    xy = pose[..., :coords]
    centre = np.nanmean(xy.reshape(-1, coords), axis=0) if np.isfinite(xy).any() else np.zeros(coords)
    a = np.deg2rad(rng.uniform(-degrees, degrees))
    c, s_ = np.cos(a), np.sin(a)
    rot = np.array([[c, -s_], [s_, c]]) if coords == 2 else np.array([[c, 0, s_], [0, 1, 0], [-s_, 0, c]])
    s = np.diag(rng.uniform(1 - scale, 1 + scale, size=coords))
    out = pose.copy()
    out[..., :coords] = (xy - centre) @ (rot @ s).T + centre
    return out


def mirror(pose: np.ndarray, layout: JointLayout) -> np.ndarray:
    """Left-right mirror image: x negated, left and right joints swapped, and the person order
    reversed so that slot 0 stays the left-most person (the order the tracker assigns)."""
    out = pose[:, ::-1][:, :, mirror_order(layout)].copy()
    out[..., 0] = -out[..., 0]
    return out


def jitter(
    pose: np.ndarray, rng: np.random.Generator, sigma: float, layout: JointLayout, coords: int = 2
) -> np.ndarray:
    """Gaussian noise of ``sigma`` body sizes on the coordinates (NaN stays NaN)."""
    size = float(np.nanmedian(causal_scale(pose[..., :coords], layout)))
    out = pose.copy()
    out[..., :coords] += rng.normal(0.0, sigma * size, size=pose[..., :coords].shape)
    return out


def change_speed(pose: np.ndarray, factor: float) -> np.ndarray:
    """Resample time so the clip plays ``factor`` times faster (at least 2 frames kept)."""
    T = pose.shape[0]
    n = max(2, int(round(T / factor)))
    src = np.linspace(0, T - 1, n)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, T - 1)
    w = (src - lo)[:, None, None, None]
    out = (1 - w) * pose[lo] + w * pose[hi]  # NaN in either neighbour -> NaN (missing stays missing)
    return out.astype(pose.dtype)


def augment(
    pose: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig, layout: JointLayout, coords: int = 2
) -> np.ndarray:
    """One random augmentation of a (T, P, J, C) pose sequence of ``coords`` coordinates per joint."""
    if not cfg.enabled:
        return pose
    out = scale_rotate(pose, rng, cfg.scale, cfg.rotation, coords)
    if cfg.mirror > 0 and rng.random() < cfg.mirror:
        out = mirror(out, layout)
    if cfg.noise > 0:
        out = jitter(out, rng, cfg.noise, layout, coords)
    if cfg.speed > 0:
        out = change_speed(out, rng.uniform(1 - cfg.speed, 1 + cfg.speed))
    if cfg.prefix > 0 and rng.random() < cfg.prefix:
        out = out[: max(2, int(np.ceil(rng.uniform(0.5, 1.0) * len(out))))]
    return out.astype(np.float32)


def augment_clip(
    clip: Clip, rng: np.random.Generator, cfg: AugmentConfig, layout: JointLayout, coords: int = 2
) -> Clip:
    """The clip with an augmented pose and no other stream: those were computed from the old pose (a
    speed change or prefix even alters its length), so the caller recomputes the ones it reads."""
    pose = augment(np.asarray(clip.pose), rng, cfg, layout, coords)
    return replace(clip, pose=pose, context=None, action=None)


def mirror_clips(clips: Sequence[Clip], layout: JointLayout) -> list[Clip]:
    """The clips' left-right mirror images (a second view for prediction: ``predict.predict_ratios``),
    with no stream but the pose: the caller computes the streams it reads from the mirrored pose."""
    missing = [c.clip_id for c in clips if c.pose is None]
    if missing:
        raise ValueError(f"mirrored views need each clip's pose; clip {missing[0]!r} has none")
    return [replace(c, pose=mirror(np.asarray(c.pose), layout), context=None, action=None) for c in clips]
