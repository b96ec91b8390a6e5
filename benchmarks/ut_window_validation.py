"""Choose UT-Interaction window-network settings on validation only: per fold and seed, the window
network alone is trained on the fold's training sequences minus the held-out validation sequence
(``train.val_by_group``, the sequence 1 + seed places after the fold's test sequence, as a
benchmark run with a validation part holds it out) and scored on that sequence. The test folds are
never read. Prints each variant's validation accuracy (%) per observation ratio, mean over folds
and seeds.

    python benchmarks/ut_window_validation.py --features runs/ut_bp/features --out runs/ut_winval \
        --seeds 0 1 --variant base "" --variant geo "context_augment.scale=0.1 context_augment.rotation=15"

Each variant's overrides apply on top of ``benchmark.UT_DEFAULTS`` (with its validation part, not
the benchmark's final fit). A variant folder that already holds a fold's trained network is
reused (copy ``fold_*/seed_*/context_net`` of a benchmark run made with a validation part, e.g.
``--set train.val_fraction=0.15``, into ``OUT/base/`` to score its networks without retraining; a
network fitted on other clips is retrained, its saved settings name the clips).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from jhmdb_validation import print_variant_table  # this folder's script

from earlyact.benchmark import UT_DEFAULTS
from earlyact.config import load_config
from earlyact.data import group_order, load_dataset, split_validation
from earlyact.streams import context_net_predictions, fit_context_net


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", type=Path, default=Path("runs/ut_bp/features"))
    ap.add_argument("--out", type=Path, default=Path("runs/ut_winval"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--folds", nargs="+", help="sequence names (default: all)")
    ap.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "OVERRIDES"), required=True)
    args = ap.parse_args()
    index, clips = load_dataset(args.features)
    group = {e.clip_id: e.group for e in index.clips}
    folds = args.folds or group_order(group.values())
    rows = []
    for name, overrides in args.variant:
        cfg, accs, start = load_config(None, [*UT_DEFAULTS, *overrides.split()]), [], time.perf_counter()
        for g in folds:
            train_all = [c for c in clips if group[c.clip_id] != g]
            for seed in args.seeds:
                train, val = split_validation(train_all, cfg.train.val_fraction, seed, cfg.train.val_by_group, g)
                out = args.out / name / f"fold_{g}" / f"seed_{seed}" / "context_net"
                net, _ = fit_context_net(train, val, len(index.classes), cfg, out, seed)
                pred = context_net_predictions(net, val, cfg.features, cfg.ratios)  # (R, N)
                accs.append(100 * (pred == np.array([c.label for c in val])[None]).mean(1))
        rows.append((name, np.mean(accs, axis=0), time.perf_counter() - start))
    title = f"window network alone, validation accuracy (%) per ratio, mean over folds {folds} x seeds {args.seeds}"
    print_variant_table(title, cfg.ratios, rows)


if __name__ == "__main__":
    main()
