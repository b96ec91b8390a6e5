"""Prediction: the students' (fused) class log-probabilities at each observation ratio, the teachers'
on whole clips, with the prediction-only settings of ``ModelConfig`` (``config.PREDICTION_ONLY``:
late fusion with the stream networks' own classifiers, smoothing, test-time mirroring)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from earlyact.augment import mirror_clips
from earlyact.checkpoint import Bundle
from earlyact.config import MIRROR_MODES, PREDICTION_ONLY, ExperimentConfig, ModelConfig
from earlyact.data import Batch, Clip, make_batch
from earlyact.evaluate import ratio_frames
from earlyact.methods import get_method
from earlyact.models import Predictor, fuse_logits, smooth_log_probs
from earlyact.skeleton import get_layout
from earlyact.streams import StreamNets, add_streams, early_views, pose_streams
from earlyact.twin import switch_frames, switch_log_probs


def stored_log_probs(log_p: np.ndarray) -> np.ndarray:
    """Class log-probabilities as runs store them (``predictions.json``): float64 rounded to 5 decimals,
    so that a checkpoint read back predicts what its run did, near-ties included."""
    return log_p.astype(np.float64).round(5)


def predict_ratios(model: Predictor, offline: bool, clips: Sequence[Clip], *args: Any, **kwargs: Any) -> np.ndarray:
    """(R, N) predicted classes at each ratio's last observed frame: the class of highest
    ``predict_log_probs`` (same arguments)."""
    return predict_log_probs(model, offline, clips, *args, **kwargs).argmax(-1)


@torch.no_grad()
def predict_log_probs(
    model: Predictor,
    offline: bool,
    clips: Sequence[Clip],
    streams: Sequence[str],
    ratios: Sequence[float],
    context_head: Callable[[torch.Tensor], torch.Tensor] | None = None,
    fuse: float = 0.0,
    mirrored: Sequence[Clip] | None = None,
    smooth: float = 0.0,
    action_head: Callable[[torch.Tensor], torch.Tensor] | None = None,
    fuse_action: float = 0.0,
    mirror: str = "all",
    pool: str = "log",
    early: Sequence[Clip] | None = None,
    early_head: Callable[[torch.Tensor], torch.Tensor] | None = None,
    early_frames: int = 0,
) -> np.ndarray:
    """(R, N, K) class log-probabilities at each ratio's last observed frame; students causally, teachers
    (offline) on the whole clip (with two views: their mean).

    With ``fuse`` > 0 the students' last stage is fused with ``context_head`` (the skeleton context
    network's classifier) reading the clips' context stream (``models.fuse_logits``); the offline
    teachers are never fused. With ``mirrored`` (the same clips' left-right mirror images,
    ``augment.mirror_clips``, with their streams) the students read both views (``ModelConfig.mirror``):
    ``mirror="all"`` predicts the class of highest mean log-probability over the views, ``"experts"``
    averages only the fused classifiers' log-probabilities over them; the teachers read one view.
    ``smooth`` > 0 pools the students' log-probabilities over the frames seen (``models.smooth_log_probs``);
    ``fuse_action`` > 0 fuses ``action_head`` (the action network's classifier on the action stream) too;
    ``pool`` says how (``ModelConfig.pool``). With ``early`` (the same clips whose context stream is the early
    window net's embedding, ``streams.early_views``) and ``early_frames`` > 0, ``early_head`` replaces
    ``context_head`` in the fusion while fewer than ``early_frames`` frames are seen (``gate_early``)."""
    if mirror not in MIRROR_MODES:
        raise ValueError(f"model.mirror must be one of {MIRROR_MODES}, not {mirror!r}")
    model.eval()
    mirrored = None if offline or mirror == "none" else mirrored
    views = [clips, mirrored] if mirrored is not None and mirror == "all" else [clips]
    experts_only = mirrored is not None and mirror == "experts"
    total = 0.0
    for view in views:
        parts = []
        for s in range(0, len(view), 64):
            b = make_batch(view[s : s + 64], streams)
            other = make_batch(mirrored[s : s + 64], streams) if experts_only else None
            experts = (context_head, fuse), (action_head, fuse_action)
            gate = None
            if early is not None and early_frames > 0 and not offline:
                gate = early_head, make_batch(early[s : s + 64], ["context"]).context, early_frames
            log_p = _log_probs(model, offline, b, *experts, other, pool, gate)  # (B, T, K)
            log_p = log_p if offline else smooth_log_probs(log_p, smooth)
            parts.append(ratio_frames(log_p, b.lengths, ratios))
        total = total + torch.cat(parts, dim=1)  # (R, N, K)
    return (total / len(views)).cpu().numpy()


def _log_probs(
    model: Predictor,
    offline: bool,
    b: Batch,
    context: tuple,
    action: tuple,
    mirrored: Batch | None = None,
    pool: str = "log",
    gate: tuple | None = None,
) -> torch.Tensor:
    """(B, T, K) class log-probabilities of the last stage (students fused with the (head, weight)
    pairs ``context`` and ``action``, each reading its stream, and with ``mirrored`` the mean of its
    log-probabilities over both views; ``gate`` = (early head, its (B, T, D) stream, frames): the early
    expert in the context expert's place while fewer frames than that are seen)."""
    if offline:
        return model.forward_teachers(b.context, b.action, b.lengths)[-1].logits.log_softmax(-1)
    logits = model.forward_students(b.context, b.action)[-1].logits
    (c_head, w), (a_head, v) = context, action
    if w <= 0 and v <= 0:
        return logits.log_softmax(-1)

    def expert(head: Callable[[torch.Tensor], torch.Tensor], stream: str) -> torch.Tensor:
        out = head(getattr(b, stream)).log_softmax(-1)  # (B, T, K)
        return out if mirrored is None else (out + head(getattr(mirrored, stream)).log_softmax(-1)) / 2

    own = expert(c_head, "context") if w > 0 else None
    if own is not None and gate is not None:
        e_head, stream, frames = gate
        own = gate_early(e_head(stream).log_softmax(-1), own, frames)
    return fuse_logits(logits, own, w, expert(a_head, "action") if v > 0 else None, v, pool)


def gate_early(early: torch.Tensor, late: torch.Tensor, frames: int) -> torch.Tensor:
    """(B, T, K) log-probabilities of two experts -> the early one's at the frames where fewer than
    ``frames`` frames are seen (frame index t + 1 < frames), the late one's after: causal, and a
    switch on the frame count, not on the clip's unknown length."""
    seen = torch.arange(1, late.shape[1] + 1, device=late.device)  # frames seen at each index
    return torch.where((seen < frames)[None, :, None], early, late)


def fusion_head(nets: StreamNets, fuse: float) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The classifier fused with the students (``ModelConfig.fuse_context``), None when not fusing."""
    if fuse <= 0:
        return None
    if nets.context is None:
        raise ValueError("model.fuse_context > 0 needs a skeleton context network (context_net.channels > 0)")
    return nets.context.eval().head


def action_fusion_head(nets: StreamNets, fuse_action: float) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The action network's own classifier on the action stream (``ModelConfig.fuse_action``), None when not fusing."""
    if fuse_action <= 0:
        return None
    if nets.action is None:
        raise ValueError("model.fuse_action > 0 needs the action stream's network (streams with 'action')")
    return nets.action.eval().temporal.head


def prediction_options(nets: StreamNets, model: ModelConfig) -> dict[str, Any]:
    """``predict_ratios``' keyword arguments for the prediction-only settings of ``model``
    (``config.PREDICTION_ONLY``: the fusion heads, weights and pool, the smoothing, the mirroring; the
    mirrored clips themselves are the caller's, ``mirrored_views``)."""
    w, v = model.fuse_context, model.fuse_action
    if model.early_frames > 0 and nets.early is None:
        raise ValueError("model.early_frames > 0 needs the early window net (trained when the setting is on)")
    early_head = nets.early.eval().head if model.early_frames > 0 else None
    return {"context_head": fusion_head(nets, w), "fuse": w, "smooth": model.smooth,
            "action_head": action_fusion_head(nets, v), "fuse_action": v, "mirror": model.mirror,
            "pool": model.pool, "early_head": early_head, "early_frames": model.early_frames}  # fmt: skip


def mirrored_views(
    clips: Sequence[Clip], streams: Sequence[str], skeleton: bool, cfg: ExperimentConfig, nets: StreamNets
) -> list[Clip] | None:
    """The clips' left-right mirror images with their streams recomputed, for ``model.mirror`` (None
    when it is "none"). Only pose-derived streams can be mirrored: a context stream read from files
    (CNN features of the frames) cannot."""
    if cfg.model.mirror not in MIRROR_MODES:
        raise ValueError(f"model.mirror must be one of {MIRROR_MODES}, not {cfg.model.mirror!r}")
    if cfg.model.mirror == "none" or not clips:
        return None
    if "context" in streams and not skeleton:
        raise ValueError("model.mirror needs pose-derived streams; this context stream is read from feature files")
    flipped = mirror_clips(clips, get_layout(cfg.features.layout))
    return pose_streams(flipped, streams, skeleton, cfg.features, nets)


def evaluate_checkpoint(bundle: Bundle, clips: Sequence[Clip], ratios: Sequence[float]) -> np.ndarray:
    """(R, N) predictions of a saved model on clips that hold at least the pose stream: the class of
    highest ``checkpoint_log_probs``."""
    return checkpoint_log_probs(bundle, clips, ratios).argmax(-1)


def checkpoint_log_probs(bundle: Bundle, clips: Sequence[Clip], ratios: Sequence[float]) -> np.ndarray:
    """(R, N, K) class log-probabilities (``stored_log_probs``) of a saved model on clips that hold at
    least the pose stream (with a speed twin, ``earlyact.twin``: the twin's while fewer frames than
    ``model.twin_frames``, or its window, are seen, crossfading into the method's over the
    ``model.twin_ramp`` frames before)."""
    if bundle.twin is not None:
        own = checkpoint_log_probs(replace(bundle, twin=None), clips, ratios)
        twin = checkpoint_log_probs(bundle.twin, clips, ratios)
        window = bundle.twin.info["context_net"]["config"]["window"]
        saved = bundle.info["model"]  # older checkpoints: the window, a hard switch
        frames = switch_frames(saved.get("twin_frames", 0), window)
        return switch_log_probs(twin, own, [c.num_frames for c in clips], ratios, frames, saved.get("twin_ramp", 0))
    streams = bundle.info["streams"]
    saved = bundle.info["model"]  # a setting the checkpoint predates is its default
    model_cfg = ModelConfig(**{k: saved[k] for k in PREDICTION_ONLY if k in saved})
    views = [clips]
    if model_cfg.mirror != "none":  # model.mirror: the clips' mirror images too
        views.append(mirror_clips(clips, get_layout(bundle.info["features"]["layout"])))
    views = [add_streams(v, streams, bundle.info, bundle.nets) for v in views]
    views = [[replace(c, context=c.context if "context" in streams else None) for c in v] for v in views]
    offline = get_method(bundle.info["method"]).offline
    options = prediction_options(bundle.nets, model_cfg)
    mirrored = views[1] if len(views) > 1 else None
    early = early_views(clips, bundle.features, bundle.nets.early) if model_cfg.early_frames > 0 else None
    return stored_log_probs(
        predict_log_probs(
            bundle.predictor, offline, views[0], streams, ratios, mirrored=mirrored, early=early, **options
        )
    )
