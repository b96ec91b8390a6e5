import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from earlyact.data import (
    Clip,
    ClipEntry,
    DatasetIndex,
    load_clip,
    load_dataset,
    make_batch,
    read_index,
    rotated_validation_groups,
    save_clip,
    save_dataset,
    shared_group,
    split_groups_by_class,
    split_validation,
)


def _clip(cid="c1", T=5, label=1):
    rng = np.random.default_rng(0)
    pose = rng.normal(size=(T, 2, 18, 3)).astype(np.float32)
    pose[1, 0, 3] = np.nan  # a missing joint
    return Clip(cid, label, pose=pose, context=rng.normal(size=(T, 7)).astype(np.float32), fps=25.0,
                source="x.avi", meta={"k": 1})  # fmt: skip


def test_clip_round_trip_and_mmap(tmp_path):
    clip = _clip()
    folder = save_clip(clip, tmp_path)
    for mmap in (False, True):
        back = load_clip(folder, mmap=mmap)
        assert back.clip_id == "c1" and back.label == 1 and back.fps == 25.0 and back.meta == {"k": 1}
        np.testing.assert_array_equal(back.pose, clip.pose)  # NaN in the same places
        np.testing.assert_array_equal(back.context, clip.context)
        assert back.action is None
    assert isinstance(load_clip(folder, mmap=True).pose, np.memmap)
    assert json.loads((folder / "meta.json").read_text())["num_frames"] == 5


def test_rewrite_replaces_whole_clip(tmp_path):
    save_clip(_clip(T=5), tmp_path)
    smaller = _clip(T=3)
    smaller.context = None
    folder = save_clip(smaller, tmp_path)
    assert not (folder / "context.npy").exists()
    assert load_clip(folder).num_frames == 3
    assert [p.name for p in (tmp_path / "clips").iterdir()] == ["c1"]  # no temp folders left


def test_failed_write_leaves_old_clip(tmp_path, monkeypatch):
    save_clip(_clip(T=5), tmp_path)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", boom)
    with pytest.raises(OSError):
        save_clip(_clip(T=3), tmp_path)
    monkeypatch.undo()
    assert load_clip(tmp_path / "clips" / "c1").num_frames == 5
    assert [p.name for p in (tmp_path / "clips").iterdir()] == ["c1"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: setattr(c, "context", np.zeros((4, 7), np.float32)), "lengths differ"),
        (lambda c: setattr(c, "pose", np.zeros((5, 18, 2), np.float32)), "4 dims"),
        (lambda c: setattr(c, "clip_id", "../evil"), "clip id"),
    ],
)
def test_bad_clips_are_refused(tmp_path, change, message):
    clip = _clip()
    change(clip)
    with pytest.raises(ValueError, match=message):
        save_clip(clip, tmp_path)


def test_corrupt_files_name_the_file(tmp_path):
    folder = save_clip(_clip(), tmp_path)
    (folder / "context.npy").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="context.npy"):
        load_clip(folder)
    (folder / "meta.json").write_text("{")
    with pytest.raises(ValueError, match="meta.json"):
        load_clip(folder)
    with pytest.raises(FileNotFoundError, match="index.json"):
        read_index(tmp_path / "nowhere")


def test_dataset_round_trip_and_splits(tmp_path):
    clips = [_clip(f"c{i}", label=i % 2) for i in range(4)]
    index = DatasetIndex(
        ["a", "b"],
        [ClipEntry(c.clip_id, c.label, "test" if i == 0 else "train", "g") for i, c in enumerate(clips)],
    )
    save_dataset(index, clips, tmp_path)
    idx, train = load_dataset(tmp_path, "train")
    assert idx.classes == ["a", "b"] and [c.clip_id for c in train] == ["c1", "c2", "c3"]


def test_batch_pads_and_masks():
    a, b = _clip("a", T=5), _clip("b", T=3)
    batch = make_batch([a, b], ["context"])
    assert batch.context.shape == (2, 5, 7)
    assert batch.mask.tolist() == [[True] * 5, [True] * 3 + [False] * 2]
    assert torch.all(batch.context[1, 3:] == 0)
    with pytest.raises(ValueError, match="action"):
        make_batch([a], ["action"])


def test_validation_split_is_stratified_and_seeded():
    clips = [_clip(f"c{i}", label=i % 3) for i in range(30)]
    tr, va = split_validation(clips, 0.2, seed=1)
    assert len(va) == 6 and sorted(c.label for c in va) == [0, 0, 1, 1, 2, 2]
    assert [c.clip_id for c in split_validation(clips, 0.2, seed=1)[1]] == [c.clip_id for c in va]
    assert not {c.clip_id for c in tr} & {c.clip_id for c in va}
    for by_group in (False, True):  # fraction 0: no validation, every clip trains (a final fit)
        assert split_validation(clips, 0.0, seed=1, by_group=by_group) == (clips, [])


def test_validation_split_by_group_holds_out_whole_groups():
    clips = [replace(_clip(f"c{i}", label=i % 3), meta={"group": str(i // 6)}) for i in range(30)]  # 5 groups
    tr, va = split_validation(clips, 0.2, seed=1, by_group=True)
    held = {c.meta["group"] for c in va}
    assert len(held) == 1 and len(va) == 6
    assert not held & {c.meta["group"] for c in tr} and len(tr) == 24
    assert split_validation(clips, 0.2, seed=1, by_group=True)[1] == va  # seeded
    with pytest.raises(ValueError, match="'c0' has none"):
        split_validation([_clip("c0"), *clips[1:]], 0.2, seed=1, by_group=True)
    with pytest.raises(ValueError, match="2 or more groups"):
        split_validation(clips[:6], 0.2, seed=1, by_group=True)


def test_rotated_validation_groups_hold_out_every_group_once_over_the_folds():
    groups = [str(g) for g in range(1, 11)]
    for seed in (0, 1, 8, 9, 20):
        held = [rotated_validation_groups(groups, g, seed)[0] for g in groups]
        assert sorted(held, key=int) == groups  # each group validates exactly one fold ...
        assert all(h != g for h, g in zip(held, groups, strict=True))  # ... never its own test fold
    assert rotated_validation_groups(groups, "9") == ["10"] and rotated_validation_groups(groups, "10") == ["1"]
    assert rotated_validation_groups(groups, "9", seed=1) == ["1"]  # "10" skipped, wrapping round
    assert rotated_validation_groups(groups, "9", seed=8) == ["8"]  # the 9th after "9" skips "9" itself
    assert rotated_validation_groups(groups, "2", seed=0, count=3) == ["3", "4", "5"]
    with pytest.raises(ValueError, match="cannot hold out 10"):
        rotated_validation_groups(groups, "3", count=10)
    with pytest.raises(ValueError, match="'11' must be one of"):
        rotated_validation_groups(groups, "11")


def test_validation_split_given_the_test_group_rotates_over_the_folds():
    clips = [replace(_clip(f"c{i}", label=i % 3), meta={"group": str(1 + i // 3)}) for i in range(30)]  # 10 groups
    for seed in (0, 1):
        held = []
        for fold in [str(g) for g in range(1, 11)]:
            train = [c for c in clips if c.meta["group"] != fold]
            assert shared_group([c for c in clips if c.meta["group"] == fold]) == fold
            tr, va = split_validation(train, 0.15, seed, by_group=True, test_group=fold)
            assert len({c.meta["group"] for c in va}) == 1 and len(tr) + len(va) == len(train)
            held.append(va[0].meta["group"])
        assert sorted(held, key=int) == [str(g) for g in range(1, 11)]  # every sequence validates once
    drawn = {split_validation([c for c in clips if c.meta["group"] != f], 0.15, 0, True)[1][0].meta["group"]
             for f in "123456789"}  # fmt: skip
    assert len(drawn) < 9  # the draw without the fold repeats groups (the defect the rotation mends)
    assert shared_group(clips) is None and shared_group([_clip("x")]) is None
    with pytest.raises(ValueError, match="'1' is among the training"):
        split_validation(clips, 0.15, 0, by_group=True, test_group="1")


def test_split_groups_by_class_holds_whole_groups_of_every_class():
    """Each class gives whole groups until the fraction of its clips is held out, never all its
    groups; the same seed gives the same part; clips without a group or groups across classes
    are refused."""
    clips = [
        Clip(f"c{k}_g{g}_{i}", k, pose=np.zeros((3, 1, 2, 2), np.float32), meta={"group": f"{k}:{g}"})
        for k in range(3) for g in range(5) for i in range(g + 1)
    ]  # fmt: skip
    train, val = split_groups_by_class(clips, 0.2, seed=0)
    assert len(train) + len(val) == len(clips)
    held = {c.meta["group"] for c in val}
    assert not held & {c.meta["group"] for c in train}  # whole groups
    for k in range(3):
        n_val, n_all = sum(c.label == k for c in val), sum(c.label == k for c in clips)
        assert n_val >= 0.2 * n_all and sum(g.startswith(f"{k}:") for g in held) < 5
    assert [c.clip_id for c in split_groups_by_class(clips, 0.2, seed=0)[1]] == [c.clip_id for c in val]
    draws = {frozenset(c.meta["group"] for c in split_groups_by_class(clips, 0.2, seed=s)[1]) for s in range(10)}
    assert len(draws) > 1  # the seed chooses the groups
    with pytest.raises(ValueError, match="c0_g0_0"):
        split_groups_by_class([replace(clips[0], meta={}), *clips[1:]], 0.2, 0)
    with pytest.raises(ValueError, match="several classes"):
        split_groups_by_class([clips[0], replace(clips[1], label=1), *clips[2:]], 0.2, 0)  # group 0:1 split
