import numpy as np

from earlyact.config import DemoDataConfig
from earlyact.synthetic import CLASSES, make_dataset


def test_dataset_is_reproducible_and_well_formed():
    cfg = DemoDataConfig(clips_per_class=4, min_frames=20, max_frames=30)
    index, clips = make_dataset(cfg)
    again = make_dataset(cfg)[1]
    assert len(clips) == 4 * len(CLASSES) and index.classes == CLASSES
    assert all(np.array_equal(a.pose, b.pose, equal_nan=True) for a, b in zip(clips, again, strict=True))
    assert {e.split for e in index.clips} == {"train", "test"}
    for c in clips:
        c.validate()
        assert c.pose.shape[1:] == (2, 18, 3) and 20 <= c.num_frames <= 30
    missing = np.mean([np.isnan(c.pose[..., 0]).mean() for c in clips])
    assert 0.01 < missing < 0.1  # missing joints are present, at about cfg.missing


def test_classes_look_alike_early_and_differ_late():
    """Mean hand height (relative to the neck) is similar at the start and differs at the end."""
    cfg = DemoDataConfig(clips_per_class=12, noise=0.0, missing=0.0)
    _, clips = make_dataset(cfg)

    def wrist_rise(c, frac):
        t = int(frac * (c.num_frames - 1))
        p = c.pose[t]
        return np.max(p[:, 1, 1] - np.minimum(p[:, 4, 1], p[:, 7, 1])) / 100

    early = [np.mean([wrist_rise(c, 0.05) for c in clips if c.label == k]) for k in range(6)]
    late = [np.mean([wrist_rise(c, 0.8) for c in clips if c.label == k]) for k in range(6)]
    assert np.ptp(late) > 3 * np.ptp(early)
