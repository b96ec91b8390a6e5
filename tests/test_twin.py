"""The speed twin: a second copy of every method, reading the motion per frame observed, predicts while
the window is stretched (earlyact.twin)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from earlyact.config import ContextNetConfig, TrainConfig


def test_switch_log_probs_take_the_twin_while_fewer_frames_than_the_window_are_seen():
    from earlyact.twin import switch_log_probs

    ratios = [0.1, 0.5, 1.0]
    twin, own = np.full((3, 2, 4), -1.0), np.full((3, 2, 4), -2.0)
    out = switch_log_probs(twin, own, [10, 40], ratios, 8)  # frames seen: 1, 5, 10 and 4, 20, 40
    assert out[..., 0].tolist() == [[-1, -1], [-1, -2], [-2, -2]]
    assert np.array_equal(switch_log_probs(twin, own, [10, 40], ratios, 1), own)  # never < 1 frame


def test_model_twin_ramp_crossfades_from_the_twin_to_the_method_over_the_frames_before_the_switch():
    from earlyact.twin import switch_log_probs, twin_weights

    ratios = [round(0.1 * i, 1) for i in range(1, 11)]
    w = twin_weights([10], ratios, 8, ramp=3)[:, 0]  # frames seen 1..10: twin alone up to 4, then 3/4, 2/4, 1/4
    assert w.tolist() == [1, 1, 1, 1, 0.75, 0.5, 0.25, 0, 0, 0]
    assert twin_weights([10], ratios, 8).tolist() == (twin_weights([10], ratios, 8, 0)).tolist()
    assert twin_weights([10], ratios, 8)[:, 0].tolist() == [1] * 7 + [0] * 3  # no ramp: the hard switch
    rng = np.random.default_rng(0)
    twin, own = rng.normal(size=(10, 1, 5)), rng.normal(size=(10, 1, 5))
    out = switch_log_probs(twin, own, [10], ratios, 8, ramp=3)
    assert np.array_equal(out[:4], twin[:4]) and np.array_equal(out[7:], own[7:])
    assert np.allclose(out[5], 0.5 * twin[5] + 0.5 * own[5])  # 6 frames seen: halfway
    for ramp in (-1, 8):
        with pytest.raises(ValueError, match="twin_ramp"):
            twin_weights([10], ratios, 8, ramp)


def test_the_switch_is_at_the_window_unless_model_twin_frames_moves_it():
    from earlyact.twin import switch_frames

    assert switch_frames(0, 32) == 32 and switch_frames(20, 32) == 20 and switch_frames(40, 32) == 40
    with pytest.raises(ValueError, match="twin_frames"):
        switch_frames(-1, 32)


def test_the_twin_reads_the_motion_per_frame_observed_and_needs_the_window_net(tiny_cfg):
    from earlyact.twin import twin_config

    cfg = replace(tiny_cfg, speed_twin=True, context_net=ContextNetConfig(channels=2, window=8, members=2))
    twin = twin_config(cfg)
    assert twin.context_net.real_motion and twin.context_net.members == 2 and not twin.speed_twin
    assert replace(twin, context_net=cfg.context_net, speed_twin=True) == cfg  # nothing else changes
    with pytest.raises(ValueError, match="window"):
        twin_config(replace(tiny_cfg, speed_twin=True))


def test_the_twin_trains_on_the_prefixes_it_predicts_from(tiny_cfg):
    """The twin predicts while fewer frames than the window are seen: it never inherits the method's
    lower bound in frames, and with ``twin_prefixes`` it trains only on prefixes shorter than the window."""
    from earlyact.twin import twin_config

    net = ContextNetConfig(channels=2, window=8, prefix_frames_min=8)
    cfg = replace(tiny_cfg, speed_twin=True, context_net=net)
    assert twin_config(cfg).context_net.prefix_frames_min == 0
    assert twin_config(cfg).context_net.prefix_frames_max == 0
    short = twin_config(replace(cfg, twin_prefixes=True))
    assert short.context_net.prefix_frames_max == 7 and not short.twin_prefixes


def test_a_run_with_a_twin_switches_to_it_early_and_its_checkpoint_does_the_same(tmp_path, tiny_cfg):
    from earlyact.checkpoint import load_checkpoint
    from earlyact.evaluate import observed_frames
    from earlyact.experiment import describe_streams, run_seed
    from earlyact.predict import evaluate_checkpoint
    from earlyact.synthetic import make_dataset

    cfg = replace(
        tiny_cfg,
        methods=["kd-ms-lstm"],
        speed_twin=True,
        context_net=ContextNetConfig(channels=2, window=8, span=10, prefixes=3),
        context_train=TrainConfig(epochs=6, batch_size=8, lr=3e-3),
        model=replace(tiny_cfg.model, fuse_context=0.9),  # the window nets lead: the twins' predictions differ
    )
    index, clips = make_dataset(cfg.demo)  # clips of 12-20 frames: the window of 8 fills at r = 0.4-0.6
    train = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "train"]
    test = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "test"]
    preds = run_seed(train, test, index.classes, cfg, tmp_path, 0, describe_streams(index, train, cfg))
    twin_dir = tmp_path / "speed_twin"
    network = json.loads((twin_dir / "context_net" / "state.json").read_text())["settings"]["network"]
    assert network["real_motion"] and not json.loads((tmp_path / "context_net" / "state.json").read_text())[
        "settings"]["network"]["real_motion"]  # fmt: skip
    for name in ("last.safetensors", "metrics.csv"):  # the action network is shared, not trained twice
        assert (twin_dir / "action_net" / name).read_bytes() == (tmp_path / "action_net" / name).read_bytes()
    own, twin = (np.array(json.loads((d / "kd-ms-lstm" / "predictions.json").read_text())["log_probs"])
                 for d in (tmp_path, twin_dir))  # fmt: skip  # (R, N, K) each
    own_p, twin_p = own.argmax(-1), twin.argmax(-1)
    seen = np.array([[observed_frames(c.num_frames, r) for c in test] for r in cfg.ratios])
    assert (seen < 8).any() and (seen >= 8).any()
    assert np.array_equal(preds["kd-ms-lstm"], np.where(seen < 8, twin_p, own_p))
    assert not np.array_equal(own_p, twin_p)  # two different systems
    bundle = load_checkpoint(tmp_path / "kd-ms-lstm" / "checkpoint")
    assert bundle.twin is not None and bundle.twin.nets.context.cfg.real_motion
    assert np.array_equal(evaluate_checkpoint(bundle, test, cfg.ratios), preds["kd-ms-lstm"])
    # a rerun reuses both systems: nothing retrains
    history = (twin_dir / "kd-ms-lstm" / "students" / "metrics.csv").read_text()
    again = run_seed(train, test, index.classes, cfg, tmp_path, 0, describe_streams(index, train, cfg))
    assert np.array_equal(again["kd-ms-lstm"], preds["kd-ms-lstm"])
    assert (twin_dir / "kd-ms-lstm" / "students" / "metrics.csv").read_text() == history
    # model.twin_frames moves the switch at prediction time only: nothing retrains, the checkpoint follows
    early = replace(cfg, model=replace(cfg.model, twin_frames=4))
    moved = run_seed(train, test, index.classes, early, tmp_path, 0, describe_streams(index, train, early))
    assert (twin_dir / "kd-ms-lstm" / "students" / "metrics.csv").read_text() == history
    assert (seen < 4).any() and ((seen >= 4) & (seen < 8)).any()
    assert np.array_equal(moved["kd-ms-lstm"], np.where(seen < 4, twin_p, own_p))
    bundle = load_checkpoint(tmp_path / "kd-ms-lstm" / "checkpoint")
    assert np.array_equal(evaluate_checkpoint(bundle, test, cfg.ratios), moved["kd-ms-lstm"])
    # model.twin_ramp crossfades the two systems' log-probabilities before the switch: prediction only too
    ramped = replace(cfg, model=replace(cfg.model, twin_ramp=3))
    mixed = run_seed(train, test, index.classes, ramped, tmp_path, 0, describe_streams(index, train, ramped))
    assert (twin_dir / "kd-ms-lstm" / "students" / "metrics.csv").read_text() == history
    w = np.clip((8 - seen) / 4, 0, 1)[..., None]  # the twin's weight: 1 up to 4 frames seen, 0 from 8
    assert ((w > 0) & (w < 1)).any()
    assert np.array_equal(mixed["kd-ms-lstm"], (w * twin + (1 - w) * own).argmax(-1))
    bundle = load_checkpoint(tmp_path / "kd-ms-lstm" / "checkpoint")
    assert np.array_equal(evaluate_checkpoint(bundle, test, cfg.ratios), mixed["kd-ms-lstm"])


def test_a_run_refuses_a_crossfade_as_long_as_the_switch_before_anything_trains(tmp_path, tiny_cfg):
    from earlyact.experiment import describe_streams, run_seed
    from earlyact.synthetic import make_dataset

    net = ContextNetConfig(channels=2, window=8, span=10, prefixes=3)
    cfg = replace(tiny_cfg, speed_twin=True, context_net=net, model=replace(tiny_cfg.model, twin_ramp=8))
    index, clips = make_dataset(cfg.demo)
    with pytest.raises(ValueError, match="twin_ramp must be in \\[0, the switch frame 8\\); got 8"):
        run_seed(clips[:4], clips[4:6], index.classes, cfg, tmp_path / "run", 0, describe_streams(index, clips, cfg))
    assert not (tmp_path / "run").exists()  # nothing trained, nothing written
