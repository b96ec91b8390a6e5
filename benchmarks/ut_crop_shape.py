"""How much a UT-Interaction segmented clip's frame shape alone says about its class.

    python benchmarks/ut_crop_shape.py [--root ../shared/data/ut_interaction/segmented_set1]
                                       [--features runs/ut/features]

Each segmented clip is cut out of a longer video around the whole interaction, so its frame size
is the extent of the action from its first to its last frame: wide where one person pushes or
kicks the other away, narrow where only the pointer is in view. That is knowledge of frames not
yet seen, present from frame 0. This script measures it: per class, the frames' width / height,
and the accuracy of a classifier that reads nothing but log(width / height) of the first decoded
frame (the nearest class mean, leave-one-sequence-out like the benchmark: a sequence's clips never
shape the class means they are scored against). It needs no training and no pose.

earlyact's UT-Interaction models read poses centred on the body and scaled by its size, so they do
not see the frame's shape (the persons' count in the crop, one in point clips, is another matter);
a model that reads the whole resized frame, such as the paper's CNN context stream, does. With
``--features`` (a store that ``earlyact extract`` or the benchmark wrote, with its CNN context
stream) the same classifier also reads the first frame's CNN embedding (L2-normalised): what the
paper's context stream tells before anybody has moved.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from earlyact.data import load_dataset
from earlyact.datasets import UT_CLASSES, read_ut_interaction
from earlyact.video import iter_frames


def nearest_mean_loso(x: np.ndarray, labels: np.ndarray, groups: np.ndarray, classes: int) -> np.ndarray:
    """(N, D) features -> (N,) predicted labels: each group's clips get the class whose mean over the
    other groups' clips is nearest (Euclidean; a class absent from the other groups is never chosen)."""
    pred = np.empty(len(x), dtype=np.int64)
    for g in np.unique(groups):
        held = groups == g
        means = np.array(
            [x[~held & (labels == k)].mean(0) if (~held & (labels == k)).any() else np.full(x.shape[1], np.inf)
             for k in range(classes)]
        )  # fmt: skip  # (K, D)
        pred[held] = np.linalg.norm(x[held][:, None] - means[None], axis=-1).argmin(1)
    return pred


def frame_shape(path: Path) -> tuple[int, int]:
    """(height, width) of the first decoded frame."""
    _, frame = next(iter(iter_frames(path)))
    return frame.shape[0], frame.shape[1]


def first_frame_context(features: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, D) L2-normalised context rows of each clip's first frame, (N,) labels, (N,) groups of a store."""
    index, clips = load_dataset(features, mmap=True)
    if any(c.context is None for c in clips):
        raise ValueError(f"{features}: a clip has no context stream (extracted with backbone='')")
    group = {e.clip_id: e.group for e in index.clips}
    x = np.stack([np.asarray(c.context[0], dtype=np.float64) for c in clips])  # (N, D)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x, np.array([c.label for c in clips]), np.array([group[c.clip_id] for c in clips])


def print_context_line(features: Path) -> None:
    x, labels, groups = first_frame_context(features)
    pred = nearest_mean_loso(x, labels, groups, len(UT_CLASSES))
    per_class = ", ".join(f"{n} {int((pred[labels == k] == k).sum())}" for k, n in enumerate(UT_CLASSES))
    right = int((pred == labels).sum())
    print(f"first frame's CNN context row ({features}), same classifier: {right} of {len(labels)} right "
          f"({100 * right / len(labels):.1f} %; {per_class})")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path("../shared/data/ut_interaction/segmented_set1"))
    ap.add_argument("--features", type=Path, help="also the first frame's CNN context row of this extracted store")
    args = ap.parse_args()
    _, entries = read_ut_interaction(args.root)
    shapes = np.array([frame_shape(e.path) for e in entries], dtype=np.float64)  # (N, 2) height, width
    aspect = shapes[:, 1] / shapes[:, 0]
    labels = np.array([e.label for e in entries])
    groups = np.array([e.group for e in entries])
    pred = nearest_mean_loso(np.log(aspect)[:, None], labels, groups, len(UT_CLASSES))
    print(f"{args.root}: {len(entries)} clips; classifier: nearest class mean of log(width / height), "
          "leave-one-sequence-out\n")  # fmt: skip
    print("| class | clips | width / height: min / median / max | right from the frame shape alone |")
    print("|---|---|---|---|")
    for k, name in enumerate(UT_CLASSES):
        mine = labels == k
        a = aspect[mine]
        if mine.any():
            right = int((pred[mine] == k).sum())
            print(f"| {name} | {mine.sum()} | {a.min():.2f} / {np.median(a):.2f} / {a.max():.2f} | {right} |")
    right = int((pred == labels).sum())
    print(f"\nall classes: {right} of {len(entries)} right ({100 * right / len(entries):.1f} %), chance "
          f"{100 / len(UT_CLASSES):.1f} %; the same at every observation ratio, r = 0.1 included")  # fmt: skip
    if args.features is not None:
        print_context_line(args.features)


if __name__ == "__main__":
    main()
