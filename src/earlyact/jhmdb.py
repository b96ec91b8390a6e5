"""JHMDB readers: the official ``joint_positions`` layout and the pickled ground-truth files.

* Official layout (Jhuang et al., ICCV 2013)::

      ROOT/joint_positions/<class>/<clip>/joint_positions.mat   pos_img, pos_world: 2 x 15 x T
      ROOT/splits/<class>_test_split<k>.txt                     "<clip>.avi 1" (train) / "2" (test)

* ``GT_train_<k>.pkl`` / ``GT_test_<k>.pkl`` (as pickled by DD-Net's authors): a dict
  ``{'pose': [(T, 15, 2) arrays], 'label': [class names]}``. A pickle can run code, so these
  are read with ``safe_load_pickle``, which admits numpy arrays, dtypes and builtin containers
  and refuses anything else with a clear error.

Both give clips whose pose is (T, 1, 15, 2) in the JHMDB-15 joint order (``skeleton.JHMDB15``).

The pickles carry no clip names, so which clips come from one source video (one actor, camera and
scene: the official split never divides a video) is unknown; ``pseudo_videos`` stands in for it.
"""

from __future__ import annotations

import pickle
import re
import tempfile
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from earlyact.data import Clip, ClipEntry, DatasetIndex, safe_clip_id
from earlyact.skeleton import JHMDB15

JHMDB_CLASSES = (
    "brush_hair", "catch", "clap", "climb_stairs", "golf", "jump", "kick_ball", "pick", "pour", "pullup", "push",
    "run", "shoot_ball", "shoot_bow", "shoot_gun", "sit", "stand", "swing_baseball", "throw", "walk", "wave",
)  # fmt: skip
JHMDB_FPS = 30.0


def _numpy_globals() -> dict[tuple[str, str], Any]:
    try:  # numpy >= 2
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = multiarray._reconstruct
        allowed[(module, "scalar")] = multiarray.scalar
    return allowed


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy array/dtype reconstruction globals."""

    def __init__(self, file, path: Path):
        super().__init__(file)
        self._path = path
        self._allowed = _numpy_globals()

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._allowed:
            return self._allowed[(module, name)]
        raise pickle.UnpicklingError(
            f"{self._path}: refused to load {module}.{name}: only numpy arrays, dtypes and builtin "
            "containers are allowed (this pickle could run code)"
        )


def safe_load_pickle(path: str | Path) -> Any:
    """Load a pickle holding only numpy arrays, dtypes and builtin containers; refuse the rest."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return _SafeUnpickler(f, path).load()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except pickle.UnpicklingError as e:
        msg = str(e)
        raise ValueError(msg if msg.startswith(str(path)) else f"{path}: not a valid pickle ({msg})") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f"{path}: not a valid pickle ({type(e).__name__}: {e})") from None


def read_gt_pickle(path: str | Path) -> tuple[list[np.ndarray], list[str]]:
    """(poses (T, 15, 2), class names) of a ``GT_*.pkl`` file, validated."""
    data = safe_load_pickle(path)
    if not isinstance(data, dict) or not {"pose", "label"} <= set(data):
        raise ValueError(f"{path}: expected a dict with 'pose' and 'label', got {type(data).__name__}")
    poses, labels = list(data["pose"]), [str(x) for x in data["label"]]
    if len(poses) != len(labels):
        raise ValueError(f"{path}: {len(poses)} poses but {len(labels)} labels")
    for i, p in enumerate(poses):
        if not isinstance(p, np.ndarray) or p.ndim != 3 or p.shape[1:] != (15, 2) or len(p) == 0:
            shape = getattr(p, "shape", type(p).__name__)
            raise ValueError(f"{path}: pose {i} has shape {shape}, expected (T, 15, 2)")
    return poses, labels


def clips_from_poses(
    poses: list[np.ndarray], labels: list[str], classes: list[str], prefix: str, source: str
) -> list[Clip]:
    """Clips (pose (T, 1, 15, 2)) with ids ``<prefix>_<class>_<i>``."""
    out = []
    for i, (p, name) in enumerate(zip(poses, labels, strict=True)):
        if name not in classes:
            raise ValueError(f"{source}: class {name!r} is not among {classes}")
        pose = np.asarray(p, dtype=np.float32)[:, None]  # one person
        out.append(Clip(f"{prefix}_{name}_{i:04d}", classes.index(name), pose=pose, fps=JHMDB_FPS, source=source))
    return out


def load_gt_pickles(train_path: str | Path, test_path: str | Path) -> tuple[DatasetIndex, list[Clip]]:
    """A dataset from a pair of ``GT_train_k.pkl`` / ``GT_test_k.pkl`` files (any split k)."""
    train_p, train_l = read_gt_pickle(train_path)
    test_p, test_l = read_gt_pickle(test_path)
    classes = sorted(set(train_l) | set(test_l))
    clips = clips_from_poses(train_p, train_l, classes, "train", str(train_path))
    clips += clips_from_poses(test_p, test_l, classes, "test", str(test_path))
    entries = [ClipEntry(c.clip_id, c.label, c.clip_id.split("_", 1)[0]) for c in clips]
    streams = {"pose": {"layout": JHMDB15.name, "channels": ["x", "y"], "source": "JHMDB ground truth (pos_world)"}}
    return DatasetIndex(classes, entries, streams, name="jhmdb"), clips


def read_split_lists(splits_dir: str | Path, split: int) -> dict[tuple[str, str], str]:
    """{(class, clip): 'train' | 'test'} from the official ``<class>_test_split<k>.txt`` files."""
    splits_dir = Path(splits_dir)
    files = sorted(splits_dir.glob(f"*_test_split{split}.txt"))
    if not files:
        raise FileNotFoundError(f"{splits_dir}: no *_test_split{split}.txt files")
    out = {}
    for f in files:
        cls = f.name[: -len(f"_test_split{split}.txt")]
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("1", "2") or not parts[0].endswith(".avi"):
                raise ValueError(f"{f}:{n}: expected '<clip>.avi 1|2', got {line!r}")
            out[(cls, parts[0][:-4])] = "train" if parts[1] == "1" else "test"
    return out


def read_joint_positions(path: str | Path, field: str = "pos_world") -> np.ndarray:
    """(T, 15, 2) joints from a ``joint_positions.mat`` (``field``: 'pos_world' or 'pos_img')."""
    from scipy.io import loadmat

    path = Path(path)
    try:
        mat = loadmat(str(path))
    except Exception as e:  # scipy raises several types for corrupt files
        raise ValueError(f"{path}: not a readable .mat file ({e})") from None
    if field not in mat:
        raise ValueError(f"{path}: no field {field!r} (has {sorted(k for k in mat if not k.startswith('__'))})")
    arr = np.asarray(mat[field], dtype=np.float64)
    if arr.ndim != 3 or arr.shape[:2] != (2, 15):
        raise ValueError(f"{path}: {field} has shape {arr.shape}, expected (2, 15, T)")
    return arr.transpose(2, 1, 0)  # (T, 15, 2)


def load_official(
    root: str | Path, split: int = 1, field: str = "pos_world", classes: Sequence[str] | None = None
) -> tuple[DatasetIndex, list[Clip]]:
    """A dataset from the official layout: the clips split ``split`` lists, of ``classes`` (default: every
    class the lists name; the DD-Net pickles of ``../shared`` hold 14 of the 21), each with its joints."""
    root = Path(root)
    membership = read_split_lists(root / "splits", split)
    listed = sorted({cls for cls, _ in membership})
    if classes is not None:
        unknown = sorted(set(classes) - set(listed))
        if unknown or not classes:
            asked = ", ".join(unknown) or "(no class asked for)"
            raise ValueError(f"{root / 'splits'}: split {split} lists no class {asked}; it lists {listed}")
        membership = {key: side for key, side in membership.items() if key[0] in classes}
    classes = sorted({cls for cls, _ in membership})
    clips, entries = [], []
    for (cls, name), which in sorted(membership.items()):
        mat = root / "joint_positions" / cls / name / "joint_positions.mat"
        if not mat.exists():
            raise FileNotFoundError(f"{mat}: listed in split {split} but missing")
        pose = read_joint_positions(mat, field).astype(np.float32)[:, None]
        clip = Clip(safe_clip_id(f"{cls}__{name}"), classes.index(cls), pose=pose, fps=JHMDB_FPS, source=str(mat))
        clips.append(clip)
        entries.append(ClipEntry(clip.clip_id, clip.label, which, name))
    streams = {"pose": {"layout": JHMDB15.name, "channels": ["x", "y"], "source": f"JHMDB joint_positions ({field})"}}
    return DatasetIndex(classes, entries, streams, name=f"jhmdb-split{split}"), clips


def training_video_sizes(splits: str | Path, split: int = 1) -> dict[str, list[int]]:
    """{class: training clips per source video, largest first} in the official split lists (clip
    ``<video>_<k>.avi`` is clip k of that video); ``splits`` their folder or ``splits.zip``."""
    splits = Path(splits)
    if splits.suffix == ".zip":
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(splits) as z:
            z.extractall(tmp)
            found = sorted(Path(tmp).rglob(f"*_test_split{split}.txt"))
            if not found:
                raise FileNotFoundError(f"{splits}: no *_test_split{split}.txt inside")
            return training_video_sizes(found[0].parent, split)
    sides = read_split_lists(splits, split)
    clips = Counter((cls, re.sub(r"_\d+$", "", name)) for (cls, name), side in sides.items() if side == "train")
    sizes: dict[str, list[int]] = {}
    for (cls, _), n in clips.items():
        sizes.setdefault(cls, []).append(n)
    return {cls: sorted(n, reverse=True) for cls, n in sizes.items()}


def training_videos(splits: str | Path, split: int = 1) -> dict[str, int]:
    """{class: number of distinct source videos among its training clips} (``training_video_sizes``)."""
    return {cls: len(n) for cls, n in training_video_sizes(splits, split).items()}


def pseudo_videos(clips: list[Clip], classes: list[str], videos: dict[str, int]) -> list[Clip]:
    """Copies of ``clips`` whose ``meta["group"]`` is a pseudo-video ("<class>:<k>"): per class,
    average-linkage clusters of each clip's per-joint mean and standard deviation over its frames
    (where the body stands and how far it moves, which one video's clips share), as many clusters as
    the class has training videos (``training_videos``). A validation part of whole groups
    (``data.split_groups_by_class``) then meets clips of videos not trained on, as the test split does;
    a random part shares videos with the clips trained on (measured on split 1: docs/experiments.md, stop 15)."""
    from scipy.cluster.hierarchy import fcluster, linkage

    group: dict[str, str] = {}
    for k, name in enumerate(classes):
        members = [c for c in clips if c.label == k]
        if not members:
            continue
        if name not in videos:
            raise ValueError(f"class {name!r} has no training videos in the split lists given ({sorted(videos)})")
        poses = [np.asarray(c.pose) for c in members]  # (T, P, J, C) each
        desc = np.stack([np.concatenate([p.mean(0).ravel(), p.std(0).ravel()]) for p in poses])
        count = min(videos[name], len(members))
        cut = fcluster(linkage(desc, "average"), count, "maxclust") if len(members) > 1 else [1]
        group |= {c.clip_id: f"{name}:{g}" for c, g in zip(members, cut, strict=True)}
    return [replace(c, meta={**c.meta, "group": group[c.clip_id]}) if c.clip_id in group else c for c in clips]
