import json
import pickle

import numpy as np
import pytest
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
    small = ["--set", "context_net.channels=4", "--set", "context_train.epochs=2"]
    assert main([*args, *TINY, *small, "--set", "methods=[lstm-ce,kd-ms-lstm]"]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["classes"] == ["run", "wave"] and res["n_clips"] == 4 and res["seeds"] == [0, 1]
    assert len(res["accuracy_per_seed"]["kd-ms-lstm"]) == 2 and "accuracy_std" in res
    assert res["stream_specs"]["context"]["layout"] == "jhmdb15" and res["stream_specs"]["context"]["network"]
    assert res["wall_time_s"] > 0 and "benchmark jhmdb" in res["command"]
    assert (out / "accuracy.png").exists() and "| kd-ms-lstm |" in (out / "results.md").read_text()
    report = (tmp_path / "doc" / "j.md").read_text()
    assert "benchmark jhmdb" in report and "| kd-ms-lstm |" in report and "j_accuracy.png" in report
    assert "all the training clips for a fixed schedule" in report and "the stages 2 epochs along a cosine" in report
    assert "seeds trained in 2 processes side by side at 1 torch thread each" in report  # --workers 3, 2 seeds
    assert "joined embeddings of 2 DD-Net-style window networks" in report  # JHMDB_DEFAULTS: two members
    assert (tmp_path / "doc" / "j_accuracy.png").exists() and set(res["compute_seconds"]) == {"seed_0", "seed_1"}
    # the final fit: every network on all 8 training clips, each phase for all its epochs, nothing scored
    for phase in ("context_net", "action_net", "teachers", "kd-ms-lstm/students"):
        state = json.loads((out / "seed_0" / phase / "state.json").read_text())
        assert state["epoch"] == state["best_epoch"] == 2 and {r["val_score"] for r in state["history"]} == {""}


def test_benchmark_jhmdb_on_the_official_tree(tmp_path, capsys):
    from test_jhmdb import _official_tree

    _official_tree(tmp_path / "JHMDB", np.random.default_rng(1))  # split 2: clip 1 of each class is a test clip
    out, doc = tmp_path / "bench", tmp_path / "doc" / "j.md"
    args = ["benchmark", "jhmdb", "--root", str(tmp_path / "JHMDB"), "--split", "2", "--classes", "wave", "run",
            "--seeds", "0", "--out", str(out), "--report", str(doc), *TINY, "--set", "context_net.channels=4",
            "--set", "context_train.epochs=2", "--set", "methods=[kd-ms-lstm]"]  # fmt: skip
    assert main(args) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["classes"] == ["run", "wave"] and res["n_clips"] == 2 and res["split"] == 2
    assert res["root"] == str(tmp_path / "JHMDB") and "train_file" not in res
    assert f"official tree `{tmp_path / 'JHMDB'}` (`joint_positions/`, split 2 of `splits/`) (2 test clips)" in (
        doc.read_text().replace("\n", " ")
    )
    capsys.readouterr()
    pickles = _pickles(tmp_path)
    for extra in (["--train", str(pickles[0])], ["--train", str(pickles[0]), "--test", str(pickles[1])]):
        assert main([*args, *extra]) == 2  # the pickles or the tree, not a mix
        assert "give --train and --test (the pickles), or --root (the official tree)" in capsys.readouterr().err
    pickle_args = ["benchmark", "jhmdb", "--train", str(pickles[0]), "--test", str(pickles[1]), "--out", str(out)]
    assert main([*pickle_args, "--split", "2"]) == 2  # a split the pickles cannot honour is refused, not ignored
    assert "--split and --classes go with --root" in capsys.readouterr().err


def test_benchmark_ut_interaction_folds_extracts_once_and_reports(tmp_path, capsys):
    from test_video import _write_video

    root = tmp_path / "set1"
    root.mkdir()
    for seq in (1, 2, 3):
        for label in range(6):
            _write_video(root / f"{seq * 6 + label}_{seq}_{label}.avi", n=6, fps=10, size=(64, 48))
    out = tmp_path / "bench"
    args = ["benchmark", "ut-interaction", "--root", str(root), "--out", str(out), "--workers", "1",
            "--report", str(tmp_path / "doc" / "ut.md"), *TINY, "--set", "methods=[lstm-ce,kd-ms-lstm]",
            "--set", "train.val_fraction=0.1", "--set", "context_net.channels=4",
            "--set", "context_train.epochs=2"]  # fmt: skip
    assert main(args) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["folds"] == ["1", "2", "3"] and res["n_clips"] == 18 and len(res["classes"]) == 6
    per_fold = np.array(res["accuracy_per_fold"]["kd-ms-lstm"])  # (folds, ratios), 6 test clips each
    assert per_fold.shape == (3, 10)
    np.testing.assert_allclose(res["accuracy"]["kd-ms-lstm"], per_fold.mean(0), atol=0.01)  # pooled = equal folds
    assert res["stream_specs"]["context"]["network"] == "window_net" and res["extract"]["workers"] == 1
    assert res["train_compute_s"] > 0
    for fold, held in (("1", "2"), ("2", "3"), ("3", "1")):  # the sequence after the test one validates
        record = json.loads((out / f"fold_{fold}" / "seed_0" / "validation.json").read_text())
        assert record["test_group"] == fold and len(record["validation"]) == 6
        assert all(cid.endswith(f"seq0{held}") for cid in record["validation"])
    report = (tmp_path / "doc" / "ut.md").read_text()
    assert "leave-one-sequence-out" in report and "early-stops on a validation part" in report
    assert "folds trained one after another in one process at 1 torch thread" in report and res["train_wall_s"] > 0
    confusion = np.array(res["confusion"]["1"])  # kd-ms-lstm at r = 1.0, summed over folds and seeds
    assert res["confusion_method"] == "kd-ms-lstm" and confusion.sum() == 18 * len(res["seeds"])
    np.testing.assert_array_equal(confusion.sum(1), 3 * len(res["seeds"]))  # 3 clips of each class
    assert 100 * np.trace(confusion) / confusion.sum() == pytest.approx(res["accuracy"]["kd-ms-lstm"][-1], abs=0.01)
    assert "summed over folds and seeds" in (tmp_path / "doc" / "ut.md").read_text()
    ext = res["extraction"]  # read back from the store: still there when a later run reuses the features
    assert ext["frames"] == 18 * 6 and set(ext["seconds"]) == {"decode", "pose", "context"}
    assert ext["persons_per_class"]["kick"] == {"clips": 3, "frames": 18, "one": 0.0, "all": 0.0}  # nobody in them
    assert "context backbone `efficientnet-lite0` (onnxruntime), extracted but not read" in report
    assert "Frames in which both persons were found, per class (%): hand_shake 0, hug 0," in report
    stamp = (out / "features" / "clips" / "ut_006_seq01" / "meta.json").stat().st_mtime_ns
    assert main(args) == 0  # a second run reuses the features and every finished fold
    assert (out / "features" / "clips" / "ut_006_seq01" / "meta.json").stat().st_mtime_ns == stamp
    assert json.loads((out / "results.json").read_text())["accuracy"] == res["accuracy"]


def test_both_benchmarks_end_with_a_final_fit_and_the_documented_overrides_bring_validation_back():
    from earlyact.benchmark import jhmdb_config, ut_config

    back = ["train.val_fraction=0.15", "train.epochs=60", "train.cosine=false"]  # the README's words
    for make, epochs in ((jhmdb_config, 4), (ut_config, 8)):  # stage epochs chosen per benchmark on validation
        fit, held = make(), make(None, back)
        assert (fit.train.val_fraction, fit.train.epochs, fit.train.cosine) == (0, epochs, True)
        assert (held.train.val_fraction, held.train.epochs, held.train.cosine) == (0.15, 60, False)
        assert fit.context_train == held.context_train and fit.model == held.model  # only the stage fit differs
    assert ut_config().train.val_by_group and not jhmdb_config().train.val_by_group


def test_the_reports_say_where_the_twin_hands_over_and_on_which_prefixes_the_method_trained():
    from earlyact.benchmark import _twin_words, jhmdb_config, ut_config

    for make in (jhmdb_config, ut_config):  # both benchmarks bound the method's prefixes at the window (stop 36)
        words = _twin_words(make())
        assert "predicts while fewer than 32 frames (the window) are seen" in words
        assert words.endswith("its window nets trained on prefixes of at least 32 frames (`context_net."
                              "prefix_frames_min`; the twin's on prefixes of any length).")  # fmt: skip
    assert "the 12 frames before, their class log-probabilities crossfade" in _twin_words(jhmdb_config())
    assert "crossfade" not in _twin_words(ut_config())  # UT-Interaction: the hard switch (model.twin_ramp=0)
    plain = jhmdb_config(None, ["context_net.prefix_frames_min=0", "model.twin_ramp=0"])
    assert _twin_words(plain).endswith("from then on.")
    assert "fewer than 24 frames are seen" in _twin_words(jhmdb_config(None, ["model.twin_frames=24"]))
    assert _twin_words(jhmdb_config(None, ["speed_twin=false"])) == ""
