"""Clips and datasets on disk, and padded batches for training.

On-disk layout of a dataset (readable with numpy and json alone, no pickle anywhere)::

    DATASET/
      index.json                 classes, streams, and one entry per clip (id, label, split, group)
      clips/<clip_id>/meta.json  clip id, label, fps, source path, stream shapes, extra metadata
      clips/<clip_id>/pose.npy   (T, P, J, C) float32; NaN marks a missing joint or person
      clips/<clip_id>/context.npy  (T, Dc) float32, optional
      clips/<clip_id>/action.npy   (T, Da) float32, optional

Each stream is a plain ``.npy`` file, so ``np.load(path, mmap_mode="r")`` maps it without
reading it, clips keep their own length (no padding on disk), and a clip folder is written
atomically (``storage.atomic_dir``): a crash never leaves half a clip.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from earlyact.storage import atomic_dir, atomic_write_json, read_json

STREAMS = ("context", "pose", "action")  # per-frame arrays a clip may hold
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")


def safe_clip_id(name: str) -> str:
    """A clip id from any name: letters, digits, '.', '_', '-' kept, anything else becomes '-'."""
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name)


@dataclass
class Clip:
    """One video clip: aligned per-frame streams, its class and where it came from."""

    clip_id: str
    label: int
    pose: np.ndarray | None = None  # (T, P, J, C) float32, NaN = missing
    context: np.ndarray | None = None  # (T, Dc) float32
    action: np.ndarray | None = None  # (T, Da) float32
    fps: float = 30.0
    source: str = ""  # the video or annotation file the clip came from
    meta: dict[str, Any] = field(default_factory=dict)  # anything else (JSON-serialisable)

    @property
    def num_frames(self) -> int:
        for name in STREAMS:
            arr = getattr(self, name)
            if arr is not None:
                return int(arr.shape[0])
        raise ValueError(f"clip {self.clip_id!r} has no stream")

    def validate(self) -> None:
        """Raise ``ValueError`` naming the clip if its streams disagree or are malformed."""
        if not _ID_RE.match(self.clip_id):
            raise ValueError(f"clip id {self.clip_id!r}: use letters, digits, '.', '_', '-'")
        lengths = {}
        for name, ndim in (("context", 2), ("pose", 4), ("action", 2)):
            arr = getattr(self, name)
            if arr is None:
                continue
            if arr.ndim != ndim:
                raise ValueError(f"clip {self.clip_id!r}: {name} has shape {arr.shape}, needs {ndim} dims")
            lengths[name] = arr.shape[0]
        if not lengths:
            raise ValueError(f"clip {self.clip_id!r} has no stream")
        if len(set(lengths.values())) > 1 or 0 in lengths.values():
            raise ValueError(f"clip {self.clip_id!r}: stream lengths differ or are empty: {lengths}")


@dataclass
class ClipEntry:
    """A clip's line in the dataset index."""

    clip_id: str
    label: int
    split: str = "train"  # "train", "test", ... (official split of the dataset)
    group: str = ""  # e.g. UT-Interaction sequence, for leave-one-group-out folds


@dataclass
class DatasetIndex:
    """Class names, stream descriptions and the clip list of a dataset folder."""

    classes: list[str]
    clips: list[ClipEntry]
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)  # how each stream was made
    name: str = ""

    def select(self, split: str) -> list[ClipEntry]:
        return [c for c in self.clips if c.split == split]


def save_clip(clip: Clip, root: str | Path) -> Path:
    """Write ``clip`` into ``root/clips/<id>/`` atomically and return that folder."""
    clip.validate()
    folder = Path(root) / "clips" / clip.clip_id
    with atomic_dir(folder) as tmp:
        shapes = {}
        for name in STREAMS:
            arr = getattr(clip, name)
            if arr is not None:
                np.save(tmp / f"{name}.npy", np.ascontiguousarray(arr, dtype=np.float32))
                shapes[name] = list(arr.shape)
        meta = {
            "clip_id": clip.clip_id,
            "label": int(clip.label),
            "fps": float(clip.fps),
            "source": clip.source,
            "num_frames": clip.num_frames,
            "shapes": shapes,
            "meta": clip.meta,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    return folder


def load_clip(folder: str | Path, mmap: bool = False) -> Clip:
    """Read a clip folder; with ``mmap`` the arrays are memory-mapped, not read."""
    folder = Path(folder)
    meta = read_json(folder / "meta.json", f"is {folder} a clip folder?")
    arrays = {}
    for name in meta.get("shapes", {}):
        path = folder / f"{name}.npy"
        try:
            arrays[name] = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: cannot read stream {name!r} ({e})") from None
    clip = Clip(
        clip_id=meta["clip_id"],
        label=int(meta["label"]),
        fps=float(meta.get("fps", 30.0)),
        source=meta.get("source", ""),
        meta=meta.get("meta", {}),
        **arrays,
    )
    clip.validate()
    return clip


def write_index(index: DatasetIndex, root: str | Path) -> Path:
    data = {
        "name": index.name,
        "classes": index.classes,
        "streams": index.streams,
        "clips": [vars(c) for c in index.clips],
    }
    return atomic_write_json(Path(root) / "index.json", data)


def read_index(root: str | Path) -> DatasetIndex:
    path = Path(root) / "index.json"
    data = read_json(path, "no dataset index here (make one with `earlyact demo` or the readers)")
    try:
        clips = [ClipEntry(**c) for c in data["clips"]]
        return DatasetIndex(data["classes"], clips, data.get("streams", {}), data.get("name", ""))
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path}: malformed index ({e})") from None


def save_dataset(index: DatasetIndex, clips: Sequence[Clip], root: str | Path) -> None:
    """Write every clip, then the index (so an index never names a clip that is not there)."""
    for clip in clips:
        save_clip(clip, root)
    write_index(index, root)


def load_dataset(root: str | Path, split: str | None = None, mmap: bool = False) -> tuple[DatasetIndex, list[Clip]]:
    """The index and the clips of ``root`` (only those of ``split`` when given)."""
    index = read_index(root)
    entries = index.clips if split is None else index.select(split)
    clips = [load_clip(Path(root) / "clips" / e.clip_id, mmap=mmap) for e in entries]
    return index, clips


# ----------------------------------------------------------------------------- batching


@dataclass
class Batch:
    """Padded tensors of a list of clips; ``lengths`` tells how much of each row is real."""

    lengths: torch.Tensor  # (B,) int64
    labels: torch.Tensor  # (B,) int64
    context: torch.Tensor | None = None  # (B, T, Dc), or the window net's (B, T, L, D) windows
    action: torch.Tensor | None = None  # (B, T, Da)
    joints: torch.Tensor | None = None  # (B, T, P*J, 5) action-network input (features.action_input)
    partner: tuple[torch.Tensor, float] | None = None  # mixup: the blended-in clips' labels (B,), own weight
    whole: torch.Tensor | None = None  # window net distillation: each clip's whole-clip window (B, 1, L, D)

    @property
    def mask(self) -> torch.Tensor:
        """(B, T) bool, True on real frames."""
        t = torch.arange(int(self.lengths.max()), device=self.lengths.device)
        return t[None, :] < self.lengths[:, None]


def pad_stack(arrays: Sequence[np.ndarray], value: float = 0.0) -> torch.Tensor:
    """Stack arrays of shape (T_i, ...) into (B, max T_i, ...), padding with ``value``."""
    longest = max(a.shape[0] for a in arrays)
    out = np.full((len(arrays), longest, *arrays[0].shape[1:]), value, dtype=np.float32)
    for i, a in enumerate(arrays):
        out[i, : a.shape[0]] = a
    return torch.from_numpy(out)


def make_batch(clips: Sequence[Clip], streams: Sequence[str]) -> Batch:
    """Pad the requested ``streams`` of ``clips`` into one ``Batch``."""
    batch = Batch(
        lengths=torch.tensor([c.num_frames for c in clips], dtype=torch.long),
        labels=torch.tensor([c.label for c in clips], dtype=torch.long),
    )
    for name in streams:
        arrays = [getattr(c, name) for c in clips]
        missing = [c.clip_id for c, a in zip(clips, arrays, strict=True) if a is None]
        if missing:
            raise ValueError(f"stream {name!r} missing in clip(s) {missing[:5]}")
        setattr(batch, name, pad_stack(arrays))
    return batch


def batch_indices(n: int, batch_size: int, generator: torch.Generator | None = None) -> list[list[int]]:
    """Index chunks over ``n`` items, shuffled by ``generator`` (in order when it is None)."""
    order = torch.randperm(n, generator=generator).tolist() if generator is not None else list(range(n))
    return [order[s : s + batch_size] for s in range(0, n, batch_size)]


def split_validation(
    clips: Sequence[Clip], fraction: float, seed: int, by_group: bool = False, test_group: str | None = None
) -> tuple[list[Clip], list[Clip]]:
    """Split training clips into (train, validation) for early stopping and model choice.

    Stratified by class; with ``by_group``, whole groups (``clip.meta["group"]``: UT-Interaction's
    sequences) are held out instead, so validation meets unseen people and scenes as the
    leave-one-group-out test folds do. Given the fold's ``test_group``, the held-out groups are the
    ones that follow it (``rotated_validation_groups``), so that over the folds every group is held
    out; without it they are a draw from ``seed`` alone, which ignores the fold (UT-Interaction set 1,
    seed 0: sequence 5 in folds 1-4 and 10, sequence 4 in folds 5-9).
    """
    if fraction <= 0:  # no validation: phases train for their full schedule (``train.fit``)
        return list(clips), []
    if by_group:
        return _split_groups(clips, fraction, seed, test_group)
    rng = np.random.default_rng(seed)
    train, val = [], []
    labels = sorted({c.label for c in clips})
    for label in labels:
        members = [c for c in clips if c.label == label]
        order = rng.permutation(len(members))
        n_val = max(1, int(round(fraction * len(members)))) if len(members) > 1 and fraction > 0 else 0
        val += [members[i] for i in order[:n_val]]
        train += [members[i] for i in order[n_val:]]
    if not val:
        raise ValueError(f"{len(clips)} training clips are too few to hold out a validation split")
    return train, val


def split_groups_by_class(clips: Sequence[Clip], fraction: float, seed: int) -> tuple[list[Clip], list[Clip]]:
    """(train, validation) holding out whole groups (``clip.meta["group"]``, each within one class,
    e.g. ``jhmdb.pseudo_videos``) class by class: a class's groups in a seeded order until ``fraction``
    of its clips is held out (at least one group, never all of them). Stratified like the random part,
    grouped like the test split."""
    labels: dict[str, set[int]] = {}
    for c in clips:
        if "group" not in c.meta:
            raise ValueError(f"holding out groups class by class needs a group per clip; clip {c.clip_id!r} has none")
        labels.setdefault(str(c.meta["group"]), set()).add(c.label)
    mixed = sorted(g for g, k in labels.items() if len(k) > 1)
    if mixed:
        raise ValueError(f"group {mixed[0]!r} holds clips of several classes; groups must lie within one class")
    group = [str(c.meta["group"]) for c in clips]
    rng, held = np.random.default_rng(seed), set()
    for label in sorted({c.label for c in clips}):
        size = Counter(g for c, g in zip(clips, group, strict=True) if c.label == label)
        names, taken = sorted(size), 0
        for i in rng.permutation(len(names))[: len(names) - 1]:
            held.add(names[i])
            taken += size[names[i]]
            if taken >= fraction * sum(size.values()):
                break
    if not held:
        raise ValueError(f"no class of these {len(clips)} clips has 2 or more groups to hold one out")
    train = [c for c, g in zip(clips, group, strict=True) if g not in held]
    return train, [c for c, g in zip(clips, group, strict=True) if g in held]


def group_order(groups: Iterable[str]) -> list[str]:
    """Distinct group names in natural order ("2" before "10"): the order of leave-one-group-out folds."""
    return sorted(set(groups), key=lambda g: (len(g), g))


def shared_group(clips: Sequence[Clip]) -> str | None:
    """The group all ``clips`` belong to (a leave-one-group-out test fold), None when they span several
    or carry none."""
    groups = {str(c.meta["group"]) if "group" in c.meta else None for c in clips}
    return groups.pop() if len(groups) == 1 else None


def rotated_validation_groups(groups: Sequence[str], test_group: str, seed: int = 0, count: int = 1) -> list[str]:
    """The validation groups of a leave-one-group-out fold: the ``count`` groups that follow the fold's
    test group after skipping ``seed`` of them (groups in natural order, wrapping round, the test group
    never among them). Over all folds each group is held out equally often (once, for ``count`` 1), so a
    validation pooled over the folds meets every group, as the test folds do."""
    order = group_order(groups)
    if test_group not in order or len(order) < 2:
        raise ValueError(f"test group {test_group!r} must be one of 2 or more groups; got {order}")
    k = order.index(test_group)
    after = order[k + 1 :] + order[:k]  # the training groups, starting with the one after the test group
    if not 1 <= count <= len(after):
        raise ValueError(f"cannot hold out {count} of the {len(after)} training groups")
    return [after[(seed + i) % len(after)] for i in range(count)]


def _split_groups(
    clips: Sequence[Clip], fraction: float, seed: int, test_group: str | None
) -> tuple[list[Clip], list[Clip]]:
    missing = [c.clip_id for c in clips if "group" not in c.meta]
    if missing:
        raise ValueError(f"train.val_by_group needs a group per clip; clip {missing[0]!r} has none")
    group = [str(c.meta["group"]) for c in clips]
    groups = sorted(set(group))
    if len(groups) < 2:
        raise ValueError(f"train.val_by_group needs 2 or more groups among the training clips; found {groups}")
    if test_group in groups:
        raise ValueError(f"test group {test_group!r} is among the training clips' groups")
    n_val = min(len(groups) - 1, max(1, int(round(fraction * len(groups)))))
    if test_group is None:  # the seed's draw (run folders made before the rotation held out this one)
        held = {groups[i] for i in np.random.default_rng(seed).permutation(len(groups))[:n_val]}
    else:
        held = set(rotated_validation_groups([*groups, test_group], test_group, seed, n_val))
    train = [c for c, g in zip(clips, group, strict=True) if g not in held]
    return train, [c for c, g in zip(clips, group, strict=True) if g in held]
