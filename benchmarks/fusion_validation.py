"""Choose ``model.fuse_context`` on validation only: re-score the finished students of a JHMDB or
UT-Interaction benchmark run on each seed's (and fold's) validation part, fused with the skeleton
context network's classifier at several weights. Nothing is trained; test clips are never read.

    python benchmarks/fusion_validation.py runs/jhmdb [--weights 0 0.25 0.5 0.75 1]
    python benchmarks/fusion_validation.py runs/ut_win
    python benchmarks/fusion_validation.py runs/jhv_full/oofc2   # a jhmdb_validation.py variant

Prints, per method and weight, the validation accuracy (%) per observation ratio and its mean,
averaged over the run's seed (and fold) folders. Weight 0 is the students alone, 1 the context
network alone. The validation part is the one the run held out (the clip ids a seed folder records in
``validation.json``; folders made before that record held out ``split_validation``'s draw from the
run's config and seed, without the fold), so it is out of sample for every network of that folder.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from earlyact.augment import mirror_clips
from earlyact.checkpoint import load_checkpoint
from earlyact.config import load_config
from earlyact.data import Clip, load_dataset, split_validation
from earlyact.experiment import recorded_validation
from earlyact.jhmdb import clips_from_poses, load_gt_pickles, read_gt_pickle
from earlyact.predict import fusion_head, predict_ratios
from earlyact.skeleton import get_layout
from earlyact.streams import add_streams

METHODS = ("lstm-ce", "ms-lstm", "kd-ms-lstm")


def units(run: Path, train_file: Path) -> list[tuple[Path, list[Clip]]]:
    """(seed folder, the training clips its networks were fitted on, validation part included)."""
    if not (run / "results.json").exists():  # a variant of benchmarks/jhmdb_validation.py
        poses, labels = read_gt_pickle(train_file)
        train = clips_from_poses(poses, labels, sorted(set(labels)), "train", str(train_file))
        return [(d, train) for d in sorted(run.glob("seed_*"))]
    res = json.loads((run / "results.json").read_text())
    if "train_file" in res:  # JHMDB
        index, clips = load_gt_pickles(res["train_file"], res["test_file"])
        split = {e.clip_id: e.split for e in index.clips}
        train = [c for c in clips if split[c.clip_id] == "train"]
        return [(d, train) for d in sorted(run.glob("seed_*"))]
    index, clips = load_dataset(res["features"])  # UT-Interaction: one training set per fold
    group = {e.clip_id: e.group for e in index.clips}
    out = []
    for fold in sorted(run.glob("fold_*")):
        train = [c for c in clips if group[c.clip_id] != fold.name.removeprefix("fold_")]
        out += [(d, train) for d in sorted(fold.glob("seed_*"))]
    return out


def score_unit(
    folder: Path, train: list[Clip], weights: list[float], views: list[bool]
) -> dict[tuple[str, float, bool], np.ndarray]:
    """{(method, weight, mirror views): validation accuracy (%) per ratio} for one seed folder."""
    cfg = load_config(folder / METHODS[0] / "checkpoint" / "config.yaml")  # saved beside every checkpoint
    seed = int(folder.name.removeprefix("seed_"))
    if cfg.train.val_fraction <= 0:
        raise SystemExit(f"{folder}: trained on all its training clips (train.val_fraction=0): no validation part")
    val = recorded_validation(folder / "validation.json", train)
    if val is None:  # made before the record: the seed's draw, which ignored the fold
        _, val = split_validation(train, cfg.train.val_fraction, seed, cfg.train.val_by_group)
    labels = np.array([c.label for c in val])
    out, clips, mirrored = {}, None, None
    for method in METHODS:
        bundle = load_checkpoint(folder / method / "checkpoint")
        streams = bundle.info["streams"]
        if clips is None:  # the methods of one folder share the frozen stream networks
            clips = add_streams(val, streams, bundle.info, bundle.nets)
            if True in views:
                layout = get_layout(bundle.info["features"]["layout"])
                mirrored = add_streams(mirror_clips(val, layout), streams, bundle.info, bundle.nets)
        for w, m in itertools.product(weights, views):
            head = fusion_head(bundle.nets, w)
            pred = predict_ratios(bundle.predictor, False, clips, streams, cfg.ratios, head, w, mirrored if m else None)
            out[(method, w, m)] = 100 * (pred == labels[None]).mean(1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--weights", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75, 1.0])
    ap.add_argument(
        "--train",
        type=Path,
        default=Path("../shared/data/jhmdb/GT_train_1.pkl"),
        help="training file of a jhmdb_validation.py variant (benchmark runs name theirs)",
    )
    ap.add_argument(
        "--mirror", action="store_true", help="also score each weight with test-time mirroring (mirror views)"
    )
    args = ap.parse_args()
    found = units(args.run, args.train)
    views = [False, True] if args.mirror else [False]
    table: dict[tuple[str, float, bool], list[np.ndarray]] = {}
    for folder, train in found:
        for key, acc in score_unit(folder, train, args.weights, views).items():
            table.setdefault(key, []).append(acc)
    ratios = load_config(found[0][0] / METHODS[0] / "checkpoint" / "config.yaml").ratios
    print(f"validation accuracy (%), mean over {len(found)} seed/fold folders of {args.run}\n")
    print("| method | fuse_context | mirror_views | " + " | ".join(f"{r:g}" for r in ratios) + " | mean |")
    print("|---" * (len(ratios) + 4) + "|")
    for (method, w, m), accs in table.items():
        acc = np.mean(accs, axis=0)
        cells = " | ".join(f"{a:.1f}" for a in acc)
        print(f"| {method} | {w:g} | {str(m).lower()} | {cells} | {acc.mean():.1f} |")


if __name__ == "__main__":
    main()
