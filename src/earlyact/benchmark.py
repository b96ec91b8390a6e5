"""`earlyact benchmark`: reproducible early-prediction benchmarks on real datasets."""

from __future__ import annotations

import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from earlyact.config import AugmentConfig, ExperimentConfig, ExtractConfig, TrainConfig, load_config, to_dict
from earlyact.data import Clip, DatasetIndex, group_order, load_dataset
from earlyact.evaluate import markdown_table, results_dict, write_report, write_results
from earlyact.experiment import describe_streams, headline_method, run_experiment
from earlyact.parallel import run_units
from earlyact.storage import atomic_write_json, atomic_write_text
from earlyact.twin import switch_frames


def mirror_only(section: str) -> list[str]:
    """Overrides that make the augmentation section ``section`` draw left-right mirror images alone
    (every other ``AugmentConfig`` amount set to 0, so a new augmentation stays off here too)."""
    others = [f.name for f in fields(AugmentConfig) if f.name not in ("enabled", "mirror")]
    return [f"{section}.enabled=true", f"{section}.mirror=0.5"] + [f"{section}.{k}=0" for k in others]


THREADS = ["threads=1"]  # one torch thread per training process: the fastest here (benchmarks/thread_speed.py),
# and the weights no longer depend on the machine's core count (torch's default thread count); `--workers`
# sets how many seeds (UT: folds) train side by side, which leaves the weights unchanged

JHMDB_DEFAULTS = [
    *THREADS,
    "features.layout=jhmdb15",
    "features.long_motion=2",  # DD-Net's two-scale motion
    "context_net.channels=64",  # stage 1 reads a learned embedding of the pose ...
    "context_net.window=32",  # ... the window net's: DD-Net over each frame's observed prefix, resampled to 32
    "context_net.members=2",  # two window nets (own initialisations): +0.9 on held-out pseudo-videos, up in two
    # seeds of three (docs/experiments.md, stop 26; affordable since the seeds train side by side)
    "context_train.epochs=60",
    *mirror_only("augment"),  # left-right mirror images only, for the stages and the action net ...
    *mirror_only("context_augment"),  # ... and for the window net
    "model.hidden1=128",
    "model.hidden2=128",
    "speed_twin=true",  # a twin on the motion per frame observed predicts while the window is stretched: +1.2 on
    # held-out pseudo-videos of five seeds, every ratio level or up (docs/experiments.md, stop 30; earlyact.twin)
    "model.fuse_context=0.7",  # students x the window nets' own classifier: 0.7 over 0.5 on held-out pseudo-videos
    # of five seeds (+0.7, up in four; docs/experiments.md, stop 28); the students keep 1 - 0.7 - v = 0.1
    "context_net.prefix_frames_min=32",  # the method's window nets train on the prefixes it predicts from with the
    # twin, as on UT: held-out pseudo-videos of five seeds 75.3 -> 75.6, up in four, r = 1.0 84.1 -> 84.8 (stop 36)
    "model.twin_ramp=12",  # the twin crossfades into the method over the 12 frames before the window fills:
    # held-out pseudo-videos of five seeds 75.6 -> 75.8 (+39 / -28 predictions), r = 1.0 84.8 -> 85.8 (stop 37)
]  # dotted overrides applied before the user's own: chosen on a validation part of GT_train_1 (docs/experiments.md)

FINAL_FIT = [
    "train.val_fraction=0",  # the benchmarks' final fit: every network on all the training clips ...
    "train.epochs=8",  # ... the stages for 8 epochs (early stopping on validation kept them at 3-17; JHMDB_FIT: 4) ...
    "train.cosine=true",  # ... along a cosine; the stream networks for their full schedules as before
]  # chosen one level down on validation, on each benchmark (benchmarks/refit_validation.py; docs/experiments.md)


JHMDB_FIT = [
    "train.epochs=4",  # JHMDB's stages (teachers too) stop at 4 final-fit epochs: fewer epochs on streams
    # made from these very clips gave better students on validation (8 -> 4; on UT 4 was worse; docs/experiments.md)
    "loss.alpha1=0.001",  # distillation weights a tenth of the default's: on held-out pseudo-videos the
    "loss.alpha2=0.001",  # students gained 0.7 points (0.01 -> 0.001; README, stop 16)
    "model.fuse_action=0.2",  # the students' prediction also fused with the action net's own classifier:
    # +0.8 on held-out pseudo-videos, up in every seed (docs/experiments.md, stop 17; on UT it changed nothing)
]


def jhmdb_config(path: str | Path | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """The JHMDB benchmark's config: defaults, JHMDB_DEFAULTS, FINAL_FIT, JHMDB_FIT, then the user's
    file and overrides (``train.val_fraction=0.15 train.epochs=60 train.cosine=false`` bring back the
    validation part and early stopping that the settings were chosen with)."""
    return load_config(path, [*JHMDB_DEFAULTS, *FINAL_FIT, *JHMDB_FIT, *(overrides or [])])


def benchmark_jhmdb(
    train_path: str | Path,
    test_path: str | Path,
    cfg: ExperimentConfig,
    out_dir: str | Path,
    command: str = "",
    report: str | Path | None = None,
) -> dict[str, Any]:
    """Train and evaluate cfg.methods on a pair of JHMDB ground-truth pickles (any split)."""
    from earlyact.jhmdb import load_gt_pickles

    index, clips = load_gt_pickles(train_path, test_path)
    source = {"train_file": str(train_path), "test_file": str(test_path)}
    return _benchmark_jhmdb(index, clips, source, cfg, out_dir, command, report)


def benchmark_jhmdb_official(
    root: str | Path,
    split: int,
    classes: list[str] | None,
    cfg: ExperimentConfig,
    out_dir: str | Path,
    command: str = "",
    report: str | Path | None = None,
) -> dict[str, Any]:
    """The same benchmark on JHMDB's official tree (``ROOT/joint_positions``, ``ROOT/splits``; split 1-3;
    ``classes`` None: all the lists name), for users who have the official download and no pickles."""
    from earlyact.jhmdb import load_official

    index, clips = load_official(root, split, classes=classes)
    source = {"root": str(root), "split": split}
    return _benchmark_jhmdb(index, clips, source, cfg, out_dir, command, report)


def _benchmark_jhmdb(
    index: DatasetIndex,
    clips: list[Clip],
    source: dict[str, Any],
    cfg: ExperimentConfig,
    out_dir: str | Path,
    command: str,
    report: str | Path | None,
) -> dict[str, Any]:
    """Run and report the JHMDB benchmark on ``source``'s clips: the pickles (train_file, test_file) or
    the official tree (root, split), recorded in results.json and named in the report."""
    if "root" in source:
        data_words = f"official tree `{source['root']}` (`joint_positions/`, split {source['split']} of `splits/`)"
    else:
        data_words = f"training file `{source['train_file']}`, test file `{source['test_file']}`"
    extra = {**source, "command": command, "fuse_context": cfg.model.fuse_context, "fuse_action": cfg.model.fuse_action}
    results = _run(index, clips, cfg, out_dir, extra)
    if report is not None:
        compute = sum(results["compute_seconds"].values())
        fusion = f"{_fusion_words(cfg.model.fuse_context, cfg.model.fuse_action)}{_twin_words(cfg)}"
        context = _context_words(results, cfg.context_net.members)
        intro = f"""Produced by `{command}`: {compute:.0f} s of compute on this machine (2 CPU cores), summed
over seeds {results["seeds"]} and over interrupted and resumed parts of the run; {results["wall_time_s"]:.0f} s wall
in this call. {_process_words(cfg, "seeds", len(cfg.seeds))}

Data: JHMDB ground-truth 2D joints (`pos_world`, 15 joints, one person), {len(index.classes)} classes,
{data_words} ({results["n_clips"]} test clips). Streams read
by the models: {", ".join(results["streams"])} (context = {context}, action = the action
network's LSTM state; no RGB). {fusion} {_fit_words(cfg.train)} Accuracy in %, mean ±
std over seeds; `teacher` sees the whole clip (offline upper bound). Discussion (where the distillation helps, where
it does not, and why; settings chosen on validation): README.md, "What the numbers say so far"."""
        write_report(results, out_dir, report, "JHMDB early action prediction", intro)
    return results


def _process_words(cfg: ExperimentConfig, units: str, count: int) -> str:
    """How the ``count`` training units were spread over processes, and the thread count the weights depend on."""
    threads = "torch's default threads" if cfg.threads <= 0 else f"{cfg.threads} torch thread{'s' * (cfg.threads > 1)}"
    workers = min(cfg.workers, count)
    how = "one after another in one process" if workers <= 1 else f"in {workers} processes side by side"
    return (
        f"The {units} trained {how} at {threads} each (`workers`, `threads`; the weights depend on the "
        "thread count, not on the processes)."
    )


def _extraction_words(summary: dict[str, Any], backbone_read: bool) -> str:
    """The features' provenance from the store itself (``extract.extraction_summary``), so a report on
    reused features still says what made them, what that cost and how often every person was found."""
    cfg, sec = summary["extract"], summary["seconds"]
    backbone = f"`{cfg.get('backbone')}` ({cfg.get('runtime')})" if cfg.get("backbone") else "none"
    read = "read by stage 1" if backbone_read else "extracted but not read by these models (`features.context`)"
    cost = "not recorded (a store made before stop 27)"
    if sec is not None:
        steps = ", ".join(f"{k} {v:.0f} s" for k, v in sec.items())
        per_s = summary["frames_per_compute_s"]
        cost = f"{sum(sec.values()):.0f} s of compute summed over clips ({steps}; {per_s:g} frames per compute second)"
    found = ", ".join(f"{k} {v['all']:g}" for k, v in summary["persons_per_class"].items() if v["all"] is not None)
    pose = summary["pose"]
    estimator = pose.get("estimator", pose.get("source"))
    n = summary["max_persons"]
    every = "the person was" if n == 1 else "both persons were" if n == 2 else f"all {n} persons were"
    return (
        f"Features: {summary['clips']} clips, {summary['frames']} frames; poses `{estimator}` ({pose.get('layout')}) "
        f"for up to {n} persons; context backbone {backbone}, {read}. "
        f"Extraction: {cost}, in {cfg.get('workers', 1)} worker process(es). Frames in which {every} found, "
        f"per class (%): {found} (`benchmarks/ut_pose_sanity.py`)."
    )


def _fusion_words(weight: float, action: float = 0.0) -> str:
    if weight <= 0 and action <= 0:
        return "The students' prediction is their last stage's."
    if action <= 0:
        return (
            "The students' prediction fuses their last stage with the context network's own classifier, "
            f"(1 - w) log p_stage + w log p_context with w = `model.fuse_context` = {weight:g} "
            "(the teacher's: not fused)."
        )
    return (
        "The students' prediction fuses their last stage with the context and action networks' own classifiers, "
        "(1 - w - v) log p_stage + w log p_context + v log p_action with w = `model.fuse_context` = "
        f"{weight:g} and v = `model.fuse_action` = {action:g} (the teacher's: not fused)."
    )


def _twin_words(cfg: ExperimentConfig) -> str:
    if not cfg.speed_twin:
        return ""
    bound = cfg.context_net.prefix_frames_min
    trained = (
        f", its window nets trained on prefixes of at least {bound} frames (`context_net.prefix_frames_min`; the"
        " twin's on prefixes of any length)"
        if bound > 0
        else ""
    )
    frames, ramp = switch_frames(cfg.model.twin_frames, cfg.context_net.window), cfg.model.twin_ramp
    where = f"{frames} frames" + (" (the window)" if frames == cfg.context_net.window else "")
    fade = (
        f" (over the {ramp} frames before, their class log-probabilities crossfade linearly, `model.twin_ramp`)"
        if ramp > 0
        else ""
    )
    return (
        " Every method has a speed twin (`speed_twin`, `earlyact.twin`): the same method trained on window rows of"
        f" the motion per frame observed, which predicts while fewer than {where} are seen; the method itself from"
        f" then on{fade}{trained}."
    )


def _fit_words(train: TrainConfig) -> str:
    """How the report's networks were fitted: a final fit on every training clip, or early stopping."""
    if train.val_fraction <= 0:
        schedule = f"{train.epochs} epochs{' along a cosine' if train.cosine else ''}"
        return (
            "Every network is fitted on all the training clips for a fixed schedule and keeps its last weights "
            f"(`train.val_fraction=0`; the stages {schedule})."
        )
    part = "whole groups (sequences)" if train.val_by_group else "clips"
    return (
        f"Every network early-stops on a validation part of the training clips ({train.val_fraction:g} of them, "
        f"{part}; `train.val_fraction`) and keeps its best weights."
    )


def _context_words(results: dict[str, Any], members: int = 1) -> str:
    spec = results.get("stream_specs", {}).get("context", {})
    if spec.get("source") == "dataset":
        return f"`{spec.get('backbone', 'CNN')}` frame features"
    if spec.get("network") == "window_net":
        if members > 1:
            nets = f"{members} DD-Net-style window networks"
            return f"the joined embeddings of {nets} over each frame's observed prefix (`context_nets.WindowEnsemble`)"
        prefix = "the embedding of a DD-Net-style window network over each frame's observed prefix"
        return f"{prefix} (`context_nets.WindowNet`)"
    if spec.get("network") == "context_net":
        return "the causal context network's embedding of the skeleton descriptor of `features.skeleton_context`"
    return "the skeleton descriptor of `features.skeleton_context`"


def _run(
    index: DatasetIndex, clips: list[Clip], cfg: ExperimentConfig, out_dir: str | Path, extra: dict
) -> dict[str, Any]:
    split = {e.clip_id: e.split for e in index.clips}
    train = [c for c in clips if split[c.clip_id] == "train"]
    test = [c for c in clips if split[c.clip_id] == "test"]
    start = time.perf_counter()
    results = run_experiment(index, train, test, cfg, out_dir)
    wall = time.perf_counter() - start
    results.update(extra, wall_time_s=round(wall, 1))
    out = Path(out_dir)
    atomic_write_json(out / "results.json", results)
    header = f"Command: `{results['command']}`; wall time {wall:.0f} s; streams: {', '.join(results['streams'])}\n\n"
    atomic_write_text(out / "results.md", header + markdown_table(results))
    print(markdown_table(results))
    print(f"wall time {wall:.0f} s; results in {out}")
    return results


UT_DEFAULTS = [
    *THREADS,
    "train.val_by_group=true",  # validation = a whole sequence (1 + seed places after the fold's), like the test folds
    "model.hidden1=128",  # 54 training clips per fold: small stages (128 over 64 on validation, stop 7)
    "model.hidden2=128",
    "action_net.hidden=64",
    "action_net.embed=64",
    "features.context=skeleton",  # stage 1: the skeleton descriptor through the context network, not the CNN
    "features.long_motion=2",
    "features.person_order=left_right",  # roles by position: track numbers swap when people touch
    "features.hold_missing=true",  # a person lost for some frames (a hug hides one) keeps its last pose
    "features.per_person=true",  # each body centred on itself, positions as offsets
    "context_net.channels=32",
    "context_net.window=32",  # stage 1: the window net over each frame's observed prefix, resampled to 32 frames,
    "context_net.span=192",  # covering a whole segmented clip (set 1: 59-183 frames)
    "context_net.prefixes=8",  # one window net: two were level on the rotated validation (docs/experiments.md, stop 27)
    "context_net.prefix_frames_min=32",  # the method's window nets train on prefixes of 32+ frames, the ones it
    # predicts from with the speed twin: rotated validation 76.7 -> 80.7 (seed 0), 74.4 -> 77.5 (seed 1; stop 32)
    "context_train.epochs=80",
    *mirror_only("augment"),
    *mirror_only("context_augment"),
    "model.fuse_context=0.5",  # students x the window net's classifier (benchmarks/refit_validation.py, stop 13)
    "speed_twin=true",  # a twin on the motion per frame observed predicts while the window is stretched: +0.9 on
    # the rotated validation, r = 0.1 43.3 -> 46.7 (docs/experiments.md, stop 30; JHMDB +1.2; earlyact.twin)
]  # chosen on the folds' validation parts (benchmarks/validation_scores.py, refit_validation.py; docs/experiments.md)


def run_fold(features: Path, fold: str, cfg: ExperimentConfig, out_dir: Path) -> dict[str, Any]:
    """Leave-one-group-out fold ``fold`` of the dataset in ``features``: train on the other groups, test
    on this one (``run_experiment``). Reads the dataset itself, so a worker process receives a path."""
    index, clips = load_dataset(features)
    group = {e.clip_id: e.group for e in index.clips}
    train = [c for c in clips if group[c.clip_id] != fold]
    test = [c for c in clips if group[c.clip_id] == fold]
    return run_experiment(index, train, test, cfg, out_dir)


def ut_config(path: str | Path | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """The UT-Interaction benchmark's config: defaults, UT_DEFAULTS, FINAL_FIT, then the user's file and
    overrides (``train.val_fraction=0.15 train.epochs=60 train.cosine=false`` bring back the held-out
    sequence and early stopping that the settings were chosen with)."""
    return load_config(path, [*UT_DEFAULTS, *FINAL_FIT, *(overrides or [])])


def _pool_folds(
    done: list[dict[str, Any]], cfg: ExperimentConfig, n_clips: int, classes: list[str]
) -> tuple[dict[str, Any], float, dict[float, np.ndarray]]:
    """The folds' results pooled: accuracy over all test clips (each fold weighted by its clips), the
    compute seconds summed, and the confusion matrices summed over folds and seeds."""
    per_fold: dict[str, list[list[float]]] = {m: [] for m in cfg.methods}
    sizes, compute, confusions = [], 0.0, {}
    for res in done:
        sizes.append(res["n_clips"])  # the fold's test clips
        compute += sum(res["compute_seconds"].values())
        for r, m in res["confusion"].items():
            confusions[float(r)] = confusions.get(float(r), 0) + np.array(m)
        for m in cfg.methods:
            per_fold[m].append(res["accuracy"][m])
    w = np.array(sizes, dtype=np.float64) / sum(sizes)
    results = results_dict(cfg.ratios, per_fold, n_clips, classes, cfg.streams, cfg.seeds)
    results["accuracy"] = {m: (w @ np.array(v)).round(2).tolist() for m, v in per_fold.items()}  # pooled
    return results, compute, confusions


def _write_ut_report(
    results: dict[str, Any], cfg: ExperimentConfig, extract_cfg: ExtractConfig, out: Path, report: str | Path,
    timing: tuple[float, float, float],
) -> None:  # fmt: skip
    """docs/results/ut-interaction.md: the table with what made it (command, times, streams, features)."""
    extract_s, compute, train_s = timing
    command, root, folds = results["command"], results["root"], results["folds"]
    n_clips, n_classes = results["n_clips"], len(results["classes"])
    intro = f"""Produced by `{command}` on this machine (2 CPU cores): feature extraction {extract_s:.0f} s wall
in this call (about 0 when the features were reused), training and evaluation {compute:.0f} s of compute for
{len(folds)} folds × seeds {cfg.seeds} (summed over interrupted and resumed parts), {train_s:.0f} s wall in this call.
{_process_words(cfg, "folds", len(folds))} Context stream: {_context_words(results, cfg.context_net.members)}.

{_extraction_words(results["extraction"], results["stream_specs"].get("context", {}).get("source") == "dataset")}
{_fusion_words(cfg.model.fuse_context, cfg.model.fuse_action)}{_twin_words(cfg)} {_fit_words(cfg.train)}

Data: `{root}`, {n_clips} clips, {n_classes} classes, leave-one-sequence-out (each sequence's clips are
tested once by the model trained on the others; accuracy pooled over all test clips, ± = std over folds). Streams:
{", ".join(cfg.streams)} (action = the action network on BlazePose poses of up to {extract_cfg.max_persons}
persons). `teacher` sees the whole clip (offline upper bound)."""
    write_report(results, out, report, "UT-Interaction early action prediction", intro)


def benchmark_ut_interaction(
    root: str | Path,
    cfg: ExperimentConfig,
    out_dir: str | Path,
    extract_cfg: ExtractConfig,
    features: str | Path | None = None,
    command: str = "",
    report: str | Path | None = None,
) -> dict[str, Any]:
    """Extract (or reuse) a segmented set's features, then the 10-fold leave-one-sequence-out protocol.

    Accuracy per method and ratio is pooled over the folds' test clips (each clip is tested once);
    ``accuracy_per_fold`` and the std over folds are kept too.
    """
    from earlyact.extract import extract_dataset, extraction_summary

    out = Path(out_dir)
    feats = Path(features) if features is not None else out / "features"
    start = time.perf_counter()
    extract_dataset(root, "ut-interaction", feats, extract_cfg)
    extract_s = time.perf_counter() - start
    index, clips = load_dataset(feats)
    group = {e.clip_id: e.group for e in index.clips}
    folds = group_order(group.values())
    units = [(feats, g, replace(cfg, workers=1), out / f"fold_{g}") for g in folds]  # a fold's seeds in its worker
    start = time.perf_counter()
    done = run_units(run_fold, units, cfg.workers, cfg.threads, "folds")
    train_s = time.perf_counter() - start
    results, compute, confusions = _pool_folds(done, cfg, len(clips), index.classes)
    results["mean_over_ratios"] = {m: round(float(np.mean(v)), 2) for m, v in results["accuracy"].items()}
    results["accuracy_per_fold"] = results.pop("accuracy_per_seed")  # std: over folds
    results.update(folds=folds, root=str(root), features=str(feats), command=command,
                   fuse_context=cfg.model.fuse_context, extract_wall_s=round(extract_s, 1),
                   train_wall_s=round(train_s, 1), train_compute_s=round(compute, 1), extract=to_dict(extract_cfg),
                   stream_specs=describe_streams(index, clips, cfg))  # fmt: skip
    results["extraction"] = extraction_summary(index, clips)  # what made the features, even when reused
    results.update(confusion_method=headline_method(cfg.methods),
                   confusion={f"{r:g}": m.tolist() for r, m in confusions.items()})  # fmt: skip
    write_results(results, out, confusions)
    if report is not None:
        _write_ut_report(results, cfg, extract_cfg, out, report, (extract_s, compute, train_s))
    print(markdown_table(results))
    return results
