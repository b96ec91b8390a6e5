import pytest
import torch

from earlyact.config import ActionNetConfig, ContextNetConfig, ModelConfig
from earlyact.context_nets import ContextNet
from earlyact.models import ActionNet, Predictor, Teacher

CFG = ModelConfig(hidden1=6, hidden2=4, dropout=0.0)


def _inputs(B=2, T=7, Dc=5, Da=3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(B, T, Dc, generator=g), torch.randn(B, T, Da, generator=g)


@pytest.mark.parametrize("two_stage", [True, False])
def test_students_are_causal(two_stage):
    torch.manual_seed(0)
    model = Predictor(5, 3, 4, CFG, two_stage=two_stage).eval()
    ctx, act = _inputs()
    ref = model.forward_students(ctx, act)[-1].logits
    t = 3
    ctx2, act2 = ctx.clone(), act.clone()
    ctx2[:, t + 1 :] = torch.randn_like(ctx2[:, t + 1 :]) * 5
    act2[:, t + 1 :] = 7.0
    out = model.forward_students(ctx2, act2)[-1].logits
    assert torch.allclose(out[:, : t + 1], ref[:, : t + 1], atol=1e-6)
    assert not torch.allclose(out[:, t + 1 :], ref[:, t + 1 :])  # the future did change


def test_teacher_sees_the_future():
    torch.manual_seed(0)
    model = Predictor(5, 3, 4, CFG).eval()
    ctx, act = _inputs()
    lengths = torch.tensor([7, 7])
    ref = model.forward_teachers(ctx, act, lengths)[-1].logits
    ctx2 = ctx.clone()
    ctx2[:, -1] += 3.0
    assert not torch.allclose(model.forward_teachers(ctx2, act, lengths)[-1].logits[:, 0], ref[:, 0])


def test_step_matches_full_sequence():
    torch.manual_seed(0)
    model = Predictor(5, 3, 4, CFG).eval()
    model.norm_context.fit(torch.randn(50, 5) * 2 + 1)
    ctx, act = _inputs()
    full = model.forward_students(ctx, act)[-1].logits
    state = model.init_state(2)
    for t in range(ctx.shape[1]):
        logits, state = model.step(ctx[:, t], act[:, t], state)
        assert torch.allclose(logits, full[:, t], atol=1e-5)


def test_teacher_ignores_padding():
    torch.manual_seed(0)
    teacher = Teacher(5, 6, 3).eval()
    x = torch.randn(1, 4, 5)
    padded = torch.cat([x, torch.randn(1, 3, 5) * 9], dim=1)
    a = teacher(x, torch.tensor([4])).hidden
    b = teacher(padded, torch.tensor([4])).hidden
    assert torch.allclose(a, b[:, :4], atol=1e-6)
    assert torch.all(b[:, 4:] == 0)


def test_teacher_hidden_matches_student_size():
    model = Predictor(5, 3, 4, CFG)
    ctx, act = _inputs()
    s = model.forward_students(ctx, act)
    t = model.forward_teachers(ctx, act, torch.tensor([7, 5]))
    assert [o.hidden.shape for o in s] == [o.hidden.shape for o in t] == [(2, 7, 6), (2, 7, 4)]
    with pytest.raises(ValueError, match="even"):
        Teacher(5, 7, 3)


@pytest.mark.parametrize(("dc", "da"), [(5, 0), (0, 3)])
def test_single_stream(dc, da):
    model = Predictor(dc, da, 4, CFG)
    ctx, act = _inputs()
    out = model.forward_students(ctx if dc else None, act if da else None)
    assert out[-1].logits.shape == (2, 7, 4)


def test_action_net_shapes_and_causality():
    torch.manual_seed(0)
    net = ActionNet(36, 5, 6, ActionNetConfig(dropout=0.0)).eval()
    joints = torch.randn(2, 9, 36, 5)
    logits, hidden = net(joints)
    assert logits.shape == (2, 9, 6) and hidden.shape == (2, 9, 256)
    joints2 = joints.clone()
    joints2[:, 5:] = 0
    assert torch.allclose(net(joints2)[1][:, :5], hidden[:, :5], atol=1e-6)


def test_context_net_is_causal_and_its_embedding_a_running_max():
    torch.manual_seed(0)
    net = ContextNet(11, 4, ContextNetConfig(channels=4)).eval()
    x = torch.randn(2, 40, 11)
    logits, emb = net(x)
    assert logits.shape == (2, 40, 4) and emb.shape == (2, 40, 16) and net.receptive_field == 27
    y = x.clone()
    y[:, 12:] = 100.0  # the future changes; the past outputs may not
    assert torch.allclose(net(y)[1][:, :12], emb[:, :12]) and not torch.allclose(net(y)[1], emb)
    assert (emb[:, 1:] >= emb[:, :-1]).all()  # the strongest evidence so far never decreases
    x2 = x.clone()
    x2[:, 0] += 5.0  # a change at frame 0 reaches frame 39 (beyond the receptive field) only through the max
    assert (net(x2)[1][:, -1] != emb[:, -1]).any()


def test_context_net_first_frame_padding_reads_a_prefix_as_a_still_clip():
    torch.manual_seed(0)
    first = ContextNet(11, 4, ContextNetConfig(channels=4, padding="first")).eval()
    still = torch.randn(1, 1, 11).expand(1, 30, 11)  # one pose held for 30 frames
    h = first.blocks(first.norm(still).transpose(1, 2))  # (1, C, T) before the running max
    scale = h.abs().max()
    assert (h - h[..., :1]).abs().max() < 1e-4 * scale  # frame 0 is already the steady state
    zeros = ContextNet(11, 4, ContextNetConfig(channels=4, padding="zeros")).eval()
    zeros.load_state_dict(first.state_dict())
    h0 = zeros.blocks(zeros.norm(still).transpose(1, 2))  # (1, C, T) before the running max
    assert (h0[..., 0] - h0[..., -1]).abs().max() > 0.1 * scale  # zeros: early frames see silence
    x = torch.randn(2, 20, 11)
    y = x.clone()
    y[:, 8:] = 50.0
    assert torch.allclose(first(y)[1][:, :8], first(x)[1][:, :8])  # still causal
    with pytest.raises(ValueError, match="padding"):
        ContextNet(11, 4, ContextNetConfig(channels=4, padding="reflect"))


def test_window_net_reads_each_frame_window_alone():
    from earlyact.context_nets import WindowNet

    torch.manual_seed(0)
    net = WindowNet(10, 6, 4, ContextNetConfig(channels=4, window=8)).eval()
    x = torch.randn(2, 5, 8, 16)  # (B, T, L, D)
    logits, emb = net(x)
    assert logits.shape == (2, 5, 4) and emb.shape == (2, 5, 128)
    y = x.clone()
    y[:, 3:] = torch.randn(2, 2, 8, 16)
    logits2, _ = net(y)
    torch.testing.assert_close(logits2[:, :3], logits[:, :3])
    assert not torch.allclose(logits2[:, 3:], logits[:, 3:])


def test_window_ensemble_averages_its_members_log_probabilities_and_joins_their_embeddings():
    from earlyact.context_nets import WindowEnsemble, make_window_net

    torch.manual_seed(0)
    cfg = ContextNetConfig(channels=4, window=8, members=3)
    net = make_window_net(10, 6, 4, cfg).eval()
    assert isinstance(net, WindowEnsemble) and len(net.members) == 3 and net.dim == 3 * 128
    assert all(m.cfg.members == 1 for m in net.members)  # each member is a single net
    x = torch.randn(2, 5, 8, 16)  # (B, T, L, D)
    log_p, emb = net(x)
    alone = [m(x) for m in net.members]
    torch.testing.assert_close(log_p, sum(a[0].log_softmax(-1) for a in alone) / 3)
    torch.testing.assert_close(emb, torch.cat([a[1] for a in alone], -1))
    torch.testing.assert_close(net.head(emb), log_p)  # the fusion head reads the joined embedding
    assert not torch.allclose(alone[0][0], alone[1][0])  # members start from their own initialisations
    assert type(make_window_net(10, 6, 4, ContextNetConfig(channels=4, window=8))).__name__ == "WindowNet"


def test_fused_prediction_runs_online_one_frame_at_a_time():
    """The window net on frame t's window of the prefix, one Predictor.step, then fuse_logits:
    equal to the fused whole-clip pass, so fusion needs no extra network pass online."""
    import numpy as np

    from earlyact.config import FeatureConfig
    from earlyact.context_nets import WindowNet
    from earlyact.features import prefix_windows, window_dims
    from earlyact.models import fuse_logits
    from earlyact.skeleton import JHMDB15

    torch.manual_seed(0)
    window = ContextNetConfig(channels=4, window=8, span=6)
    net = WindowNet(*window_dims(1, JHMDB15, window), 4, window).eval()
    model = Predictor(128, 0, 4, CFG).eval()
    pose = np.random.default_rng(0).normal(size=(9, 1, 15, 2))  # (T, P, J, C)
    with torch.no_grad():
        own, emb = net(torch.from_numpy(prefix_windows(pose, JHMDB15, FeatureConfig(), window))[None])
        full = fuse_logits(model.forward_students(emb, None)[-1].logits, own, 0.5)  # (1, T, K)
        state = model.init_state(1)
        for t in range(len(pose)):  # only frames <= t exist yet
            x = prefix_windows(pose[: t + 1], JHMDB15, FeatureConfig(), window, np.array([t]))  # (1, L, D)
            own_t, emb_t = net(torch.from_numpy(x)[None])  # (1, 1, K), (1, 1, 128)
            logits, state = model.step(emb_t[:, 0], None, state)
            torch.testing.assert_close(fuse_logits(logits, own_t[:, 0], 0.5), full[:, t], atol=1e-5, rtol=1e-5)


def test_smoothed_log_probs_are_the_decayed_mean_of_the_frames_seen():
    """Row t = sum_s d^(t-s) x_s / sum_s d^(t-s) over s <= t (brute force); causal; d = 0 is the identity."""
    from earlyact.models import smooth_log_probs

    x = torch.randn(2, 7, 3).log_softmax(-1)  # (B, T, K)
    got = smooth_log_probs(x, 0.6)
    for t in range(7):
        w = 0.6 ** torch.arange(t, -1, -1, dtype=x.dtype)  # d^(t-s), s = 0..t
        torch.testing.assert_close(got[:, t], (w[None, :, None] * x[:, : t + 1]).sum(1) / w.sum())
    torch.testing.assert_close(smooth_log_probs(x[:, :4], 0.6), got[:, :4])  # later frames change nothing
    assert torch.equal(smooth_log_probs(x, 0.0), x)
    with pytest.raises(ValueError, match="model.smooth"):
        smooth_log_probs(x, 1.0)


def test_fusing_three_experts_weights_their_log_probabilities_and_checks_the_weights():
    from earlyact.models import fuse_logits

    stage, context, action = torch.randn(3, 2, 4, 5).unbind(0)  # (B, T, K) each
    got = fuse_logits(stage, context, 0.5, action, 0.2)
    want = 0.3 * stage.log_softmax(-1) + 0.5 * context.log_softmax(-1) + 0.2 * action.log_softmax(-1)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(
        fuse_logits(stage, None, 0.0, action, 0.2), 0.8 * stage.log_softmax(-1) + 0.2 * action.log_softmax(-1)
    )
    torch.testing.assert_close(fuse_logits(stage, context, 0.5), fuse_logits(stage, context, 0.5, action, 0.0))
    torch.testing.assert_close(  # w + v = 1 although 1 - 0.8 < 0.2 in floats: the stage drops out
        fuse_logits(stage, context, 0.8, action, 0.2), 0.8 * context.log_softmax(-1) + 0.2 * action.log_softmax(-1)
    )
    with pytest.raises(ValueError, match="model.fuse_action"):
        fuse_logits(stage, context, 0.5, action, 0.6)
