"""Models: the two-stage teacher/student predictor (paper section 3.1) and the action network
(paper Fig. 3); the pose-only context networks are in ``context_nets``. Plain ``nn.Module``s: they
take tensors, know nothing of files or configs beyond their own sub-config.

Design decisions (documented in the README):
* A teacher is a Bi-LSTM with ``H/2`` units per direction, so its concatenated hidden state has
  the student's size ``H`` and the distillation term compares them unit by unit, no projection.
* Stage 2 of the *student* reads the student's stage-1 hidden state (what it will have online);
  stage 2 of the *teacher* reads the teacher's stage-1 hidden state. Teachers never feed students.
* Stage inputs: stage 1 reads the context stream (the action stream if there is no context);
  stage 2 reads [stage-1 hidden || action] (only the stage-1 hidden if there is no action).
* Students are strictly causal and also run one frame at a time (``step``) with the same
  weights, through a hand-written LSTM cell: O(1) work per frame for live prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from earlyact.config import POOLS, ActionNetConfig, ModelConfig

if TYPE_CHECKING:
    from earlyact.context_nets import ContextNet, WindowEnsemble, WindowNet

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (B, H)


def lstm_step(x: torch.Tensor, state: State, lstm: nn.LSTM) -> State:
    """One time step of a one-layer, one-direction ``nn.LSTM`` with its own weights.

    x (B, D) -> (h, c) (B, H). Same gate order as PyTorch (input, forget, cell, output).
    """
    h, c = state
    gates = x @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + h @ lstm.weight_hh_l0.T + lstm.bias_hh_l0
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, c


def fuse_logits(
    stage: torch.Tensor, context: torch.Tensor | None, weight: float,
    action: torch.Tensor | None = None, action_weight: float = 0.0, pool: str = "log",
) -> torch.Tensor:  # fmt: skip
    """(1 - w - v) log p_stage + w log p_context + v log p_action over the classes (last axis): a
    product of experts of the students' last stage, the context network's own classifier
    (``ModelConfig.fuse_context`` = w) and the action network's (``ModelConfig.fuse_action`` = v).
    ``pool="linear"``: log((1 - w - v) p_stage + w p_context + v p_action), their mixture (``ModelConfig.pool``)."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"model.fuse_context must be in [0, 1], not {weight}")
    if not 0.0 <= action_weight <= 1.0 - weight + 1e-9:  # w + v = 1 allowed: 0.8 + 0.2 in floats
        raise ValueError(f"model.fuse_action must be in [0, 1 - fuse_context], not {action_weight} (w = {weight})")
    if pool not in POOLS:
        raise ValueError(f"model.pool must be one of {POOLS}, not {pool!r}")
    parts = [(stage, 1.0 - weight - action_weight), (context, weight), (action, action_weight)]
    log_p = [(x.log_softmax(-1), w) for x, w in parts if x is not None and w > 0]  # (..., K) each
    if pool == "linear":
        return sum(w * lp.exp() for lp, w in log_p).clamp_min(1e-30).log()
    return sum(w * lp for lp, w in log_p)


def smooth_log_probs(log_p: torch.Tensor, decay: float) -> torch.Tensor:
    """(B, T, K) -> (B, T, K): frame t's row becomes sum_s d^(t-s) log_p[s] / sum_s d^(t-s) over
    s <= t (``ModelConfig.smooth``). A prediction then pools the evidence of every frame seen, the
    recent ones most, instead of trusting the last frame alone; online it is two running sums."""
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"model.smooth must be in [0, 1), not {decay}")
    if decay == 0.0:
        return log_p
    num, den, out = torch.zeros_like(log_p[:, 0]), 0.0, []
    for t in range(log_p.shape[1]):
        num, den = decay * num + log_p[:, t], decay * den + 1.0
        out.append(num / den)
    return torch.stack(out, dim=1)


@dataclass
class StageOutput:
    hidden: torch.Tensor  # (B, T, H)
    logits: torch.Tensor  # (B, T, K)


class Student(nn.Module):
    """One causal LSTM layer with a per-frame classifier."""

    def __init__(self, input_dim: int, hidden: int, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.hidden_size = hidden
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(input_dim, hidden, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> StageOutput:  # x (B, T, D)
        hidden, _ = self.lstm(self.drop(x))  # (B, T, H)
        return StageOutput(hidden, self.head(hidden))

    def init_state(self, batch: int) -> State:
        z = torch.zeros(batch, self.hidden_size, dtype=self.head.weight.dtype)
        return z, z.clone()

    def step(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, torch.Tensor, State]:
        """x (B, D) -> hidden (B, H), logits (B, K), new state (eval mode: no dropout)."""
        h, c = lstm_step(x, state, self.lstm)
        return h, self.head(h), (h, c)


class Teacher(nn.Module):
    """Bi-LSTM over the whole clip, ``hidden // 2`` units per direction, per-frame classifier."""

    def __init__(self, input_dim: int, hidden: int, num_classes: int, dropout: float = 0.0):
        super().__init__()
        if hidden % 2:
            raise ValueError(f"teacher hidden size {hidden} must be even (H/2 per direction)")
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(input_dim, hidden // 2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> StageOutput:  # x (B, T, D)
        packed = pack_padded_sequence(self.drop(x), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        hidden, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])  # (B, T, H)
        return StageOutput(hidden, self.head(hidden))


class Standardize(nn.Module):
    """(x - mean) / std with statistics fitted on training data and saved with the weights."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(max(dim, 0)))
        self.register_buffer("std", torch.ones(max(dim, 0)))

    def fit(self, x: torch.Tensor) -> None:
        """x (N, D): all real frames of the training clips."""
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp_min(1e-3))

    def forward(self, x: torch.Tensor | None) -> torch.Tensor | None:
        return None if x is None else (x - self.mean) / self.std


class Predictor(nn.Module):
    """One or two stages of students, optionally with their teachers.

    ``two_stage=False`` is the ``lstm-ce`` baseline: one student reading [context || action].
    """

    def __init__(
        self,
        context_dim: int,
        action_dim: int,
        num_classes: int,
        cfg: ModelConfig,
        two_stage: bool = True,
        teachers: bool = True,
    ):
        super().__init__()
        if context_dim <= 0 and action_dim <= 0:
            raise ValueError("the predictor needs at least one stream (context or action)")
        self.context_dim, self.action_dim, self.two_stage, self.cfg = context_dim, action_dim, two_stage, cfg
        self.norm_context, self.norm_action = Standardize(context_dim), Standardize(action_dim)
        hiddens = [cfg.hidden1, cfg.hidden2] if two_stage else [cfg.hidden1]
        dims = self._input_dims(hiddens)
        self.students = nn.ModuleList(
            Student(d, h, num_classes, cfg.dropout) for d, h in zip(dims, hiddens, strict=True)
        )
        self.teachers = (
            nn.ModuleList(Teacher(d, h, num_classes, cfg.dropout) for d, h in zip(dims, hiddens, strict=True))
            if teachers
            else None
        )

    def _input_dims(self, hiddens: list[int]) -> list[int]:
        if not self.two_stage:
            return [self.context_dim + self.action_dim]
        first = self.context_dim if self.context_dim > 0 else self.action_dim
        return [first, hiddens[0] + self.action_dim]

    def _stage_inputs(self, context: torch.Tensor | None, action: torch.Tensor | None) -> torch.Tensor:
        """Input of the first stage; concatenation in the single-stage case."""
        context, action = self.norm_context(context), self.norm_action(action)
        streams = [s for s in (context, action) if s is not None]
        if not self.two_stage:
            return torch.cat(streams, dim=-1)
        return context if context is not None else action

    def _second_input(self, hidden1: torch.Tensor, action: torch.Tensor | None) -> torch.Tensor:
        return hidden1 if action is None else torch.cat([hidden1, self.norm_action(action)], dim=-1)

    def forward_students(self, context: torch.Tensor | None, action: torch.Tensor | None) -> list[StageOutput]:
        """Causal pass: outputs at frame t depend on frames <= t only."""
        out = [self.students[0](self._stage_inputs(context, action))]
        if self.two_stage:
            out.append(self.students[1](self._second_input(out[0].hidden, action)))
        return out

    def forward_teachers(
        self, context: torch.Tensor | None, action: torch.Tensor | None, lengths: torch.Tensor
    ) -> list[StageOutput]:
        """Whole-clip pass of the teachers (training and the offline upper bound only)."""
        if self.teachers is None:
            raise RuntimeError("this predictor was built without teachers")
        out = [self.teachers[0](self._stage_inputs(context, action), lengths)]
        if self.two_stage:
            out.append(self.teachers[1](self._second_input(out[0].hidden, action), lengths))
        return out

    def init_state(self, batch: int = 1) -> list[State]:
        return [s.init_state(batch) for s in self.students]

    @torch.no_grad()
    def step(
        self, context: torch.Tensor | None, action: torch.Tensor | None, state: list[State]
    ) -> tuple[torch.Tensor, list[State]]:
        """One frame online: context (B, Dc), action (B, Da) -> last-stage logits (B, K), new state."""
        h, logits, s0 = self.students[0].step(self._stage_inputs(context, action), state[0])
        new_state = [s0]
        if self.two_stage:
            _, logits, s1 = self.students[1].step(self._second_input(h, action), state[1])
            new_state.append(s1)
        return logits, new_state


class ActionNet(nn.Module):
    """Skeleton classifier of the paper's Fig. 3; its LSTM hidden state is the action feature.

    Per frame: conv1, conv2 (1x1 over each joint's channels: point-level features), a transpose
    (0, 2, 1) that moves the joints into the channel axis, a convolution across all joints
    (global co-occurrence features), max-pooling, flatten and a linear map to ``embed`` (256),
    then a causal LSTM and a per-frame classifier.
    """

    def __init__(self, num_joints: int, in_channels: int, num_classes: int, cfg: ActionNetConfig):
        super().__init__()
        self.cfg = cfg
        c1, c2 = cfg.point_channels
        self.point = nn.Sequential(
            nn.Conv1d(in_channels, c1, 1), nn.ReLU(), nn.Conv1d(c1, c2, 1), nn.ReLU()
        )  # (N, C, J) -> (N, c2, J)
        self.globl = nn.Sequential(
            nn.Conv1d(num_joints, cfg.global_channels, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2)
        )  # (N, J, c2) -> (N, G, c2 // 2)
        self.embed = nn.Sequential(
            nn.Flatten(),
            nn.Linear(cfg.global_channels * (c2 // 2), cfg.embed),
            nn.ReLU(),
            nn.Dropout(cfg.dropout),
        )
        self.temporal = Student(cfg.embed, cfg.hidden, num_classes)

    def frame_embedding(self, joints: torch.Tensor) -> torch.Tensor:
        """(N, J, C) per-frame joints -> (N, embed)."""
        x = self.point(joints.transpose(1, 2))  # (N, c2, J)
        x = self.globl(x.permute(0, 2, 1))  # joints into channels: (N, J, c2) -> (N, G, c2/2)
        return self.embed(x)

    def forward(self, joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """joints (B, T, J, C) -> logits (B, T, K), hidden (B, T, H)."""
        B, T = joints.shape[:2]
        emb = self.frame_embedding(joints.reshape(B * T, *joints.shape[2:])).view(B, T, -1)
        out = self.temporal(emb)
        return out.logits, out.hidden


@dataclass
class StreamNets:
    """The frozen networks behind a model's streams (None where a stream needs none)."""

    action: ActionNet | None = None  # computes the action stream of new clips (saved with the model)
    train_action: ActionNet | dict[str, ActionNet] | None = None  # behind training clips' action stream
    context: ContextNet | WindowNet | WindowEnsemble | None = None  # embeds the pose (pose-only context stream)
    train_context: ContextNet | WindowNet | WindowEnsemble | dict[str, Any] | None = None  # training clips'
    # context stream when it differs (out-of-fold networks); None: ``context``
    early: WindowNet | None = None  # the fused context expert while few frames are seen (model.early_frames)
