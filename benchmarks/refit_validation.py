"""Would a final fit on all the training clips beat holding part of them out for early stopping?
Measured one level down, on validation only (no test clip or test fold is read): a validation part
plays the test set (JHMDB: the seed's stratified 15 % that a benchmark run holds out, ``split_validation``;
UT-Interaction: one training sequence per fold, a different one in each fold,
``data.rotated_validation_groups``), and each variant is trained on the rest
with ``experiment.run_seed``, the benchmark's own code path.

    python benchmarks/refit_validation.py jhmdb [--seeds 0 1 2] [--videos SPLITS] [--variant NAME 'key=value ...'] ...
    python benchmarks/refit_validation.py ut-interaction --features runs/ut_bp/features --folds 1 2 --seeds 0

Without --variant it compares ``holdout`` (the benchmark's settings with a validation part: the rest
holds out part of itself again for early stopping and the best weights) with ``refit``
(``benchmark.FINAL_FIT`` on top, and ``JHMDB_FIT`` on JHMDB: every phase on all of the rest for a
fixed number of epochs, the last weights kept; what the benchmarks do). A variant's overrides apply on top of
``benchmark.JHMDB_DEFAULTS`` (or ``UT_DEFAULTS``). Prints the accuracy (%) per ratio on the held-out
clips for each method, pooled over the units run (JHMDB: 63 clips per seed, about 5 minutes per
variant; UT: 6 clips per fold). With --per-unit it also prints each unit's score (mean over r) and,
per method, the predictions each variant gets right that the first gets wrong and the reverse; with
--by-length F the accuracy on the clips shorter than F frames and on the rest (F = 32, the window: the
speed twin predicts a shorter clip at every ratio).
JHMDB with ``--videos SPLITS`` (the official split lists, ``splits.zip``): the held-out part is whole
pseudo-videos instead (``jhmdb.pseudo_videos``, ``data.split_groups_by_class``), closer to the test
split's unseen videos than a random part.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from jhmdb_validation import print_variant_table  # this folder's scripts
from stream_accuracy import length_parts

from earlyact.benchmark import FINAL_FIT, JHMDB_DEFAULTS, JHMDB_FIT, UT_DEFAULTS
from earlyact.config import ExperimentConfig, load_config
from earlyact.data import Clip, ClipEntry, DatasetIndex, load_dataset, split_groups_by_class, split_validation
from earlyact.experiment import describe_streams, run_seed
from earlyact.jhmdb import clips_from_poses, pseudo_videos, read_gt_pickle, training_videos
from earlyact.parallel import run_units

Unit = tuple[str, int, list[Clip], list[Clip]]  # (name, seed, rest, held)


def jhmdb_units(train_file: Path, seeds: list[int], videos: Path | None = None) -> tuple[list[str], list[Unit]]:
    """Class names, and per seed its validation part of the training file (held) and the rest
    (with ``videos``, the official split lists: whole pseudo-videos held out)."""
    poses, labels = read_gt_pickle(train_file)
    classes = sorted(set(labels))
    clips = clips_from_poses(poses, labels, classes, "train", str(train_file))
    cfg = load_config(None, JHMDB_DEFAULTS)
    if videos is not None:
        grouped = pseudo_videos(clips, classes, training_videos(videos))
        split = [split_groups_by_class(grouped, cfg.train.val_fraction, s) for s in seeds]
    else:
        split = [split_validation(clips, cfg.train.val_fraction, s, cfg.train.val_by_group) for s in seeds]
    return classes, [(f"seed_{s}", s, rest, held) for s, (rest, held) in zip(seeds, split, strict=True)]


def ut_units(features: Path, folds: list[str], seeds: list[int]) -> tuple[list[str], list[Unit]]:
    """Class names, and per fold and seed the fold's training sequences with one of them held out as
    a benchmark run with a validation part holds it out (``split_validation`` given the fold): the
    sequence 1 + seed places after the test sequence (``data.rotated_validation_groups``), so that over
    the 10 folds each sequence is held out once and the pooled validation reads all 60 clips. (Stop 12
    and before, the draw ignored the fold: for seed 0 sequence 5 or 4 in every fold, 12 distinct clips,
    each scored 5 times.)"""
    index, clips = load_dataset(features)
    group = {e.clip_id: e.group for e in index.clips}
    cfg = load_config(None, UT_DEFAULTS)
    out = []
    for fold, seed in ((f, s) for f in folds for s in seeds):
        train = [c for c in clips if group[c.clip_id] != fold]
        rest, held = split_validation(train, cfg.train.val_fraction, seed, cfg.train.val_by_group, fold)
        out.append((f"fold_{fold}/seed_{seed}", seed, rest, held))
    return list(index.classes), out


def score_variant(
    cfg: ExperimentConfig, units: list[Unit], classes: list[str], dataset: str, out: Path, workers: int = 1
) -> dict[str, np.ndarray]:
    """Per method, (R, N) right (True) or wrong for every held-out clip of every unit, units in order
    (``workers`` units trained side by side, each at ``cfg.threads`` torch threads, as the benchmarks do)."""
    right: dict[str, list[np.ndarray]] = {}
    runs = []
    for unit, seed, rest, held in units:
        index = DatasetIndex(classes, [ClipEntry(c.clip_id, c.label, "train") for c in rest], {}, name=dataset)
        runs.append((rest, held, classes, cfg, out / unit, seed, describe_streams(index, rest, cfg)))
    for (*_, held), got in zip(units, run_units(run_seed, runs, workers, cfg.threads, "units"), strict=True):
        labels = np.array([c.label for c in held])
        for m, p in got.items():
            right.setdefault(m, []).append(np.asarray(p) == labels[None])
    return {m: np.concatenate(r, axis=1) for m, r in right.items()}


def print_unit_table(units: list[Unit], scored: list[tuple[str, dict[str, np.ndarray]]]) -> None:
    """Each variant's mean accuracy over r per unit (seed or fold), and per method its predictions
    (clip x ratio) right only in this variant / only in the first: a gain carried by one unit, or by
    as many lost as won predictions, is not a setting to adopt."""
    sizes = [len(held) for *_, held in units]
    cut = np.cumsum(sizes)[:-1]
    first_name, first = scored[0]
    print(f"\nMean over r per unit; +won / -lost predictions against `{first_name}`\n")
    print("| variant | " + " | ".join(u for u, *_ in units) + " | won | lost |")
    print("|---" * (len(units) + 3) + "|")
    for name, right in scored:
        for m, r in right.items():
            per_unit = " | ".join(f"{100 * part.mean():.1f}" for part in np.split(r, cut, axis=1))
            won, lost = int((r & ~first[m]).sum()), int((first[m] & ~r).sum())
            print(f"| {name} {m} | {per_unit} | +{won} | -{lost} |")


def print_length_table(units: list[Unit], scored: list[tuple[str, dict[str, np.ndarray]]], frames: int, ratios) -> None:
    """Each variant's accuracy (%) per ratio on the held-out clips shorter than ``frames`` and on the
    rest: with the speed twin, a clip shorter than the window is predicted by the twin at every ratio."""
    lengths = np.concatenate([[c.num_frames for c in held] for *_, held in units])  # (N,), units in order
    print(f"\nAccuracy (%) per ratio by clip length ({len(lengths)} held-out clips)\n")
    print("| variant | clips | " + " | ".join(f"{r:g}" for r in ratios) + " | mean |")
    print("|---" * (len(ratios) + 3) + "|")
    for name, right in scored:
        for m, r in right.items():
            for words, mine in length_parts(lengths, frames):
                acc = 100 * r[:, mine].mean(1)
                print(f"| {name} {m} | {words} | " + " | ".join(f"{a:.1f}" for a in acc) + f" | {acc.mean():.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=["jhmdb", "ut-interaction"])
    ap.add_argument("--train", type=Path, default=Path("../shared/data/jhmdb/GT_train_1.pkl"), help="JHMDB")
    ap.add_argument("--videos", type=Path, help="JHMDB: hold out whole pseudo-videos (official split lists)")
    ap.add_argument("--features", type=Path, default=Path("runs/ut_bp/features"), help="UT-Interaction")
    ap.add_argument("--folds", nargs="+", default=[str(g) for g in range(1, 11)], help="UT-Interaction")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "OVERRIDES"))
    ap.add_argument("--per-unit", action="store_true", help="also each unit's score and the paired counts")
    ap.add_argument("--workers", type=int, default=2, help="units (seeds, folds) trained side by side")
    ap.add_argument(
        "--by-length", type=int, metavar="F", help="also the accuracy on clips shorter than F frames and the rest"
    )
    args = ap.parse_args()
    jhmdb = args.dataset == "jhmdb"
    base = JHMDB_DEFAULTS if jhmdb else UT_DEFAULTS
    if args.videos and not jhmdb:
        ap.error("--videos is for jhmdb (UT-Interaction holds out whole sequences already)")
    if jhmdb:
        classes, units = jhmdb_units(args.train, args.seeds, args.videos)
    else:
        classes, units = ut_units(args.features, args.folds, args.seeds)
    out = args.out or Path("runs") / f"refit_{args.dataset}{'_videos' if args.videos else ''}"
    variants = args.variant or [("holdout", ""), ("refit", " ".join(FINAL_FIT + (JHMDB_FIT if jhmdb else [])))]
    rows, scored = [], []
    for name, overrides in variants:
        start = time.perf_counter()
        cfg = load_config(None, [*base, *overrides.split()])
        right = score_variant(cfg, units, classes, args.dataset, out / name, args.workers)
        scored.append((name, right))
        rows += [(f"{name} {m}", 100 * r.mean(1), time.perf_counter() - start) for m, r in right.items()]
    n = sum(len(held) for *_, held in units)
    title = f"{n} held-out clips ({', '.join(u for u, *_ in units)}), trained on the rest"
    print_variant_table(title + ": accuracy (%) per ratio", load_config(None, base).ratios, rows)
    if args.per_unit:
        print_unit_table(units, scored)
    if args.by_length:
        print_length_table(units, scored, args.by_length, load_config(None, base).ratios)


if __name__ == "__main__":
    main()
