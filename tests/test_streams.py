import numpy as np
import pytest

from earlyact import streams
from earlyact.config import load_config
from earlyact.data import Clip
from earlyact.models import ActionNet


def test_out_of_fold_action_nets_never_saw_their_clips(monkeypatch, tmp_path):
    seen = {}

    def fake_fit(train, val, num_classes, cfg, out_dir, seed):
        net = ActionNet(4, 5, num_classes, cfg.action_net)
        seen[id(net)] = {c.clip_id for c in train}
        return net, {}

    monkeypatch.setattr(streams, "fit_action_net", fake_fit)
    clips = [Clip(f"c{i}", i % 3, pose=np.zeros((5, 1, 4, 2), np.float32)) for i in range(30)]
    cfg = load_config(None, ["action_folds=3"])
    nets = streams.fold_action_nets(clips, clips[:3], 3, cfg, tmp_path, seed=0)
    assert set(nets) == {c.clip_id for c in clips} and len({id(n) for n in nets.values()}) == 3
    for cid, net in nets.items():
        assert cid not in seen[id(net)]
        assert len(seen[id(net)]) == 20  # each network trains on the other two folds
    per_fold_labels = [sorted(int(c[1:]) % 3 for c in ids) for ids in seen.values()]
    assert all(max(map(labels.count, (0, 1, 2))) - min(map(labels.count, (0, 1, 2))) <= 1 for labels in per_fold_labels)


def test_context_net_stream_trains_and_round_trips_through_the_checkpoint(tmp_path, tiny_cfg):
    from dataclasses import replace

    from earlyact.checkpoint import load_checkpoint
    from earlyact.config import AugmentConfig, ContextNetConfig, TrainConfig
    from earlyact.experiment import describe_streams, evaluate_checkpoint, run_seed
    from earlyact.synthetic import make_dataset

    cfg = replace(
        tiny_cfg,
        methods=["kd-ms-lstm"],
        context_net=ContextNetConfig(channels=3),
        context_train=TrainConfig(epochs=2, batch_size=8, cosine=True),
        augment=AugmentConfig(enabled=True, mirror=0.5),
    )
    index, clips = make_dataset(cfg.demo)
    train = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "train"]
    test = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "test"]
    preds = run_seed(train, test, index.classes, cfg, tmp_path, 0, describe_streams(index, train, cfg))
    assert (tmp_path / "context_net" / "best.safetensors").exists()
    bundle = load_checkpoint(tmp_path / "kd-ms-lstm" / "checkpoint")
    assert bundle.info["dims"]["context"] == 12  # 4 x channels: the context network's embedding
    assert bundle.info["stream_specs"]["context"]["network"] == "context_net"
    assert np.array_equal(evaluate_checkpoint(bundle, test, cfg.ratios), preds["kd-ms-lstm"])


def test_context_choice_can_ignore_dataset_features():
    clips = [Clip("a", 0, pose=np.zeros((3, 1, 15, 2), np.float32), context=np.zeros((3, 4), np.float32))]
    assert streams.context_source(clips) == "dataset"
    assert streams.context_source(clips, "skeleton") == "skeleton"
    assert streams.context_source([Clip("b", 0, pose=clips[0].pose)]) == "skeleton"
    with pytest.raises(ValueError, match="features.context must be"):
        streams.context_source(clips, "cnn")


def test_clips_without_pose_pass_when_no_stream_needs_one():
    from earlyact.config import FeatureConfig
    from earlyact.models import StreamNets

    clip = Clip("a", 0, context=np.ones((4, 3), np.float32))  # CNN features only, no pose
    out = streams.pose_streams([clip], ["context"], False, FeatureConfig(), StreamNets())
    assert out[0] is clip
    with pytest.raises(ValueError, match="has no pose stream"):
        streams.pose_streams([clip], ["context"], True, FeatureConfig(), StreamNets())
