"""Learned feature streams: the frozen networks that turn poses into what the stages read.

* The action network (paper Fig. 3): its per-frame LSTM state is the action stream.
* The context network (``context_nets.ContextNet``): on pose-only data, its per-frame embedding of the
  skeleton descriptor is the context stream (the counterpart of the paper's ImageNet CNN).
* The window network (``context_nets.WindowNet``, ``context_net.window > 0``): DD-Net over each frame's
  window of the observed prefix (``features.prefix_windows``); its embedding is the context stream.

Each is trained first as a classifier on the training clips, then frozen; the teachers and
students are trained on the streams it computes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from earlyact.augment import augment_clip
from earlyact.config import ExperimentConfig, FeatureConfig, from_dict, to_dict
from earlyact.context_nets import ContextNet, WindowEnsemble, WindowNet, early_config, make_window_net, member_seed
from earlyact.data import Clip, make_batch, pad_stack
from earlyact.evaluate import ratio_predictions
from earlyact.features import (
    action_channels,
    action_features,
    prefix_windows,
    prepared,
    window_dims,
    with_skeleton_context,
)
from earlyact.models import ActionNet, StreamNets
from earlyact.pretrain import train_action_net, train_context_net, train_window_net
from earlyact.skeleton import get_layout


def context_source(clips: Sequence[Clip], choice: str = "auto") -> str:
    """'dataset' when every clip carries a context stream (e.g. CNN features) and ``choice`` is
    "auto", else 'skeleton' (``choice`` is ``FeatureConfig.context``)."""
    if choice not in ("auto", "skeleton"):
        raise ValueError(f"features.context must be 'auto' or 'skeleton', not {choice!r}")
    if choice == "skeleton":
        return "skeleton"
    return "dataset" if all(c.context is not None for c in clips) else "skeleton"


def pose_streams(
    clips: Sequence[Clip], streams: Sequence[str], skeleton_context: bool, features: FeatureConfig,
    nets: StreamNets, training: bool = False,
) -> list[Clip]:  # fmt: skip
    """Compute the pose-derived streams of ``clips``: the skeleton context (embedded by the context
    network when there is one) and the action stream (training clips: from ``nets.train_action``).
    Training clips read ``nets.train_context`` / ``nets.train_action`` (out-of-fold networks, when set).
    The pose is prepared (person order, held persons) once for both; the copies keep the pose given."""
    if not (("context" in streams and skeleton_context) or "action" in streams):
        return list(clips)  # no pose-derived stream: clips without a pose are fine
    out = prepared(clips, features)
    if "context" in streams and skeleton_context:
        context = nets.train_context if training and nets.train_context is not None else nets.context
        out = _per_clip_nets(out, context, lambda net, group: _context_stream(group, features, net))
    if "action" in streams:
        net = nets.train_action if training else nets.action
        if net is None:
            raise ValueError("the action stream needs an action network")
        out = _per_clip_nets(out, net, lambda net, group: action_features(net, group, features))
    return [replace(o, pose=c.pose) for o, c in zip(out, clips, strict=True)]


def _context_stream(
    clips: list[Clip], features: FeatureConfig, net: ContextNet | WindowNet | WindowEnsemble | None
) -> list[Clip]:
    """The skeleton context stream of ``prepared`` clips: the window net's embedding, or the
    descriptor (embedded by the context network when there is one)."""
    if isinstance(net, WindowNet | WindowEnsemble):
        return window_features(net, clips, features)
    out = with_skeleton_context(clips, features)
    return out if net is None else context_features(net, out)


def add_streams(clips: Sequence[Clip], streams: Sequence[str], info: dict[str, Any], nets: StreamNets) -> list[Clip]:
    """Compute the streams a checkpoint reads (described by its ``info``) for ``clips``."""
    skeleton = "context" in streams and info["stream_specs"]["context"]["source"] == "skeleton"
    return pose_streams(clips, streams, skeleton, from_dict(FeatureConfig, info["features"]), nets)


@torch.inference_mode()
def context_features(net: ContextNet, clips: Sequence[Clip], batch_size: int = 64) -> list[Clip]:
    """Copies of ``clips`` whose context stream is the context network's per-frame embedding."""
    net.eval()
    out: list[Clip] = []
    for s in range(0, len(clips), batch_size):
        chunk = clips[s : s + batch_size]
        _, emb = net(pad_stack([np.asarray(c.context, dtype=np.float32) for c in chunk]))  # (B, T, E)
        out += [replace(c, context=emb[i, : c.num_frames].numpy().copy()) for i, c in enumerate(chunk)]
    return out


@torch.inference_mode()
def window_features(
    net: WindowNet | WindowEnsemble, clips: Sequence[Clip], features: FeatureConfig, batch_size: int = 16
) -> list[Clip]:
    """Copies of ``prepared`` clips whose context stream is the window net's per-frame embedding."""
    net.eval()
    layout = get_layout(features.layout)
    configs = [m.cfg for m in net.members] if isinstance(net, WindowEnsemble) else [net.cfg]
    out: list[Clip] = []
    for s in range(0, len(clips), batch_size):
        chunk = clips[s : s + batch_size]
        rows: dict[str, torch.Tensor] = {}  # members that read the same rows share them
        for cfg in configs:
            if repr(cfg) not in rows:
                rows[repr(cfg)] = pad_stack([prefix_windows(np.asarray(c.pose), layout, features, cfg) for c in chunk])
        wins = [rows[repr(cfg)] for cfg in configs]
        _, emb = net(wins if isinstance(net, WindowEnsemble) else wins[0])  # (B, T, net.dim)
        out += [replace(c, context=emb[i, : c.num_frames].numpy().copy()) for i, c in enumerate(chunk)]
    return out


@torch.inference_mode()
def context_net_predictions(
    net: ContextNet | WindowNet | WindowEnsemble,
    clips: Sequence[Clip],
    features: FeatureConfig,
    ratios: Sequence[float],
) -> np.ndarray:
    """(R, N) classes the context (or window) network alone predicts from the pose of ``clips`` at
    each ratio: its own classifier on the embedding it gives stage 1 (a diagnostic and a baseline)."""
    batch = make_batch(pose_streams(clips, ["context"], True, features, StreamNets(context=net)), ["context"])
    return ratio_predictions(net.eval().head(batch.context), batch.lengths, ratios)


def fit_context_net(
    train: Sequence[Clip], val: Sequence[Clip], num_classes: int, cfg: ExperimentConfig, out_dir: Path, seed: int
) -> tuple[ContextNet | WindowNet | WindowEnsemble, dict[str, Any]]:
    """Train (or reload) the context (or, with ``context_net.window``, window) network on the
    training clips; returns it and its description."""
    if cfg.context_net.window > 0:
        return _fit_window_net(train, val, num_classes, cfg, out_dir, seed)
    descriptors = with_skeleton_context(prepared(train, cfg.features), cfg.features)
    dim = descriptors[0].context.shape[1]
    torch.manual_seed(seed)
    net = ContextNet(dim, num_classes, cfg.context_net)
    net.norm.fit(torch.from_numpy(np.concatenate([c.context for c in descriptors])))
    train_context_net(net, train, val, cfg.features, cfg.context_augment, cfg.ratios, cfg.context_train, out_dir, seed)
    desc = {"input_dim": dim, "num_classes": num_classes, "config": to_dict(cfg.context_net)}
    return net.eval(), desc


def fit_early_net(
    train: Sequence[Clip], val: Sequence[Clip], num_classes: int, cfg: ExperimentConfig, out_dir: Path, seed: int
) -> tuple[WindowNet, dict[str, Any]]:
    """Train (or reload) the early window net of ``model.early_frames``: the window net's twin
    (``context_nets.early_config``), from the same seed as its first member, fused while few frames are seen."""
    if cfg.context_net.window <= 0 or cfg.model.fuse_context <= 0:
        raise ValueError("model.early_frames needs the window net (context_net.window > 0) and model.fuse_context > 0")
    if cfg.model.mirror != "none":
        raise ValueError("model.early_frames does not combine with model.mirror (the early net reads one view)")
    net, desc = _fit_window_net(train, val, num_classes, replace(cfg, context_net=early_config(cfg.context_net)),
                                out_dir, seed)  # fmt: skip
    assert isinstance(net, WindowNet)  # early_config: one member
    return net, desc


def early_views(clips: Sequence[Clip], features: FeatureConfig, net: WindowNet | None) -> list[Clip] | None:
    """Copies of ``clips`` whose context stream is the early window net's embedding (None without one)."""
    return None if net is None else pose_streams(clips, ["context"], True, features, StreamNets(context=net))


def member_folder(out_dir: Path, i: int) -> Path:
    """Where window-net ensemble member i trains: member 0 in ``out_dir`` itself (this seed's single
    net, so a one-net run's folder is reused), the others in ``member_i/``."""
    return out_dir if i == 0 else out_dir / f"member_{i}"


def _fit_window_net(
    train: Sequence[Clip], val: Sequence[Clip], num_classes: int, cfg: ExperimentConfig, out_dir: Path, seed: int
) -> tuple[WindowNet | WindowEnsemble, dict[str, Any]]:
    win = cfg.context_net
    if win.window % 4 or win.span < 1 or win.prefixes < 1 or win.members < 1:
        raise ValueError(f"context_net.window must be a multiple of 4 and span, prefixes, members >= 1; got {win}")
    if win.speed_members and (win.members < 2 or win.real_motion):
        raise ValueError(f"context_net.speed_members needs members >= 2 and real_motion off; got {win}")
    persons, _ = _num_persons_joints(train)
    dist, motion = window_dims(persons, get_layout(cfg.features.layout), win, cfg.features.coords)
    net = make_window_net(dist, motion, num_classes, win, seed)
    aug, opt = cfg.context_augment, cfg.context_train
    for i, member in enumerate(net.members if isinstance(net, WindowEnsemble) else [net]):  # each its own run
        folder = member_folder(out_dir, i)
        train_window_net(member, train, val, cfg.features, aug, cfg.ratios, opt, folder, member_seed(seed, i))
    desc = {"dist_dim": dist, "motion_dim": motion, "num_classes": num_classes, "config": to_dict(win)}
    return net.eval(), desc


def _num_persons_joints(clips: Sequence[Clip]) -> tuple[int, int]:
    shapes = {c.pose.shape[1:3] for c in clips if c.pose is not None}
    if len(shapes) != 1:
        raise ValueError(f"clips need one pose shape (persons, joints) for the action network; found {sorted(shapes)}")
    return shapes.pop()


def fit_action_net(
    train: Sequence[Clip], val: Sequence[Clip], num_classes: int, cfg: ExperimentConfig, out_dir: Path, seed: int,
) -> tuple[ActionNet, dict[str, Any]]:  # fmt: skip
    """Train (or reload) the skeleton network on the training clips; returns it and its description."""
    persons, joints = _num_persons_joints(train)
    torch.manual_seed(seed)
    channels = action_channels(cfg.features.coords)
    net = ActionNet(persons * joints, channels, num_classes, cfg.action_net)
    train_action_net(net, train, val, cfg.features, cfg.augment, cfg.ratios, cfg.action_train, out_dir, seed)
    desc = {"num_joints": persons * joints, "persons": persons, "in_channels": channels, "num_classes": num_classes,
            "config": to_dict(cfg.action_net)}  # fmt: skip
    return net.eval(), desc


def fold_action_nets(
    train: Sequence[Clip], val: Sequence[Clip], num_classes: int, cfg: ExperimentConfig, out_dir: Path, seed: int
) -> dict[str, ActionNet]:
    """{clip id: an action network that never saw that clip}, from ``cfg.action_folds`` networks.

    Stage 2 then learns from training-clip action features as good (or as bad) as those it will
    meet on new clips, instead of features of a network that memorised its training clips.
    """
    return _fold_nets(train, cfg.action_folds, seed, lambda rest, k: fit_action_net(
        rest, val, num_classes, cfg, out_dir / f"action_net_fold{k}", seed)[0])  # fmt: skip


def fold_context_nets(
    train: Sequence[Clip], val: Sequence[Clip], num_classes: int, cfg: ExperimentConfig, out_dir: Path, seed: int
) -> dict[str, ContextNet | WindowNet | WindowEnsemble]:
    """{clip id: a context (or window) network that never saw that clip}, from ``cfg.context_folds``
    networks: stage 1 learns how far to trust the context stream from features as good as on new clips."""
    return _fold_nets(train, cfg.context_folds, seed, lambda rest, k: fit_context_net(
        rest, val, num_classes, cfg, out_dir / f"context_net_fold{k}", seed)[0])  # fmt: skip


def _fold_nets(train: Sequence[Clip], k: int, seed: int, fit) -> dict[str, Any]:
    """{clip id: ``fit(clips of the other folds, fold)``} over k stratified folds: each class's clips
    dealt round-robin in a seeded order."""
    rng = np.random.default_rng(seed)
    fold, counter = {}, 0
    for label in sorted({c.label for c in train}):
        ids = [c.clip_id for c in train if c.label == label]
        for i in rng.permutation(len(ids)):
            fold[ids[i]] = counter % k
            counter += 1
    nets = {}
    for j in range(k):
        net = fit([c for c in train if fold[c.clip_id] != j], j)
        nets.update({cid: net for cid, f in fold.items() if f == j})
    return nets


def _per_clip_nets(clips: list[Clip], nets: dict[str, Any] | Any, compute) -> list[Clip]:
    """``compute(net, clips)`` with one network, or with each clip's own (out-of-fold) network."""
    if not isinstance(nets, dict):
        return compute(nets, clips)
    out = {}
    for net in {id(n): n for n in nets.values()}.values():
        group = [c for c in clips if nets[c.clip_id] is net]
        out.update({c.clip_id: c for c in compute(net, group)})
    return [out[c.clip_id] for c in clips]


def make_transform(cfg: ExperimentConfig, skeleton_context: bool, nets: StreamNets, cache_size: int = 4096):
    """Per-batch training transform: augment the pose, recompute the streams (None if disabled).

    The streams are a pure function of the pose (frozen networks), so they are memoised by pose
    content (at most ``cache_size`` clips): with mirroring alone each clip has two versions, and
    every epoch after the first costs no network pass. Results are the same as without the cache."""
    if not cfg.augment.enabled:
        return None
    if "context" in cfg.streams and not skeleton_context:
        raise ValueError("pose augmentation needs pose-derived streams; this context stream comes from the dataset")
    layout = get_layout(cfg.features.layout)
    cache: dict[bytes, Clip] = {}

    def transform(clips: list[Clip], rng: np.random.Generator) -> list[Clip]:
        out = [augment_clip(c, rng, cfg.augment, layout, cfg.features.coords) for c in clips]
        keys = [_pose_key(c) for c in out]
        todo = {k: c for k, c in zip(keys, out, strict=True) if k not in cache}
        done = pose_streams(list(todo.values()), cfg.streams, skeleton_context, cfg.features, nets, training=True)
        fresh = dict(zip(todo, done, strict=True)) if todo else {}
        if len(cache) + len(fresh) <= cache_size:
            cache.update(fresh)
        return [cache[k] if k in cache else fresh[k] for k in keys]

    return transform


def _pose_key(clip: Clip) -> bytes:
    """A digest of the clip's identity and pose values (what its pose-derived streams depend on)."""
    pose = np.ascontiguousarray(clip.pose)
    head = f"{clip.clip_id}|{pose.dtype}|{pose.shape}".encode()
    return hashlib.blake2b(head + pose.tobytes(), digest_size=16).digest()
