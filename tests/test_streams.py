import json

import numpy as np
import pytest
import torch

from earlyact import streams
from earlyact.config import ContextNetConfig, load_config
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
    from earlyact.experiment import describe_streams, run_seed
    from earlyact.predict import evaluate_checkpoint
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


def _window_net_run(tmp_path, tiny_cfg, **overrides):
    """A tiny run whose stage 1 reads the window net: (cfg, index, train clips, test clips, predictions)."""
    from dataclasses import replace

    from earlyact.config import ContextNetConfig, TrainConfig
    from earlyact.experiment import describe_streams, run_seed
    from earlyact.synthetic import make_dataset

    defaults = {
        "context_net": ContextNetConfig(channels=2, window=8, span=10, prefixes=3),
        "context_train": TrainConfig(epochs=2, batch_size=8),
    }
    cfg = replace(tiny_cfg, **{**defaults, **overrides})
    index, clips = make_dataset(cfg.demo)
    train = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "train"]
    test = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "test"]
    preds = run_seed(train, test, index.classes, cfg, tmp_path, 0, describe_streams(index, train, cfg))
    return cfg, index, train, test, preds


@pytest.mark.parametrize(("members", "speed"), [(1, False), (2, False), (2, True)])
def test_window_net_stream_trains_and_round_trips_through_the_checkpoint(tmp_path, tiny_cfg, members, speed):
    from earlyact.checkpoint import load_checkpoint
    from earlyact.predict import evaluate_checkpoint

    window = ContextNetConfig(channels=2, window=8, span=10, prefixes=3, members=members, speed_members=speed)
    cfg, _, _, test, preds = _window_net_run(tmp_path, tiny_cfg, methods=["kd-ms-lstm"], context_net=window)
    for i in range(members):  # each member trained on its own: member 0 where a single net trains
        folder = tmp_path / "context_net" / (f"member_{i}" if i else "")
        assert len((folder / "metrics.csv").read_text().splitlines()) == 3  # header + 2 epochs of the window net
        network = json.loads((folder / "state.json").read_text())["settings"]["network"]
        assert network["real_motion"] == (speed and i == 1)  # a speed member trains on its own rows
    bundle = load_checkpoint(tmp_path / "kd-ms-lstm" / "checkpoint")
    assert bundle.info["dims"]["context"] == 128 * members  # the window net's (members' joined) embedding
    assert len(getattr(bundle.nets.context, "members", [None])) == members
    assert bundle.info["stream_specs"]["context"]["network"] == "window_net"
    assert np.array_equal(evaluate_checkpoint(bundle, test, cfg.ratios), preds["kd-ms-lstm"])


def test_three_d_poses_train_and_round_trip_through_the_checkpoint(tmp_path, tiny_cfg):
    """Poses of (x, y, z, confidence) with ``features.coords=3``: the action network reads 7 channels per
    joint, the window net 3-D motion, and a checkpoint reproduces the run's predictions."""
    from dataclasses import replace

    from earlyact.checkpoint import load_checkpoint
    from earlyact.config import ContextNetConfig, FeatureConfig, TrainConfig
    from earlyact.experiment import describe_streams, run_seed
    from earlyact.predict import evaluate_checkpoint
    from earlyact.synthetic import make_dataset

    cfg = replace(
        tiny_cfg,
        methods=["kd-ms-lstm"],
        features=FeatureConfig(coords=3, long_motion=2),
        context_net=ContextNetConfig(channels=2, window=8, span=10, prefixes=3),
        context_train=TrainConfig(epochs=2, batch_size=8),
    )
    index, clips = make_dataset(cfg.demo)
    with pytest.raises(ValueError, match=r"synthetic-interactions.*'x', 'y', 'confidence'.*features.coords=3"):
        describe_streams(index, clips, cfg)  # the index says x, y: the config's 3-D is refused before training
    cnn = [replace(c, context=np.zeros((c.num_frames, 4), np.float32)) for c in clips]  # no stream reads the pose:
    assert describe_streams(index, cnn, replace(cfg, streams=["context"]))["context"]["source"] == "dataset"  # no check
    index.streams["pose"]["channels"] = ["x", "y", "z", "confidence"]
    rng = np.random.default_rng(0)
    for c in clips:  # each person at a depth of its own, the joints a little in front or behind
        depth = rng.uniform(300, 500, (1, 2, 1, 1)) + rng.normal(0, 20, c.pose.shape[:3] + (1,))
        c.pose = np.concatenate([c.pose[..., :2], depth, c.pose[..., 2:]], -1).astype(np.float32)
    train = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "train"]
    test = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "test"]
    preds = run_seed(train, test, index.classes, cfg, tmp_path, 0, describe_streams(index, train, cfg))
    bundle = load_checkpoint(tmp_path / "kd-ms-lstm" / "checkpoint")
    assert bundle.info["action_net"]["in_channels"] == 7 and bundle.info["features"]["coords"] == 3
    assert bundle.info["context_net"]["motion_dim"] == 2 * 18 * 3
    assert np.array_equal(evaluate_checkpoint(bundle, test, cfg.ratios), preds["kd-ms-lstm"])
    flat = [replace(c, pose=c.pose[..., :2]) for c in test]  # x, y only (a 2-D clip): refused, clip named
    with pytest.raises(ValueError, match=f"clip '{test[0].clip_id}'.*coords=3"):
        evaluate_checkpoint(bundle, flat, cfg.ratios)


def test_window_net_settings_are_checked(tmp_path, tiny_cfg):
    from dataclasses import replace

    from earlyact.config import ContextNetConfig
    from earlyact.streams import fit_context_net
    from earlyact.synthetic import make_dataset

    _, clips = make_dataset(tiny_cfg.demo)
    for window, match in [(ContextNetConfig(channels=2, window=6), "multiple of 4"),
                          (ContextNetConfig(channels=2, window=8, speed_members=True), "speed_members")]:  # fmt: skip
        cfg = replace(tiny_cfg, context_net=window)
        with pytest.raises(ValueError, match=match):
            fit_context_net(clips[:8], clips[8:10], 3, cfg, tmp_path, 0)


def test_speed_members_read_the_motion_per_frame_observed(tiny_cfg):
    """An ensemble with ``speed_members``: member 1's part of the stream is member 1 on windows whose
    motion is per frame observed (``real_motion``), member 0's on DD-Net's; the two rows differ."""
    from dataclasses import replace

    from earlyact.context_nets import make_window_net
    from earlyact.features import prefix_windows, prepared, window_dims
    from earlyact.skeleton import get_layout
    from earlyact.streams import window_features
    from earlyact.synthetic import make_dataset

    _, clips = make_dataset(tiny_cfg.demo)
    clips = prepared(clips[:3], tiny_cfg.features)
    layout, cfg = get_layout(tiny_cfg.features.layout), ContextNetConfig(channels=2, window=8, members=2)
    torch.manual_seed(0)
    net = make_window_net(*window_dims(clips[0].pose.shape[1], layout, cfg), 3, replace(cfg, speed_members=True))
    assert [m.cfg.real_motion for m in net.members] == [False, True]
    out = window_features(net.eval(), clips, tiny_cfg.features)
    for c, o in zip(clips, out, strict=True):
        rows = [torch.from_numpy(prefix_windows(np.asarray(c.pose), layout, tiny_cfg.features, m.cfg))[None]
                for m in net.members]  # fmt: skip
        assert not torch.allclose(rows[0], rows[1])
        with torch.no_grad():
            alone = torch.cat([m(x)[1][0] for m, x in zip(net.members, rows, strict=True)], -1)  # (T, 256)
        torch.testing.assert_close(torch.from_numpy(o.context), alone)


def test_training_transform_memoises_streams_by_pose(monkeypatch, tiny_cfg):
    from dataclasses import replace

    from earlyact.config import AugmentConfig
    from earlyact.models import StreamNets
    from earlyact.synthetic import make_dataset

    cfg = replace(tiny_cfg, augment=AugmentConfig(enabled=True, scale=0, rotation=0, noise=0, speed=0, mirror=0.5))
    _, clips = make_dataset(cfg.demo)
    clips = clips[:6]
    torch_net = ActionNet(36, 5, 3, cfg.action_net).eval()
    nets = StreamNets(action=torch_net, train_action=torch_net)
    computed = []
    real = streams.pose_streams

    def counting(clips, *args, **kwargs):
        computed.append(len(clips))
        return real(clips, *args, **kwargs)

    monkeypatch.setattr(streams, "pose_streams", counting)
    transform = streams.make_transform(cfg, True, nets)
    rng = np.random.default_rng(0)
    outs = [transform(clips, rng) for _ in range(6)]
    assert sum(computed) <= 12  # each clip has two versions (mirrored or not); later calls hit the cache
    fresh = real([replace(c, context=None, action=None) for c in outs[-1]], cfg.streams, True, cfg.features, nets,
                 training=True)  # fmt: skip
    for a, b in zip(outs[-1], fresh, strict=True):
        np.testing.assert_allclose(a.context, b.context, atol=1e-6)
        np.testing.assert_allclose(a.action, b.action, atol=1e-6)


def test_out_of_fold_context_nets_never_saw_their_clips_and_feed_training_clips(monkeypatch, tmp_path, tiny_cfg):
    from dataclasses import replace

    from earlyact.config import ContextNetConfig
    from earlyact.context_nets import WindowNet
    from earlyact.features import prepared
    from earlyact.models import StreamNets
    from earlyact.synthetic import make_dataset

    cfg = replace(tiny_cfg, context_folds=3, context_net=ContextNetConfig(channels=2, window=8))
    seen = {}

    def fake_fit(train, val, num_classes, cfg, out_dir, seed):
        net = WindowNet(306, 72, num_classes, cfg.context_net).eval()
        seen[id(net)] = {c.clip_id for c in train}
        return net, {}

    monkeypatch.setattr(streams, "fit_context_net", fake_fit)
    _, clips = make_dataset(cfg.demo)
    clips = clips[:12]
    folds = streams.fold_context_nets(clips, clips[:2], 3, cfg, tmp_path, seed=0)
    assert set(folds) == {c.clip_id for c in clips} and len({id(n) for n in folds.values()}) == 3
    assert all(cid not in seen[id(net)] for cid, net in folds.items())
    final = WindowNet(306, 72, 3, cfg.context_net).eval()
    nets = StreamNets(context=final, train_context=folds)
    trained = streams.pose_streams(clips, ["context"], True, cfg.features, nets, training=True)
    tested = streams.pose_streams(clips, ["context"], True, cfg.features, nets)
    for clip, a, b in zip(clips, trained, tested, strict=True):
        own = streams.window_features(folds[clip.clip_id], prepared([clip], cfg.features), cfg.features)[0]
        np.testing.assert_allclose(a.context, own.context, atol=1e-6)  # training: its out-of-fold network
        assert not np.allclose(a.context, b.context)  # new clips: the network trained on all clips


def test_fused_prediction_is_the_weighted_product_of_students_and_context_net(tmp_path, tiny_cfg):
    from dataclasses import replace

    import torch

    from earlyact.checkpoint import load_checkpoint
    from earlyact.data import make_batch
    from earlyact.evaluate import ratio_predictions
    from earlyact.experiment import describe_streams, run_seed
    from earlyact.predict import evaluate_checkpoint
    from earlyact.streams import add_streams

    fused = replace(tiny_cfg.model, fuse_context=0.7)
    cfg, index, train, test, preds = _window_net_run(tmp_path, tiny_cfg, methods=["kd-ms-lstm", "teacher"], model=fused)
    bundle = load_checkpoint(tmp_path / "kd-ms-lstm" / "checkpoint")
    b = make_batch(add_streams(test, cfg.streams, bundle.info, bundle.nets), cfg.streams)
    with torch.no_grad():
        stage = bundle.predictor.eval().forward_students(b.context, b.action)[-1].logits  # (B, T, K)
        own = bundle.nets.context.eval().head(b.context)  # the window net's classifier on its embedding
    probs = stage.softmax(-1) ** 0.3 * own.softmax(-1) ** 0.7  # unnormalised product of experts
    expected = ratio_predictions(probs.log(), b.lengths, cfg.ratios)
    assert not np.array_equal(expected, ratio_predictions(stage, b.lengths, cfg.ratios))  # fusion changes some
    assert np.array_equal(preds["kd-ms-lstm"], expected)
    assert np.array_equal(evaluate_checkpoint(bundle, test, cfg.ratios), expected)  # the setting is saved
    teacher = load_checkpoint(tmp_path / "teacher" / "checkpoint")  # the offline teacher is never fused
    with torch.no_grad():
        offline = teacher.predictor.eval().forward_teachers(b.context, b.action, b.lengths)[-1].logits
    assert np.array_equal(preds["teacher"], ratio_predictions(offline, b.lengths, cfg.ratios))
    # another weight in the same folder: nothing retrained, the predictions recomputed
    history = (tmp_path / "kd-ms-lstm" / "students" / "metrics.csv").read_text()
    plain = replace(cfg, model=replace(cfg.model, fuse_context=0.0))
    again = run_seed(train, test, index.classes, plain, tmp_path, 0, describe_streams(index, train, plain))
    assert np.array_equal(again["kd-ms-lstm"], ratio_predictions(stage, b.lengths, cfg.ratios))
    assert (tmp_path / "kd-ms-lstm" / "students" / "metrics.csv").read_text() == history


def test_mirrored_views_and_smoothing_predict_from_the_mean_log_probabilities(tmp_path, tiny_cfg):
    import torch

    from earlyact.augment import mirror_clips
    from earlyact.checkpoint import load_checkpoint
    from earlyact.data import make_batch
    from earlyact.evaluate import ratio_frames
    from earlyact.models import fuse_logits, smooth_log_probs
    from earlyact.predict import action_fusion_head, fusion_head, predict_ratios
    from earlyact.skeleton import get_layout
    from earlyact.streams import add_streams

    cfg, _, _, test, preds = _window_net_run(tmp_path, tiny_cfg, methods=["kd-ms-lstm"])
    bundle = load_checkpoint(tmp_path / "kd-ms-lstm" / "checkpoint")
    views = [
        add_streams(x, cfg.streams, bundle.info, bundle.nets) for x in (test, mirror_clips(test, get_layout("coco18")))
    ]
    assert not np.allclose(views[0][0].context, views[1][0].context)  # the mirror image has its own streams
    log_p = []
    for view in views:
        b = make_batch(view, cfg.streams)
        with torch.no_grad():
            logits = bundle.predictor.eval().forward_students(b.context, b.action)[-1].logits  # (B, T, K)
        log_p.append(ratio_frames(logits.log_softmax(-1), b.lengths, cfg.ratios))  # (R, B, K)
    expected = ((log_p[0] + log_p[1]) / 2).argmax(-1).numpy()
    one = [log_p[0].argmax(-1).numpy(), log_p[1].argmax(-1).numpy()]
    assert not (np.array_equal(expected, one[0]) and np.array_equal(expected, one[1]))  # the mean is no single view
    got = predict_ratios(bundle.predictor, False, views[0], cfg.streams, cfg.ratios, mirrored=views[1])
    assert np.array_equal(got, expected)
    assert np.array_equal(
        predict_ratios(bundle.predictor, False, views[0], cfg.streams, cfg.ratios), preds["kd-ms-lstm"]
    )
    b = make_batch(views[0], cfg.streams)  # smoothing: the decayed mean of the frames' log-probabilities
    with torch.no_grad():
        logits = bundle.predictor.forward_students(b.context, b.action)[-1].logits
    smoothed = ratio_frames(smooth_log_probs(logits.log_softmax(-1), 0.7), b.lengths, cfg.ratios).argmax(-1).numpy()
    assert not np.array_equal(smoothed, one[0])
    got = predict_ratios(bundle.predictor, False, views[0], cfg.streams, cfg.ratios, smooth=0.7)
    assert np.array_equal(got, smoothed)
    head = bundle.nets.action.eval().temporal.head  # fusing the action network's own classifier too
    three = fuse_logits(logits, bundle.nets.context.eval().head(b.context), 0.5, head(b.action), 0.3)
    expected = ratio_frames(three, b.lengths, cfg.ratios).argmax(-1).numpy()
    got = predict_ratios(
        bundle.predictor, False, views[0], cfg.streams, cfg.ratios, fusion_head(bundle.nets, 0.5), 0.5,
        action_head=action_fusion_head(bundle.nets, 0.3), fuse_action=0.3,
    )  # fmt: skip
    assert np.array_equal(got, expected)
    mixture = fuse_logits(logits, bundle.nets.context.eval().head(b.context), 0.5, head(b.action), 0.3, "linear")
    got = predict_ratios(
        bundle.predictor, False, views[0], cfg.streams, cfg.ratios, fusion_head(bundle.nets, 0.5), 0.5,
        action_head=action_fusion_head(bundle.nets, 0.3), fuse_action=0.3, pool="linear",
    )  # fmt: skip
    assert np.array_equal(got, ratio_frames(mixture, b.lengths, cfg.ratios).argmax(-1).numpy())


def test_the_linear_pool_is_the_experts_mixture_where_the_log_pool_lets_one_expert_veto():
    import torch

    from earlyact.models import fuse_logits

    stage, context, action = (torch.tensor([p]).log() for p in ([0.6, 0.4], [0.9, 0.1], [0.2, 0.8]))
    with pytest.raises(ValueError, match="model.pool must be one of"):
        fuse_logits(stage, context, 0.5, action, 0.2, pool="mean")
    mixed = fuse_logits(stage, context, 0.5, action, 0.2, pool="linear").exp()  # (1, K) probabilities
    expected = [[0.3 * 0.6 + 0.5 * 0.9 + 0.2 * 0.2, 0.3 * 0.4 + 0.5 * 0.1 + 0.2 * 0.8]]
    torch.testing.assert_close(mixed, torch.tensor(expected))
    torch.testing.assert_close(fuse_logits(stage, context, 0.5), 0.5 * stage + 0.5 * context)  # the log pool as before
    # each of two experts is sure of its own class and gives the other's 0.001: the product takes the class
    # that neither excludes (B), the mixture the more probable of the two (A)
    one, two = torch.tensor([[0.75, 0.249, 0.001]]).log(), torch.tensor([[0.001, 0.3, 0.699]]).log()
    assert fuse_logits(one, two, 0.5, pool="log").argmax().item() == 1
    assert fuse_logits(one, two, 0.5, pool="linear").argmax().item() == 0


def test_mirroring_the_experts_averages_their_log_probabilities_over_both_views(tmp_path, tiny_cfg, monkeypatch):
    """``model.mirror="experts"``: the stages read the clip, the fused classifiers both views (mean
    log-probabilities); "all" averages the fused prediction of each view; the teacher reads one view."""
    from dataclasses import replace

    import torch

    from earlyact import experiment, predict
    from earlyact.augment import mirror_clips
    from earlyact.checkpoint import load_checkpoint
    from earlyact.data import make_batch
    from earlyact.evaluate import ratio_frames, ratio_predictions
    from earlyact.models import fuse_logits
    from earlyact.skeleton import get_layout
    from earlyact.streams import add_streams

    calls = []
    original = experiment.predict_log_probs
    monkeypatch.setattr(experiment, "predict_log_probs", lambda *a, **k: calls.append(k) or original(*a, **k))
    model = replace(tiny_cfg.model, fuse_context=0.5, fuse_action=0.2, mirror="experts")
    cfg, _, _, test, preds = _window_net_run(tmp_path, tiny_cfg, methods=["kd-ms-lstm", "teacher"], model=model)
    bundle = load_checkpoint(tmp_path / "kd-ms-lstm" / "checkpoint")
    views = [
        add_streams(x, cfg.streams, bundle.info, bundle.nets) for x in (test, mirror_clips(test, get_layout("coco18")))
    ]
    given = calls[0]["mirrored"]  # the run computed the mirror images' streams with the frozen networks
    assert calls[0]["mirror"] == "experts" and np.allclose(given[0].context, views[1][0].context)
    assert np.allclose(given[0].action, views[1][0].action)

    def predicted(c_head, a_head, mirror, second):  # by hand: fused as model.mirror says, (R, N) classes
        batches = [make_batch(view, cfg.streams) for view in (views[0], second)]
        with torch.no_grad():
            stages = [bundle.predictor.eval().forward_students(b.context, b.action)[-1].logits for b in batches]
            ctx = [c_head(b.context).log_softmax(-1) for b in batches]  # (B, T, K) per view
            act = [a_head(b.action).log_softmax(-1) for b in batches]
        if mirror == "all":
            both = [fuse_logits(stages[i], ctx[i], 0.5, act[i], 0.2) for i in (0, 1)]
            log_p = (both[0] + both[1]) / 2
        else:
            read = (0,) if mirror == "none" else (0, 1)
            c, a = (sum(x[i] for i in read) / len(read) for x in (ctx, act))
            log_p = fuse_logits(stages[0], c, 0.5, a, 0.2)
        return ratio_frames(log_p, batches[0].lengths, cfg.ratios).argmax(-1).numpy()

    c_head, a_head = bundle.nets.context.eval().head, bundle.nets.action.eval().temporal.head
    assert np.array_equal(preds["kd-ms-lstm"], predicted(c_head, a_head, "experts", views[1]))
    assert np.array_equal(predict.evaluate_checkpoint(bundle, test, cfg.ratios), preds["kd-ms-lstm"])  # saved
    # the averaging itself, on a second view far enough from the first (the tiny networks' mirror
    # images hardly differ) for the heads to disagree
    rng = np.random.default_rng(0)
    noisy = lambda x: x + rng.normal(0, 0.3, x.shape).astype(np.float32)  # noqa: E731
    second = [replace(c, context=noisy(c.context), action=noisy(c.action)) for c in views[0]]
    for mirror in ("experts", "all"):
        expected = predicted(c_head, a_head, mirror, second)
        assert not np.array_equal(expected, predicted(c_head, a_head, "none", second))  # the second view counts
        got = original(bundle.predictor, False, views[0], cfg.streams, cfg.ratios, c_head, 0.5, second,
                       action_head=a_head, fuse_action=0.2, mirror=mirror)  # fmt: skip  # (R, N, K)
        assert np.array_equal(got.argmax(-1), expected)
    teacher = load_checkpoint(tmp_path / "teacher" / "checkpoint")
    b = make_batch(views[0], cfg.streams)
    with torch.no_grad():
        offline = teacher.predictor.eval().forward_teachers(b.context, b.action, b.lengths)[-1].logits
    assert np.array_equal(preds["teacher"], ratio_predictions(offline, b.lengths, cfg.ratios))  # one view
    with pytest.raises(ValueError, match="model.mirror must be"):
        original(bundle.predictor, False, views[0], cfg.streams, cfg.ratios, mirror="both")


def test_mirroring_needs_pose_derived_streams(tiny_cfg):
    from dataclasses import replace

    from earlyact.models import StreamNets
    from earlyact.predict import mirrored_views
    from earlyact.synthetic import make_dataset

    _, clips = make_dataset(tiny_cfg.demo)  # context read from files, not from the pose
    cfg = replace(tiny_cfg, model=replace(tiny_cfg.model, mirror="experts"))
    with pytest.raises(ValueError, match="model.mirror needs pose-derived streams"):
        mirrored_views(clips[:2], ["context", "action"], False, cfg, StreamNets())
    assert mirrored_views(clips[:2], ["context", "action"], False, tiny_cfg, StreamNets()) is None  # "none"
    typo = replace(tiny_cfg, model=replace(tiny_cfg.model, mirror="both"))
    with pytest.raises(ValueError, match="model.mirror must be"):  # before any stage trains
        mirrored_views(clips[:2], ["context", "action"], False, typo, StreamNets())


def test_fusion_needs_a_context_network_and_a_weight_in_0_1():
    import torch

    from earlyact.models import StreamNets, fuse_logits
    from earlyact.predict import fusion_head

    with pytest.raises(ValueError, match="context network"):
        fusion_head(StreamNets(), 0.5)
    assert fusion_head(StreamNets(), 0.0) is None
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fuse_logits(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3), 1.5)


def test_stages_built_on_other_streams_are_not_reused(tmp_path, tiny_cfg):
    """A retrained stream network (its folder deleted, other settings) makes the teachers and
    students trained on the old streams stale: the rerun stops, naming the changed setting."""
    import shutil
    from dataclasses import replace

    from earlyact.experiment import describe_streams, run_seed

    cfg, index, train, test, _ = _window_net_run(tmp_path, tiny_cfg, methods=["kd-ms-lstm"])
    shutil.rmtree(tmp_path / "context_net")
    other = replace(cfg, context_net=replace(cfg.context_net, dropout=0.2))
    with pytest.raises(ValueError, match=r"teachers: .*upstream\.context_net\.dropout: 0\.1 -> 0\.2"):
        run_seed(train, test, index.classes, other, tmp_path, 0, describe_streams(index, train, other))


@pytest.mark.parametrize("window", [8, 0])  # the window net, the causal context network
def test_the_context_net_trains_with_context_augment_and_the_stages_augmentation_never_reaches_it(
    tmp_path, tiny_cfg, window
):
    from dataclasses import replace

    import torch

    from earlyact.config import AugmentConfig, ContextNetConfig, TrainConfig
    from earlyact.streams import fit_context_net
    from earlyact.synthetic import make_dataset

    base = replace(
        tiny_cfg, context_net=ContextNetConfig(channels=2, window=window, span=10, prefixes=3),
        context_train=TrainConfig(epochs=2, batch_size=8),
    )  # fmt: skip
    _, clips = make_dataset(base.demo)
    geo = AugmentConfig(enabled=True, scale=0.2, rotation=20, mirror=0.5, noise=0, speed=0)

    def weights(name: str, **changes) -> list[torch.Tensor]:
        net, _ = fit_context_net(clips[:12], clips[12:16], 3, replace(base, **changes), tmp_path / name, 0)
        return [p.detach().clone() for p in net.parameters()]

    plain = weights("plain")
    stages_only = weights("stages", augment=geo)
    own = weights("own", context_augment=geo)
    assert all(torch.equal(a, b) for a, b in zip(plain, stages_only, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(plain, own, strict=True))
    saved = json.loads((tmp_path / "own" / "state.json").read_text())["settings"]["augment"]
    assert saved["scale"] == 0.2 and saved["rotation"] == 20  # what it trained with is recorded beside it


def test_val_fraction_0_fits_every_network_on_all_training_clips_for_all_its_epochs(tmp_path, tiny_cfg):
    from dataclasses import replace

    from earlyact.config import TrainConfig

    no_val = {"val_fraction": 0.0, "patience": 1}
    cfg = replace(
        tiny_cfg,
        train=replace(tiny_cfg.train, epochs=3, **no_val),
        action_train=replace(tiny_cfg.action_train, epochs=2, **no_val),
    )
    _, _, train, _, _ = _window_net_run(
        tmp_path, cfg, methods=["kd-ms-lstm"], context_train=TrainConfig(epochs=2, batch_size=8, **no_val)
    )
    for phase, epochs in (("context_net", 2), ("action_net", 2), ("teachers", 3), ("kd-ms-lstm/students", 3)):
        state = json.loads((tmp_path / phase / "state.json").read_text())
        assert (state["epoch"], state["best_epoch"]) == (epochs, epochs), phase


def test_teacher_epochs_give_the_teachers_their_own_schedule_and_guard_what_distils_from_them(tmp_path, tiny_cfg):
    from dataclasses import replace

    from earlyact.config import TrainConfig
    from earlyact.experiment import describe_streams, run_seed

    no_val = {"val_fraction": 0.0, "patience": 1}
    cfg = replace(tiny_cfg, train=replace(tiny_cfg.train, epochs=2, **no_val), teacher_epochs=4)
    cfg, index, train, test, _ = _window_net_run(
        tmp_path, cfg, methods=["ms-lstm", "kd-ms-lstm"], context_train=TrainConfig(epochs=1, batch_size=8, **no_val)
    )
    epochs = {p: json.loads((tmp_path / p / "state.json").read_text())["epoch"]
              for p in ("teachers", "kd-ms-lstm/students", "ms-lstm/students")}  # fmt: skip
    assert epochs == {"teachers": 4, "kd-ms-lstm/students": 2, "ms-lstm/students": 2}
    kd = json.loads((tmp_path / "kd-ms-lstm" / "students" / "state.json").read_text())["settings"]
    plain = json.loads((tmp_path / "ms-lstm" / "students" / "state.json").read_text())["settings"]
    assert kd["upstream"]["teacher_epochs"] == 4 and "teacher_epochs" not in plain["upstream"]
    other = replace(cfg, teacher_epochs=3)  # a finished teacher of another schedule is refused, not reused
    with pytest.raises(ValueError, match="teachers: this phase was trained with other settings"):
        run_seed(train, test, index.classes, other, tmp_path, 0, describe_streams(index, train, other))


def test_a_run_folder_is_not_reused_for_another_split_or_other_stage_training(tmp_path, tiny_cfg):
    from dataclasses import replace

    from earlyact.experiment import describe_streams, run_seed

    cfg, index, train, test, _ = _window_net_run(tmp_path, tiny_cfg, methods=["kd-ms-lstm"])
    # saved predictions made by other stage training are not returned as if current; other training
    # clips: the run's recorded validation part refuses them first, and without that record the
    # stream network trained first does
    other_split = replace(cfg, train=replace(cfg.train, val_fraction=0.5))
    with pytest.raises(ValueError, match="validation.json: this run held out"):
        run_seed(train, test, index.classes, other_split, tmp_path, 0, describe_streams(index, train, other_split))
    for other, phase in (
        (replace(cfg, train=replace(cfg.train, lr=cfg.train.lr / 2)), "teachers"),
        (other_split, "context_net"),
    ):
        (tmp_path / "validation.json").unlink(missing_ok=True)  # a folder made before the record
        with pytest.raises(ValueError, match=f"{phase}: this phase was trained with other settings"):
            run_seed(train, test, index.classes, other, tmp_path, 0, describe_streams(index, train, other))
