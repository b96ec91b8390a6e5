"""Best validation score per training phase, averaged over the folds/seeds of finished runs, so
settings can be compared without looking at test clips.

    python benchmarks/validation_scores.py runs/ut runs/ut_skel [--folds 1 2 3]

Reads every ``metrics.csv`` under ``RUN/[fold_*/]seed_*/<phase>/`` (phases: context_net,
action_net, teachers, <method>/students) and prints one row per run: the mean over folds and
seeds of each phase's best validation score (mean accuracy over the observation ratios, in %),
using only the folds all runs have finished (or ``--folds``).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def scores(run: Path) -> dict[tuple[str, str], float]:
    """{(fold/seed folder, phase): best validation score in %}."""
    out = {}
    for path in run.rglob("metrics.csv"):
        phase_dir = path.parent
        phase = phase_dir.parent.name if phase_dir.name == "students" else phase_dir.name
        seed_dir = phase_dir.parent.parent if phase_dir.name == "students" else phase_dir.parent
        unit = str(seed_dir.relative_to(run))
        rows = list(csv.DictReader(path.open()))
        if any(r["val_score"] == "" for r in rows):
            raise SystemExit(f"{path}: no validation scores (fitted without a validation part, train.val_fraction=0)")
        if rows:
            out[(unit, phase)] = 100 * max(float(r["val_score"]) for r in rows)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--folds", nargs="*", help="restrict to these folds (names after fold_)")
    args = ap.parse_args()
    table = {run: scores(run) for run in args.runs}
    units = set.intersection(*({u for u, _ in t} for t in table.values()))
    if args.folds:
        units = {u for u in units if u.split("/")[0].removeprefix("fold_") in args.folds}
    phases = sorted({p for t in table.values() for _, p in t})
    print(f"mean best validation score (%) over {len(units)} fold/seed folders: {sorted(units)}\n")
    print("| run | " + " | ".join(phases) + " |")
    print("|---" * (len(phases) + 1) + "|")
    for run, t in table.items():
        cells = [np.mean([t[(u, p)] for u in units if (u, p) in t]) if any((u, p) in t for u in units) else None
                 for p in phases]  # fmt: skip
        print(f"| {run} | " + " | ".join("–" if c is None else f"{c:.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
