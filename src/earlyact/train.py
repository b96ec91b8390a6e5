"""Training: one resumable loop (``fit``) and the phases built on it.

``fit`` runs AdamW with gradient clipping and early stopping on a validation score, keeps the
best weights (without validation clips: all epochs, the last weights), logs metrics to CSV and
TensorBoard, shows a progress bar, and after every epoch commits a resumable state (weights,
optimizer, counters; ``earlyact.resume``) in one atomic write. Each epoch reseeds torch
from (seed, epoch), so a run interrupted (or killed) and resumed gives the same weights as one that was not.

Phases: ``train_teachers`` (Bi-LSTMs on whole clips, L_C) and ``train_students`` (causal LSTMs,
L_C + alpha * distillation, teachers frozen); the stream networks' own training is in ``pretrain``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from earlyact.checkpoint import load_tensors, optimizer_from_tensors, save_tensors
from earlyact.config import PREDICTION_ONLY, LossConfig, TrainConfig, to_dict
from earlyact.data import Batch, Clip, batch_indices, make_batch
from earlyact.evaluate import ratio_accuracy
from earlyact.losses import distillation_loss, frame_cross_entropy, progressive_loss, soft_distillation_loss
from earlyact.methods import Method
from earlyact.models import Predictor
from earlyact.resume import commit, resume

LossFn = Callable[[Batch], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class FitResult:
    best_epoch: int
    best_score: float
    epochs_run: int


def _seed_epoch(seed: int, epoch: int) -> torch.Generator:
    torch.manual_seed(seed * 100_003 + epoch)
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


def fit(
    model: nn.Module,
    params: Sequence[nn.Parameter],
    batches: Callable[[torch.Generator], list[Batch]],
    loss_fn: LossFn,
    score_fn: Callable[[], float] | None,
    cfg: TrainConfig,
    out_dir: str | Path,
    seed: int,
    desc: str = "train",
    stop_after: int | None = None,
    settings: dict | None = None,
) -> FitResult:
    """Train ``params`` of ``model``; resume from ``out_dir`` if a previous run left state there.

    ``batches(gen)`` returns one epoch of batches shuffled by ``gen``; ``score_fn()`` is the
    validation score (higher is better). On return the model holds the best weights. Without a
    ``score_fn`` (no validation clips: ``TrainConfig.val_fraction=0``) every epoch runs (a fixed
    schedule) and the last epoch's weights are the result.
    ``stop_after`` ends the call after that many epochs (to test interruption and resumption).
    ``settings`` (with ``cfg`` and ``seed``) is what the phase's result depends on: saved in its
    state, and a resume with other settings is refused instead of silently reusing stale weights.
    With ``cfg.swa`` > 0 the weights scored and kept are, from the first averaged epoch on
    (``swa_start``), the mean over the epochs so far (``average.safetensors``).
    """
    out = Path(out_dir)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    avg = _averager(model, cfg)
    settings = json.loads(json.dumps({"train": to_dict(cfg), "seed": seed, **(settings or {})}))
    state, saved = resume(out, settings)
    if not state["done"] and saved is not None:  # a finished phase needs only its kept weights (below)
        model.load_state_dict(saved["model"])
        optimizer_from_tensors(opt, saved["optimizer"], state["optimizer"])
        if avg is not None and saved["average"]:
            avg.load_state_dict(saved["average"])
    state.pop("optimizer", None)
    if not state["done"]:
        _run_epochs(model, params, opt, batches, loss_fn, score_fn, cfg, out, seed, desc, state, stop_after, avg)
    final = out / "best.safetensors" if score_fn is not None else final_weights(out)
    if final.exists():
        model.load_state_dict(load_tensors(final))
    return FitResult(state["best_epoch"], state["best_score"], state["epoch"])


def clip_digest(train: Sequence[Clip], val: Sequence[Clip]) -> str:
    """Which clips a phase trains and is scored on (their ids, in order), as a short digest for its
    settings: a phase fitted on another split (``train.val_fraction``, its seed) is not resumed."""
    text = "\n".join(c.clip_id for c in train) + "\n|\n" + "\n".join(c.clip_id for c in val)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _stage_settings(model: Predictor, streams: Sequence[str], upstream: dict | None, **more: object) -> dict:
    """What a teacher or student phase depends on: its streams, the predictor's settings
    (less ``config.PREDICTION_ONLY``: fusion and smoothing act on predictions only), what made the streams
    (``upstream``) and ``more``."""
    trained = {k: v for k, v in to_dict(model.cfg).items() if k not in PREDICTION_ONLY}
    return {"streams": list(streams), "model": trained, "upstream": upstream or {}, **more}


def final_weights(out: Path) -> Path:
    """The weights a phase without validation keeps: the average of its last epochs when it averaged
    (``TrainConfig.swa``), else its last epoch's."""
    return out / "average.safetensors" if (out / "average.safetensors").exists() else out / "last.safetensors"


def swa_start(cfg: TrainConfig) -> int:
    """The first epoch (0-based) whose weights enter the average of ``TrainConfig.swa``."""
    if not 0.0 <= cfg.swa <= 1.0:
        raise ValueError(f"swa must be in [0, 1] (the share of the last epochs averaged); got {cfg.swa}")
    return cfg.epochs - max(1, math.ceil(cfg.swa * cfg.epochs))


def _averager(model: nn.Module, cfg: TrainConfig) -> AveragedModel | None:
    """The running mean of ``model``'s weights and buffers (torch's SWA helper); None when off."""
    swa_start(cfg)  # checks the share before any epoch runs
    return AveragedModel(model, use_buffers=True) if cfg.swa > 0 else None


def _kept(avg: AveragedModel | None) -> dict[str, torch.Tensor] | None:
    """The averaged weights this epoch scores and keeps once the average holds an epoch; else None (the model's)."""
    return avg.module.state_dict() if avg is not None and int(avg.n_averaged) > 0 else None


def _score_with(model: nn.Module, weights: dict[str, torch.Tensor] | None, score_fn: Callable[[], float]) -> float:
    """``score_fn()`` with ``weights`` (None: the model's own) loaded in ``model``, whose own are restored after."""
    if weights is None:
        return float(score_fn())
    own = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(weights)
    try:
        return float(score_fn())
    finally:
        model.load_state_dict(own)


def _run_epochs(model, params, opt, batches, loss_fn, score_fn, cfg, out, seed, desc, state, stop_after, avg):
    from torch.utils.tensorboard import SummaryWriter  # imported late: slow import

    writer = SummaryWriter(str(out / "tensorboard"))
    bar = tqdm(
        range(state["epoch"], cfg.epochs),
        desc=desc,
        initial=state["epoch"],
        total=cfg.epochs,
        leave=False,
    )
    try:
        for n, epoch in enumerate(bar):
            model.train()
            if cfg.cosine:  # a function of the epoch alone, so resuming needs no scheduler state
                for group in opt.param_groups:
                    group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * epoch / cfg.epochs))
            sums: dict[str, float] = {}
            epoch_batches = batches(_seed_epoch(seed, epoch))
            for batch in epoch_batches:
                loss, parts = loss_fn(batch)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                opt.step()
                for k, v in {"loss": loss.item(), **parts}.items():
                    sums[k] = sums.get(k, 0.0) + v / len(epoch_batches)
            if avg is not None and epoch >= swa_start(cfg):
                avg.update_parameters(model)
            model.eval()
            kept = _kept(avg)
            score = None if score_fn is None else _score_with(model, kept, score_fn)
            _end_epoch(model, opt, state, epoch, score, sums, cfg, out, writer, kept or model.state_dict(), avg)
            shown = {} if score is None else {"val": f"{score:.3f}", "best": f"{state['best_score']:.3f}"}
            bar.set_postfix(loss=f"{sums['loss']:.3f}", **shown)
            if state["done"] or (stop_after is not None and n + 1 >= stop_after):
                break
    finally:
        writer.close()


def _end_epoch(model, opt, state, epoch, score, sums, cfg, out, writer, kept, avg) -> None:
    """Update the counters, save the best weights (``kept``: those the score is of), then commit the
    epoch (``resume.commit``: state, weights, optimizer and ``avg`` in one atomic write, then the
    readable copies). Without a score (no validation) the weights kept are the last epoch's
    (``last.safetensors``), or with ``avg`` the average (``average.safetensors``)."""
    state["epoch"] = epoch + 1
    if score is None:
        state.update(best_epoch=epoch + 1)
    elif score > state["best_score"]:
        state.update(best_score=score, best_epoch=epoch + 1, bad_epochs=0)
        save_tensors(out / "best.safetensors", kept)
    else:
        state["bad_epochs"] += 1
    state["done"] = state["bad_epochs"] >= cfg.patience or state["epoch"] >= cfg.epochs
    row = {
        "epoch": epoch + 1,
        **{k: round(v, 6) for k, v in sums.items()},
        "val_score": "" if score is None else round(score, 6),
    }
    state["history"].append(row)
    for k, v in row.items():
        if k != "epoch" and v != "":
            writer.add_scalar(k, v, epoch + 1)
    averaged = avg.state_dict() if avg is not None and int(avg.n_averaged) > 0 else None
    commit(out, state, model.state_dict(), opt, averaged)


# ----------------------------------------------------------------------------- phases


Transform = Callable[[list[Clip], np.random.Generator], list[Clip]]  # e.g. augment, then recompute streams


def epoch_rng(gen: torch.Generator) -> np.random.Generator:
    """A numpy generator drawn from the epoch's torch generator (augmentation, frames drawn)."""
    return np.random.default_rng(int(torch.randint(2**31 - 1, (1,), generator=gen)))


def _batches(
    clips: Sequence[Clip], streams: Sequence[str], size: int, transform: Transform | None = None
) -> Callable[[torch.Generator], list[Batch]]:
    """One epoch of batches; ``transform`` (seeded from the epoch's generator) is applied per batch."""

    def make(gen: torch.Generator) -> list[Batch]:
        out = []
        for idx in batch_indices(len(clips), size, gen):
            chunk = [clips[i] for i in idx]
            out.append(make_batch(transform(chunk, epoch_rng(gen)) if transform else chunk, streams))
        return out

    return make


def _streams(batch: Batch) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    return batch.context, batch.action


def label_loss(
    progressive: bool,
) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """L_C (eq. 1) or the per-frame cross-entropy."""
    return progressive_loss if progressive else frame_cross_entropy


def train_teachers(
    model: Predictor, train: Sequence[Clip], val: Sequence[Clip], streams: Sequence[str],
    ratios: Sequence[float], cfg: TrainConfig, out_dir: Path, seed: int, stop_after: int | None = None,
    transform: Transform | None = None, upstream: dict | None = None, progressive: bool = True,
) -> FitResult:  # fmt: skip
    """Train the Bi-LSTM teachers of every stage on whole clips with L_C (summed over stages; the
    per-frame cross-entropy without ``progressive``, ``LossConfig.progressive``). ``upstream``: what
    the input streams depend on (``experiment.stream_settings``), checked on resume."""
    assert model.teachers is not None
    lc = label_loss(progressive)

    def loss_fn(b: Batch):
        outs = model.forward_teachers(*_streams(b), b.lengths)
        losses = [lc(o.logits, b.labels, b.lengths) for o in outs]
        return sum(losses), {f"lc{i + 1}": v.item() for i, v in enumerate(losses)}

    score = _scorer(val, streams, ratios, lambda b: model.forward_teachers(*_streams(b), b.lengths)[-1].logits)
    params = list(model.teachers.parameters())
    batches = _batches(train, streams, cfg.batch_size, transform)
    settings = _stage_settings(model, streams, upstream, clips=clip_digest(train, val), progressive=progressive)
    return fit(model, params, batches, loss_fn, score, cfg, out_dir, seed, "teachers", stop_after, settings)


def train_students(
    model: Predictor, method: Method, train: Sequence[Clip], val: Sequence[Clip], streams: Sequence[str],
    ratios: Sequence[float], cfg: TrainConfig, loss_cfg: LossConfig, out_dir: Path, seed: int,
    stop_after: int | None = None, transform: Transform | None = None, upstream: dict | None = None,
) -> FitResult:  # fmt: skip
    """Train the causal students; with ``method.distill`` against the frozen teachers. Their label
    loss is L_C when both ``method.progressive`` and ``loss_cfg.progressive`` say so, else the per-frame
    cross-entropy. ``upstream``: what the input streams depend on (``experiment.stream_settings``),
    checked on resume."""
    alphas = (loss_cfg.alpha1, loss_cfg.alpha2)
    lc = label_loss(method.progressive and loss_cfg.progressive)
    if model.teachers is not None:
        model.teachers.requires_grad_(False)

    def loss_fn(b: Batch):
        outs = model.forward_students(*_streams(b))
        parts, total = {}, 0.0
        teach = None
        if method.distill:
            with torch.no_grad():
                model.teachers.eval()
                teach = model.forward_teachers(*_streams(b), b.lengths)
        for i, o in enumerate(outs):
            term = lc(o.logits, b.labels, b.lengths)
            parts[f"lc{i + 1}"] = term.item()
            if teach is not None:
                kd = distillation_loss(o.hidden, teach[i].hidden, b.lengths)
                parts[f"kd{i + 1}"] = kd.item()
                term = term + alphas[i] * kd
            if teach is not None and loss_cfg.soft > 0:
                soft = soft_distillation_loss(o.logits, teach[i].logits, b.lengths, loss_cfg.temperature)
                parts[f"soft{i + 1}"] = soft.item()
                term = term + loss_cfg.soft * soft
            total = total + term
        return total, parts

    score = _scorer(val, streams, ratios, lambda b: model.forward_students(*_streams(b))[-1].logits)
    params = list(model.students.parameters())
    batches = _batches(train, streams, cfg.batch_size, transform)
    more = {"method": vars(method), "loss": to_dict(loss_cfg), "clips": clip_digest(train, val)}
    settings = _stage_settings(model, streams, upstream, **more)
    return fit(model, params, batches, loss_fn, score, cfg, out_dir, seed, "students", stop_after, settings)


def _scorer(
    val: Sequence[Clip], streams: Sequence[str], ratios: Sequence[float], logits_fn: Callable[[Batch], torch.Tensor]
) -> Callable[[], float] | None:
    """The phase's ``score_fn``: ``val_score`` on the validation clips, padded once and scored every
    epoch; None without validation clips (``fit`` then keeps the last epoch)."""
    if not val:
        return None
    batch = make_batch(val, streams)
    return lambda: val_score(logits_fn, batch, ratios)


@torch.no_grad()
def val_score(logits_fn, batch: Batch, ratios: Sequence[float]) -> float:
    """Mean accuracy over the observation ratios on the validation batch (0-1)."""
    return float(np.mean(ratio_accuracy(logits_fn(batch), batch.labels, batch.lengths, ratios)))
