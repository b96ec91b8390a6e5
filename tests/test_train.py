import json
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest
import torch

from earlyact.config import LossConfig, ModelConfig, TrainConfig
from earlyact.data import Clip
from earlyact.experiment import fit_standardization
from earlyact.methods import METHODS
from earlyact.models import Predictor
from earlyact.train import train_students, train_teachers


def _clips(n=12, seed=0):
    """Class 1 clips drift upwards in feature 0 after a few frames; class 0 clips do not."""
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(n):
        T = int(rng.integers(6, 10))
        x = rng.normal(size=(T, 3)).astype(np.float32)
        label = i % 2
        x[3:, 0] += 2.0 * label
        clips.append(Clip(f"c{i}", label, context=x))
    return clips


CFG = TrainConfig(epochs=6, batch_size=4, lr=1e-2, patience=100)


def _model():
    torch.manual_seed(0)
    m = Predictor(3, 0, 2, ModelConfig(hidden1=6, hidden2=4, dropout=0.1))
    fit_standardization(m, _clips())
    return m


def test_resume_after_interruption_equals_uninterrupted(tmp_path):
    clips, val = _clips(), _clips(6, seed=1)
    ratios = [0.5, 1.0]
    full = _model()
    train_students(full, METHODS["ms-lstm"], clips, val, ["context"], ratios, CFG, _loss(), tmp_path / "a", 0)
    part = _model()
    train_students(
        part,
        METHODS["ms-lstm"],
        clips,
        val,
        ["context"],
        ratios,
        CFG,
        _loss(),
        tmp_path / "b",
        0,
        stop_after=2,
    )
    state = json.loads((tmp_path / "b" / "state.json").read_text())
    assert state["epoch"] == 2 and not state["done"]
    resumed = _model()  # a fresh process would start from scratch weights
    train_students(
        resumed,
        METHODS["ms-lstm"],
        clips,
        val,
        ["context"],
        ratios,
        CFG,
        _loss(),
        tmp_path / "b",
        0,
    )
    for k, v in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v)
    hist_a = (tmp_path / "a" / "metrics.csv").read_text()
    assert hist_a == (tmp_path / "b" / "metrics.csv").read_text()
    assert len(hist_a.strip().splitlines()) == 1 + CFG.epochs


def _loss():
    from earlyact.config import LossConfig

    return LossConfig(alpha1=0.1, alpha2=0.1)


def test_students_learn_and_teachers_stay_frozen(tmp_path):
    clips, val = _clips(24), _clips(8, seed=1)
    model = _model()
    res = train_teachers(model, clips, val, ["context"], [1.0], CFG, tmp_path / "t", 0)
    assert res.best_score >= 0.75  # the teacher separates the classes on whole clips
    before = {k: v.clone() for k, v in model.teachers.state_dict().items()}
    out = train_students(
        model,
        METHODS["kd-ms-lstm"],
        clips,
        val,
        ["context"],
        [1.0],
        CFG,
        _loss(),
        tmp_path / "s",
        0,
    )
    assert out.best_score >= 0.75
    for k, v in model.teachers.state_dict().items():
        assert torch.equal(v, before[k])
    log = (tmp_path / "s" / "metrics.csv").read_text().splitlines()[0]
    assert "kd1" in log and "kd2" in log  # the distillation term was computed and logged
    assert "soft1" not in log  # loss.soft = 0: the paper's hidden-state term alone
    assert list((tmp_path / "s" / "tensorboard").iterdir())


def test_soft_distillation_reaches_the_students_loss(tmp_path):
    """``loss.soft``: the students' logged loss gains the teachers' tempered KL per stage, and what
    they learn changes."""
    clips, val = _clips(24), _clips(8, seed=1)
    model = _model()
    train_teachers(model, clips, val, ["context"], [1.0], CFG, tmp_path / "t", 0)
    teachers = model.state_dict()
    states = {}
    for soft in (0.0, 1.0):
        model.load_state_dict(teachers)
        loss, out = LossConfig(alpha1=0.1, alpha2=0.1, soft=soft), tmp_path / f"s{soft}"
        train_students(model, METHODS["kd-ms-lstm"], clips, val, ["context"], [1.0], CFG, loss, out, 0)
        states[soft] = {k: v.clone() for k, v in model.students.state_dict().items()}
    log = (tmp_path / "s1.0" / "metrics.csv").read_text().splitlines()
    header, first = log[0].split(","), log[1].split(",")
    assert "soft1" in header and "soft2" in header and float(first[header.index("soft1")]) > 0
    assert any(not torch.equal(states[0.0][k], states[1.0][k]) for k in states[0.0])


def test_early_stopping_keeps_best(tmp_path):
    cfg = TrainConfig(epochs=50, batch_size=4, lr=1e-2, patience=2)
    model = _model()
    res = train_students(
        model,
        METHODS["ms-lstm"],
        _clips(),
        _clips(6, 1),
        ["context"],
        [1.0],
        cfg,
        _loss(),
        tmp_path,
        0,
    )
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["done"] and res.epochs_run < 50
    assert state["epoch"] - state["best_epoch"] == 2
    assert res.best_score == pytest.approx(max(r["val_score"] for r in state["history"]), abs=1e-6)
    # a finished phase is reused from its best weights alone (copies without optimizer state work)
    (tmp_path / "resume.safetensors").unlink()
    (tmp_path / "last.safetensors").unlink()
    again = _model()
    rerun = train_students(again, METHODS["ms-lstm"], _clips(), _clips(6, 1), ["context"], [1.0], cfg, _loss(),
                           tmp_path, 0)  # fmt: skip
    assert rerun.epochs_run == res.epochs_run and rerun.best_epoch == res.best_epoch
    for k, v in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[k], v)


def test_transform_is_applied_to_every_training_batch(tmp_path):
    calls = []

    def transform(clips, rng):
        calls.append(len(clips))
        noise = rng.normal(size=3).astype(np.float32)
        return [Clip(c.clip_id, c.label, context=c.context + noise) for c in clips]

    cfg = TrainConfig(epochs=3, batch_size=4, lr=1e-2, patience=100)
    plain, augmented = _model(), _model()
    args = (_clips(), _clips(6, 1), ["context"], [1.0], cfg, _loss())
    train_students(plain, METHODS["ms-lstm"], *args, tmp_path / "a", 0)
    train_students(augmented, METHODS["ms-lstm"], *args, tmp_path / "b", 0, transform=transform)
    assert calls == [4, 4, 4] * 3  # 12 clips in batches of 4, every epoch
    w = "students.0.lstm.weight_ih_l0"
    assert not torch.allclose(plain.state_dict()[w], augmented.state_dict()[w])


def test_cosine_schedule_is_a_function_of_the_epoch(tmp_path):
    cfg = TrainConfig(epochs=4, batch_size=4, lr=0.1, patience=100, cosine=True)
    model = _model()
    seen = []
    orig = torch.optim.AdamW.step

    def spy(self, *a, **k):
        seen.append(self.param_groups[0]["lr"])
        return orig(self, *a, **k)

    torch.optim.AdamW.step = spy
    try:
        train_students(model, METHODS["ms-lstm"], _clips(), _clips(6, 1), ["context"], [1.0], cfg, _loss(), tmp_path, 0)
    finally:
        torch.optim.AdamW.step = orig
    assert sorted(set(seen), reverse=True) == pytest.approx([0.1, 0.1 * 0.5 * (1 + np.cos(np.pi / 4)), 0.05,
                                                             0.1 * 0.5 * (1 + np.cos(3 * np.pi / 4))])  # fmt: skip
    assert len(seen) == 12


def test_resume_with_other_settings_is_refused_naming_them(tmp_path):
    from dataclasses import replace

    from earlyact.config import LossConfig

    clips, val = _clips(), _clips(6, seed=1)
    cfg = TrainConfig(epochs=2, batch_size=4, lr=1e-2)
    train_students(_model(), METHODS["kd-ms-lstm"], clips, val, ["context"], [1.0], cfg, LossConfig(), tmp_path, 0)
    again = dict(model=_model(), method=METHODS["kd-ms-lstm"], train=clips, val=val, streams=["context"],
                 ratios=[1.0], out_dir=tmp_path, seed=0)  # fmt: skip
    train_students(**again, cfg=cfg, loss_cfg=LossConfig())  # the same settings: reused
    with pytest.raises(ValueError, match=r"other settings \(loss.alpha1: 0.01 -> 0.1\)") as err:
        train_students(**again, cfg=cfg, loss_cfg=LossConfig(alpha1=0.1))
    assert str(tmp_path) in str(err.value)
    with pytest.raises(ValueError, match="train.lr"):
        train_students(**again, cfg=replace(cfg, lr=1e-3), loss_cfg=LossConfig())
    fused = _model()
    fused.cfg = replace(fused.cfg, fuse_context=0.5, smooth=0.5)  # act on predictions only: still reused
    train_students(**{**again, "model": fused}, cfg=cfg, loss_cfg=LossConfig())
    # settings the saved state lacks (added to the code later) are not compared; saved ones are
    streams_a, streams_b = {"context_net": {"dropout": 0.1}}, {"context_net": {"dropout": 0.2}}
    train_students(**again, cfg=cfg, loss_cfg=LossConfig(), upstream=streams_a)
    later = {**again, "out_dir": tmp_path / "later"}
    train_students(**later, cfg=cfg, loss_cfg=LossConfig(), upstream=streams_a)
    with pytest.raises(ValueError, match=r"upstream\.context_net\.dropout: 0\.1 -> 0\.2"):
        train_students(**later, cfg=cfg, loss_cfg=LossConfig(), upstream=streams_b)


def test_without_validation_clips_every_epoch_runs_and_the_last_weights_are_kept(tmp_path):
    from earlyact.checkpoint import load_tensors

    cfg = TrainConfig(epochs=5, batch_size=4, lr=1e-2, patience=1)  # patience cannot stop a run with no score
    model = _model()
    res = train_students(model, METHODS["ms-lstm"], _clips(), [], ["context"], [1.0], cfg, _loss(), tmp_path, 0)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["done"] and res.epochs_run == 5 and res.best_epoch == 5
    last = load_tensors(tmp_path / "last.safetensors")
    for k, v in model.state_dict().items():
        torch.testing.assert_close(last[k], v)  # the model returned holds the last epoch's weights
    assert [r["val_score"] for r in state["history"]] == [""] * 5  # no score was made up
    teacher = _model()
    res = train_teachers(teacher, _clips(), [], ["context"], [1.0], cfg, tmp_path / "t", 0)
    assert res.epochs_run == 5 and res.best_epoch == 5


@pytest.mark.parametrize("progressive", [True, False])
def test_loss_progressive_chooses_the_label_loss_of_teachers_and_students(tmp_path, progressive):
    """``LossConfig.progressive`` reaches the two-stage students and the teachers: with it off both
    train on the per-frame cross-entropy (once a setting that nothing read). Learning rate 0 and no
    dropout: epoch 1 logs the loss of the untrained model on the one batch of all clips."""
    from earlyact.data import make_batch
    from earlyact.losses import frame_cross_entropy, progressive_loss

    clips, still = _clips(), TrainConfig(epochs=1, batch_size=12, lr=0.0)
    torch.manual_seed(0)
    model = Predictor(3, 0, 2, ModelConfig(hidden1=6, hidden2=4, dropout=0.0))
    fit_standardization(model, clips)
    b = make_batch(clips, ["context"])
    expected = progressive_loss if progressive else frame_cross_entropy
    with torch.no_grad():
        outs = model.forward_students(b.context, None), model.forward_teachers(b.context, None, b.lengths)
        student, teacher = ([expected(o.logits, b.labels, b.lengths).item() for o in out] for out in outs)
    loss_cfg = LossConfig(progressive=progressive)
    train_teachers(model, clips, [], ["context"], [1.0], still, tmp_path / "t", 0, progressive=progressive)
    train_students(model, METHODS["ms-lstm"], clips, [], ["context"], [1.0], still, loss_cfg, tmp_path / "s", 0)
    for phase, losses in (("s", student), ("t", teacher)):
        logged = json.loads((tmp_path / phase / "state.json").read_text())["history"][0]
        assert [logged["lc1"], logged["lc2"]] == pytest.approx(losses, rel=1e-5)
    with pytest.raises(ValueError, match="progressive"):  # a teacher trained on the other loss is not reused
        train_teachers(model, clips, [], ["context"], [1.0], still, tmp_path / "t", 0, progressive=not progressive)


def _bn_fit(out, cfg, score_fn=None, stop_after=None):
    """A tiny BatchNorm network fitted by ``fit`` on fixed data (resumed from ``out`` when state is there)."""
    from torch import nn

    from earlyact.train import fit

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    x = torch.randn(16, 3)
    y = (x[:, 0] > 0).long()

    def batches(gen):
        perm = torch.randperm(16, generator=gen)
        return [(x[perm[i : i + 4]], y[perm[i : i + 4]]) for i in range(0, 16, 4)]

    def loss_fn(b):
        return torch.nn.functional.cross_entropy(net(b[0]), b[1]), {}

    score = None if score_fn is None else lambda: score_fn(net)
    fit(net, list(net.parameters()), batches, loss_fn, score, cfg, out, 0, stop_after=stop_after)
    return net


def test_swa_keeps_the_mean_of_the_last_epochs_weights_and_resumes(tmp_path):
    from earlyact.checkpoint import load_tensors

    cfg = TrainConfig(epochs=4, batch_size=4, lr=0.05, swa=0.5, val_fraction=0)  # epochs 3 and 4 averaged
    snaps = []
    for _ in range(4):  # one epoch per call, resumed: each epoch's own weights read back from last.safetensors
        net = _bn_fit(tmp_path / "steps", cfg, stop_after=1)
        snaps.append(load_tensors(tmp_path / "steps" / "last.safetensors"))
    whole = _bn_fit(tmp_path / "whole", cfg)
    floats = [k for k, v in snaps[0].items() if v.is_floating_point()]
    assert "1.running_mean" in floats and "1.running_var" in floats  # BatchNorm statistics averaged too
    for k in floats:
        mean = (snaps[2][k] + snaps[3][k]) / 2
        torch.testing.assert_close(net.state_dict()[k], mean)
        torch.testing.assert_close(whole.state_dict()[k], mean)  # interrupted and resumed = uninterrupted
    assert not torch.allclose(snaps[2]["0.weight"], snaps[3]["0.weight"])  # the average is not one epoch's
    plain = _bn_fit(tmp_path / "plain", TrainConfig(epochs=4, batch_size=4, lr=0.05, val_fraction=0))
    torch.testing.assert_close(plain.state_dict()["0.weight"], snaps[3]["0.weight"])  # off: the last epoch's


def test_swa_scores_the_average_and_keeps_the_best_average(tmp_path):
    from earlyact.checkpoint import load_tensors

    cfg = TrainConfig(epochs=4, batch_size=4, lr=0.05, swa=0.5, patience=100)
    seen = []
    scores = iter([0.1, 0.2, 0.9, 0.3])  # the best: epoch 3, the first averaged one (its own weights)

    def score(net):
        seen.append(net.state_dict()["0.weight"].clone())
        return next(scores)

    net = _bn_fit(tmp_path, cfg, score)
    last = load_tensors(tmp_path / "last.safetensors")  # the raw weights, kept for resuming
    torch.testing.assert_close(net.state_dict()["0.weight"], seen[2])  # best.safetensors: the epoch-3 average
    torch.testing.assert_close(load_tensors(tmp_path / "best.safetensors")["0.weight"], seen[2])
    assert int(load_tensors(tmp_path / "resume.safetensors")["average/n_averaged"]) == 2
    avg = load_tensors(tmp_path / "average.safetensors")  # the average under the network's own names
    torch.testing.assert_close(seen[3], avg["0.weight"])  # epoch 4 was scored on the average ...
    assert not torch.allclose(seen[3], last["0.weight"])  # ... not on the weights it trained


def test_swa_share_out_of_range_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"swa must be in \[0, 1\].*1\.5"):
        _bn_fit(tmp_path, TrainConfig(epochs=2, swa=1.5, val_fraction=0))


class _Killed(Exception):
    """Stands for kill -9: the process stops before the write it interrupts."""


def _kill_at(monkeypatch, calls: list, at: int | None):
    """Route the training loop's file writes through a recorder that stops the run at write ``at``."""
    import earlyact.resume
    import earlyact.train

    for module in (earlyact.train, earlyact.resume):
        for name in ("save_tensors", "atomic_write_json", "atomic_write_text"):
            if not hasattr(module, name):
                continue
            real = getattr(module, name)

            def write(path, *a, _real=real, **k):
                if len(calls) == at:
                    raise _Killed(path)
                calls.append(Path(path).name)
                return _real(path, *a, **k)

            monkeypatch.setattr(module, name, write)


def test_a_run_killed_at_any_write_resumes_to_the_uninterrupted_weights(tmp_path, monkeypatch):
    clips, val = _clips(), _clips(6, seed=1)

    def run(m, out):
        return train_students(m, METHODS["ms-lstm"], clips, val, ["context"], [0.5, 1.0], CFG, _loss(), out, 0)

    full, calls = _model(), []
    with monkeypatch.context() as mp:
        _kill_at(mp, calls, None)
        run(full, tmp_path / "full")
    ends = [i + 1 for i, name in enumerate(calls) if name == "state.json"]  # state.json: each epoch's last write
    assert len(ends) == CFG.epochs
    improved = next(e for e in range(1, CFG.epochs) if "best.safetensors" in calls[ends[e - 1] : ends[e]])
    kills = [*range(ends[improved - 1], ends[improved] + 1), *range(ends[-2], ends[-1])]
    for at in kills:  # before each write of an epoch that improved (and after it) and of the last epoch
        out = tmp_path / f"killed_{at}"
        with monkeypatch.context() as mp, pytest.raises(_Killed) if at < ends[-1] else nullcontext():
            _kill_at(mp, [], at)
            run(_model(), out)
        resumed = _model()
        run(resumed, out)
        for k, v in full.state_dict().items():
            torch.testing.assert_close(resumed.state_dict()[k], v, msg=f"killed before write {at}: {k}")
        assert (out / "metrics.csv").read_text() == (tmp_path / "full" / "metrics.csv").read_text()
