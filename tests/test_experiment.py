import numpy as np

from earlyact import experiment
from earlyact.config import load_config
from earlyact.data import Clip
from earlyact.models import ActionNet


def test_out_of_fold_action_nets_never_saw_their_clips(monkeypatch, tmp_path):
    seen = {}

    def fake_fit(train, val, num_classes, cfg, out_dir, seed, name="action_net"):
        net = ActionNet(4, 5, num_classes, cfg.action_net)
        seen[id(net)] = {c.clip_id for c in train}
        return net, {}

    monkeypatch.setattr(experiment, "fit_action_net", fake_fit)
    clips = [Clip(f"c{i}", i % 3, pose=np.zeros((5, 1, 4, 2), np.float32)) for i in range(30)]
    cfg = load_config(None, ["action_folds=3"])
    nets = experiment.fold_action_nets(clips, clips[:3], 3, cfg, tmp_path, seed=0)
    assert set(nets) == {c.clip_id for c in clips} and len({id(n) for n in nets.values()}) == 3
    for cid, net in nets.items():
        assert cid not in seen[id(net)]
        assert len(seen[id(net)]) == 20  # each network trains on the other two folds
    per_fold_labels = [sorted(int(c[1:]) % 3 for c in ids) for ids in seen.values()]
    assert all(max(map(labels.count, (0, 1, 2))) - min(map(labels.count, (0, 1, 2))) <= 1 for labels in per_fold_labels)
