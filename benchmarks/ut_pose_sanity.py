"""Pose sanity on UT-Interaction: per class, the share of frames where both persons are found.

    python benchmarks/ut_pose_sanity.py [--root ../shared/data/ut_interaction/segmented_set1]
                                        [--per-class 10] [--stride 1] [--detect-every 1] [--mask-held]
    python benchmarks/ut_pose_sanity.py --features runs/ut/features [--per-clip]   # poses `earlyact extract` wrote

A person counts as found when its neck (mid-shoulders) is present. Prints a table per class with
the share of frames with >= 1 and with 2 persons, and the pose time per frame. Use --per-class and
--stride to measure on a subset quickly (say so when you report such numbers).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from earlyact.config import ExtractConfig
from earlyact.data import load_dataset
from earlyact.datasets import UT_CLASSES, read_ut_interaction
from earlyact.extract import extraction_summary, found_shares
from earlyact.pose import estimate_video
from earlyact.skeleton import COCO18, persons_found
from earlyact.video import read_video


def print_table(title: str, rows: list[tuple[str, int, int, float, float]]) -> None:
    print(title + "\n")
    print("| class | clips | frames | >= 1 person (%) | 2 persons (%) |")
    print("|---|---|---|---|---|")
    for name, c, f, one, two in rows:
        print(f"| {name} | {c} | {f} | {one:.1f} | {two:.1f} |")


def from_features(folder: Path, per_clip: bool = False) -> None:
    """The same table from the pose streams of an extracted dataset (every frame of every clip),
    ``extract.extraction_summary``'s, which the UT-Interaction benchmark report quotes too; with
    ``per_clip`` also each clip's frames with both persons found (where a class's share is lost)."""
    index, clips = load_dataset(folder)
    if per_clip:
        print("| clip | class | frames | frames with 2 persons |\n|---|---|---|---|")
        for c in clips:
            two = int((persons_found(c.pose, COCO18) >= 2).sum())
            print(f"| {c.clip_id} | {index.classes[c.label]} | {c.num_frames} | {two} |")
        print()
    summary = extraction_summary(index, clips)
    rows = [(name, v["clips"], v["frames"], v["one"], v["all"]) for name, v in summary["persons_per_class"].items()]
    print_table(f"{folder}: poses from `earlyact extract` (extract config {summary['extract']})", rows)
    if summary["seconds"] is not None:
        print(f"\ncompute summed over clips: {summary['seconds']} s ({summary['frames_per_compute_s']} frames/s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path("../shared/data/ut_interaction/segmented_set1"))
    ap.add_argument("--per-class", type=int, default=10, help="clips per class (10 = all of set 1)")
    ap.add_argument("--stride", type=int, default=1, help="use every k-th frame")
    ap.add_argument("--detect-every", type=int, default=ExtractConfig.detect_every, help="see pose.MultiPersonPose")
    ap.add_argument("--min-presence", type=float, default=ExtractConfig.min_presence, help="see pose.RegionLandmarks")
    ap.add_argument("--mask-held", action="store_true", help="see pose.MultiPersonPose (mask_held)")
    ap.add_argument("--classes", nargs="+", default=UT_CLASSES, help="only these classes")
    ap.add_argument("--features", type=Path, help="read the poses of an extracted set instead of estimating them")
    ap.add_argument("--per-clip", action="store_true", help="with --features: each clip's two-person frames too")
    args = ap.parse_args()
    if args.features is not None:
        return from_features(args.features, args.per_clip)
    _, entries = read_ut_interaction(args.root)
    rows, frames_done, seconds = [], 0, 0.0
    for label, name in enumerate(UT_CLASSES):
        if name not in args.classes:
            continue
        clips = [e for e in entries if e.label == label][: args.per_class]
        found = []
        for e in clips:
            frames = read_video(e.path).frames[:: args.stride]
            start = time.perf_counter()
            pose = estimate_video(frames, 2, detect_every=args.detect_every, min_presence=args.min_presence,
                                  mask_held=args.mask_held)  # fmt: skip
            seconds += time.perf_counter() - start
            frames_done += len(frames)
            found.append(persons_found(pose, COCO18))
        shares = found_shares(found, 2)
        rows.append((name, shares["clips"], shares["frames"], shares["one"], shares["all"]))
    print_table(f"UT-Interaction {args.root.name}: {args.per_class} clips/class, every {args.stride} frame(s), "
                f"person detector every {args.detect_every} frame(s) while someone is missing, "
                f"min_presence {args.min_presence}, mask_held {args.mask_held}", rows)  # fmt: skip
    ms = 1000 * seconds / max(frames_done, 1)
    print(f"\npose: {ms:.0f} ms per frame ({1000 / ms:.1f} frames/s, one process)")


if __name__ == "__main__":
    main()
