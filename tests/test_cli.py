import json

import pytest

from earlyact.cli import build_parser, main
from earlyact.config import load_config
from earlyact.data import save_dataset
from earlyact.synthetic import make_dataset

TINY = [
    "--set", "demo.clips_per_class=5", "--set", "demo.min_frames=12", "--set", "demo.max_frames=18",
    "--set", "model.hidden1=8", "--set", "model.hidden2=8", "--set", "action_net.hidden=8",
    "--set", "action_net.embed=16", "--set", "action_net.point_channels=[8,8]", "--set", "action_net.global_channels=8",
    "--set", "train.epochs=2", "--set", "action_train.epochs=2",
]  # fmt: skip


@pytest.fixture
def dataset(tmp_path):
    cfg = load_config(None, [t for t in TINY if t != "--set"])
    index, clips = make_dataset(cfg.demo)
    save_dataset(index, clips, tmp_path / "data")
    return tmp_path / "data"


def test_every_subcommand_has_help(capsys):
    for cmd in ("demo", "compare", "train", "evaluate"):
        with pytest.raises(SystemExit) as e:
            build_parser().parse_args([cmd, "--help"])
        assert e.value.code == 0
        assert "usage: earlyact" in capsys.readouterr().out


def test_train_then_evaluate(tmp_path, dataset, capsys):
    assert main(["train", str(dataset), "--method", "kd-ms-lstm", "--out", str(tmp_path / "run"), *TINY]) == 0
    ckpt = tmp_path / "run" / "kd-ms-lstm" / "checkpoint"
    assert (ckpt / "checkpoint.json").exists() and (ckpt / "config.yaml").exists()
    info = json.loads((ckpt / "checkpoint.json").read_text())
    assert info["classes"][0] == "hand_shake" and info["streams"] == ["context", "action"]
    assert info["stream_specs"]["context"]["source"] == "skeleton"
    assert main(["evaluate", str(ckpt), str(dataset), "--out", str(tmp_path / "ev")]) == 0
    res = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert list(res["accuracy"]) == ["kd-ms-lstm"] and len(res["accuracy"]["kd-ms-lstm"]) == 10
    assert res["n_clips"] == 12  # 30 % of 5 clips, 6 classes -> 2 test clips per class
    assert (tmp_path / "ev" / "accuracy.png").stat().st_size > 1000
    assert (tmp_path / "ev" / "confusion.png").exists()
    assert "| kd-ms-lstm |" in capsys.readouterr().out


def test_compare_is_resumable(tmp_path, dataset, capsys):
    args = [
        "compare",
        str(dataset),
        "--out",
        str(tmp_path / "cmp"),
        "--methods",
        "lstm-ce",
        "teacher",
        *TINY,
    ]
    assert main(args) == 0
    first = json.loads((tmp_path / "cmp" / "results.json").read_text())
    assert set(first["accuracy"]) == {"lstm-ce", "teacher"}
    marker = tmp_path / "cmp" / "seed_0" / "lstm-ce" / "predictions.json"
    mtime = marker.stat().st_mtime_ns
    assert main(args) == 0  # finished steps are reused, not redone
    assert marker.stat().st_mtime_ns == mtime
    assert json.loads((tmp_path / "cmp" / "results.json").read_text())["accuracy"] == first["accuracy"]


def test_demo_runs_end_to_end(tmp_path, capsys):
    assert (
        main(["demo", "--out", str(tmp_path / "demo"), "--set", "methods=[ms-lstm]", "--set", "seeds=[0]", *TINY]) == 0
    )
    out = capsys.readouterr().out
    assert "| ms-lstm |" in out and "accuracy.png" in out
    assert (tmp_path / "demo" / "data" / "index.json").exists()


def test_bad_input_is_a_clear_error(tmp_path, dataset, capsys):
    assert main(["evaluate", str(tmp_path / "nope"), str(dataset), "--out", str(tmp_path / "x")]) == 2
    assert "checkpoint.json" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "empty"), "--out", str(tmp_path / "y")]) == 2
    assert "index.json" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path / "z"), "--set", "train.lr=fast"]) == 2
    assert "train.lr" in capsys.readouterr().err


def test_train_with_augmentation(tmp_path, dataset):
    args = ["train", str(dataset), "--method", "kd-ms-lstm", "--out", str(tmp_path / "run"), *TINY]
    assert main([*args, "--set", "augment.enabled=true", "--set", "augment.prefix=0.5"]) == 0
    log = (tmp_path / "run" / "kd-ms-lstm" / "students" / "metrics.csv").read_text().splitlines()
    assert len(log) == 3  # header + 2 epochs on augmented batches


def test_compare_with_out_of_fold_action_features(tmp_path, dataset):
    args = ["compare", str(dataset), "--out", str(tmp_path / "c"), "--methods", "kd-ms-lstm", *TINY]
    assert main([*args, "--set", "action_folds=2", "--set", "augment.enabled=true"]) == 0
    seed_dir = tmp_path / "c" / "seed_0"
    assert (seed_dir / "action_net_fold0").is_dir() and (seed_dir / "action_net_fold1").is_dir()
    assert (seed_dir / "kd-ms-lstm" / "checkpoint" / "model.safetensors").exists()
