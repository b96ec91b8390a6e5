import json

import numpy as np
import pytest
from test_video import _write_video

from earlyact import extract
from earlyact.cli import main
from earlyact.data import load_dataset


@pytest.fixture
def videos(tmp_path):
    folder = tmp_path / "vids"
    folder.mkdir()
    for name in ("a.avi", "b.avi"):
        _write_video(folder / name, n=6, fps=10, size=(64, 48))
    return folder


def test_extract_writes_clips_and_resumes(tmp_path, videos, capsys):
    out = tmp_path / "feats"
    assert main(["extract", str(videos), "--layout", "videos", "--out", str(out), "--set", "max_persons=2"]) == 0
    index, clips = load_dataset(out)
    assert [c.clip_id for c in clips] == ["a", "b"] and index.classes == ["unlabelled"]
    clip = clips[0]
    assert clip.pose.shape == (6, 2, 18, 3) and clip.context.shape == (6, 1280) and clip.fps == 10
    assert np.isnan(clip.pose).all()  # no person in these frames: kept, marked missing, not dropped
    assert index.streams["context"]["backbone"] == "efficientnet-lite0"
    seconds = clip.meta["seconds"]  # each step's compute time, kept with the clip
    assert set(seconds) == set(extract.STEPS) and all(v >= 0 for v in seconds.values()) and seconds["context"] > 0
    summary = extract.extraction_summary(index, clips)
    assert summary["frames"] == 12 and summary["max_persons"] == 2
    assert summary["seconds"]["pose"] == pytest.approx(sum(c.meta["seconds"]["pose"] for c in clips), abs=0.1)
    assert summary["persons_per_class"] == {"unlabelled": {"clips": 2, "frames": 12, "one": 0.0, "all": 0.0}}
    stamp = (out / "clips" / "a" / "meta.json").stat().st_mtime_ns
    assert main(["extract", str(videos), "--layout", "videos", "--out", str(out)]) == 0
    assert (out / "clips" / "a" / "meta.json").stat().st_mtime_ns == stamp  # done clips are skipped


def test_a_crash_leaves_whole_clips_only(tmp_path, videos, monkeypatch):
    out = tmp_path / "feats"
    real = extract.extract_clip
    calls = []

    def crash_on_second(entry, folder):
        calls.append(entry.clip_id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(entry, folder)

    monkeypatch.setattr(extract, "extract_clip", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        extract.extract_dataset(videos, "videos", out, extract.ExtractConfig(backbone=""))
    assert sorted(p.name for p in (out / "clips").iterdir()) == ["a"]  # no half-written "b", no temp folder
    assert not (out / "index.json").exists()
    monkeypatch.setattr(extract, "extract_clip", real)
    extract.extract_dataset(videos, "videos", out, extract.ExtractConfig(backbone=""))
    assert json.loads((out / "index.json").read_text())["clips"][1]["clip_id"] == "b"


def test_bad_videos_and_layouts_are_clear_errors(tmp_path, videos, capsys):
    (videos / "c.avi").write_text("not a video")
    assert main(["extract", str(videos), "--layout", "videos", "--out", str(tmp_path / "o")]) == 2
    assert "c.avi: cannot open" in capsys.readouterr().err
    assert main(["extract", str(videos), "--layout", "kinetics", "--out", str(tmp_path / "o")]) == 2
    assert "unknown layout 'kinetics'" in capsys.readouterr().err
    bad_runtime = ["--set", "runtime=tvm"]
    assert main(["extract", str(videos), "--layout", "videos", "--out", str(tmp_path / "o"), *bad_runtime]) == 2
    assert "extract.runtime must be 'onnxruntime' or 'torch'" in capsys.readouterr().err


def _jhmdb_tree(root, with_joints: bool):
    """Official JHMDB layout: ReCompress_Videos/<class>/<clip>.avi, splits/, joint_positions/ (optional)."""
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    (root / "splits").mkdir(parents=True)
    joints = {}
    for cls in ("clap", "wave"):
        (root / "splits" / f"{cls}_test_split1.txt").write_text(f"{cls}_a.avi 1\n{cls}_b.avi 2\n")
        for name in (f"{cls}_a", f"{cls}_b"):
            (root / "ReCompress_Videos" / cls).mkdir(parents=True, exist_ok=True)
            _write_video(root / "ReCompress_Videos" / cls / f"{name}.avi", n=5, fps=30, size=(64, 48))
            if with_joints:
                folder = root / "joint_positions" / cls / name
                folder.mkdir(parents=True)
                pos = rng.uniform(0, 40, size=(2, 15, 5))
                savemat(folder / "joint_positions.mat", {"pos_img": pos, "pos_world": pos})
                joints[f"{cls}__{name}"] = pos.transpose(2, 1, 0)
    return joints


def test_jhmdb_videos_take_their_annotated_joints(tmp_path):
    joints = _jhmdb_tree(tmp_path / "jhmdb", with_joints=True)
    out = extract.extract_dataset(tmp_path / "jhmdb", "jhmdb", tmp_path / "feats", extract.ExtractConfig(backbone=""))
    index, clips = load_dataset(out)
    assert index.classes == ["clap", "wave"] and index.streams["pose"]["layout"] == "jhmdb15"
    assert [(e.clip_id, e.split) for e in index.clips] == [
        ("clap__clap_a", "train"), ("wave__wave_a", "train"), ("clap__clap_b", "test"), ("wave__wave_b", "test")
    ]  # fmt: skip
    for c in clips:
        np.testing.assert_allclose(c.pose[:, 0], joints[c.clip_id], rtol=1e-6)  # (T, 1, 15, 2) video pixels
    (tmp_path / "jhmdb" / "joint_positions" / "wave" / "wave_b" / "joint_positions.mat").unlink()
    with pytest.raises(FileNotFoundError, match="wave_b/joint_positions.mat: missing"):
        extract.list_videos(tmp_path / "jhmdb", "jhmdb")
    (tmp_path / "jhmdb" / "ReCompress_Videos" / "clap" / "clap_a.avi").unlink()
    with pytest.raises(FileNotFoundError, match="clap_a.avi: listed in"):
        extract.list_videos(tmp_path / "jhmdb", "jhmdb")


def test_jhmdb_videos_without_joints_use_the_pose_estimator(tmp_path):
    _jhmdb_tree(tmp_path / "jhmdb", with_joints=False)
    classes, entries = extract.list_videos(tmp_path / "jhmdb", "jhmdb")
    assert classes == ["clap", "wave"] and all(e.joints is None for e in entries)
    out = extract.extract_dataset(
        tmp_path / "jhmdb", "jhmdb", tmp_path / "feats", extract.ExtractConfig(backbone="", max_persons=1)
    )
    index, clips = load_dataset(out)
    assert index.streams["pose"]["layout"] == "coco18" and clips[0].pose.shape == (5, 1, 18, 3)


def test_jhmdb_joints_must_match_the_video(tmp_path):
    _jhmdb_tree(tmp_path / "jhmdb", with_joints=True)
    from scipy.io import savemat

    mat = tmp_path / "jhmdb" / "joint_positions" / "clap" / "clap_a" / "joint_positions.mat"
    savemat(mat, {"pos_img": np.zeros((2, 15, 7)), "pos_world": np.zeros((2, 15, 7))})
    with pytest.raises(ValueError, match="clap_a/joint_positions.mat: 7 frames of joints for a video of 5"):
        extract.extract_dataset(tmp_path / "jhmdb", "jhmdb", tmp_path / "feats", extract.ExtractConfig(backbone=""))


@pytest.mark.shared
@pytest.mark.slow
def test_extract_runs_through_the_four_real_videos(shared_data, tmp_path):
    out, videos = tmp_path / "videos", shared_data / "videos"
    assert main(["extract", str(videos), "--layout", "videos", "--out", str(out), "--set", "workers=2"]) == 0
    _, clips = load_dataset(out)
    frames = {c.clip_id: c.num_frames for c in clips}
    assert frames == {  # counted by decoding (the shared README's table)
        "eye_makeup_ucf101_like": 164, "ntu_drink_water_1080p": 103,
        "three_people_exercise": 393, "two_person_interaction_1080p": 72,
    }  # fmt: skip
    for c in clips:
        assert c.pose.shape == (c.num_frames, 2, 18, 3) and c.context.shape == (c.num_frames, 1280)
        assert np.isfinite(c.context).all()
    neck = {c.clip_id: np.isfinite(c.pose[:, :, 1, 0]) for c in clips}  # (T, 2): COCO-18 joint 1 = neck
    assert neck["two_person_interaction_1080p"].any(axis=1).mean() > 0.9  # somebody in nearly every frame
    assert neck["three_people_exercise"].all(axis=1).mean() > 0.5  # two of the three people, most frames


def test_bad_settings_fail_before_any_worker_starts(tmp_path, videos):
    cfg = extract.ExtractConfig(runtime="tvm", workers=2)
    with pytest.raises(ValueError, match="extract.runtime must be"):
        extract.extract_dataset(videos, "videos", tmp_path / "o", cfg)
    assert not (tmp_path / "o").exists()


def test_extraction_summary_counts_the_frames_where_every_person_is_found():
    from earlyact.data import Clip, ClipEntry, DatasetIndex
    from earlyact.skeleton import COCO18

    pose = np.full((4, 2, 18, 3), np.nan)
    pose[:, 0] = 1.0  # person 0 in every frame
    pose[2:, 1] = 1.0  # person 1 in the last two
    pose[3, 1, COCO18.index("neck")] = np.nan  # ... but without its root (neck) in frame 3: a stray limb
    old = Clip("b", 1, pose=pose[:, :1].copy(), meta={})  # a clip from a store made before the timing record
    index = DatasetIndex(["x", "y"], [ClipEntry("a", 0, "all"), ClipEntry("b", 1, "all")],
                         {"extract": {"max_persons": 2}, "pose": {"layout": "coco18"}})  # fmt: skip
    summary = extract.extraction_summary(index, [Clip("a", 0, pose=pose, meta={"seconds": {}}), old])
    assert summary["persons_per_class"]["x"] == {"clips": 1, "frames": 4, "one": 100.0, "all": 25.0}
    assert summary["persons_per_class"]["y"] == {"clips": 1, "frames": 4, "one": 100.0, "all": 0.0}
    assert summary["seconds"] is None and summary["frames_per_compute_s"] is None
