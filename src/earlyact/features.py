"""Per-frame feature streams computed from poses (the parts of the pipeline that need no RGB).

* ``skeleton_context``: a per-frame global descriptor of all bodies, used as stage 1's context
  stream when there are no RGB frames (or when the model must be fed by a pose estimator only).
* ``action_input``: the per-joint channels the action network (paper Fig. 3) reads.
* ``action_features``: run a trained action network over clips; its LSTM hidden state per frame
  is the action stream of stage 2.

All functions are causal: row t depends on frames <= t only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from earlyact.config import ContextNetConfig, FeatureConfig
from earlyact.data import Clip, pad_stack
from earlyact.skeleton import (
    JointLayout,
    check_channels,
    get_layout,
    hold_missing,
    normalize,
    order_left_right,
    person_offsets,
)


def _velocity(x: np.ndarray) -> np.ndarray:
    """Causal first difference along time (row 0 is zero); NaN where either frame is missing."""
    v = np.zeros_like(x)
    v[1:] = x[1:] - x[:-1]
    return v


def _displacement(x: np.ndarray, step: int) -> np.ndarray:
    """Causal displacement over ``step`` frames, x[t] - x[t - step] (x[0] before that): the slow
    body-part motion at a coarser time scale, global motion included (DD-Net's "fast motion")."""
    past = x[np.maximum(np.arange(len(x)) - step, 0)]
    return x - past


def skeleton_context(pose: np.ndarray, layout: JointLayout, cfg: FeatureConfig) -> np.ndarray:
    """(T, P, J, C) pose, as ``prepare_pose`` left it -> (T, D) descriptor: normalised joints, visibility, velocities,
    the global (centre) motion, optionally displacements over ``cfg.long_motion`` frames, and
    pairwise within-person joint distances. Missing -> 0.

    With ``cfg.per_person`` each body is centred on its own root and the roots' offsets from their
    mean (and their velocities) are appended; the long-range displacement then sees each body's
    motion within itself plus the persons' common motion (the offsets carry the rest)."""
    xy, centre = normalize(pose, layout, cfg.min_confidence, cfg.per_person, cfg.coords)  # (T, P, J, D), (T, D)
    T, P, J, _ = xy.shape
    parts = [xy.reshape(T, -1), np.isfinite(xy[..., 0]).reshape(T, -1).astype(np.float64)]
    offsets = person_offsets(pose, layout, cfg.min_confidence, cfg.coords).reshape(T, -1) if cfg.per_person else None
    if offsets is not None:
        parts.append(offsets)
    if cfg.velocities:
        parts += [_velocity(xy).reshape(T, -1), _velocity(centre)]
        if offsets is not None:
            parts.append(_velocity(offsets))
    if cfg.long_motion > 0:
        parts.append(_displacement(xy + centre[:, None, None, :], cfg.long_motion).reshape(T, -1))
    if cfg.distances:
        iu = np.triu_indices(J, k=1)
        diff = xy[:, :, :, None, :] - xy[:, :, None, :, :]  # (T, P, J, J, D)
        parts.append(np.linalg.norm(diff, axis=-1)[:, :, iu[0], iu[1]].reshape(T, -1))
    out = np.concatenate(parts, axis=1)
    return np.nan_to_num(out, nan=0.0).astype(np.float32)


def prepare_pose(pose: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The pose clean-up every pose-derived stream shares: person order and held persons (causal).

    Done once per clip (``prepared``) before the descriptor and the action input are computed."""
    if cfg.person_order not in ("slots", "left_right"):
        raise ValueError(f"features.person_order must be 'slots' or 'left_right', not {cfg.person_order!r}")
    if cfg.person_order == "left_right" and pose.shape[1] > 1:
        pose = order_left_right(pose, cfg.min_confidence, cfg.coords)
    if cfg.hold_missing:
        pose = hold_missing(pose, cfg.min_confidence, cfg.coords)
    return pose


def skeleton_context_dim(num_persons: int, layout: JointLayout, cfg: FeatureConfig) -> int:
    J, D = layout.num_joints, cfg.coords
    dim = num_persons * J * (D + 1) + (num_persons * D if cfg.per_person else 0)
    if cfg.velocities:
        dim += num_persons * J * D + D + (num_persons * D if cfg.per_person else 0)
    if cfg.long_motion > 0:
        dim += num_persons * J * D
    if cfg.distances:
        dim += num_persons * J * (J - 1) // 2
    return dim


def action_channels(coords: int = 2) -> int:
    """Channels per joint of ``action_input``: the normalised coordinates, their velocities, visibility."""
    return 2 * coords + 1


def action_input(pose: np.ndarray, layout: JointLayout, min_confidence: float = 0.0, coords: int = 2) -> np.ndarray:
    """(T, P, J, C) pose -> (T, P*J, 2 D + 1): normalised coordinates (D = ``coords``: x, y[, z]), their
    velocities, and visibility per joint (5 channels in 2-D, 7 in 3-D).

    Persons are stacked along the joint axis (person 0's joints first), so the action network's
    convolution across joints also sees co-occurrences between the two persons of an interaction.
    """
    xy, _ = normalize(pose, layout, min_confidence, coords=coords)
    vis = np.isfinite(xy[..., :1]).astype(np.float64)
    feats = np.concatenate([xy, _velocity(xy), vis], axis=-1)  # (T, P, J, 2D + 1)
    T, P, J, C = feats.shape
    return np.nan_to_num(feats, nan=0.0).reshape(T, P * J, C).astype(np.float32)


def prepared(clips: Sequence[Clip], cfg: FeatureConfig) -> list[Clip]:
    """Copies of ``clips`` whose pose went through ``prepare_pose``: what the functions below read.
    A pose whose channels do not match ``cfg.coords`` is refused here, naming the clip."""
    out = []
    for c in clips:
        pose = _pose(c)
        check_channels(pose, cfg.coords, f"clip {c.clip_id!r} ({c.source or 'no source file'})")
        out.append(replace(c, pose=prepare_pose(pose, cfg)))
    return out


def with_skeleton_context(clips: Sequence[Clip], cfg: FeatureConfig) -> list[Clip]:
    """Copies of ``prepared`` clips whose context stream is the skeleton descriptor of their pose."""
    layout = get_layout(cfg.layout)
    return [replace(c, context=skeleton_context(_pose(c), layout, cfg)) for c in clips]


def _pose(clip: Clip) -> np.ndarray:
    if clip.pose is None:
        raise ValueError(f"clip {clip.clip_id!r} has no pose stream; skeleton features need one")
    return np.asarray(clip.pose)


def action_inputs(clips: Sequence[Clip], cfg: FeatureConfig) -> list[np.ndarray]:
    """The action network's input for each of the ``prepared`` clips: a list of (T, P*J, 2 D + 1) arrays."""
    layout = get_layout(cfg.layout)
    return [action_input(_pose(c), layout, cfg.min_confidence, cfg.coords) for c in clips]


@torch.inference_mode()
def action_features(
    net: torch.nn.Module, clips: Sequence[Clip], cfg: FeatureConfig, batch_size: int = 64
) -> list[Clip]:
    """Copies of ``prepared`` clips with the action stream = the action network's per-frame hidden state."""
    net.eval()
    inputs = action_inputs(clips, cfg)
    out: list[Clip] = []
    for s in range(0, len(clips), batch_size):
        joints = pad_stack(inputs[s : s + batch_size])  # (B, T, P*J, 5)
        _, hidden = net(joints)  # (B, T, H)
        for i, c in enumerate(clips[s : s + batch_size]):
            out.append(replace(c, action=hidden[i, : c.num_frames].numpy().copy()))
    return out


def prefix_windows(
    pose: np.ndarray, layout: JointLayout, cfg: FeatureConfig, window: ContextNetConfig, rows: np.ndarray | None = None
) -> np.ndarray:
    """(T, P, J, C) ``prepared`` pose -> (T, L, D) windows: row t is what DD-Net reads of the frames
    seen by t (the last ``window.span`` at most), resampled to L = ``window.window`` frames.

    Per window frame: each person's pairwise joint distances, minus and divided by their mean over
    the window (DD-Net's JCD), then every joint's motion to the next window frame, in body sizes
    (the last frame's is 0). Resampling the prefix makes the motion relative to the time observed.
    Missing -> 0. Row t depends on frames <= t only, and costs O(length), not O(t), online.
    ``rows`` (frame indices) computes only those rows: (len(rows), L, D). With ``window.duration`` each
    row starts with one more channel, log(frames in the window's prefix / span): resampling hides
    whether a window holds a whole action or its first frames, and this says how much was seen.
    With ``window.positions`` the distances are followed by each joint's root-centred coordinates
    (DD-Net's distances say nothing of which way the body faces or points); with ``window.local_motion``
    the motion is that of the root-centred joints (the root's own travel, and a panning camera's, left out);
    with ``window.real_motion`` it is per frame observed, not per window step (the speed itself), and with
    ``window.stretched_speed`` per frame observed only while the prefix is shorter than the window;
    ``window.frame_motion`` adds the motion per frame observed after the distances (and positions);
    ``window.cross`` puts the persons' ``cross_proximity`` right after their own distances."""
    length, span = window.window, window.span
    xy, centre = normalize(pose, layout, cfg.min_confidence, coords=cfg.coords)
    q = xy + centre[:, None, None, :]  # (T, P, J, D): scaled coordinates, global motion kept
    T = len(q)
    ends = (np.arange(T) if rows is None else np.asarray(rows)) + 1
    starts = np.maximum(ends - span, 0)
    src = starts[:, None] + (ends - 1 - starts)[:, None] * np.linspace(0.0, 1.0, length)[None]  # (T, L)
    lo = np.floor(src).astype(int)
    w = (src - lo)[..., None, None, None]
    hi = np.minimum(lo + 1, T - 1)
    win = q[lo] * (1 - w) + q[hi] * w  # (T, L, P, J, D)
    local = xy[lo] * (1 - w) + xy[hi] * w if window.local_motion or window.positions else None  # root-centred
    iu = np.triu_indices(q.shape[2], k=1)
    d = np.linalg.norm(win[:, :, :, iu[0]] - win[:, :, :, iu[1]], axis=-1)  # (T, L, P, J(J-1)/2)
    ok = np.isfinite(d)
    mean = np.where(ok, d, 0.0).sum((1, 3), keepdims=True) / np.maximum(ok.sum((1, 3), keepdims=True), 1)
    jcd = (d - mean) / np.maximum(mean, 1e-6)  # (T, L, P, J(J-1)/2), NaN where a joint is missing
    moving = local if window.local_motion else win  # local: the body's own travel (and the camera's) left out
    motion = np.zeros_like(moving)
    motion[:, :-1] = moving[:, 1:] - moving[:, :-1]
    scale = ((length - 1) / np.maximum(ends - starts - 1, 1))[:, None, None, None, None]  # window steps per frame
    if window.real_motion or window.frame_motion:  # a window step spans (frames - 1) / (L - 1) frames observed
        per_frame = motion * scale
    if window.stretched_speed and not window.real_motion:  # per frame while stretched, per step once compressed
        motion = motion * np.maximum(scale, 1.0)
    n = len(ends)
    parts = [jcd.reshape(n, length, -1)]
    if window.cross:  # every joint of one person against every joint of another, each pair of persons
        parts.append(cross_proximity(win).reshape(n, length, -1))
    if window.positions:  # each joint's root-centred coordinates, in body sizes, at the window frames
        parts.append(local.reshape(n, length, -1))
    if window.frame_motion:  # read with the distances, beside DD-Net's motion
        parts.append(per_frame.reshape(n, length, -1))
    parts.append((per_frame if window.real_motion else motion).reshape(n, length, -1))
    if window.duration:
        parts.insert(0, np.broadcast_to(np.log((ends - starts) / span)[:, None, None], (n, length, 1)))
    out = np.concatenate(parts, axis=-1)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def cross_proximity(q: np.ndarray) -> np.ndarray:
    """(..., P, J, 2) scaled joints -> (..., P(P-1)/2, J, J) proximity 1 / (1 + d) of every joint of person a
    to every joint of person b > a, d in body sizes; 0 where either joint is missing.

    Why a proximity and not the distance: it is bounded, largest at contact (a hand on the other's
    body, two hands meeting) where interactions differ most, and its 0 for a missing joint or person
    reads "not near" instead of the distance 0's "touching"."""
    a, b = np.triu_indices(q.shape[-3], k=1)
    d = np.linalg.norm(q[..., a, :, None, :] - q[..., b, None, :, :], axis=-1)  # (..., pairs, J, J)
    return np.nan_to_num(1.0 / (1.0 + d), nan=0.0)


def window_dims(
    num_persons: int, layout: JointLayout, window: ContextNetConfig | None = None, coords: int = 2
) -> tuple[int, int]:
    """(distance channels (with the duration, position, proximity and per-frame motion channels that
    ``window``'s options add), motion channels) of ``prefix_windows`` rows of ``coords``-D poses."""
    w = window or ContextNetConfig()
    J = layout.num_joints
    extra = int(w.duration) + (w.positions + w.frame_motion) * num_persons * J * coords
    extra += w.cross * num_persons * (num_persons - 1) // 2 * J * J
    return num_persons * J * (J - 1) // 2 + extra, num_persons * J * coords
