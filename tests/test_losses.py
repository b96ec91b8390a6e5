import math

import pytest
import torch

from earlyact.losses import distillation_loss, frame_cross_entropy, progressive_loss, soft_distillation_loss


def _example():
    # 1 clip, 3 frames, 2 classes, true class 0; probabilities chosen by hand
    probs = torch.tensor([[[0.6, 0.4], [0.7, 0.3], [0.9, 0.1]]])
    return probs.log(), torch.tensor([0]), torch.tensor([3])  # log-probs are valid logits


def test_progressive_loss_matches_hand_computation():
    logits, labels, lengths = _example()
    # -(1/N) sum_t [log p_t(y) + (t/T) log(1 - p_t(other))], N = 2, T = 3
    by_hand = -(1 / 2) * (
        math.log(0.6) + (1 / 3) * math.log(0.6)
        + math.log(0.7) + (2 / 3) * math.log(0.7)
        + math.log(0.9) + (3 / 3) * math.log(0.9)
    )  # fmt: skip
    assert progressive_loss(logits, labels, lengths).item() == pytest.approx(by_hand, rel=1e-5)


def test_progressive_loss_weighs_late_false_positives_more():
    # the same wrong confidence costs more at the last frame than at the first
    early = torch.tensor([[[0.2, 0.8], [0.9, 0.1], [0.9, 0.1]]]).log()
    late = torch.tensor([[[0.9, 0.1], [0.9, 0.1], [0.2, 0.8]]]).log()
    y, n = torch.tensor([0]), torch.tensor([3])
    assert progressive_loss(late, y, n) > progressive_loss(early, y, n)


def test_padding_is_masked():
    logits, labels, lengths = _example()
    padded = torch.cat([logits, torch.randn(1, 4, 2) * 10], dim=1)  # 4 junk frames
    for fn in (progressive_loss, frame_cross_entropy):
        assert fn(padded, labels, lengths).item() == pytest.approx(fn(logits, labels, lengths).item(), rel=1e-6)


def test_frame_cross_entropy_by_hand():
    logits, labels, lengths = _example()
    by_hand = -(math.log(0.6) + math.log(0.7) + math.log(0.9))
    assert frame_cross_entropy(logits, labels, lengths).item() == pytest.approx(by_hand, rel=1e-5)


def test_distillation_is_squared_frobenius_over_real_frames():
    s = torch.tensor([[[1.0, 0.0], [0.5, 0.5], [0.0, 2.0]]])
    t = torch.tensor([[[0.0, 0.0], [0.5, -0.5], [9.0, 9.0]]])  # frame 3 is padding below
    # frames 1-2 only: (1)^2 + (0)^2 + (0)^2 + (1)^2 = 2
    assert distillation_loss(s, t, torch.tensor([2])).item() == pytest.approx(2.0)
    # full clip adds 81 + 49
    assert distillation_loss(s, t, torch.tensor([3])).item() == pytest.approx(132.0)


def test_distillation_does_not_train_the_teacher():
    s = torch.zeros(1, 2, 3, requires_grad=True)
    t = torch.ones(1, 2, 3, requires_grad=True)
    distillation_loss(s, t, torch.tensor([2])).backward()
    assert t.grad is None and s.grad is not None


def test_batch_is_mean_over_clips():
    logits, labels, lengths = _example()
    two = torch.cat([logits, logits]), torch.cat([labels, labels]), torch.cat([lengths, lengths])
    assert progressive_loss(*two).item() == pytest.approx(progressive_loss(logits, labels, lengths).item())


def test_frame_cross_entropy_label_smoothing_by_hand():
    # clip of 2 real frames (a third padded), 3 classes, label 2, 0.3 of the target spread over all classes
    logits = torch.tensor([[[1.0, 0.0, 2.0], [0.5, 0.5, 0.0], [9.0, 9.0, 9.0]]])
    eps, q = 0.3, torch.tensor([0.1, 0.1, 0.8])  # 0.3 / 3 everywhere, plus 0.7 on the label
    expected = -(q * logits[0, :2].log_softmax(-1)).sum()
    got = frame_cross_entropy(logits, torch.tensor([2]), torch.tensor([2]), label_smoothing=eps)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    assert got.item() > frame_cross_entropy(logits[:, :1], torch.tensor([2]), torch.tensor([1]), eps).item()


def test_soft_distillation_is_tempered_kl_over_real_frames_by_hand():
    t = torch.tensor([[[2.0, 0.0], [0.0, 0.0], [5.0, -5.0]]])  # teacher logits; frame 3 is padding below
    s = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [-5.0, 5.0]]])
    tau = 2.0
    p = 1 / (1 + math.exp(-2.0 / tau))  # frame 1: teacher (p, 1 - p) against the student's (0.5, 0.5)
    kl = p * math.log(p / 0.5) + (1 - p) * math.log((1 - p) / 0.5)  # frame 2: equal, 0
    assert soft_distillation_loss(s, t, torch.tensor([2]), tau).item() == pytest.approx(tau**2 * kl, rel=1e-5)
    assert soft_distillation_loss(t, t, torch.tensor([3]), tau).item() == pytest.approx(0.0, abs=1e-6)
    s.requires_grad_(True)
    t.requires_grad_(True)
    soft_distillation_loss(s, t, torch.tensor([3]), tau).backward()
    assert t.grad is None and s.grad is not None and s.grad[0, 2].abs().sum() > 0  # the teacher stays frozen
    with pytest.raises(ValueError, match="temperature"):
        soft_distillation_loss(s, t, torch.tensor([3]), 0.0)
