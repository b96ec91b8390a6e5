import pytest

from earlyact.config import ExperimentConfig, dump_yaml, load_config


def test_defaults_follow_the_paper():
    cfg = ExperimentConfig()
    assert cfg.action_net.hidden == 256 and cfg.action_net.embed == 256
    assert cfg.methods == ["lstm-ce", "ms-lstm", "kd-ms-lstm", "teacher"]
    assert cfg.ratios == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 0.01\nmodel:\n  hidden1: 32\n")
    cfg = load_config(path, ["train.lr=3e-4", "seeds=[1,2]", "action_net.point_channels=[4,4]"])
    assert cfg.train.lr == 3e-4 and cfg.model.hidden1 == 32 and cfg.seeds == [1, 2]
    assert cfg.action_net.point_channels == (4, 4)
    assert load_config(None, []).train.lr != cfg.train.lr  # defaults untouched
    assert load_config(path).model.hidden1 == 32  # the saved YAML round-trips
    again = tmp_path / "again.yaml"
    again.write_text(dump_yaml(cfg))
    assert load_config(again) == cfg


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lrr=1", "unknown key"),
        ("model.hidden1=abc", "expected int"),
        ("nonsense", "key.sub=value"),
    ],
)
def test_bad_overrides_are_clear(override, message):
    with pytest.raises(ValueError, match=message):
        load_config(None, [override])


def test_example_config_loads():
    from pathlib import Path

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "example.yaml")
    assert cfg.augment.enabled and cfg.seeds == [0, 1, 2]
