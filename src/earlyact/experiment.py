"""Experiments: streams -> action network -> teachers -> students -> evaluation, per seed and method.

Every step writes under ``out_dir`` and is skipped when its output exists, so an interrupted
``compare``/``demo`` run continues where it stopped (within a phase, ``train.fit`` resumes from
its last finished epoch).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from earlyact.augment import augment
from earlyact.checkpoint import Bundle, load_checkpoint, save_checkpoint
from earlyact.config import ExperimentConfig, FeatureConfig, dump_yaml, from_dict, to_dict
from earlyact.data import Clip, DatasetIndex, load_dataset, make_batch, split_validation
from earlyact.evaluate import confusion_matrix, ratio_predictions, results_dict, write_results
from earlyact.features import action_features, with_skeleton_context
from earlyact.methods import get_method
from earlyact.models import ActionNet, Predictor
from earlyact.skeleton import get_layout
from earlyact.storage import atomic_write_json
from earlyact.train import train_action_net, train_students, train_teachers

CONFUSION_RATIOS = (0.2, 0.5, 1.0)


def context_source(clips: Sequence[Clip]) -> str:
    """'dataset' when every clip carries a context stream (e.g. CNN features), else 'skeleton'."""
    return "dataset" if all(c.context is not None for c in clips) else "skeleton"


def add_streams(
    clips: Sequence[Clip],
    streams: Sequence[str],
    info: dict[str, Any],
    action_net: ActionNet | None,
) -> list[Clip]:
    """Compute the streams a checkpoint reads (described by its ``info``) for ``clips``."""
    features = from_dict(FeatureConfig, info["features"])
    out = list(clips)
    if "context" in streams and info["stream_specs"]["context"]["source"] == "skeleton":
        out = with_skeleton_context(out, features)
    if "action" in streams:
        if action_net is None:
            raise ValueError("the action stream needs an action network")
        out = action_features(action_net, out, features)
    return out


def _num_persons_joints(clips: Sequence[Clip]) -> tuple[int, int]:
    shapes = {c.pose.shape[1:3] for c in clips if c.pose is not None}
    if len(shapes) != 1:
        raise ValueError(f"clips need one pose shape (persons, joints) for the action network; found {sorted(shapes)}")
    return shapes.pop()


def fit_action_net(
    train: Sequence[Clip],
    val: Sequence[Clip],
    num_classes: int,
    cfg: ExperimentConfig,
    out_dir: Path,
    seed: int,
    name: str = "action_net",
) -> tuple[ActionNet, dict[str, Any]]:
    """Train (or reload) the skeleton network on the training clips; returns it and its description."""
    persons, joints = _num_persons_joints(train)
    torch.manual_seed(seed)
    net = ActionNet(persons * joints, 5, num_classes, cfg.action_net)
    train_action_net(net, train, val, cfg.features, cfg.augment, cfg.ratios, cfg.action_train, out_dir / name, seed)
    desc = {"num_joints": persons * joints, "persons": persons, "in_channels": 5, "num_classes": num_classes,
            "config": to_dict(cfg.action_net)}  # fmt: skip
    return net.eval(), desc


def fold_action_nets(
    train: Sequence[Clip], val: Sequence[Clip], num_classes: int, cfg: ExperimentConfig, out_dir: Path, seed: int
) -> dict[str, ActionNet]:
    """{clip id: an action network that never saw that clip}, from ``cfg.action_folds`` networks.

    Stage 2 then learns from training-clip action features as good (or as bad) as those it will
    meet on new clips, instead of features of a network that memorised its training clips.
    """
    rng = np.random.default_rng(seed)
    fold, counter = {}, 0
    for label in sorted({c.label for c in train}):  # stratified: deal each class's clips round-robin
        ids = [c.clip_id for c in train if c.label == label]
        for i in rng.permutation(len(ids)):
            fold[ids[i]] = counter % cfg.action_folds
            counter += 1
    nets = {}
    for k in range(cfg.action_folds):
        rest = [c for c in train if fold[c.clip_id] != k]
        net, _ = fit_action_net(rest, val, num_classes, cfg, out_dir, seed, name=f"action_net_fold{k}")
        nets.update({cid: net for cid, f in fold.items() if f == k})
    return nets


def _action_streams(clips: list[Clip], cfg: ExperimentConfig, nets: dict[str, ActionNet] | ActionNet) -> list[Clip]:
    """Action features per clip, from one network or from each clip's out-of-fold network."""
    if isinstance(nets, ActionNet):
        return action_features(nets, clips, cfg.features)
    out = {}
    for net in {id(n): n for n in nets.values()}.values():
        group = [c for c in clips if nets[c.clip_id] is net]
        out.update({c.clip_id: c for c in action_features(net, group, cfg.features)})
    return [out[c.clip_id] for c in clips]


def make_transform(cfg: ExperimentConfig, stream_specs: dict[str, Any], action_net: ActionNet | dict | None):
    """Per-batch training transform: augment the pose, recompute the streams (None if disabled)."""
    if not cfg.augment.enabled:
        return None
    if "context" in cfg.streams and stream_specs["context"]["source"] != "skeleton":
        raise ValueError("pose augmentation needs pose-derived streams; this context stream comes from the dataset")
    layout = get_layout(cfg.features.layout)

    def transform(clips: list[Clip], rng: np.random.Generator) -> list[Clip]:
        out = [
            replace(c, pose=augment(np.asarray(c.pose), rng, cfg.augment, layout), context=None, action=None)
            for c in clips
        ]
        if "context" in cfg.streams:
            out = with_skeleton_context(out, cfg.features)
        if "action" in cfg.streams:
            out = _action_streams(out, cfg, action_net)
        return out

    return transform


def build_predictor(
    method_name: str, dims: dict[str, int], num_classes: int, cfg: ExperimentConfig, seed: int
) -> Predictor:
    method = get_method(method_name)
    torch.manual_seed(seed)
    return Predictor(dims["context"], dims["action"], num_classes, cfg.model, method.two_stage, method.teachers)


def fit_standardization(model: Predictor, clips: Sequence[Clip]) -> None:
    """Per-dimension mean/std of each stream over all real training frames."""
    for name, norm in (("context", model.norm_context), ("action", model.norm_action)):
        arrays = [getattr(c, name) for c in clips if getattr(c, name) is not None]
        if arrays and norm.mean.numel():
            norm.fit(torch.from_numpy(np.concatenate(arrays).astype(np.float32)))


@torch.no_grad()
def predict_ratios(
    model: Predictor,
    offline: bool,
    clips: Sequence[Clip],
    streams: Sequence[str],
    ratios: Sequence[float],
) -> np.ndarray:
    """(R, N) predicted classes; students causally, teachers (offline) on the whole clip."""
    model.eval()
    preds = []
    for s in range(0, len(clips), 64):
        b = make_batch(clips[s : s + 64], streams)
        outs = (
            model.forward_teachers(b.context, b.action, b.lengths)
            if offline
            else model.forward_students(b.context, b.action)
        )
        preds.append(ratio_predictions(outs[-1].logits, b.lengths, ratios))
    return np.concatenate(preds, axis=1)


def run_seed(
    train_all: Sequence[Clip], test: Sequence[Clip], classes: Sequence[str], cfg: ExperimentConfig,
    out_dir: Path, seed: int, stream_specs: dict[str, Any],
) -> dict[str, np.ndarray]:  # fmt: skip
    """All methods for one seed; returns per method the (R, N) test predictions."""
    streams = list(cfg.streams)
    train, val = split_validation(train_all, cfg.train.val_fraction, seed)
    if "context" in streams and stream_specs["context"]["source"] == "skeleton":
        train, val, test = (with_skeleton_context(x, cfg.features) for x in (train, val, test))
    action_net, action_desc, train_nets = None, None, None
    if "action" in streams:
        action_net, action_desc = fit_action_net(train, val, len(classes), cfg, out_dir, seed)
        train_nets = (
            fold_action_nets(train, val, len(classes), cfg, out_dir, seed) if cfg.action_folds > 1 else action_net
        )
        train = _action_streams(train, cfg, train_nets)
        val, test = (action_features(action_net, x, cfg.features) for x in (val, test))
    dims = {s: (getattr(train[0], s).shape[1] if s in streams else 0) for s in ("context", "action")}
    info = {
        "classes": list(classes),
        "streams": streams,
        "stream_specs": stream_specs,
        "dims": dims,
        "model": to_dict(cfg.model),
        "features": to_dict(cfg.features),
        "action_net": action_desc,
        "seed": seed,
    }
    teacher_state = None
    if any(get_method(m).teachers for m in cfg.methods):
        teacher = build_predictor("teacher", dims, len(classes), cfg, seed)
        fit_standardization(teacher, train)
        transform = make_transform(cfg, stream_specs, train_nets)
        train_teachers(
            teacher, train, val, streams, cfg.ratios, cfg.train, out_dir / "teachers", seed, transform=transform
        )
        teacher_state = teacher.state_dict()
    preds = {}
    for name in cfg.methods:
        preds[name] = _run_method(
            name, train, val, test, dims, teacher_state, info, (action_net, train_nets), cfg, out_dir / name, seed
        )
    return preds


def _run_method(name, train, val, test, dims, teacher_state, info, nets, cfg, out: Path, seed) -> np.ndarray:
    action_net, train_nets = nets  # the network saved with the model; the one(s) behind training features
    done = out / "predictions.json"
    if done.exists():
        return np.array(json.loads(done.read_text())["predictions"])
    method = get_method(name)
    model = build_predictor(name, dims, len(info["classes"]), cfg, seed)
    fit_standardization(model, train)
    if method.teachers:
        model.load_state_dict(teacher_state)
    if not method.offline:
        train_students(
            model,
            method,
            train,
            val,
            cfg.streams,
            cfg.ratios,
            cfg.train,
            cfg.loss,
            out / "students",
            seed,
        )
    save_checkpoint(out / "checkpoint", model, action_net, {"method": name, **info}, dump_yaml(cfg))
    if not test:
        return np.zeros((len(cfg.ratios), 0), dtype=np.int64)
    preds = predict_ratios(model, method.offline, test, cfg.streams, cfg.ratios)
    atomic_write_json(done, {"ratios": list(cfg.ratios), "predictions": preds.tolist()})
    return preds


def run_experiment(
    index: DatasetIndex,
    train: Sequence[Clip],
    test: Sequence[Clip],
    cfg: ExperimentConfig,
    out_dir: str | Path,
) -> dict[str, Any]:
    """Train and evaluate every method of ``cfg`` for every seed; write results files to ``out_dir``."""
    out = Path(out_dir)
    stream_specs = describe_streams(index, train, cfg)
    labels = np.array([c.label for c in test])
    per_seed: dict[str, list[list[float]]] = {m: [] for m in cfg.methods}
    confusions: dict[float, np.ndarray] = {}
    for seed in cfg.seeds:
        start = time.perf_counter()
        preds = run_seed(train, test, index.classes, cfg, out / f"seed_{seed}", seed, stream_specs)
        _add_time(out / "timing.json", f"seed_{seed}", time.perf_counter() - start)
        for m, p in preds.items():
            per_seed[m].append((100.0 * (p == labels[None, :]).mean(1)).round(2).tolist())
        best = _headline_method(cfg.methods)
        for r in CONFUSION_RATIOS:
            if r in cfg.ratios:
                m = confusion_matrix(preds[best][cfg.ratios.index(r)], labels, len(index.classes))
                confusions[r] = confusions.get(r, 0) + m
    extra = {"stream_specs": stream_specs, "confusion_method": _headline_method(cfg.methods)}
    extra["compute_seconds"] = json.loads((out / "timing.json").read_text())
    results = results_dict(cfg.ratios, per_seed, len(test), index.classes, cfg.streams, cfg.seeds, extra)
    write_results(results, out, confusions)
    (out / "config.yaml").write_text(dump_yaml(cfg))
    return results


def _add_time(path: Path, key: str, seconds: float) -> None:
    """Accumulate compute time per seed across interrupted and resumed runs."""
    timing = json.loads(path.read_text()) if path.exists() else {}
    timing[key] = round(timing.get(key, 0.0) + seconds, 1)
    atomic_write_json(path, timing)


def _headline_method(methods: Sequence[str]) -> str:
    return "kd-ms-lstm" if "kd-ms-lstm" in methods else methods[0]


def describe_streams(index: DatasetIndex, clips: Sequence[Clip], cfg: ExperimentConfig) -> dict[str, Any]:
    """How each stream the model reads is computed (saved in results and checkpoints)."""
    specs: dict[str, Any] = {}
    pose = index.streams.get("pose", {})
    if "context" in cfg.streams:
        src = context_source(clips)
        specs["context"] = (
            {"source": "dataset", **index.streams.get("context", {})}
            if src == "dataset"
            else {
                "source": "skeleton",
                "layout": cfg.features.layout,
                "pose": pose,
                **to_dict(cfg.features),
            }
        )
    if "action" in cfg.streams:
        specs["action"] = {"source": "action_net", "layout": cfg.features.layout, "pose": pose}
    return specs


def evaluate_checkpoint(bundle: Bundle, clips: Sequence[Clip], ratios: Sequence[float]) -> np.ndarray:
    """(R, N) predictions of a saved model on clips that hold at least the pose stream."""
    streams = bundle.info["streams"]
    clips = add_streams(clips, streams, bundle.info, bundle.action_net)
    clips = [replace(c, context=c.context if "context" in streams else None) for c in clips]
    return predict_ratios(bundle.predictor, get_method(bundle.info["method"]).offline, clips, streams, ratios)


def _split(root: str | Path, split: str) -> tuple[DatasetIndex, list[Clip]]:
    index, clips = load_dataset(root, split)
    if not clips:
        raise ValueError(f"{root}: no clips in split {split!r} (splits: {sorted({c.split for c in index.clips})})")
    return index, clips


def compare_on_dataset(root: str | Path, cfg: ExperimentConfig, out_dir: str | Path) -> dict[str, Any]:
    """`earlyact compare`: train and evaluate cfg.methods on the train/test splits of a dataset folder."""
    index, train = _split(root, "train")
    _, test = _split(root, "test")
    return run_experiment(index, train, test, cfg, out_dir)


def train_on_dataset(root: str | Path, method: str, seed: int, cfg: ExperimentConfig, out_dir: str | Path) -> Path:
    """`earlyact train`: train one method on the train split; returns the checkpoint folder."""
    index, train = _split(root, "train")
    cfg = replace(cfg, methods=[method], seeds=[seed])
    out = Path(out_dir)
    run_seed(train, [], index.classes, cfg, out, seed, describe_streams(index, train, cfg))
    (out / "config.yaml").write_text(dump_yaml(cfg))
    return out / method / "checkpoint"


def evaluate_on_dataset(
    checkpoint: str | Path,
    root: str | Path,
    split: str,
    ratios: Sequence[float],
    out_dir: str | Path,
) -> dict[str, Any]:
    """`earlyact evaluate`: a saved model on one split of a dataset folder; writes the results files."""
    bundle = load_checkpoint(checkpoint)
    index, clips = _split(root, split)
    if list(index.classes) != list(bundle.classes):
        raise ValueError(f"{root}: classes {index.classes} differ from the checkpoint's {bundle.classes}")
    preds = evaluate_checkpoint(bundle, clips, ratios)
    labels = np.array([c.label for c in clips])
    acc = (100.0 * (preds == labels[None, :]).mean(1)).round(2).tolist()
    method = bundle.info["method"]
    confusions = {r: confusion_matrix(preds[list(ratios).index(r)], labels, len(index.classes))
                  for r in CONFUSION_RATIOS if r in ratios}  # fmt: skip
    results = results_dict(ratios, {method: [acc]}, len(clips), index.classes, bundle.info["streams"],
                           [bundle.info["seed"]], {"checkpoint": str(checkpoint), "split": split})  # fmt: skip
    write_results(results, out_dir, confusions)
    return results
