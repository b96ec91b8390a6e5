"""Video dataset layouts and their protocols: which video is which clip, class, split and group.

These readers only list videos (and check that they exist); decoding and feature extraction
come after. Each returns the class names and a list of ``VideoEntry``; ``to_index`` turns them
into the dataset index of ``earlyact.data`` once the clips are extracted.

* UT-Interaction segmented sets: ``<clip>_<sequence>_<label>.avi``; 6 classes; the protocol is
  10-fold leave-one-sequence-out within a set (``group`` = the sequence).
* UCF-101: ``UCF-101/<Class>/v_<Class>_g<group>_c<clip>.avi`` with the official
  ``ucfTrainTestlist`` (``classInd.txt``, ``trainlist0k.txt``, ``testlist0k.txt``; CRLF endings).
* JHMDB videos: ``<class>/<clip>.avi`` (the official ``ReCompress_Videos`` folder) with the official
  ``splits/<class>_test_split<k>.txt`` lists; when ``joint_positions/<class>/<clip>/joint_positions.mat``
  files are there, every clip takes its annotated joints (``pos_img``) instead of the pose estimator.
* Generic: a folder of videos plus a CSV with columns ``clip,label[,split]``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from earlyact.data import ClipEntry, DatasetIndex, group_order, safe_clip_id

UT_CLASSES = ["hand_shake", "hug", "kick", "point", "punch", "push"]
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg")
_UT_NAME = re.compile(r"^(\d+)_(\d+)_(\d+)$")


@dataclass(frozen=True)
class VideoEntry:
    """One video of a dataset and its place in the protocol."""

    path: Path
    clip_id: str
    label: int
    split: str = "train"  # official split ("train"/"test"); "all" when the protocol uses folds
    group: str = ""  # fold unit: UT-Interaction sequence, UCF-101 group
    joints: Path | None = None  # annotated joints to use instead of the pose estimator (JHMDB joint_positions.mat)


def to_index(classes: list[str], entries: list[VideoEntry], name: str, streams: dict | None = None) -> DatasetIndex:
    clips = [ClipEntry(e.clip_id, e.label, e.split, e.group) for e in entries]
    return DatasetIndex(list(classes), clips, streams or {}, name=name)


def read_ut_interaction(folder: str | Path) -> tuple[list[str], list[VideoEntry]]:
    """A UT-Interaction segmented set: every ``<clip>_<seq>_<label>.avi`` in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder (a UT-Interaction segmented set)")
    entries = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            continue
        m = _UT_NAME.match(path.stem)
        if not m:
            raise ValueError(f"{path}: not a UT-Interaction clip name (<clip>_<sequence>_<label>{path.suffix})")
        clip, seq, label = (int(x) for x in m.groups())
        if label >= len(UT_CLASSES):
            raise ValueError(f"{path}: label {label} is not one of 0-{len(UT_CLASSES) - 1}")
        entries.append(VideoEntry(path, f"ut_{clip:03d}_seq{seq:02d}", label, "all", str(seq)))
    if not entries:
        raise ValueError(f"{folder}: no UT-Interaction videos found")
    return list(UT_CLASSES), sorted(entries, key=lambda e: e.clip_id)


def leave_one_group_out(entries: list[VideoEntry]) -> list[tuple[str, list[VideoEntry], list[VideoEntry]]]:
    """Folds (held-out group, train entries, test entries), one per group, groups in numeric order."""
    return [
        (g, [e for e in entries if e.group != g], [e for e in entries if e.group == g])
        for g in group_order(e.group for e in entries)
    ]


def _lines(path: Path) -> list[str]:
    try:
        return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: missing (official UCF-101 split list)") from None


def read_ucf101(
    root: str | Path, lists: str | Path, split: int = 1, require_files: bool = True
) -> tuple[list[str], list[VideoEntry]]:
    """UCF-101 split ``split`` (1-3): videos under ``root/<Class>/``, lists in ``lists``."""
    root, lists = Path(root), Path(lists)
    if split not in (1, 2, 3):
        raise ValueError(f"UCF-101 has splits 1, 2, 3, not {split}")
    classes = []
    for n, line in enumerate(_lines(lists / "classInd.txt"), 1):
        idx, _, name = line.partition(" ")
        if not idx.isdigit() or int(idx) != n or not name:
            raise ValueError(f"{lists / 'classInd.txt'}:{n}: expected '{n} <ClassName>', got {line!r}")
        classes.append(name)
    entries = []
    for which in ("train", "test"):
        path = lists / f"{which}list0{split}.txt"
        for n, line in enumerate(_lines(path), 1):
            rel = line.split()[0]
            cls = rel.split("/")[0]
            m = re.search(r"_g(\d+)_c\d+\.avi$", rel)
            if cls not in classes or not m:
                raise ValueError(f"{path}:{n}: expected '<Class>/v_<Class>_gXX_cYY.avi', got {line!r}")
            video = root / rel
            if require_files and not video.exists():
                raise FileNotFoundError(f"{video}: listed in {path.name} but missing")
            entries.append(VideoEntry(video, Path(rel).stem, classes.index(cls), which, m.group(1)))
    return classes, entries


def read_generic(folder: str | Path, labels_csv: str | Path) -> tuple[list[str], list[VideoEntry]]:
    """A folder of videos and a CSV ``clip,label[,split]`` (clip = file name, with or without suffix)."""
    folder, labels_csv = Path(folder), Path(labels_csv)
    videos = {p.stem: p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES}
    with open(labels_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"clip", "label"} <= set(rows[0]):
        raise ValueError(f"{labels_csv}: needs a header with columns clip,label[,split]")
    classes = sorted({r["label"] for r in rows})
    entries = []
    for n, r in enumerate(rows, 2):
        stem = Path(r["clip"]).stem
        if stem not in videos:
            raise FileNotFoundError(f"{labels_csv}:{n}: no video {r['clip']!r} in {folder}")
        entries.append(
            VideoEntry(videos[stem], safe_clip_id(stem), classes.index(r["label"]), r.get("split") or "train", "")
        )
    return classes, entries


def read_jhmdb_videos(root: str | Path, split: int = 1) -> tuple[list[str], list[VideoEntry]]:
    """JHMDB videos of split ``split``: ``root`` holds ``splits/`` and the class folders of videos,
    directly or in ``ReCompress_Videos/`` (the official archive's name). With a ``joint_positions/``
    folder beside them, every listed clip must have its ``joint_positions.mat``: a dataset mixes no
    annotated joints with estimated ones (different layouts)."""
    from earlyact.jhmdb import read_split_lists

    root = Path(root)
    videos = root / "ReCompress_Videos" if (root / "ReCompress_Videos").is_dir() else root
    membership = read_split_lists(root / "splits", split)
    joints_dir = root / "joint_positions" if (root / "joint_positions").is_dir() else None
    classes = sorted({cls for cls, _ in membership})
    entries = []
    for (cls, name), which in sorted(membership.items(), key=lambda kv: (kv[1] != "train", kv[0])):
        path = videos / cls / f"{name}.avi"
        if not path.exists():
            raise FileNotFoundError(f"{path}: listed in {root / 'splits'} (split {split}) but missing")
        mat = joints_dir / cls / name / "joint_positions.mat" if joints_dir else None
        if mat is not None and not mat.exists():
            raise FileNotFoundError(f"{mat}: missing (the other clips have annotated joints)")
        entries.append(VideoEntry(path, safe_clip_id(f"{cls}__{name}"), classes.index(cls), which, joints=mat))
    return classes, entries
