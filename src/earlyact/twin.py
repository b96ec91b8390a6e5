"""The speed twin (``speed_twin``): a second copy of every method for the frames a window stretches.

The window net (``context_nets.WindowNet``) resamples each frame's observed prefix to a fixed number of
window frames. A prefix shorter than the window is stretched, and DD-Net's motion per window step
shrinks with it by (frames - 1) / (window - 1): early on, how fast the body moves is hidden. A
longer prefix is compressed, and the motion relative to the time observed is what tells the
actions apart. The twin is the same method trained on window rows of the motion per frame observed
(``context_net.real_motion``); it predicts while fewer frames than the window are seen, and the
method itself from then on. The switch reads the frame count alone, so it stays causal and O(1)
per frame online (both run until the window fills, then the method alone). Measured on validation
(docs/experiments.md, stop 30): either motion alone gains at some ratios and loses at others, and
one network reading both (``context_net.stretched_speed``) keeps less of the gain than the switch.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from earlyact.config import ExperimentConfig
from earlyact.context_nets import per_frame_motion_config
from earlyact.evaluate import observed_frames
from earlyact.storage import atomic_dir


def twin_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """The twin's config: ``cfg`` with its window net (as many members) reading the motion per frame
    observed, and no twin of its own. Its training prefixes have no lower bound in frames (it predicts
    from the shortest), and with ``twin_prefixes`` are shorter than the window (all it predicts from)."""
    if cfg.context_net.window <= 0:
        raise ValueError("speed_twin needs the window net (context_net.window > 0)")
    net = per_frame_motion_config(cfg.context_net)
    if cfg.twin_prefixes:
        net = replace(net, prefix_frames_max=net.window - 1)
    model = replace(cfg.model, twin_frames=0, twin_ramp=0)  # the switch is the method's: the twin's ignores it
    return replace(cfg, speed_twin=False, twin_prefixes=False, context_net=net, model=model)


def switch_frames(twin_frames: int, window: int) -> int:
    """The frame count from which the method predicts instead of its twin: ``model.twin_frames``, or
    the window (0), where a prefix stops being stretched to the window and starts being compressed."""
    if twin_frames < 0:
        raise ValueError(f"model.twin_frames must be >= 0 (0: the window); got {twin_frames}")
    return twin_frames or window


def check_ramp(ramp: int, frames: int) -> int:
    """``model.twin_ramp``, checked against the switch frame ``frames``: a crossfade of 0 (a hard switch)
    to ``frames - 1`` frames, so that the twin alone predicts at least the first frame."""
    if ramp < 0 or ramp >= frames:
        raise ValueError(f"model.twin_ramp must be in [0, the switch frame {frames}); got {ramp}")
    return ramp


def twin_weights(lengths: Sequence[int], ratios: Sequence[float], frames: int, ramp: int = 0) -> np.ndarray:
    """(R, N) weight of the twin in each ratio's prediction of each clip: 1 while fewer than
    ``frames - ramp`` frames are seen (``evaluate.observed_frames``), 0 from ``frames`` on, and over the
    ``ramp`` frames between a linear crossfade (the s-th of them: 1 - s / (ramp + 1)) instead of a jump:
    both systems carry evidence near the switch, and a live prediction does not jump at one frame."""
    check_ramp(ramp, frames)
    seen = np.array([[observed_frames(int(n), r) for n in lengths] for r in ratios], dtype=float)
    seen = seen.reshape(len(ratios), len(lengths))  # (R, N), also when N = 0
    return np.clip((frames - seen) / (ramp + 1), 0.0, 1.0)


def switch_log_probs(
    twin: np.ndarray, own: np.ndarray, lengths: Sequence[int], ratios: Sequence[float], frames: int, ramp: int = 0
) -> np.ndarray:
    """(R, N, K) class log-probabilities of the twin and the method -> their mix by ``twin_weights``:
    the twin's while fewer than ``frames - ramp`` frames are seen, the method's from ``frames`` on,
    a weighted sum (a product of the two experts) between."""
    w = twin_weights(lengths, ratios, frames, ramp)[..., None]  # (R, N, 1)
    return np.where(w >= 1, twin, np.where(w <= 0, own, w * twin + (1 - w) * own))


def share_action_net(out_dir: Path, twin_dir: Path) -> None:
    """Copy a finished action network into the twin's folder: the twin's is the same network (same
    settings and seed; its training is only resumed there, and left alone if already present)."""
    src, dst = out_dir / "action_net", twin_dir / "action_net"
    if (src / "state.json").exists() and not dst.exists():
        with atomic_dir(dst) as tmp:
            shutil.copytree(src, tmp, dirs_exist_ok=True)


def attach_twin(checkpoint: Path, twin_checkpoint: Path) -> None:
    """Put the twin's checkpoint inside the method's (``twin/``): ``checkpoint.load_checkpoint`` loads
    both and ``predict.evaluate_checkpoint`` switches between them as the run did."""
    with atomic_dir(checkpoint / "twin") as tmp:
        shutil.copytree(twin_checkpoint, tmp, dirs_exist_ok=True)
