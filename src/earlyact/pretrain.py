"""Pretraining the stream networks alone, as per-frame classifiers, before the stages read them.

``train_action_net`` (the skeleton network of the paper's Fig. 3, whose LSTM state is the action
stream), ``train_context_net`` and ``train_window_net`` (the skeleton-only context networks). Each
runs on ``train.fit`` (resumable, early stopping on the validation accuracy over the observation
ratios) with clips augmented afresh per batch; the settings a phase depends on are saved with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from earlyact.augment import augment_clip
from earlyact.config import AugmentConfig, ContextNetConfig, FeatureConfig, TrainConfig, to_dict
from earlyact.context_nets import ContextNet, WindowNet
from earlyact.data import Batch, Clip, batch_indices, make_batch, pad_stack
from earlyact.evaluate import observed_frames
from earlyact.features import action_inputs, prefix_windows, prepared, with_skeleton_context
from earlyact.losses import frame_cross_entropy
from earlyact.models import ActionNet
from earlyact.skeleton import get_layout
from earlyact.train import FitResult, clip_digest, epoch_rng, fit, val_score

Encode = Callable[[Sequence[Clip], np.random.Generator | None], Batch]  # clips -> batch (rng: frames drawn)


def train_action_net(
    net: ActionNet, train: Sequence[Clip], val: Sequence[Clip], features: FeatureConfig, aug: AugmentConfig,
    ratios: Sequence[float], cfg: TrainConfig, out_dir: Path, seed: int,
) -> FitResult:  # fmt: skip
    """Train the skeleton network as a per-frame classifier (cross-entropy on every frame)."""

    def encode(clips: Sequence[Clip], rng: np.random.Generator | None) -> Batch:
        inputs = action_inputs(prepared(clips, features), features)
        lengths, labels = torch.tensor([len(x) for x in inputs]), torch.tensor([c.label for c in clips])
        return Batch(lengths=lengths, labels=labels, joints=pad_stack(inputs))

    return _fit_frame_classifier(
        net, lambda b: net(b.joints)[0], encode, train, val, features, aug, ratios, cfg, out_dir, seed, "action net"
    )


def train_context_net(
    net: ContextNet, train: Sequence[Clip], val: Sequence[Clip], features: FeatureConfig, aug: AugmentConfig,
    ratios: Sequence[float], cfg: TrainConfig, out_dir: Path, seed: int,
) -> FitResult:  # fmt: skip
    """Train the context network as a per-frame classifier on the skeleton descriptor of (augmented) poses."""

    def encode(clips: Sequence[Clip], rng: np.random.Generator | None) -> Batch:
        return make_batch(with_skeleton_context(prepared(clips, features), features), ["context"])

    return _fit_frame_classifier(
        net, lambda b: net(b.context)[0], encode, train, val, features, aug, ratios, cfg, out_dir, seed,
        "context net", label_smoothing=net.cfg.label_smoothing,
    )  # fmt: skip


def train_window_net(
    net: WindowNet, train: Sequence[Clip], val: Sequence[Clip], features: FeatureConfig,
    aug: AugmentConfig, ratios: Sequence[float], cfg: TrainConfig, out_dir: Path, seed: int,
) -> FitResult:  # fmt: skip
    """Train the window net on random prefixes: ``net.cfg.prefixes`` frames drawn per clip and batch,
    each frame's window of the prefix seen so far (DD-Net's random-prefix training); with
    ``net.cfg.distill`` each prefix's embedding is also pulled towards the whole clip's (``whole_clip_loss``)."""
    window = net.cfg
    if window.distill < 0 or (window.distill > 0 and window.mixup > 0):
        raise ValueError(f"context_net.distill must be >= 0 and cannot be combined with mixup; got {window}")

    def draw(c: Clip, rng: np.random.Generator) -> np.ndarray:
        return prefix_ends(c.num_frames, window.prefixes, window.prefix_min, rng, *frame_bounds(window))

    def encode(clips: Sequence[Clip], rng: np.random.Generator | None) -> Batch:
        if rng is not None and window.distill > 0:  # training batches: each clip's whole-clip window last

            def ends(c: Clip) -> np.ndarray:
                return np.append(draw(c, rng), c.num_frames - 1)

            wins = _windows(clips, features, window, ends)
            lengths, labels = torch.tensor([len(w) - 1 for w in wins]), torch.tensor([c.label for c in clips])
            rows = torch.from_numpy(np.stack(wins))  # (B, R + 1, L, D): equal row counts
            return Batch(lengths=lengths, labels=labels, context=rows[:, :-1], whole=rows[:, -1:])
        pick = None if rng is None else (lambda c: draw(c, rng))
        wins = _windows(clips, features, window, pick)  # all frames' windows without a generator
        lengths, labels = torch.tensor([len(w) for w in wins]), torch.tensor([c.label for c in clips])
        if rng is None or window.mixup <= 0:
            return Batch(lengths=lengths, labels=labels, context=pad_stack(wins))
        x, partner = mixup(torch.from_numpy(np.stack(wins)), labels, window.mixup, rng)  # drawn rows: equal counts
        return Batch(lengths=lengths, labels=labels, context=x, partner=partner)

    return _fit_frame_classifier(
        net, lambda b: net(b.context)[0], encode, train, val, features, aug, ratios, cfg, out_dir, seed,
        "window net", sampled=True, score_fn=_window_score(net, val, features, ratios),
        label_smoothing=window.label_smoothing, forward=lambda b: whole_clip_loss(net, b, window.distill),
    )  # fmt: skip


def whole_clip_loss(net: WindowNet, b: Batch, weight: float) -> tuple[torch.Tensor, torch.Tensor | float]:
    """The window net's logits (B, R, K) on the batch's prefix windows, and ``weight`` x the squared
    distance (mean over units, summed over each clip's rows, mean over clips) from each prefix's
    embedding to the whole clip's (``b.whole``), computed by the same net without gradient in eval mode.

    The paper distils a teacher that saw the whole clip into a causal student at the LSTM stages; on
    skeletons the window net is the stream the stages lean on, so this asks it, from each prefix, for
    what it will make of the whole clip (0 or no ``b.whole``: cross-entropy alone, as before)."""
    logits, emb = net(b.context)  # (B, R, K), (B, R, E)
    if weight <= 0 or b.whole is None:
        return logits, 0.0
    was_training = net.training
    with torch.no_grad():
        net.eval()
        _, target = net(b.whole)  # (B, 1, E)
    net.train(was_training)
    return logits, weight * ((emb - target) ** 2).mean(-1).sum(1).mean()


def prefix_ends(
    num_frames: int, count: int, prefix_min: float, rng: np.random.Generator, min_frames: int = 0, max_frames: int = 0
) -> np.ndarray:
    """``count`` last frames (0-based) of random training prefixes that cover at least ``prefix_min``
    of a clip of ``num_frames`` frames (uniform over the allowed ends; ``prefix_min`` 1: the whole clip),
    at least ``min_frames`` long (a shorter clip: whole) and, when ``max_frames`` > 0, at most that long,
    which wins over the other two: a window net trained only on the prefixes it will predict from
    (``context_net.prefix_frames_min``, ``twin_prefixes``)."""
    if not 0.0 <= prefix_min <= 1.0:
        raise ValueError(f"context_net.prefix_min must be in [0, 1]; got {prefix_min}")
    first = observed_frames(num_frames, prefix_min) - 1 if prefix_min > 0 else 0
    first = max(first, min(min_frames, num_frames) - 1)
    last = num_frames - 1 if max_frames <= 0 else min(max_frames, num_frames) - 1
    return rng.integers(min(first, last), last + 1, count)


def frame_bounds(window: ContextNetConfig) -> tuple[int, int]:
    """The training prefixes' bounds in frames, (at least, at most; 0: none), checked."""
    if window.prefix_frames_min < 0 or window.prefix_frames_max < 0:
        raise ValueError(f"context_net.prefix_frames_min and prefix_frames_max must be >= 0; got {window}")
    return window.prefix_frames_min, window.prefix_frames_max


def mixup(
    x: torch.Tensor, labels: torch.Tensor, alpha: float, rng: np.random.Generator
) -> tuple[torch.Tensor, tuple[torch.Tensor, float]]:
    """Mixup (Zhang et al. 2018): x (B, ...) blended with itself in a random order, w x + (1 - w) x[perm],
    w ~ Beta(alpha, alpha); returns the blend and (the partners' labels, w) for the loss's two targets.
    A regulariser for a network that sees few actors: it keeps the classifier linear between clips."""
    w = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(len(labels)))
    return w * x + (1 - w) * x[perm], (labels[perm], w)


def _window_score(
    net: WindowNet, val: Sequence[Clip], features: FeatureConfig, ratios: Sequence[float]
) -> Callable[[], float] | None:
    """``val_score`` of the window net, from the windows of the ratios' frames alone.

    Each frame's window is read on its own (``WindowNet``), so the rows of the frames the score
    looks at give the same value as all rows, at a fraction of the cost (about 30 rows per JHMDB
    clip against 10 ratios). None without validation clips."""
    if not val:
        return None
    wins = _windows(val, features, net.cfg, lambda c: np.array([observed_frames(c.num_frames, r) - 1 for r in ratios]))
    x, labels = torch.from_numpy(np.stack(wins)), torch.tensor([c.label for c in val])  # (N, R, L, D), (N,)

    @torch.no_grad()
    def score() -> float:
        return float((net(x)[0].argmax(-1) == labels[:, None]).double().mean())

    return score


def _windows(
    clips: Sequence[Clip], features: FeatureConfig, window: ContextNetConfig,
    rows: Callable[[Clip], np.ndarray] | None,
) -> list[np.ndarray]:  # fmt: skip
    """Each clip's prefix windows (R, L, D) at the frames ``rows(clip)`` names (None: every frame)."""
    layout = get_layout(features.layout)
    return [prefix_windows(np.asarray(c.pose), layout, features, window, None if rows is None else rows(c))
            for c in prepared(clips, features)]  # fmt: skip


def _fit_frame_classifier(
    net: ActionNet | ContextNet | WindowNet, logits: Callable[[Batch], torch.Tensor], encode: Encode,
    train: Sequence[Clip], val: Sequence[Clip], features: FeatureConfig, aug: AugmentConfig,
    ratios: Sequence[float], cfg: TrainConfig, out_dir: Path, seed: int, desc: str, sampled: bool = False,
    score_fn: Callable[[], float] | None = None, label_smoothing: float = 0.0,
    forward: Callable[[Batch], tuple[torch.Tensor, torch.Tensor | float]] | None = None,
) -> FitResult:  # fmt: skip
    """A network trained alone as a per-frame classifier (cross-entropy on every frame) on clips
    augmented afresh per batch, then ``encode``d (with a generator when ``sampled``: the encoder
    draws which frames to train on); scored (``val_score``, or ``score_fn`` when it computes the
    same faster) on the unaugmented validation clips; without any, trained for ``cfg.epochs``.
    ``forward`` (training batches only) gives the logits and a term added to the loss."""
    layout = get_layout(features.layout)

    def to_batch(clips: Sequence[Clip], rng: np.random.Generator | None = None) -> Batch:
        if rng is not None and aug.enabled:
            clips = [augment_clip(c, rng, aug, layout, features.coords) for c in clips]  # they read the pose alone
        return encode(clips, rng if sampled else None)

    def batches(gen: torch.Generator) -> list[Batch]:
        idx = batch_indices(len(train), cfg.batch_size, gen)
        return [to_batch([train[i] for i in c], epoch_rng(gen) if aug.enabled or sampled else None) for c in idx]

    def loss_fn(b: Batch):
        out, extra = forward(b) if forward is not None else (logits(b), 0.0)
        loss = frame_cross_entropy(out, b.labels, b.lengths, label_smoothing) + extra
        if b.partner is not None:  # mixup: the blend's two targets, each by its weight
            labels, w = b.partner
            loss = w * loss + (1 - w) * frame_cross_entropy(out, labels, b.lengths, label_smoothing)
        return loss, ({"distill": extra.item()} if isinstance(extra, torch.Tensor) else {})

    if score_fn is None and val:
        val_batch = to_batch(val)
        score_fn = lambda: val_score(logits, val_batch, ratios)  # noqa: E731
    settings = {"network": to_dict(net.cfg), "features": to_dict(features), "augment": to_dict(aug),
                "clips": clip_digest(train, val)}  # fmt: skip
    return fit(net, list(net.parameters()), batches, loss_fn, score_fn, cfg, out_dir, seed, desc, settings=settings)
