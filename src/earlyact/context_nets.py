"""The pose-only context networks: what stage 1 reads when there is no RGB frame.

The paper's context stream is an ImageNet CNN's embedding of each frame, a network pretrained as a
classifier and then frozen. Its skeleton counterparts here are pretrained the same way
(``pretrain``) and frozen: ``ContextNet``, a causal temporal CNN over the skeleton descriptor, and
``WindowNet``, DD-Net (Yang et al. 2019) over each frame's observed prefix resampled to a fixed
window (``features.prefix_windows``), alone or as a ``WindowEnsemble``. Plain ``nn.Module``s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
from torch import nn

from earlyact.config import ContextNetConfig
from earlyact.models import Standardize


class CausalConv(nn.Module):
    """Conv1d over time padded on the left only (frame t sees frames <= t), BN, LeakyReLU, channel dropout."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int, dropout: float, padding: str = "zeros"):
        super().__init__()
        if padding not in ("zeros", "first"):
            raise ValueError(f"context_net.padding must be 'zeros' or 'first', not {padding!r}")
        self.pad = (kernel - 1) * dilation
        self.mode = "constant" if padding == "zeros" else "replicate"
        self.conv = nn.Conv1d(c_in, c_out, kernel, dilation=dilation, bias=False)
        self.norm = nn.BatchNorm1d(c_out)  # eval: a fixed per-channel affine map, so still causal
        self.drop = nn.Dropout1d(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C', T)
        x = self.conv(nn.functional.pad(x, (self.pad, 0), mode=self.mode))
        return self.drop(nn.functional.leaky_relu(self.norm(x), 0.2))


class ContextNet(nn.Module):
    """Causal temporal CNN over a per-frame skeleton descriptor; its embedding is a context stream.

    The skeleton-only stand-in for the paper's ImageNet CNN: pretrained as a per-frame classifier,
    then frozen, its embedding feeds stage 1. The blocks follow DD-Net (1x1, k=3, 1x1 convolutions,
    then wider k=3 blocks) with two changes for online use: dilations instead of temporal pooling
    and left-only padding, so frame t depends on frames <= t (receptive field ``receptive_field``),
    and a running maximum over time in place of global max pooling: "the strongest evidence so far",
    O(1) per frame online.
    """

    def __init__(self, input_dim: int, num_classes: int, cfg: ContextNetConfig):
        super().__init__()
        self.cfg = cfg
        f, p = cfg.channels, cfg.dropout
        specs = [(input_dim, 2 * f, 1, 1), (2 * f, f, 3, 1), (f, f, 1, 1), (f, 2 * f, 3, 2), (2 * f, 2 * f, 3, 2),
                 (2 * f, 4 * f, 3, 4), (4 * f, 4 * f, 3, 4)]  # fmt: skip  # (in, out, kernel, dilation)
        self.norm = Standardize(input_dim)
        self.blocks = nn.Sequential(*(CausalConv(a, b, k, d, p, cfg.padding) for a, b, k, d in specs))
        self.receptive_field = 1 + sum((k - 1) * d for _, _, k, d in specs)
        self.dim = 4 * f
        q = cfg.head_dropout
        self.head = nn.Sequential(
            nn.Dropout(q), nn.Linear(self.dim, 128), nn.LeakyReLU(0.2), nn.Dropout(q), nn.Linear(128, num_classes)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, D) -> logits (B, T, K), embedding (B, T, 4f)."""
        h = self.blocks(self.norm(x).transpose(1, 2)).transpose(1, 2)  # (B, T, 4f)
        emb = torch.cummax(h, dim=1).values
        return self.head(emb), emb


def _conv(c_in: int, c_out: int, kernel: int) -> list[nn.Module]:
    return [nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2, bias=False), nn.BatchNorm1d(c_out), nn.LeakyReLU(0.2)]


def _embed(c_in: int, f: int, p: float, pool: bool) -> nn.Sequential:
    """DD-Net's embedding of one input: 1x1 (2f), k=3 (f), 1x1 (f) convolutions, optional pooling."""
    layers = [*_conv(c_in, 2 * f, 1), nn.Dropout1d(p), *_conv(2 * f, f, 3), nn.Dropout1d(p), *_conv(f, f, 1)]
    return nn.Sequential(*layers, *([nn.MaxPool1d(2)] if pool else []), nn.Dropout1d(p))


class WindowNet(nn.Module):
    """DD-Net (Yang et al. 2019) over each frame's window of the observed prefix (``features.prefix_windows``).

    Row t of the input is the prefix seen by frame t resampled to L frames, so the network reads
    what was seen so far at the time scale of the action observed; trained on random prefixes,
    its 128-d embedding is a context stream. Online it runs once per frame on a fixed-size window.
    """

    def __init__(self, dist_dim: int, motion_dim: int, num_classes: int, cfg: ContextNetConfig):
        super().__init__()
        f, p, q = cfg.channels, cfg.dropout, cfg.head_dropout
        self.split, self.cfg = (dist_dim, motion_dim), cfg
        self.dist, self.slow = _embed(dist_dim, f, p, True), _embed(motion_dim, f, p, True)
        self.fast = _embed(motion_dim, f, p, False)  # motion over two window frames: half as many, no pooling
        self.body = nn.Sequential(
            *_conv(3 * f, 2 * f, 3), *_conv(2 * f, 2 * f, 3), nn.MaxPool1d(2), nn.Dropout1d(p),
            *_conv(2 * f, 4 * f, 3), *_conv(4 * f, 4 * f, 3), nn.MaxPool1d(2), nn.Dropout1d(p),
            *_conv(4 * f, 8 * f, 3), *_conv(8 * f, 8 * f, 3), nn.Dropout1d(p),
        )  # fmt: skip
        self.embed = nn.Sequential(
            nn.Linear(8 * f, 128, bias=False), nn.BatchNorm1d(128), nn.LeakyReLU(0.2), nn.Dropout(q),
            nn.Linear(128, 128, bias=False), nn.BatchNorm1d(128), nn.LeakyReLU(0.2),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Dropout(q), nn.Linear(128, num_classes))
        self.dim = 128

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, L, D) windows -> logits (B, T, K), embedding (B, T, 128)."""
        B, T, L, _ = x.shape
        dist, slow = x.reshape(B * T, L, -1).transpose(1, 2).split(self.split, dim=1)  # (BT, D', L)
        fast = slow[..., 0::2] + slow[..., 1::2]  # motion over two window frames
        h = torch.cat([self.dist(dist), self.slow(slow), self.fast(fast)], dim=1)  # (BT, 3f, L/2)
        emb = self.embed(self.body(h).amax(-1))  # (BT, 128)
        return self.head(emb).reshape(B, T, -1), emb.reshape(B, T, -1)


class WindowEnsemble(nn.Module):
    """Window nets trained apart (own initialisation, batches and early stopping), used together:
    their mean class log-probabilities and their embeddings joined.

    One window net's accuracy moves by a point or two with its initialisation; an ensemble averages
    that out, for M times the cost (on JHMDB validation two members gained under one clip, so the
    benchmarks use one: docs/experiments.md). Same interface as ``WindowNet``: ``forward`` -> (log-probs
    (B, T, K), embedding (B, T, 128 x members)), ``head`` maps that embedding to the log-probs.
    """

    def __init__(self, members: Sequence[WindowNet], cfg: ContextNetConfig):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.cfg, self.dim = cfg, sum(m.dim for m in self.members)

    def forward(self, x: torch.Tensor | Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, L, D) windows, or one such per member (members whose configurations make different
        rows: ``speed_members``) -> mean log-probabilities (B, T, K), joined embeddings (B, T, 128 M)."""
        xs = [x] * len(self.members) if isinstance(x, torch.Tensor) else x
        if len(xs) != len(self.members):
            raise ValueError(f"the window ensemble has {len(self.members)} members; got windows for {len(xs)}")
        logits, emb = zip(*(m(w) for m, w in zip(self.members, xs, strict=True)), strict=True)
        return _mean_log_probs(logits), torch.cat(emb, dim=-1)

    @property
    def head(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """Joined embeddings (..., 128 M) -> the members' mean log-probabilities (..., K)."""
        return lambda emb: _mean_log_probs(
            [m.head(e) for m, e in zip(self.members, emb.split([m.dim for m in self.members], -1), strict=True)]
        )


def _mean_log_probs(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.stack([x.log_softmax(-1) for x in logits]).mean(0)


def member_seed(seed: int, i: int) -> int:
    """The seed of window-ensemble member i, for its initialisation and its training run alike
    (member 0: the single net of that seed)."""
    return seed + 1000 * i


def member_config(cfg: ContextNetConfig, i: int) -> ContextNetConfig:
    """Window-ensemble member i's own configuration: a single net's, with the motion per frame
    observed for the odd members when ``cfg.speed_members`` (same row sizes: it replaces DD-Net's motion)."""
    speed = cfg.real_motion or (cfg.speed_members and i % 2 == 1)
    return replace(cfg, members=1, speed_members=False, real_motion=speed)


def per_frame_motion_config(cfg: ContextNetConfig) -> ContextNetConfig:
    """``cfg``'s window net (as many members) reading the motion per frame observed in place of DD-Net's
    per window step, the other motion options off: the net of the speed twin (``earlyact.twin``). It
    predicts while the prefix is short, so it never inherits a lower bound on its training prefixes."""
    return replace(
        cfg, real_motion=True, speed_members=False, stretched_speed=False, frame_motion=False, prefix_frames_min=0
    )


def early_config(cfg: ContextNetConfig) -> ContextNetConfig:
    """The early window net's configuration (``model.early_frames``): one net like ``cfg``'s, reading the
    motion per frame observed. A prefix shorter than the window is stretched to it, which scales DD-Net's
    motion per window step down by (frames - 1) / (window - 1): early on, the speed is what it hides."""
    return replace(per_frame_motion_config(cfg), members=1)


def make_window_net(
    dist_dim: int, motion_dim: int, num_classes: int, cfg: ContextNetConfig, seed: int | None = None
) -> WindowNet | WindowEnsemble:
    """The window net ``cfg`` describes (untrained): one ``WindowNet``, or a ``WindowEnsemble`` of
    ``cfg.members`` nets, member i configured by ``member_config`` (``streams`` trains them one by one).
    With ``seed``, member i is initialised from ``member_seed(seed, i)``."""

    def member(i: int) -> WindowNet:
        if seed is not None:
            torch.manual_seed(member_seed(seed, i))
        return WindowNet(dist_dim, motion_dim, num_classes, member_config(cfg, i))

    if cfg.members > 1:
        return WindowEnsemble([member(i) for i in range(cfg.members)], cfg)
    return member(0)
