from dataclasses import replace

import numpy as np
import pytest
import torch

from earlyact.config import ContextNetConfig, TrainConfig
from earlyact.context_nets import WindowNet
from earlyact.data import Batch, pad_stack
from earlyact.features import prefix_windows, prepared, window_dims
from earlyact.pretrain import prefix_ends, train_window_net
from earlyact.skeleton import get_layout
from earlyact.synthetic import make_dataset
from earlyact.train import val_score


def test_window_net_is_scored_on_the_ratio_frames_as_on_every_frame(tmp_path, tiny_cfg):
    """The window net's validation score reads only the ratios' frames (``pretrain._window_score``);
    it must equal ``train.val_score`` on the windows of every frame (each window is read on its own)."""
    index, clips = make_dataset(tiny_cfg.demo)
    win, layout = ContextNetConfig(channels=4, window=8, span=10, prefixes=3), get_layout(tiny_cfg.features.layout)
    torch.manual_seed(0)
    net = WindowNet(*window_dims(clips[0].pose.shape[1], layout, win), len(index.classes), win)
    train, val = clips[::2], clips[1::2]
    res = train_window_net(
        net, train, val, tiny_cfg.features, tiny_cfg.augment, tiny_cfg.ratios, TrainConfig(epochs=3, batch_size=8),
        tmp_path, 0,
    )  # fmt: skip
    features = tiny_cfg.features
    wins = [prefix_windows(np.asarray(c.pose), layout, features, win) for c in prepared(val, features)]
    every = Batch(torch.tensor([len(w) for w in wins]), torch.tensor([c.label for c in val]), pad_stack(wins))
    assert max(c.num_frames for c in val) > len(tiny_cfg.ratios)  # more frames than the score reads
    assert res.best_score == pytest.approx(val_score(lambda b: net.eval()(b.context)[0], every, tiny_cfg.ratios))


def test_speed_and_prefix_augmentation_train_the_pose_networks_of_clips_with_other_streams(tmp_path, tiny_cfg):
    """A speed change or a prefix alters the pose's length; the clip's other streams (an RGB context
    here) keep theirs, so the pose-only networks must read the augmented pose's frames alone (the
    window net once drew its prefix ends from the context's length: an IndexError on UT-Interaction)."""
    index, clips = make_dataset(tiny_cfg.demo)
    clips = [replace(c, context=np.zeros((c.num_frames, 3), np.float32)) for c in clips]  # a clip as extracted
    aug = replace(tiny_cfg.augment, enabled=True, speed=0.5, prefix=1.0)  # every pose a prefix: shorter
    win, layout = ContextNetConfig(channels=4, window=8, span=10, prefixes=3), get_layout(tiny_cfg.features.layout)
    torch.manual_seed(0)
    net = WindowNet(*window_dims(clips[0].pose.shape[1], layout, win), len(index.classes), win)
    val = [replace(c, context=None) for c in clips[1::2]]
    res = train_window_net(
        net, clips[::2], val, tiny_cfg.features, aug, tiny_cfg.ratios, TrainConfig(epochs=2, batch_size=8), tmp_path, 0
    )
    assert res.epochs_run == 2 and 0.0 <= res.best_score <= 1.0


def test_prefix_ends_cover_at_least_the_share_asked_for():
    """``context_net.prefix_min``: 0 draws any prefix end, 1 only the whole clip (DD-Net's own
    training), 0.5 of a 40-frame clip prefixes of 20 frames or more; every allowed end is drawn."""
    rng = np.random.default_rng(0)
    assert set(prefix_ends(40, 2000, 0.0, rng)) == set(range(40))
    assert set(prefix_ends(40, 200, 1.0, rng)) == {39}
    assert set(prefix_ends(40, 2000, 0.5, rng)) == set(range(19, 40))  # frames 0..19: 20 of 40
    assert set(prefix_ends(15, 2000, 0.1, rng)) == set(range(1, 15))  # ceil(1.5) = 2 frames at least
    with pytest.raises(ValueError, match="prefix_min"):
        prefix_ends(40, 4, 1.5, rng)


def test_prefix_ends_keep_to_the_bounds_in_frames():
    """``context_net.prefix_frames_min`` / ``_max``: prefixes of at least / at most so many frames (end
    k is k + 1 frames); a clip shorter than the lower bound gives its whole self, and the upper bound
    wins where the two cannot both hold (the twin's prefixes: shorter than the window)."""
    rng = np.random.default_rng(0)
    assert set(prefix_ends(40, 2000, 0.0, rng, min_frames=32)) == set(range(31, 40))
    assert set(prefix_ends(20, 200, 0.0, rng, min_frames=32)) == {19}
    assert set(prefix_ends(40, 2000, 0.0, rng, max_frames=31)) == set(range(31))
    assert set(prefix_ends(20, 2000, 0.0, rng, max_frames=31)) == set(range(20))
    assert set(prefix_ends(100, 2000, 0.5, rng, max_frames=31)) == {30}  # 50 frames asked, 31 allowed


def test_window_net_training_draws_only_prefixes_within_its_frame_bounds(tmp_path, tiny_cfg, monkeypatch):
    """The bounds reach the training batches: every window the net trains on ends inside them."""
    import earlyact.pretrain as pretrain

    index, clips = make_dataset(tiny_cfg.demo)
    layout = get_layout(tiny_cfg.features.layout)
    win = ContextNetConfig(channels=4, window=8, span=10, prefixes=3, prefix_frames_max=5)
    seen: list[np.ndarray] = []
    real = pretrain.prefix_windows

    def spy(pose, layout, features, window, rows=None):
        if rows is not None:
            seen.append(np.asarray(rows))
        return real(pose, layout, features, window, rows)

    monkeypatch.setattr(pretrain, "prefix_windows", spy)
    torch.manual_seed(0)
    net = WindowNet(*window_dims(clips[0].pose.shape[1], layout, win), len(index.classes), win)
    train_window_net(net, clips[:8], [], tiny_cfg.features, tiny_cfg.augment, tiny_cfg.ratios,
                     TrainConfig(epochs=2, batch_size=4), tmp_path, 0)  # fmt: skip
    ends = np.concatenate(seen)
    assert len(ends) == 2 * 8 * 3 and ends.max() <= 4 and ends.min() >= 0  # 5 frames at most: ends 0..4
    with pytest.raises(ValueError, match="prefix_frames"):
        pretrain.frame_bounds(replace(win, prefix_frames_min=-1))


def test_window_net_label_smoothing_reaches_its_training(tmp_path, tiny_cfg):
    """``context_net.label_smoothing`` spreads the targets: the same net trained on the same batches
    ends less sure of its classes than with one-hot targets (whose optimum is certainty)."""
    index, clips = make_dataset(tiny_cfg.demo)
    layout = get_layout(tiny_cfg.features.layout)
    windows = [prefix_windows(np.asarray(c.pose), layout, tiny_cfg.features, ContextNetConfig(window=8, span=10))
               for c in prepared(clips, tiny_cfg.features)]  # fmt: skip
    confidence = []
    for smoothing in (0.0, 0.9):
        win = ContextNetConfig(channels=4, window=8, span=10, prefixes=3, label_smoothing=smoothing)
        torch.manual_seed(0)
        net = WindowNet(*window_dims(clips[0].pose.shape[1], layout, win), len(index.classes), win)
        train_window_net(
            net, clips, [], tiny_cfg.features, tiny_cfg.augment, tiny_cfg.ratios,
            TrainConfig(epochs=6, batch_size=8, val_fraction=0), tmp_path / str(smoothing), 0,
        )  # fmt: skip
        with torch.no_grad():
            probs = net.eval()(torch.from_numpy(np.concatenate(windows))[None])[0].softmax(-1)  # (1, R, K)
        confidence.append(probs.max(-1).values.mean().item())
    assert confidence[1] < confidence[0] - 0.05


def test_mixup_blends_inputs_and_targets_by_one_drawn_weight():
    """Every row is w x + (1 - w) x[perm] for one permutation and one weight, returned with the
    partners' labels; the same generator state draws the same blend."""
    from earlyact.pretrain import mixup

    x, labels = torch.randn(6, 3, 8, 5), torch.arange(6)  # (B, R, L, D): labels name the rows
    blend, (partners, w) = mixup(x, labels, 0.4, np.random.default_rng(0))
    assert 0.0 < w < 1.0 and sorted(partners.tolist()) == list(range(6)) and not torch.equal(partners, labels)
    torch.testing.assert_close(blend, w * x + (1 - w) * x[partners])
    again, (partners2, w2) = mixup(x, labels, 0.4, np.random.default_rng(0))
    assert w2 == w and torch.equal(partners2, partners) and torch.equal(again, blend)


def _window_weights(tmp_path, tiny_cfg, name: str, epochs: int = 2, **options) -> torch.Tensor:
    """All weights of a tiny window net trained from seed 0 on the demo clips with ``options``."""
    index, clips = make_dataset(tiny_cfg.demo)
    layout = get_layout(tiny_cfg.features.layout)
    win = ContextNetConfig(channels=4, window=8, span=10, prefixes=3, **options)
    torch.manual_seed(0)
    net = WindowNet(*window_dims(clips[0].pose.shape[1], layout, win), len(index.classes), win)
    train_window_net(
        net, clips, [], tiny_cfg.features, tiny_cfg.augment, tiny_cfg.ratios,
        TrainConfig(epochs=epochs, batch_size=8, val_fraction=0), tmp_path / name, 0,
    )  # fmt: skip
    return torch.cat([p.detach().flatten() for p in net.parameters()])


def test_window_net_mixup_reaches_its_training(tmp_path, tiny_cfg):
    """``context_net.mixup`` changes what the window net learns from the same batches (its saved
    settings name it), and a training run with it is deterministic."""
    weights = {name: _window_weights(tmp_path, tiny_cfg, name, mixup=a) for name, a in
               (("plain", 0.0), ("mix", 0.4), ("mix_again", 0.4))}  # fmt: skip
    assert not torch.allclose(weights["plain"], weights["mix"])
    assert torch.equal(weights["mix"], weights["mix_again"])
    assert '"mixup": 0.4' in (tmp_path / "mix" / "state.json").read_text()


def test_whole_clip_loss_pulls_prefixes_towards_the_whole_clip_embedding(tiny_cfg):
    """``pretrain.whole_clip_loss``: weight x the squared distance (mean over units, summed over a clip's
    rows, mean over clips) from each prefix embedding to the net's own eval-mode embedding of the whole
    clip; no gradient through the target, the net's mode and BatchNorm statistics left as they were."""
    from earlyact.pretrain import whole_clip_loss

    index, clips = make_dataset(tiny_cfg.demo)
    layout, features = get_layout(tiny_cfg.features.layout), tiny_cfg.features
    win = ContextNetConfig(channels=4, window=8, span=10, prefixes=3, distill=0.5)
    torch.manual_seed(0)
    net = WindowNet(*window_dims(clips[0].pose.shape[1], layout, win), len(index.classes), win).train()
    chunk = prepared(clips[:4], features)
    rows = [
        prefix_windows(np.asarray(c.pose), layout, features, win, np.array([1, 4, c.num_frames - 2])) for c in chunk
    ]
    whole = [prefix_windows(np.asarray(c.pose), layout, features, win, np.array([c.num_frames - 1])) for c in chunk]
    b = Batch(lengths=torch.tensor([3] * 4), labels=torch.tensor([c.label for c in chunk]),
              context=pad_stack(rows), whole=torch.from_numpy(np.stack(whole)))  # fmt: skip
    copy = WindowNet(*window_dims(clips[0].pose.shape[1], layout, win), len(index.classes), win).train()
    copy.load_state_dict(net.state_dict())
    torch.manual_seed(1)
    logits, loss = whole_clip_loss(net, b, 0.5)
    torch.manual_seed(1)
    expected_logits, emb = copy(b.context)  # the same dropout draws: the prefix pass comes first
    assert net.training  # and the target pass left BatchNorm's statistics as the prefix pass alone does
    assert all(torch.equal(v, copy.state_dict()[k]) for k, v in net.state_dict().items())
    target = copy.eval()(b.whole)[1].detach()
    torch.testing.assert_close(logits, expected_logits)
    torch.testing.assert_close(loss, 0.5 * ((emb - target) ** 2).mean(-1).sum(1).mean())
    assert loss.item() > 0
    loss.backward()  # gradients reach the weights through the prefix branch alone
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    assert whole_clip_loss(net, b, 0.0)[1] == 0.0
    assert whole_clip_loss(net, replace(b, whole=None), 0.5)[1] == 0.0


def test_window_net_whole_clip_distillation_reaches_its_training(tmp_path, tiny_cfg):
    """``context_net.distill`` changes what the window net learns from the same batches, is logged
    and saved with the phase's settings, trains deterministically, and refuses mixup beside it."""
    weights = {name: _window_weights(tmp_path, tiny_cfg, name, distill=b) for name, b in
               (("plain", 0.0), ("kd", 1.0), ("kd_again", 1.0))}  # fmt: skip
    assert not torch.allclose(weights["plain"], weights["kd"])
    assert torch.equal(weights["kd"], weights["kd_again"])
    assert '"distill": 1.0' in (tmp_path / "kd" / "state.json").read_text()
    header = (tmp_path / "kd" / "metrics.csv").read_text().splitlines()[0]
    assert "distill" in header and "distill" not in (tmp_path / "plain" / "metrics.csv").read_text()
    with pytest.raises(ValueError, match="distill"):
        _window_weights(tmp_path, tiny_cfg, "bad", epochs=1, distill=1.0, mixup=0.4)
