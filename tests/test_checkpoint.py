import torch

from earlyact.checkpoint import (
    load_checkpoint,
    load_tensors,
    optimizer_from_tensors,
    optimizer_to_tensors,
    save_checkpoint,
    save_tensors,
)
from earlyact.config import ActionNetConfig, ContextNetConfig, ModelConfig, to_dict
from earlyact.context_nets import ContextNet
from earlyact.models import ActionNet, Predictor, StreamNets


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    cfg = ModelConfig(hidden1=6, hidden2=4)
    acfg = ActionNetConfig(point_channels=(4, 4), global_channels=4, embed=8, hidden=5)
    model = Predictor(7, 5, 3, cfg, two_stage=True, teachers=True).eval()
    model.norm_context.fit(torch.randn(20, 7) + 3)
    net = ActionNet(36, 5, 3, acfg).eval()
    info = {
        "method": "kd-ms-lstm", "classes": ["a", "b", "c"], "streams": ["context", "action"],
        "stream_specs": {}, "dims": {"context": 7, "action": 5}, "model": to_dict(cfg), "features": {},
        "action_net": {"num_joints": 36, "in_channels": 5, "num_classes": 3, "config": to_dict(acfg)}, "seed": 0,
    }  # fmt: skip
    ctx_net = ContextNet(7, 3, ContextNetConfig(channels=4)).eval()
    ctx_net.norm.fit(torch.randn(30, 7) * 2)
    ctx_cfg = ContextNetConfig(channels=4)
    info["context_net"] = {"input_dim": 7, "num_classes": 3, "config": to_dict(ctx_cfg)}
    folder = save_checkpoint(tmp_path / "ck", model, StreamNets(action=net, context=ctx_net), info, "x: 1\n")
    assert sorted(p.name for p in folder.iterdir()) == [
        "checkpoint.json",
        "config.yaml",
        "model.safetensors",
    ]
    bundle = load_checkpoint(folder)
    ctx, act = torch.randn(2, 4, 7), torch.randn(2, 4, 5)
    assert torch.equal(
        bundle.predictor.forward_students(ctx, act)[-1].logits,
        model.forward_students(ctx, act)[-1].logits,
    )
    joints = torch.randn(1, 3, 36, 5)
    assert torch.equal(bundle.action_net(joints)[1], net(joints)[1])
    x = torch.randn(2, 9, 7)
    assert ctx_cfg.channels == 4 and torch.equal(bundle.nets.context(x)[1], ctx_net(x)[1])
    assert bundle.classes == ["a", "b", "c"]


def test_optimizer_state_round_trip(tmp_path):
    p = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.AdamW([p], lr=0.1)
    p.grad = torch.tensor([1.0, -2.0, 3.0])
    opt.step()
    tensors, meta = optimizer_to_tensors(opt)
    save_tensors(tmp_path / "o.safetensors", tensors)
    opt2 = torch.optim.AdamW([torch.nn.Parameter(torch.ones(3))], lr=0.5)
    optimizer_from_tensors(opt2, load_tensors(tmp_path / "o.safetensors"), meta)
    a, b = opt.state_dict(), opt2.state_dict()
    assert b["param_groups"][0]["lr"] == 0.1
    for k in ("step", "exp_avg", "exp_avg_sq"):
        assert torch.equal(a["state"][0][k], b["state"][0][k])


def test_no_pickle_is_written(tmp_path):
    save_tensors(tmp_path / "w.safetensors", {"a": torch.zeros(2)})
    head = (tmp_path / "w.safetensors").read_bytes()[:64]
    assert not head.startswith(b"\x80") and b"PK" not in head[:2]  # neither a pickle nor torch's zip
