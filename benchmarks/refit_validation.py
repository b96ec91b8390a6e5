"""Would a final fit on all the training clips beat holding part of them out for early stopping?
Measured one level down, on validation only (no test clip or test fold is read): the validation part
a benchmark run holds out (``split_validation``: JHMDB, the seed's stratified 15 %; UT-Interaction,
the fold's held-out training sequence) plays the test set, and each variant is trained on the rest
with ``experiment.run_seed``, the benchmark's own code path.

    python benchmarks/refit_validation.py jhmdb [--seeds 0 1 2] [--variant NAME 'key=value ...'] ...
    python benchmarks/refit_validation.py ut-interaction --features runs/ut_bp/features --folds 1 2 --seeds 0

Without --variant it compares ``holdout`` (the benchmark's settings with a validation part: the rest
holds out part of itself again for early stopping and the best weights) with ``refit``
(``benchmark.FINAL_FIT`` on top: every phase on all of the rest for a fixed number of epochs,
the last weights kept; what the benchmarks do). A variant's overrides apply on top of
``benchmark.JHMDB_DEFAULTS`` (or ``UT_DEFAULTS``). Prints the accuracy (%) per ratio on the held-out
clips for each method, pooled over the units run (JHMDB: 63 clips per seed, about 5 minutes per
variant; UT: 6 clips per fold).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from jhmdb_validation import print_variant_table  # this folder's script

from earlyact.benchmark import FINAL_FIT, JHMDB_DEFAULTS, UT_DEFAULTS
from earlyact.config import load_config
from earlyact.data import Clip, ClipEntry, DatasetIndex, load_dataset, split_validation
from earlyact.experiment import describe_streams, run_seed
from earlyact.jhmdb import clips_from_poses, read_gt_pickle

Unit = tuple[str, int, list[Clip], list[Clip]]  # (name, seed, rest, held)


def jhmdb_units(train_file: Path, seeds: list[int]) -> tuple[list[str], list[Unit]]:
    """Class names, and per seed its validation part of the training file (held) and the rest."""
    poses, labels = read_gt_pickle(train_file)
    classes = sorted(set(labels))
    clips = clips_from_poses(poses, labels, classes, "train", str(train_file))
    cfg = load_config(None, JHMDB_DEFAULTS)
    split = [split_validation(clips, cfg.train.val_fraction, s, cfg.train.val_by_group) for s in seeds]
    return classes, [(f"seed_{s}", s, rest, held) for s, (rest, held) in zip(seeds, split, strict=True)]


def ut_units(features: Path, folds: list[str], seeds: list[int]) -> tuple[list[str], list[Unit]]:
    """Class names, and per fold and seed the fold's training sequences with one of them (the
    benchmark's validation sequence for that fold and seed) held out."""
    index, clips = load_dataset(features)
    group = {e.clip_id: e.group for e in index.clips}
    cfg = load_config(None, UT_DEFAULTS)
    out = []
    for fold, seed in ((f, s) for f in folds for s in seeds):
        train = [c for c in clips if group[c.clip_id] != fold]
        rest, held = split_validation(train, cfg.train.val_fraction, seed, cfg.train.val_by_group)
        out.append((f"fold_{fold}/seed_{seed}", seed, rest, held))
    return list(index.classes), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=["jhmdb", "ut-interaction"])
    ap.add_argument("--train", type=Path, default=Path("../shared/data/jhmdb/GT_train_1.pkl"), help="JHMDB")
    ap.add_argument("--features", type=Path, default=Path("runs/ut_bp/features"), help="UT-Interaction")
    ap.add_argument("--folds", nargs="+", default=[str(g) for g in range(1, 11)], help="UT-Interaction")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "OVERRIDES"))
    args = ap.parse_args()
    jhmdb = args.dataset == "jhmdb"
    base = JHMDB_DEFAULTS if jhmdb else UT_DEFAULTS
    classes, units = jhmdb_units(args.train, args.seeds) if jhmdb else ut_units(args.features, args.folds, args.seeds)
    out = args.out or Path("runs") / f"refit_{args.dataset}"
    variants = args.variant or [("holdout", ""), ("refit", " ".join(FINAL_FIT))]
    rows = []
    for name, overrides in variants:
        cfg = load_config(None, [*base, *overrides.split()])
        preds, truth, start = {}, [], time.perf_counter()
        for unit, seed, rest, held in units:
            index = DatasetIndex(classes, [ClipEntry(c.clip_id, c.label, "train") for c in rest], {}, name=args.dataset)
            got = run_seed(rest, held, classes, cfg, out / name / unit, seed, describe_streams(index, rest, cfg))
            for m, p in got.items():
                preds.setdefault(m, []).append(p)
            truth.append([c.label for c in held])
        labels = np.concatenate(truth)
        acc = {m: 100 * (np.concatenate(p, axis=1) == labels[None]).mean(1) for m, p in preds.items()}
        rows += [(f"{name} {m}", a, time.perf_counter() - start) for m, a in acc.items()]
    title = f"{len(labels)} held-out clips ({', '.join(u for u, *_ in units)}), trained on the rest"
    print_variant_table(title + ": accuracy (%) per ratio", cfg.ratios, rows)


if __name__ == "__main__":
    main()
