import json
import pickle

import numpy as np
from test_cli import TINY

from earlyact.cli import main


def _pickles(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    paths = []
    for name, n in (("GT_train_2.pkl", 8), ("GT_test_2.pkl", 4)):
        labels = ["run", "wave"] * (n // 2)
        poses = [rng.normal(size=(int(rng.integers(15, 25)), 15, 2)) for _ in labels]
        (tmp_path / name).write_bytes(pickle.dumps({"pose": poses, "label": labels}))
        paths.append(tmp_path / name)
    return paths


def test_benchmark_jhmdb_any_split(tmp_path, capsys):
    train, test = _pickles(tmp_path)
    out = tmp_path / "bench"
    args = [
        "benchmark",
        "jhmdb",
        "--train",
        str(train),
        "--test",
        str(test),
        "--seeds",
        "0",
        "1",
        "--out",
        str(out),
        "--report",
        str(tmp_path / "doc" / "j.md"),
    ]
    assert main([*args, *TINY, "--set", "methods=[lstm-ce,kd-ms-lstm]"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["classes"] == ["run", "wave"] and res["n_clips"] == 4 and res["seeds"] == [0, 1]
    assert len(res["accuracy_per_seed"]["kd-ms-lstm"]) == 2 and "accuracy_std" in res
    assert res["stream_specs"]["context"]["layout"] == "jhmdb15"
    assert res["wall_time_s"] > 0 and "benchmark jhmdb" in res["command"]
    assert (out / "accuracy.png").exists() and "| kd-ms-lstm |" in (out / "results.md").read_text()
    report = (tmp_path / "doc" / "j.md").read_text()
    assert "benchmark jhmdb" in report and "| kd-ms-lstm |" in report and "j_accuracy.png" in report
    assert (tmp_path / "doc" / "j_accuracy.png").exists() and set(res["compute_seconds"]) == {"seed_0", "seed_1"}
