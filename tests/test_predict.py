"""Prediction: the early window net's gate (model.early_frames)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from earlyact.config import ContextNetConfig, TrainConfig


def _early_run(tmp_path, tiny_cfg, early_frames: int, **model):
    """A tiny run whose students fuse the window net, and with ``early_frames`` the early window net."""
    from earlyact.experiment import describe_streams, run_seed
    from earlyact.synthetic import make_dataset

    cfg = replace(
        tiny_cfg,
        methods=["kd-ms-lstm"],
        context_net=ContextNetConfig(channels=2, window=8, span=10, prefixes=3),
        context_train=TrainConfig(epochs=2, batch_size=8),
        model=replace(tiny_cfg.model, **{"fuse_context": 0.6, "early_frames": early_frames, **model}),
    )
    index, clips = make_dataset(cfg.demo)
    train = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "train"]
    test = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "test"]
    preds = run_seed(train, test, index.classes, cfg, tmp_path, 0, describe_streams(index, train, cfg))
    return cfg, index, train, test, preds


def test_gate_early_takes_the_early_expert_while_fewer_frames_than_the_threshold_are_seen():
    from earlyact.predict import gate_early

    early, late = torch.zeros(2, 5, 3), torch.ones(2, 5, 3)
    out = gate_early(early, late, 3)  # frames seen 1, 2 -> early; 3, 4, 5 -> late
    assert out[:, :2].eq(0).all() and out[:, 2:].eq(1).all()
    assert gate_early(early, late, 1).eq(1).all()  # never fewer than 1 frame seen
    assert gate_early(early, late, 99).eq(0).all()


def test_the_early_window_net_is_the_fused_context_expert_while_few_frames_are_seen(tmp_path, tiny_cfg):
    from earlyact.checkpoint import load_checkpoint
    from earlyact.data import make_batch
    from earlyact.evaluate import ratio_predictions
    from earlyact.experiment import describe_streams, run_seed
    from earlyact.predict import evaluate_checkpoint
    from earlyact.streams import add_streams, early_views

    F = 8  # demo clips have 12-20 frames: ratios up to 0.3-0.5 read the early net
    cfg, index, train, test, preds = _early_run(tmp_path, tiny_cfg, F, fuse_context=0.9)  # the experts lead
    settings = json.loads((tmp_path / "early_net" / "state.json").read_text())["settings"]["network"]
    assert settings["real_motion"] and settings["members"] == 1  # the window net's twin reading the speed
    bundle = load_checkpoint(tmp_path / "kd-ms-lstm" / "checkpoint")
    assert bundle.nets.early is not None and bundle.info["early_net"]["config"]["real_motion"]
    b = make_batch(add_streams(test, cfg.streams, bundle.info, bundle.nets), cfg.streams)
    e = make_batch(early_views(test, cfg.features, bundle.nets.early), ["context"])
    with torch.no_grad():
        stage = bundle.predictor.eval().forward_students(b.context, b.action)[-1].logits.log_softmax(-1)
        own = bundle.nets.context.eval().head(b.context).log_softmax(-1)  # (B, T, K)
        early = bundle.nets.early.eval().head(e.context).log_softmax(-1)
    assert not torch.allclose(own[:, : F - 1], early[:, : F - 1])  # two different experts
    expert = torch.cat([early[:, : F - 1], own[:, F - 1 :]], dim=1)  # frames seen < F: the early net
    expected = ratio_predictions(0.1 * stage + 0.9 * expert, b.lengths, cfg.ratios)
    assert np.array_equal(preds["kd-ms-lstm"], expected)
    assert np.array_equal(evaluate_checkpoint(bundle, test, cfg.ratios), expected)  # the setting is saved
    # the gate acts on predictions alone: without it, nothing retrains and the plain fusion comes back
    history = (tmp_path / "kd-ms-lstm" / "students" / "metrics.csv").read_text()
    plain = replace(cfg, model=replace(cfg.model, early_frames=0))
    again = run_seed(train, test, index.classes, plain, tmp_path, 0, describe_streams(index, train, plain))
    without = ratio_predictions(0.1 * stage + 0.9 * own, b.lengths, cfg.ratios)
    assert not np.array_equal(without, expected)  # the gate changes some early predictions
    assert np.array_equal(again["kd-ms-lstm"], without)
    assert (tmp_path / "kd-ms-lstm" / "students" / "metrics.csv").read_text() == history


@pytest.mark.parametrize(("model", "match"), [({"fuse_context": 0.0}, "fuse_context"), ({"mirror": "all"}, "mirror")])
def test_the_early_window_net_needs_the_fusion_and_one_view(tmp_path, tiny_cfg, model, match):
    with pytest.raises(ValueError, match=match):
        _early_run(tmp_path, tiny_cfg, 8, **model)
