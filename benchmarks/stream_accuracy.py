"""The frozen stream networks alone on the test clips of a finished JHMDB benchmark run: how well
the context (or window) network and the action network classify by themselves, next to the
methods built on them. A diagnostic read after the run; it chooses nothing.

    python benchmarks/stream_accuracy.py runs/jhmdb [--train ../shared/data/jhmdb/GT_train_1.pkl]
        [--test ../shared/data/jhmdb/GT_test_1.pkl] [--by-length 32] [--per-class 1.0] [--twin-ramp 0]

Prints accuracy (%) per observation ratio, mean over the run's seeds, for each network alone and
for the run's methods (from its results.json). ``--on train`` scores the training file instead
(in-sample: what the stages were trained on). ``--by-length F`` splits every network's row into the
clips shorter than F frames and the rest, and adds the saved ``kd-ms-lstm`` checkpoints' own rows
(``predict.evaluate_checkpoint``, the speed twin's switch included): with the twin, a clip shorter than
the window is predicted by the twin at every ratio, r = 1.0 included.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from earlyact.checkpoint import Bundle, load_checkpoint
from earlyact.config import FeatureConfig, from_dict
from earlyact.data import pad_stack
from earlyact.evaluate import ratio_predictions
from earlyact.features import action_inputs, prepared
from earlyact.jhmdb import load_gt_pickles
from earlyact.predict import evaluate_checkpoint
from earlyact.streams import context_net_predictions


@torch.inference_mode()
def network_predictions(bundle: Bundle, clips, ratios) -> dict[str, np.ndarray]:
    """{network: (R, N) predictions} of the stream networks saved in a checkpoint."""
    features = from_dict(FeatureConfig, bundle.info["features"])
    out = {}
    if bundle.nets.context is not None:
        net = bundle.nets.context
        out[f"{type(net).__name__} alone"] = context_net_predictions(net, clips, features, ratios)
    if bundle.nets.action is not None:
        inputs = action_inputs(prepared(clips, features), features)
        logits, _ = bundle.nets.action(pad_stack(inputs))  # (B, T, K)
        out["ActionNet alone"] = ratio_predictions(logits, torch.tensor([len(x) for x in inputs]), ratios)
    return out


def with_twin_ramp(bundle: Bundle, ramp: int | None) -> Bundle:
    """``bundle`` predicting with ``model.twin_ramp=ramp`` (None: its own setting)."""
    if ramp is None:
        return bundle
    info = {**bundle.info, "model": {**bundle.info["model"], "twin_ramp": ramp}}
    return replace(bundle, info=info)


def class_counts(
    predictions: np.ndarray, clips, classes: list[str], frames: int = 0
) -> dict[str, dict[str, np.ndarray]]:
    """{length part: {class: (right, total)}} of (N,) predictions at one ratio (one part without ``frames``)."""
    labels = np.array([c.label for c in clips])
    out = {}
    for words, m in clip_parts(clips, frames):
        masks = [m & (labels == k) for k in range(len(classes))]  # (N,) per class
        out[words or "all clips"] = {
            classes[k]: np.array([(predictions[mk] == k).sum(), mk.sum()]) for k, mk in enumerate(masks) if mk.any()
        }
    return out


def length_parts(lengths: np.ndarray, frames: int) -> list[tuple[str, np.ndarray]]:
    """(words, (N,) mask) of the clips shorter than ``frames`` and of the rest, each only if it has clips:
    with the speed twin a clip shorter than the window is predicted by the twin at every ratio."""
    parts = ((f"< {frames}", lengths < frames), (f">= {frames}", lengths >= frames))
    return [(f"{int(m.sum())} clips {w} frames", m) for w, m in parts if m.any()]


def clip_parts(clips, frames: int = 0) -> list[tuple[str, np.ndarray]]:
    """``length_parts`` of the clips with ``frames`` > 0, else one part of them all, named ""."""
    if frames <= 0:
        return [("", np.ones(len(clips), dtype=bool))]
    return length_parts(np.array([c.num_frames for c in clips]), frames)


def accuracy_rows(predictions: dict[str, np.ndarray], clips, frames: int = 0) -> dict[str, np.ndarray]:
    """{row name: accuracy (%) per ratio} of (R, N) predictions; with ``frames`` > 0 one row for the clips
    shorter than ``frames`` and one for the rest instead."""
    labels = np.array([c.label for c in clips])
    return {
        name + (f", {words}" if words else ""): 100 * (p[:, m] == labels[None, m]).mean(1)
        for name, p in predictions.items()
        for words, m in clip_parts(clips, frames)
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--train", type=Path, default=Path("../shared/data/jhmdb/GT_train_1.pkl"))
    ap.add_argument("--test", type=Path, default=Path("../shared/data/jhmdb/GT_test_1.pkl"))
    ap.add_argument("--on", choices=["test", "train"], default="test", help="the clips to score (train: in-sample)")
    ap.add_argument("--by-length", type=int, default=0, metavar="F", help="split every row at clips of F frames")
    ap.add_argument("--per-class", type=float, metavar="R", help="kd-ms-lstm's clips right per class at ratio R")
    ap.add_argument("--twin-ramp", type=int, metavar="F", help="read the checkpoints with model.twin_ramp=F")
    args = ap.parse_args()
    results = json.loads((args.run / "results.json").read_text())
    ratios = results["ratios"]
    index, clips = load_gt_pickles(args.train, args.test)
    split = {e.clip_id: e.split for e in index.clips}
    test = [c for c in clips if split[c.clip_id] == args.on]
    own = args.by_length or args.per_class is not None or args.twin_ramp is not None
    method = "kd-ms-lstm" + ("" if args.twin_ramp is None else f" (twin_ramp={args.twin_ramp})")
    rows: dict[str, list[np.ndarray]] = {}
    counts: dict[str, dict[str, np.ndarray]] = {}
    for seed in results["seeds"]:
        bundle = load_checkpoint(args.run / f"seed_{seed}" / "kd-ms-lstm" / "checkpoint")  # read once per seed
        predictions = network_predictions(bundle, test, ratios)
        if own:  # the method itself, read back from its checkpoint (the twin's switch included)
            predictions[method] = evaluate_checkpoint(with_twin_ramp(bundle, args.twin_ramp), test, ratios)
        for name, acc in accuracy_rows(predictions, test, args.by_length).items():
            rows.setdefault(name, []).append(acc)
        if args.per_class is not None:
            at = predictions[method][ratios.index(args.per_class)]
            for part, per in class_counts(at, test, list(index.classes), args.by_length).items():
                counts[part] = {k: counts.get(part, {}).get(k, 0) + v for k, v in per.items()}
    table = {name: np.mean(v, axis=0) for name, v in rows.items()}
    if args.on == "test" and args.twin_ramp is None:
        table.update({m: np.array(v) for m, v in results["accuracy"].items()})
    print(f"{args.run}: {args.on} accuracy (%) per ratio, mean over seeds {results['seeds']}\n")
    print("| model | " + " | ".join(f"{r:g}" for r in ratios) + " | mean |")
    print("|---" * (len(ratios) + 2) + "|")
    for name, acc in table.items():
        print(f"| {name} | " + " | ".join(f"{a:.1f}" for a in acc) + f" | {acc.mean():.1f} |")
    for part, per in counts.items():
        cells = ", ".join(f"{k} {r}/{n}" for k, (r, n) in per.items())
        print(f"\n{method} at r = {args.per_class:g}, {part}, right / predictions over the seeds: {cells}")


if __name__ == "__main__":
    main()
