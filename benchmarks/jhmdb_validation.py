"""Choose JHMDB settings on validation only: each variant trains on the training file minus a
held-out validation part (stratified, ``train.val_fraction``) and prints every phase's best
validation score (mean accuracy over the observation ratios 0.1 ... 1.0, in %). The test file is
never read.

    python benchmarks/jhmdb_validation.py [--train ../shared/data/jhmdb/GT_train_1.pkl] [--seed 0]
        [--variant NAME 'key=value ...'] ...

Without --variant it compares the plain config (``features.layout=jhmdb15`` only) with the
benchmark's defaults (``benchmark.JHMDB_DEFAULTS``; the benchmark then fits on the whole training
file, ``FINAL_FIT``, which ``benchmarks/refit_validation.py`` measures). Each variant takes
5-10 minutes on 2 cores.
``--context-only`` trains just the context network (about 4 minutes) and prints its validation
accuracy per observation ratio, at its best epoch on the validation part (chosen on the very clips
scored: optimistic, more so the more epochs) and at its last epoch (what the benchmark's final fit
keeps); each variant's overrides then apply on top of JHMDB_DEFAULTS.

``--keep F`` (with ``--context-only``) trains on a share F of the training part, scored on the same
validation part: a point of the learning curve (how much more training clips would be worth).

``--groups K`` holds out whole clusters instead of random clips: the training clips are grouped by
k-means (K clusters) on who and where each clip shows (body size and proportions, where the body
stands, which way it faces) and ``train.val_by_group=true`` holds out about 15 % of the clusters.
The official test split holds out whole videos; a random validation part shares them with the clips
trained on, and the pickles carry no clip names, so similarity stands in. (Measured: it does not
reproduce the test split's drop; docs/experiments.md, stop 15.)

``--videos SPLITS`` (``--context-only``) holds out whole pseudo-videos instead (``jhmdb.pseudo_videos``):
per class, the training clips are clustered (average linkage on each clip's mean and spread of every
joint over its frames) into as many clusters as the class has training videos in the official split
list (``SPLITS``: the ``splits.zip`` beside the pickles, or its folder), and about 15 % of each
class's clips are held out as whole clusters (seeded; ``data.split_groups_by_class``). A source video
gives several clips of one actor, camera and scene (throw: one video gives 20 of its 35 training
clips), which a random validation part splits.
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.cluster.vq import kmeans2

from earlyact.benchmark import JHMDB_DEFAULTS
from earlyact.checkpoint import load_checkpoint, load_tensors
from earlyact.config import load_config
from earlyact.context_nets import WindowEnsemble
from earlyact.data import Clip, ClipEntry, DatasetIndex, split_groups_by_class, split_validation
from earlyact.experiment import describe_streams, run_seed
from earlyact.jhmdb import clips_from_poses, pseudo_videos, read_gt_pickle, training_video_sizes
from earlyact.parallel import torch_threads
from earlyact.predict import predict_ratios
from earlyact.streams import add_streams, context_net_predictions, fit_context_net, member_folder
from earlyact.train import final_weights

PHASES = ("context_net", "action_net", "teachers", "lstm-ce/students", "ms-lstm/students", "kd-ms-lstm/students")


def best_scores(folder: Path) -> dict[str, float]:
    """{phase: best validation score in %} from each phase's metrics.csv."""
    out = {}
    for phase in PHASES:
        path = folder / phase / "metrics.csv"
        if path.exists():
            out[phase] = 100 * max(float(r["val_score"]) for r in csv.DictReader(path.open()))
    return out


def ratio_table(folder: Path, val, ratios) -> dict[str, np.ndarray]:
    """{method: validation accuracy (%) per ratio} of each method's saved (best) checkpoint."""
    out, clips = {}, None
    labels = np.array([c.label for c in val])
    for method in ("lstm-ce", "ms-lstm", "kd-ms-lstm"):
        bundle = load_checkpoint(folder / method / "checkpoint")
        if clips is None:  # one seed's methods share the frozen stream networks: compute the streams once
            clips = add_streams(val, bundle.info["streams"], bundle.info, bundle.nets)
        pred = predict_ratios(bundle.predictor, False, clips, bundle.info["streams"], ratios)  # (R, N)
        out[method] = 100 * (pred == labels[None]).mean(1)
    return out


def similarity_groups(clips: list[Clip], k: int, seed: int) -> list[Clip]:
    """Copies of ``clips`` with ``meta["group"]``: their k-means cluster (seeded) of standardized
    per-clip descriptors of who and where (JHMDB-15 joints: 0 neck, 1 belly, 2 face, 3/4 shoulders,
    5/6 hips, 7 elbow, 9 knee)."""
    desc = []
    for c in clips:
        x = np.asarray(c.pose)[:, 0]  # (T, 15, 2)
        torso = np.linalg.norm(x[:, 0] - x[:, 1], axis=-1).mean() + 1e-6
        limbs = ((3, 4), (5, 6), (3, 7), (5, 9), (0, 2))
        part = [np.linalg.norm(x[:, a] - x[:, b], axis=-1).mean() / torso for a, b in limbs]
        facing = np.sign(x[:, 3, 0] - x[:, 4, 0]).mean()
        desc.append([np.log(torso), *x[:, 1].mean(0), *part, facing])
    z = np.asarray(desc)
    z = (z - z.mean(0)) / (z.std(0) + 1e-9)
    _, group = kmeans2(z, k, seed=seed, minit="++")
    return [replace(c, meta={**c.meta, "group": int(g)}) for c, g in zip(clips, group, strict=True)]


def print_video_split(clips: list[Clip], classes: list[str], sizes: dict[str, list[int]], seed: int) -> None:
    """What the official lists say of the training file's classes (clips from a video that gave two or
    more, the largest video) and what the seed's pseudo-video validation part holds."""
    mine = {name: sizes[name] for name in classes}
    shared = sum(n for per_video in mine.values() for n in per_video if n > 1)
    total = sum(sum(per_video) for per_video in mine.values())
    big = max(mine, key=lambda name: mine[name][0])
    held = split_groups_by_class(clips, load_config(None, JHMDB_DEFAULTS).train.val_fraction, seed)[1]
    print(
        f"split lists: {shared} of {total} training clips come from a video that gave two or more; largest: "
        f"{big}, {mine[big][0]} of {sum(mine[big])} clips. Pseudo-video validation part, seed {seed}: "
        f"{len(held)} clips of {len(clips)}\n"
    )


def context_only(clips, classes, variants, out: Path, seed: int, keep: float = 1.0, by_video: bool = False) -> None:
    """Per variant: the context network alone, validation accuracy (%) at each ratio. ``keep`` < 1
    trains on that share of the training part (stratified, seeded), scored on the same validation.
    ``by_video``: whole pseudo-videos held out (``data.split_groups_by_class``; clips carry them)."""
    rows, last_rows = [], []
    for name, overrides in variants:
        cfg = load_config(None, [*JHMDB_DEFAULTS, *overrides.split()])
        if by_video:
            train, val = split_groups_by_class(clips, cfg.train.val_fraction, seed)
        else:
            train, val = split_validation(clips, cfg.train.val_fraction, seed, cfg.train.val_by_group)
        if keep < 1:  # a learning-curve point: what more training clips would be worth
            train = split_validation(train, 1 - keep, seed + 1)[0]
        start = time.perf_counter()
        folder = out / name / f"seed_{seed}" / "context_net"
        with torch_threads(cfg.threads):  # the benchmark's arithmetic (benchmark.THREADS)
            net, _ = fit_context_net(train, val, len(classes), cfg, folder, seed)
        rows.append((name, _accuracy(net, val, cfg), time.perf_counter() - start))
        if _load_last_epoch(net, folder):
            last_rows.append((name, _accuracy(net, val, cfg), 0.0))
    print_variant_table(
        f"context network alone at its best epoch on these clips, validation accuracy (%) per ratio, seed {seed}",
        cfg.ratios, rows,
    )  # fmt: skip
    print()
    print_variant_table(
        f"the same at its last epoch (what a final fit keeps, nothing chosen on these clips), seed {seed}",
        cfg.ratios, last_rows,
    )  # fmt: skip


def _load_last_epoch(net, folder: Path) -> bool:
    """Load each window net's (an ensemble's: each member's) final-fit weights (its last epoch's, or with
    ``swa`` the average of its last epochs); False if one is missing."""
    members = net.members if isinstance(net, WindowEnsemble) else [net]
    paths = [final_weights(member_folder(folder, i)) for i in range(len(members))]
    if not all(p.exists() for p in paths):
        return False
    for member, path in zip(members, paths, strict=True):
        member.load_state_dict(load_tensors(path))
    return True


def _accuracy(net, val: list[Clip], cfg) -> np.ndarray:
    """The context network's accuracy (%) on ``val`` at each of ``cfg.ratios``."""
    labels = np.array([c.label for c in val])
    return 100 * (context_net_predictions(net, val, cfg.features, cfg.ratios) == labels[None]).mean(1)


def print_variant_table(title: str, ratios, rows: list[tuple[str, np.ndarray, float]]) -> None:
    """One row per variant: accuracy (%) per ratio, its mean, and the seconds the variant took."""
    print(title + "\n")
    print("| variant | " + " | ".join(f"{r:g}" for r in ratios) + " | mean | seconds |")
    print("|---" * (len(ratios) + 3) + "|")
    for name, acc, seconds in rows:
        print(f"| {name} | " + " | ".join(f"{a:.1f}" for a in acc) + f" | {acc.mean():.1f} | {seconds:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=Path, default=Path("../shared/data/jhmdb/GT_train_1.pkl"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("runs/jhmdb_validation"))
    ap.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "OVERRIDES"))
    ap.add_argument("--context-only", action="store_true", help="train and score only the context network")
    ap.add_argument("--groups", type=int, default=0, help="hold out whole similarity clusters (K of them)")
    ap.add_argument("--videos", type=Path, help="--context-only: hold out whole pseudo-videos (official split lists)")
    ap.add_argument("--keep", type=float, default=1.0, help="--context-only: train on this share of the training part")
    args = ap.parse_args()
    poses, labels = read_gt_pickle(args.train)
    classes = sorted(set(labels))
    clips = clips_from_poses(poses, labels, classes, "train", str(args.train))
    grouped = ["train.val_by_group=true"] if args.groups else []
    if args.groups:
        clips = similarity_groups(clips, args.groups, args.seed)
        args.out = args.out / f"groups{args.groups}"
    if args.videos:
        if not args.context_only or args.groups:
            ap.error("--videos goes with --context-only and without --groups (the whole method: refit_validation.py)")
        sizes = training_video_sizes(args.videos)
        clips = pseudo_videos(clips, classes, {cls: len(n) for cls, n in sizes.items()})
        print_video_split(clips, classes, sizes, args.seed)
        args.out = args.out / "videos"
    if args.context_only:
        variants = args.variant or [("zeros", "context_net.padding=zeros"), ("first", "context_net.padding=first")]
        variants = [(name, " ".join([overrides, *grouped])) for name, overrides in variants]
        return context_only(
            clips, classes, variants, args.out / "context_only", args.seed, args.keep, bool(args.videos)
        )
    variants = args.variant or [("plain", "features.layout=jhmdb15"), ("benchmark", " ".join(JHMDB_DEFAULTS))]
    variants = [(name, " ".join([overrides, *grouped])) for name, overrides in variants]
    index = DatasetIndex(classes, [ClipEntry(c.clip_id, c.label, "train") for c in clips], {}, name="jhmdb")
    rows, per_ratio = [], []
    for name, overrides in variants:
        cfg = load_config(None, [*overrides.split(), "methods=[lstm-ce,ms-lstm,kd-ms-lstm]"])
        folder = args.out / name / f"seed_{args.seed}"
        start = time.perf_counter()
        with torch_threads(cfg.threads):  # the benchmark's arithmetic (benchmark.THREADS)
            run_seed(clips, [], classes, cfg, folder, args.seed, describe_streams(index, clips, cfg))
        rows.append((name, best_scores(folder), time.perf_counter() - start))
        val = split_validation(clips, cfg.train.val_fraction, args.seed, cfg.train.val_by_group)[1]
        per_ratio += [(name, m, acc) for m, acc in ratio_table(folder, val, cfg.ratios).items()]
    print(f"validation part of {args.train} (seed {args.seed}): best score per phase, mean accuracy over r (%)\n")
    print("| variant | " + " | ".join(PHASES) + " | seconds |")
    print("|---" * (len(PHASES) + 2) + "|")
    for name, scores, seconds in rows:
        cells = [f"{scores[p]:.1f}" if p in scores else "–" for p in PHASES]
        print(f"| {name} | " + " | ".join(cells) + f" | {seconds:.0f} |")
    print("\nvalidation accuracy (%) per ratio of the best checkpoints\n")
    print("| variant | method | " + " | ".join(f"{r:g}" for r in cfg.ratios) + " | mean |")
    print("|---" * (len(cfg.ratios) + 3) + "|")
    for name, method, acc in per_ratio:
        print(f"| {name} | {method} | " + " | ".join(f"{a:.1f}" for a in acc) + f" | {acc.mean():.1f} |")
    for name, overrides in variants:
        print(f"\n{name}: {overrides}")


if __name__ == "__main__":
    main()
