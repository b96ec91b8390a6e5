"""The paper's losses (eqs. 1-3) and the per-frame cross-entropy baseline.

Normalisation (all three): each clip's loss is *summed over its own real frames* (as eq. 1
writes it, with T the clip's own length; padded frames contribute nothing), and a batch's loss
is the *mean over its clips*. L_C and CE thus have the same scale, and the distillation term
is the clip's squared Frobenius norm ||S - T||_F^2 over all its frames and hidden units.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def frame_mask(lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    """(B, T) float mask: 1 on the first ``lengths[b]`` frames of row b."""
    t = torch.arange(num_frames, device=lengths.device)
    return (t[None, :] < lengths[:, None]).float()


def progressive_loss(logits: torch.Tensor, labels: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """L_C = -(1/N) sum_k sum_t [ y_t(k) log p_t(k) + (t/T)(1 - y_t(k)) log(1 - p_t(k)) ].

    logits (B, T, N); labels (B,); lengths (B,). t runs 1..T (T = the clip's length), so a
    false positive weighs t/T: little in the first frames, fully at the end of the clip.
    """
    B, T, N = logits.shape
    mask = frame_mask(lengths, T)  # (B, T)
    log_p = F.log_softmax(logits, dim=-1)  # (B, T, N)
    log_not_p = torch.log1p(-log_p.exp().clamp(max=1.0 - 1e-6))  # log(1 - p)
    y = F.one_hot(labels, N).float()[:, None, :]  # (B, 1, N)
    t = torch.arange(1, T + 1, device=logits.device, dtype=logits.dtype)
    weight = (t[None, :] / lengths[:, None].to(logits.dtype))[..., None]  # (B, T, 1): t / T
    per_frame = (y * log_p + weight * (1 - y) * log_not_p).sum(-1)  # (B, T)
    per_clip = -(per_frame * mask).sum(1) / N
    return per_clip.mean()


def frame_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, lengths: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Per-frame cross-entropy, summed over each clip's frames, mean over clips (``label_smoothing``:
    that share of each target spread over all classes, as ``F.cross_entropy``)."""
    B, T, N = logits.shape
    mask = frame_mask(lengths, T)
    targets = labels.repeat_interleave(T)
    nll = F.cross_entropy(logits.reshape(B * T, N), targets, reduction="none", label_smoothing=label_smoothing)
    return (nll.view(B, T) * mask).sum(1).mean()


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """||S - T||_F^2 over each clip's real frames and hidden units, mean over clips.

    student, teacher (B, T, H); the teacher is detached (it is frozen while students learn).
    """
    mask = frame_mask(lengths, student.shape[1])
    sq = ((student - teacher.detach()) ** 2).sum(-1)  # (B, T)
    return (sq * mask).sum(1).mean()


def soft_distillation_loss(
    student: torch.Tensor, teacher: torch.Tensor, lengths: torch.Tensor, temperature: float
) -> torch.Tensor:
    """tau^2 KL(softmax(teacher / tau) || softmax(student / tau)) summed over each clip's real frames,
    mean over clips (Hinton et al. 2015): the student at frame t learns the whole-clip teacher's class
    distribution, how much each wrong class resembles the clip too, not only the one-hot label.

    student, teacher (B, T, N) logits; the teacher is detached."""
    if temperature <= 0:
        raise ValueError(f"loss.temperature must be > 0, not {temperature}")
    mask = frame_mask(lengths, student.shape[1])
    log_s = F.log_softmax(student / temperature, dim=-1)
    log_t = F.log_softmax(teacher.detach() / temperature, dim=-1)
    kl = F.kl_div(log_s, log_t, reduction="none", log_target=True).sum(-1)  # (B, T)
    return temperature**2 * (kl * mask).sum(1).mean()
