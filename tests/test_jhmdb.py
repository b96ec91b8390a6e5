import os
import pickle
import zipfile

import numpy as np
import pytest
from scipy.io import savemat

from earlyact.data import Clip, split_groups_by_class
from earlyact.jhmdb import (
    clips_from_poses,
    load_gt_pickles,
    load_official,
    pseudo_videos,
    read_gt_pickle,
    read_split_lists,
    safe_load_pickle,
    training_videos,
)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/earlyact-pwned",))


def test_malicious_pickle_is_refused(tmp_path):
    path = tmp_path / "GT_train_1.pkl"
    path.write_bytes(pickle.dumps({"pose": [np.zeros((3, 15, 2))], "label": ["run"], "x": _Evil()}))
    with pytest.raises(ValueError, match=r"GT_train_1.pkl: refused to load (posix|os)\.system"):
        safe_load_pickle(path)
    assert not os.path.exists("/tmp/earlyact-pwned")


def test_numpy_pickle_is_read(tmp_path):
    rng = np.random.default_rng(0)
    poses = [rng.normal(size=(t, 15, 2)) for t in (15, 22)]
    path = tmp_path / "GT_test_1.pkl"
    path.write_bytes(pickle.dumps({"pose": poses, "label": ["run", "walk"]}))
    got, labels = read_gt_pickle(path)
    assert labels == ["run", "walk"] and all(np.array_equal(a, b) for a, b in zip(got, poses, strict=True))


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"pose": [np.zeros((3, 14, 2))], "label": ["run"]}, "expected \\(T, 15, 2\\)"),
        ({"pose": [np.zeros((3, 15, 2))], "label": []}, "1 poses but 0 labels"),
        ([1, 2], "expected a dict"),
    ],
)
def test_malformed_pickles_name_the_file(tmp_path, obj, message):
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(obj))
    with pytest.raises(ValueError, match=message):
        read_gt_pickle(path)
    path.write_bytes(b"\x80\x04garbage")
    with pytest.raises(ValueError, match="bad.pkl: not a valid pickle"):
        read_gt_pickle(path)


def _official_tree(root, rng):
    """Two classes, three clips each, split 1 and 2 lists, in JHMDB's official layout."""
    lengths = {}
    for cls in ("run", "wave"):
        for k in (1, 2):
            lines = [f"{cls}_clip{i}&x.avi {1 if (i + k) % 3 else 2}" for i in range(3)]
            (root / "splits").mkdir(parents=True, exist_ok=True)
            (root / "splits" / f"{cls}_test_split{k}.txt").write_text("\n".join(lines) + "\n")
        for i in range(3):
            T = int(rng.integers(15, 25))
            folder = root / "joint_positions" / cls / f"{cls}_clip{i}&x"
            folder.mkdir(parents=True)
            pos = rng.normal(size=(2, 15, T))
            savemat(folder / "joint_positions.mat", {"pos_img": pos * 100, "pos_world": pos, "scale": 1.0})
            lengths[(cls, i)] = (T, pos)
    return lengths


def test_official_layout_reader(tmp_path):
    rng = np.random.default_rng(0)
    made = _official_tree(tmp_path, rng)
    index, clips = load_official(tmp_path, split=2)
    assert index.classes == ["run", "wave"] and len(clips) == 6
    by_id = {c.clip_id: c for c in clips}
    clip = by_id["wave__wave_clip1-x"]
    T, pos = made[("wave", 1)]
    assert clip.pose.shape == (T, 1, 15, 2)
    np.testing.assert_allclose(clip.pose[:, 0], pos.transpose(2, 1, 0), rtol=1e-6)
    splits = {e.clip_id: e.split for e in index.clips}
    assert splits["wave__wave_clip1-x"] == "test" and splits["wave__wave_clip0-x"] == "train"
    img = load_official(tmp_path, split=1, field="pos_img")[1]
    assert abs(img[0].pose).max() > 10 * abs(clips[0].pose).max()


def test_official_layout_errors(tmp_path):
    _official_tree(tmp_path, np.random.default_rng(0))
    with pytest.raises(FileNotFoundError, match="_test_split3"):
        load_official(tmp_path, split=3)
    (tmp_path / "splits" / "run_test_split1.txt").write_text("clip.avi 7\n")
    with pytest.raises(ValueError, match="run_test_split1.txt:1"):
        read_split_lists(tmp_path / "splits", 1)


def test_official_layout_keeps_the_classes_asked_for(tmp_path):
    _official_tree(tmp_path, np.random.default_rng(0))
    index, clips = load_official(tmp_path, split=1, classes=["wave"])
    assert index.classes == ["wave"] and len(clips) == 3 and {c.label for c in clips} == {0}
    assert all(c.clip_id.startswith("wave__") for c in clips)
    with pytest.raises(ValueError, match=r"splits: split 1 lists no class jump; it lists \['run', 'wave'\]"):
        load_official(tmp_path, split=1, classes=["wave", "jump"])


@pytest.mark.shared
def test_real_jhmdb_split1(shared_data, tmp_path):
    root = shared_data / "jhmdb"
    index, clips = load_gt_pickles(root / "GT_train_1.pkl", root / "GT_test_1.pkl")
    assert len(index.classes) == 14 and len(clips) == 609
    assert sum(e.split == "train" for e in index.clips) == 433
    assert all(15 <= c.num_frames <= 40 and c.pose.shape[1:] == (1, 15, 2) for c in clips)
    with zipfile.ZipFile(root / "splits.zip") as z:
        z.extractall(tmp_path)
    lists = read_split_lists(tmp_path / "splits", 1)
    assert len({cls for cls, _ in lists}) == 21
    per_class = {cls: sum(1 for (c, _), s in lists.items() if c == cls and s == "test") for cls in index.classes}
    n_test = {
        cls: sum(1 for e in index.clips if e.split == "test" and index.classes[e.label] == cls) for cls in index.classes
    }
    assert per_class == n_test  # the pickles follow the official split 1 lists, class by class


def test_training_videos_counts_each_classes_source_videos_on_the_training_side(tmp_path):
    """``<video>_<k>.avi`` is clip k of one video; only the training side ('1') counts; a folder or
    a zip of it."""
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "clap_test_split1.txt").write_text("a_clap_0.avi 1\na_clap_1.avi 1\nb_clap_0.avi 1\nc_clap_0.avi 2\n")
    (splits / "wave_test_split1.txt").write_text("d_wave_0.avi 1\ne_wave_3.avi 2\n")
    assert training_videos(splits) == {"clap": 2, "wave": 1}
    with zipfile.ZipFile(tmp_path / "splits.zip", "w") as z:
        for f in splits.iterdir():
            z.write(f, f"splits/{f.name}")
    assert training_videos(tmp_path / "splits.zip") == {"clap": 2, "wave": 1}
    with pytest.raises(FileNotFoundError, match="split2"):
        training_videos(tmp_path / "splits.zip", 2)


def test_pseudo_videos_recover_the_videos_clips_were_cut_from():
    """Clips of one synthetic video share where the body stands and how it moves (plus noise); per
    class, as many clusters as videos put each video's clips together and no two videos together."""
    rng = np.random.default_rng(0)
    clips, truth = [], {}
    for k, name in enumerate(("clap", "wave")):
        for v in range(3):
            base, amp = rng.normal(size=(15, 2)) * 2, rng.uniform(0.1, 1.0)
            for i in range(int(rng.integers(1, 5))):
                T = int(rng.integers(15, 40))
                pose = base + amp * np.sin(np.linspace(0, 6, T))[:, None, None] + 0.05 * rng.normal(size=(T, 15, 2))
                cid = f"{name}_{v}_{i}"
                clips.append(Clip(cid, k, pose=pose[:, None].astype(np.float32)))
                truth[cid] = (k, v)
    grouped = pseudo_videos(clips, ["clap", "wave"], {"clap": 3, "wave": 3})
    group = {c.clip_id: c.meta["group"] for c in grouped}
    pairs = [(a, b) for a in truth for b in truth if a < b]
    assert all((truth[a] == truth[b]) == (group[a] == group[b]) for a, b in pairs)
    assert all(group[c].split(":")[0] == ("clap", "wave")[truth[c][0]] for c in group)
    with pytest.raises(ValueError, match="'wave' has no training videos"):
        pseudo_videos(clips, ["clap", "wave"], {"clap": 3})


@pytest.mark.shared
def test_real_jhmdb_pseudo_videos_follow_the_split_lists(shared_data):
    """On split 1 every class of the training pickle gets as many pseudo-videos as its training list
    names videos (throw: 15 for 35 clips, one video giving 20), and a validation part of whole
    pseudo-videos holds out about 15 % of each class."""
    root = shared_data / "jhmdb"
    videos = training_videos(root / "splits.zip")
    assert len(videos) == 21 and videos["throw"] == 15
    poses, labels = read_gt_pickle(root / "GT_train_1.pkl")
    classes = sorted(set(labels))
    clips = pseudo_videos(clips_from_poses(poses, labels, classes, "train", "GT_train_1"), classes, videos)
    for k, name in enumerate(classes):
        assert len({c.meta["group"] for c in clips if c.label == k}) == videos[name]
    train, val = split_groups_by_class(clips, 0.15, seed=0)
    assert {c.label for c in val} == set(range(len(classes))) and 0.15 <= len(val) / len(clips) < 0.25
