"""Choose JHMDB settings on validation only: each variant trains on the training file minus a
held-out validation part (stratified, ``train.val_fraction``) and prints every phase's best
validation score (mean accuracy over the observation ratios 0.1 ... 1.0, in %). The test file is
never read.

    python benchmarks/jhmdb_validation.py [--train ../shared/data/jhmdb/GT_train_1.pkl] [--seed 0]
        [--variant NAME 'key=value ...'] ...

Without --variant it compares the plain config (``features.layout=jhmdb15`` only) with the
benchmark's defaults (``benchmark.JHMDB_DEFAULTS``). Each variant takes 5-10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from earlyact.benchmark import JHMDB_DEFAULTS
from earlyact.config import load_config
from earlyact.data import ClipEntry, DatasetIndex
from earlyact.experiment import describe_streams, run_seed
from earlyact.jhmdb import clips_from_poses, read_gt_pickle

PHASES = ("context_net", "action_net", "teachers", "lstm-ce/students", "ms-lstm/students", "kd-ms-lstm/students")


def best_scores(folder: Path) -> dict[str, float]:
    """{phase: best validation score in %} from each phase's metrics.csv."""
    out = {}
    for phase in PHASES:
        path = folder / phase / "metrics.csv"
        if path.exists():
            out[phase] = 100 * max(float(r["val_score"]) for r in csv.DictReader(path.open()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, default=Path("../shared/data/jhmdb/GT_train_1.pkl"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("runs/jhmdb_validation"))
    ap.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "OVERRIDES"))
    args = ap.parse_args()
    variants = args.variant or [("plain", "features.layout=jhmdb15"), ("benchmark", " ".join(JHMDB_DEFAULTS))]
    poses, labels = read_gt_pickle(args.train)
    classes = sorted(set(labels))
    clips = clips_from_poses(poses, labels, classes, "train", str(args.train))
    index = DatasetIndex(classes, [ClipEntry(c.clip_id, c.label, "train") for c in clips], {}, name="jhmdb")
    rows = []
    for name, overrides in variants:
        cfg = load_config(None, [*overrides.split(), "methods=[lstm-ce,ms-lstm,kd-ms-lstm]"])
        start = time.perf_counter()
        run_seed(clips, [], classes, cfg, args.out / name / f"seed_{args.seed}", args.seed,
                 describe_streams(index, clips, cfg))  # fmt: skip
        rows.append((name, best_scores(args.out / name / f"seed_{args.seed}"), time.perf_counter() - start))
    print(f"validation part of {args.train} (seed {args.seed}): best score per phase, mean accuracy over r (%)\n")
    print("| variant | " + " | ".join(PHASES) + " | seconds |")
    print("|---" * (len(PHASES) + 2) + "|")
    for name, scores, seconds in rows:
        cells = [f"{scores[p]:.1f}" if p in scores else "–" for p in PHASES]
        print(f"| {name} | " + " | ".join(cells) + f" | {seconds:.0f} |")
    for name, overrides in variants:
        print(f"\n{name}: {overrides}")


if __name__ == "__main__":
    main()
