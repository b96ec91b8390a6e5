"""Experiments: streams -> action network -> teachers -> students -> evaluation, per seed and method.

Every step writes under ``out_dir`` and is skipped when its output exists, so an interrupted
``compare``/``demo`` run continues where it stopped (within a phase, ``train.fit`` resumes from
its last finished epoch).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from earlyact.checkpoint import load_checkpoint, save_checkpoint
from earlyact.config import ExperimentConfig, TrainConfig, dump_yaml, to_dict
from earlyact.data import Clip, DatasetIndex, load_dataset, shared_group, split_validation
from earlyact.evaluate import confusion_matrix, results_dict, write_results
from earlyact.methods import get_method
from earlyact.models import Predictor
from earlyact.parallel import run_units, torch_threads
from earlyact.predict import (
    evaluate_checkpoint,
    mirrored_views,
    predict_log_probs,
    prediction_options,
    stored_log_probs,
)
from earlyact.storage import atomic_write_json
from earlyact.streams import (
    StreamNets,
    context_source,
    early_views,
    fit_action_net,
    fit_context_net,
    fit_early_net,
    fold_action_nets,
    fold_context_nets,
    make_transform,
    pose_streams,
)
from earlyact.train import train_students, train_teachers
from earlyact.twin import attach_twin, check_ramp, share_action_net, switch_frames, switch_log_probs, twin_config

CONFUSION_RATIOS = (0.2, 0.5, 1.0)


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


def run_seed(
    train_all: Sequence[Clip], test: Sequence[Clip], classes: Sequence[str], cfg: ExperimentConfig,
    out_dir: Path, seed: int, stream_specs: dict[str, Any],
) -> dict[str, np.ndarray]:  # fmt: skip
    """All methods for one seed; returns per method the (R, N) test predictions (``seed_log_probs``' argmax)."""
    log_probs = seed_log_probs(train_all, test, classes, cfg, out_dir, seed, stream_specs)
    return {m: lp.argmax(-1) for m, lp in log_probs.items()}


def seed_log_probs(
    train_all: Sequence[Clip], test: Sequence[Clip], classes: Sequence[str], cfg: ExperimentConfig,
    out_dir: Path, seed: int, stream_specs: dict[str, Any],
) -> dict[str, np.ndarray]:  # fmt: skip
    """All methods for one seed; returns per method the (R, N, K) test class log-probabilities."""
    streams = list(cfg.streams)
    switch = switch_frames(cfg.model.twin_frames, cfg.context_net.window) if cfg.speed_twin else 0  # checked
    if cfg.speed_twin:  # before anything trains
        check_ramp(cfg.model.twin_ramp, switch)
    train, val = held_out_validation(train_all, test, cfg.train, seed, out_dir / "validation.json")
    skeleton = "context" in streams and stream_specs["context"]["source"] == "skeleton"
    nets, descs = _fit_stream_nets(train, val, len(classes), cfg, out_dir, seed, skeleton)
    train = pose_streams(train, streams, skeleton, cfg.features, nets, training=True)
    val, test = (pose_streams(x, streams, skeleton, cfg.features, nets) for x in (val, test))
    mirrored = mirrored_views(test, streams, skeleton, cfg, nets)
    early = early_views(test, cfg.features, nets.early)
    dims = {s: (getattr(train[0], s).shape[1] if s in streams else 0) for s in ("context", "action")}
    info = {
        "classes": list(classes),
        "streams": streams,
        "stream_specs": stream_specs,
        "dims": dims,
        "model": to_dict(cfg.model),
        "features": to_dict(cfg.features),
        **descs,
        "seed": seed,
    }
    teacher_state = None
    if any(get_method(m).teachers for m in cfg.methods):
        teacher = build_predictor("teacher", dims, len(classes), cfg, seed)
        fit_standardization(teacher, train)
        transform = make_transform(cfg, skeleton, nets)
        train_teachers(
            teacher, train, val, streams, cfg.ratios, teacher_train(cfg), out_dir / "teachers", seed,
            transform=transform, upstream=stream_settings(cfg), progressive=cfg.loss.progressive,
        )  # fmt: skip
        teacher_state = teacher.state_dict()
    preds = {}
    for name in cfg.methods:
        preds[name] = _run_method(
            name, train, val, test, dims, teacher_state, info, nets, cfg, out_dir / name, seed, (mirrored, early)
        )
    if not cfg.speed_twin:
        return preds
    return _with_twin(preds, train_all, test, classes, cfg, out_dir, seed, stream_specs, switch)


def _with_twin(
    preds: dict[str, np.ndarray], train_all: Sequence[Clip], test: Sequence[Clip], classes: Sequence[str],
    cfg: ExperimentConfig, out_dir: Path, seed: int, stream_specs: dict[str, Any], frames: int,
) -> dict[str, np.ndarray]:  # fmt: skip
    """``speed_twin``: train the methods' twins in ``out_dir/speed_twin`` (``earlyact.twin``), attach each
    twin's checkpoint to its method's, and predict with the twin while fewer than ``frames`` frames are
    seen (``twin.switch_frames``), crossfading into the method over ``model.twin_ramp`` frames before."""
    twin_dir = out_dir / "speed_twin"
    share_action_net(out_dir, twin_dir)
    twin = seed_log_probs(train_all, test, classes, twin_config(cfg), twin_dir, seed, stream_specs)
    lengths, ramp = [c.num_frames for c in test], cfg.model.twin_ramp
    for name in cfg.methods:
        attach_twin(out_dir / name / "checkpoint", twin_dir / name / "checkpoint")
    return {m: switch_log_probs(twin[m], p, lengths, cfg.ratios, frames, ramp) for m, p in preds.items()}


def timed_seed(
    train_all: Sequence[Clip], test: Sequence[Clip], classes: Sequence[str], cfg: ExperimentConfig,
    out_dir: Path, seed: int, stream_specs: dict[str, Any],
) -> dict[str, np.ndarray]:  # fmt: skip
    """``run_seed``, its seconds added to the seed folder's ``timing.json`` (in whichever process ran it,
    ``parallel.run_units``; each seed its own file, so seeds run side by side never write one file)."""
    start = time.perf_counter()
    preds = run_seed(train_all, test, classes, cfg, out_dir, seed, stream_specs)
    _add_time(out_dir / "timing.json", "seconds", time.perf_counter() - start)
    return preds


def compute_seconds(out: Path, seeds: Sequence[int]) -> dict[str, float]:
    """Per seed, the seconds its runs took, summed over interrupted and resumed parts (a run folder
    written before the seeds kept their own also counts its top-level ``timing.json``)."""
    legacy = json.loads((out / "timing.json").read_text()) if (out / "timing.json").exists() else {}
    times = {}
    for s in seeds:
        own = out / f"seed_{s}" / "timing.json"
        mine = json.loads(own.read_text())["seconds"] if own.exists() else 0.0
        times[f"seed_{s}"] = round(legacy.get(f"seed_{s}", 0.0) + mine, 1)
    return times


def held_out_validation(
    train_all: Sequence[Clip], test: Sequence[Clip], cfg: TrainConfig, seed: int, record: Path
) -> tuple[list[Clip], list[Clip]]:
    """``split_validation`` of the training clips, by group rotated after the test clips' group (a
    leave-one-group-out fold), recorded in ``record`` (the clip ids) so that re-scoring reads the same
    part and a resumed run cannot train on another one."""
    test_group = shared_group(test) if cfg.val_by_group else None
    train, val = split_validation(train_all, cfg.val_fraction, seed, cfg.val_by_group, test_group)
    ids = [c.clip_id for c in val]
    saved = _recorded_ids(record)
    if saved is not None:
        if saved != ids:
            raise ValueError(
                f"{record}: this run held out {len(saved)} other validation clips ({saved[:3]}...) than "
                f"the config and seed give now ({ids[:3]}...): resume it with its own settings or use a new --out"
            )
    else:
        atomic_write_json(record, {"validation": ids, "test_group": test_group, "seed": seed})
    return train, val


def recorded_validation(record: Path, train_all: Sequence[Clip]) -> list[Clip] | None:
    """The clips of ``train_all`` that ``held_out_validation`` recorded in ``record`` as held out, None
    for a run folder made before the record."""
    ids = _recorded_ids(record)
    return None if ids is None else [c for c in train_all if c.clip_id in set(ids)]


def _recorded_ids(record: Path) -> list[str] | None:
    return json.loads(record.read_text())["validation"] if record.exists() else None


def teacher_train(cfg: ExperimentConfig) -> TrainConfig:
    """The teachers' optimisation: the stages' ``train`` with ``teacher_epochs`` when set. A final fit
    (``train.val_fraction=0``) ends each phase at its epoch count, and a Bi-LSTM reading whole clips
    may need more epochs than the students that distil from it."""
    return replace(cfg.train, epochs=cfg.teacher_epochs) if cfg.teacher_epochs > 0 else cfg.train


def stream_settings(cfg: ExperimentConfig) -> dict[str, Any]:
    """What the streams the stages read depend on: the pose features, the augmentation, the networks
    behind the streams and their training. A stage (or its test predictions) made from other
    streams is stale: resuming it is refused, and saved predictions are recomputed."""
    keys = ("features", "augment", "context_augment", "action_net", "action_folds", "action_train",
            "context_net", "context_folds", "context_train")  # fmt: skip
    return json.loads(json.dumps({k: to_dict(v) if is_dataclass(v) else v for k in keys for v in [getattr(cfg, k)]}))


def _fit_stream_nets(
    train: list[Clip], val: list[Clip], num_classes: int, cfg: ExperimentConfig, out_dir: Path, seed: int,
    skeleton_context: bool,
) -> tuple[StreamNets, dict[str, Any]]:  # fmt: skip
    """Train (or reload) the networks behind the streams; their descriptions go into checkpoints."""
    nets, descs = StreamNets(), {"action_net": None, "context_net": None, "early_net": None}
    K = num_classes
    if skeleton_context and cfg.context_net.channels > 0:
        nets.context, descs["context_net"] = fit_context_net(train, val, K, cfg, out_dir / "context_net", seed)
        if cfg.context_folds > 1:
            nets.train_context = fold_context_nets(train, val, K, cfg, out_dir, seed)
    if cfg.model.early_frames > 0:
        if nets.context is None:
            raise ValueError("model.early_frames needs a skeleton window net (context_net.channels and .window > 0)")
        nets.early, descs["early_net"] = fit_early_net(train, val, K, cfg, out_dir / "early_net", seed)
    if "action" in cfg.streams:
        nets.action, descs["action_net"] = fit_action_net(train, val, K, cfg, out_dir / "action_net", seed)
        folds = cfg.action_folds > 1
        nets.train_action = fold_action_nets(train, val, num_classes, cfg, out_dir, seed) if folds else nets.action
    return nets, descs


def _run_method(
    name, train, val, test, dims, teacher_state, info, nets, cfg, out: Path, seed, views=(None, None)
) -> np.ndarray:
    done = out / "predictions.json"
    fuse = cfg.model.fuse_context
    upstream = stream_settings(cfg)
    stages = json.loads(json.dumps({k: to_dict(getattr(cfg, k)) for k in ("model", "loss", "train")}))
    teacher = {"teacher_epochs": cfg.teacher_epochs}  # what a distilled student and the teacher's row depend on
    stages.update(teacher)
    if done.exists():  # reused when made with these ratios, fusion, streams and stages (else recomputed)
        saved = json.loads(done.read_text())
        made = (saved["ratios"], saved.get("fuse_context", 0.0), saved.get("upstream"), saved.get("stages"))
        if made == (list(cfg.ratios), fuse, upstream, stages) and "log_probs" in saved:  # older: recomputed
            return np.array(saved["log_probs"])
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
            upstream={**upstream, **teacher} if method.distill else upstream,  # distilled: the teacher's epochs too
        )
    save_checkpoint(out / "checkpoint", model, nets, {"method": name, **info}, dump_yaml(cfg))
    if not test:
        return np.zeros((len(cfg.ratios), 0, len(info["classes"])), dtype=np.float32)
    options = prediction_options(nets, cfg.model)
    mirrored, early = views  # the test clips' mirror images and early-net views (or None)
    log_p = predict_log_probs(model, method.offline, test, cfg.streams, cfg.ratios, mirrored=mirrored, early=early,
                              **options)  # fmt: skip  # (R, N, K)
    log_p = stored_log_probs(log_p)  # as a rerun reads it back from the file, and a checkpoint predicts
    saved = {"ratios": list(cfg.ratios), "fuse_context": fuse, "upstream": upstream, "stages": stages,
             "predictions": log_p.argmax(-1).tolist(), "log_probs": log_p.tolist()}  # fmt: skip
    atomic_write_json(done, saved)
    return log_p


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
    units = [(train, test, index.classes, cfg, out / f"seed_{seed}", seed, stream_specs) for seed in cfg.seeds]
    done = run_units(timed_seed, units, cfg.workers, cfg.threads, "seeds")  # in order of cfg.seeds
    for preds in done:
        for m, p in preds.items():
            per_seed[m].append((100.0 * (p == labels[None, :]).mean(1)).round(2).tolist())
        best = headline_method(cfg.methods)
        for r in CONFUSION_RATIOS:
            if r in cfg.ratios:
                m = confusion_matrix(preds[best][cfg.ratios.index(r)], labels, len(index.classes))
                confusions[r] = confusions.get(r, 0) + m
    extra = {"stream_specs": stream_specs, "confusion_method": headline_method(cfg.methods),
             "confusion": {f"{r:g}": m.tolist() for r, m in confusions.items()}}  # fmt: skip
    extra["compute_seconds"] = compute_seconds(out, cfg.seeds)
    results = results_dict(cfg.ratios, per_seed, len(test), index.classes, cfg.streams, cfg.seeds, extra)
    write_results(results, out, confusions)
    (out / "config.yaml").write_text(dump_yaml(cfg))
    return results


def _add_time(path: Path, key: str, seconds: float) -> None:
    """Accumulate compute time per seed across interrupted and resumed runs."""
    timing = json.loads(path.read_text()) if path.exists() else {}
    timing[key] = round(timing.get(key, 0.0) + seconds, 1)
    atomic_write_json(path, timing)


def headline_method(methods: Sequence[str]) -> str:
    """The method the reports' confusion matrices show: the full method when it was run."""
    return "kd-ms-lstm" if "kd-ms-lstm" in methods else methods[0]


def describe_streams(index: DatasetIndex, clips: Sequence[Clip], cfg: ExperimentConfig) -> dict[str, Any]:
    """How each stream the model reads is computed (saved in results and checkpoints). A dataset whose
    index declares its pose channels is checked against ``features.coords`` first (``pose_coords``)."""
    specs: dict[str, Any] = {}
    pose = index.streams.get("pose", {})
    src = context_source(clips, cfg.features.context) if "context" in cfg.streams else None
    skeleton = src == "skeleton"
    declared = pose_coords(pose)
    if declared is not None and declared != cfg.features.coords and ("action" in cfg.streams or skeleton):
        raise ValueError(
            f"dataset {index.name or '(unnamed)'}: its pose channels {pose['channels']} hold {declared} coordinates "
            f"per joint, but features.coords={cfg.features.coords}; set --set features.coords={declared}"
        )
    if src is not None:
        specs["context"] = (
            {"source": "dataset", **index.streams.get("context", {})}
            if src == "dataset"
            else {
                "source": "skeleton",
                "layout": cfg.features.layout,
                "pose": pose,
                **to_dict(cfg.features),
                "network": _context_network(cfg),  # embeds the pose
            }
        )
    if "action" in cfg.streams:
        specs["action"] = {"source": "action_net", "layout": cfg.features.layout, "pose": pose}
    return specs


def pose_coords(pose_spec: dict[str, Any]) -> int | None:
    """Coordinates per joint (2 or 3) of a dataset's pose stream as its index declares them
    (``"channels": ["x", "y", "z", "confidence"]``); None when it declares none."""
    channels = pose_spec.get("channels")
    return None if not channels else sum(c in ("x", "y", "z") for c in channels)


def _context_network(cfg: ExperimentConfig) -> str | None:
    """Which network turns the pose into the skeleton context stream (None: the descriptor itself)."""
    if cfg.context_net.channels <= 0:
        return None
    return "window_net" if cfg.context_net.window > 0 else "context_net"


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
    with torch_threads(cfg.threads):
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
