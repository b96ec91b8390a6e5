"""Seeds per hour of the JHMDB benchmark's training, by how the CPU cores are used: one process at
torch's default thread count, one process at one thread, and two processes at one thread each
(``ExperimentConfig.workers`` / ``threads``, ``earlyact.parallel``), measured side by side in one run.

    python benchmarks/thread_speed.py [--seeds 0 1] [--epochs-scale 0.1]

Runs ``experiment.run_experiment`` (the code ``earlyact benchmark jhmdb`` runs) on the real JHMDB
split-1 files, every method, the benchmark's settings with every phase's epochs scaled down so the
table takes minutes, into temporary folders. Also says whether the one-thread runs made the same
predictions one seed after another and side by side (they should: the arithmetic depends on the
thread count, not on the number of processes). Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from earlyact.benchmark import jhmdb_config
from earlyact.experiment import run_experiment
from earlyact.jhmdb import load_gt_pickles


def scaled_epochs(scale: float) -> list[str]:
    """Overrides that shorten every training phase of the JHMDB benchmark's config by ``scale``."""
    cfg = jhmdb_config()
    phases = {"context_train": cfg.context_train, "action_train": cfg.action_train, "train": cfg.train}
    return [f"{name}.epochs={max(1, round(scale * t.epochs))}" for name, t in phases.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, default=Path("../shared/data/jhmdb/GT_train_1.pkl"))
    ap.add_argument("--test", type=Path, default=Path("../shared/data/jhmdb/GT_test_1.pkl"))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--epochs-scale", type=float, default=0.1, help="share of each phase's epochs trained")
    args = ap.parse_args()
    index, clips = load_gt_pickles(args.train, args.test)
    train = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "train"]
    test = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "test"]
    seeds = f"seeds=[{','.join(map(str, args.seeds))}]"
    settings = [
        (f"1 process, torch's default threads ({torch.get_num_threads()})", ["workers=1", "threads=0"]),
        ("1 process, 1 thread", ["workers=1", "threads=1"]),
        ("2 processes side by side, 1 thread each", ["workers=2", "threads=1"]),
    ]
    rows, predictions = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, overrides) in enumerate(settings):
            cfg = jhmdb_config(None, [*scaled_epochs(args.epochs_scale), seeds, *overrides])
            start = time.perf_counter()
            run_experiment(index, train, test, cfg, Path(tmp) / str(i))
            rows.append((name, time.perf_counter() - start))
            predictions[i] = [
                json.loads((Path(tmp) / str(i) / f"seed_{s}" / "kd-ms-lstm" / "predictions.json").read_text())
                for s in args.seeds
            ]
    print(f"{len(args.seeds)} seeds of the JHMDB benchmark ({', '.join(scaled_epochs(args.epochs_scale))}), "
          f"{len(train)} training and {len(test)} test clips, all methods\n")  # fmt: skip
    print("| training processes | wall (s) | seeds per hour | speed vs the first row |")
    print("|---|---|---|---|")
    for name, wall in rows:
        print(f"| {name} | {wall:.1f} | {3600 * len(args.seeds) / wall:.1f} | {rows[0][1] / wall:.2f}x |")
    same = all(a["predictions"] == b["predictions"] for a, b in zip(predictions[1], predictions[2], strict=True))
    print(f"\none-thread predictions the same one seed after another and side by side: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
