"""`earlyact extract`: videos -> decode -> multi-person pose -> context features -> the clip format.

Each clip is written atomically (``data.save_clip``), so a crash never leaves half a clip, and a
clip already on disk is skipped: re-running the command resumes. The index is written last.
Several worker processes each hold their own pose estimator and backbone.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from earlyact.config import ExtractConfig
from earlyact.data import Clip, DatasetIndex, safe_clip_id, save_clip, write_index
from earlyact.datasets import (
    VIDEO_SUFFIXES,
    VideoEntry,
    read_generic,
    read_jhmdb_videos,
    read_ucf101,
    read_ut_interaction,
    to_index,
)

STEPS = ("decode", "pose", "context")  # the steps whose compute time each clip records (meta["seconds"])
_STATE: dict[str, Any] = {}  # per worker process: the backbone, built once by _init_worker


def list_videos(root: str | Path, layout: str, labels: str | Path | None = None, split: int = 1):
    """(classes, entries) of a dataset folder in one of the supported layouts."""
    root = Path(root)
    if layout == "ut-interaction":
        return read_ut_interaction(root)
    if layout == "ucf101":
        return read_ucf101(
            root / "UCF-101" if (root / "UCF-101").is_dir() else root, Path(labels or root / "ucfTrainTestlist"), split
        )
    if layout == "jhmdb":
        return read_jhmdb_videos(root, split)
    if layout == "generic":
        if labels is None:
            raise ValueError("the generic layout needs --labels CSV (clip,label[,split])")
        return read_generic(root, labels)
    if layout == "videos":  # unlabelled videos, e.g. for live prediction or a pipeline check
        files = sorted(p for p in root.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        if not files:
            raise ValueError(f"{root}: no videos ({', '.join(VIDEO_SUFFIXES)})")
        return ["unlabelled"], [VideoEntry(p, safe_clip_id(p.stem), 0, "all") for p in files]
    raise ValueError(f"unknown layout {layout!r}: ut-interaction, ucf101, jhmdb, generic or videos")


def _check_config(cfg: ExtractConfig) -> None:
    """Bad settings fail here, in the calling process, before any worker starts."""
    from earlyact.backbones import BACKBONES

    if cfg.backbone and cfg.backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {cfg.backbone!r}; known: {sorted(BACKBONES)}")
    if cfg.runtime not in ("onnxruntime", "torch"):
        raise ValueError(f"extract.runtime must be 'onnxruntime' or 'torch', not {cfg.runtime!r}")


def _init_worker(cfg: ExtractConfig, threads: int) -> None:
    from earlyact.backbones import BACKBONES, OnnxBackbone

    torch.set_num_threads(threads)
    backbone = BACKBONES[cfg.backbone]() if cfg.backbone else None
    if backbone is not None and cfg.runtime == "onnxruntime":
        backbone = OnnxBackbone(backbone, threads)
    _STATE["backbone"] = backbone
    _STATE["cfg"] = cfg


def extract_clip(entry: VideoEntry, out: Path) -> str:
    """Decode one video, estimate poses and context features, save the clip; returns its id."""
    from earlyact.pose import estimate_video
    from earlyact.video import read_video

    cfg: ExtractConfig = _STATE["cfg"]
    clock = [time.perf_counter()]  # each step's compute time is kept in the clip: a reused store still knows its cost
    video = read_video(entry.path, cfg.target_fps or None, cfg.allow_partial)
    clock.append(time.perf_counter())
    if entry.joints is not None:
        pose = _annotated_joints(entry.joints, len(video.frames))
    else:
        pose = estimate_video(video.frames, cfg.max_persons, False, cfg.detect_every, cfg.min_presence, cfg.mask_held)
    clock.append(time.perf_counter())
    backbone = _STATE["backbone"]
    context = backbone.features(video.frames, cfg.batch_size) if backbone is not None else None
    clock.append(time.perf_counter())
    seconds = {step: round(b - a, 3) for step, a, b in zip(STEPS, clock[:-1], clock[1:], strict=True)}
    meta = {"complete": video.complete, "source_fps": video.source_fps, "group": entry.group, "seconds": seconds}
    clip = Clip(
        entry.clip_id, entry.label, pose=pose, context=context, fps=video.fps, source=str(entry.path), meta=meta
    )
    save_clip(clip, out)
    return entry.clip_id


def _annotated_joints(path: Path, frames: int) -> np.ndarray:
    """(T, 1, 15, 2) JHMDB joints in video pixels (``pos_img``), one per decoded frame."""
    from earlyact.jhmdb import read_joint_positions

    joints = read_joint_positions(path, "pos_img").astype(np.float32)[:, None]
    if len(joints) != frames:
        raise ValueError(f"{path}: {len(joints)} frames of joints for a video of {frames} decoded frames")
    return joints


def extract_dataset(
    root: str | Path, layout: str, out: str | Path, cfg: ExtractConfig, labels: str | Path | None = None, split: int = 1
) -> Path:
    """Extract every video of a dataset folder into ``out`` (resumable); returns ``out``."""
    out = Path(out)
    _check_config(cfg)
    classes, entries = list_videos(root, layout, labels, split)
    todo = [e for e in entries if not (out / "clips" / e.clip_id / "meta.json").exists()]
    bar = tqdm(total=len(entries), initial=len(entries) - len(todo), desc="extract", unit="clip")
    if cfg.workers <= 1:
        _init_worker(cfg, torch.get_num_threads())
        for e in todo:
            extract_clip(e, out)
            bar.update()
    else:
        threads = max(1, (os.cpu_count() or 1) // cfg.workers)
        spawn = multiprocessing.get_context("spawn")  # forking a process that already runs MediaPipe/torch crashes
        with ProcessPoolExecutor(cfg.workers, spawn, initializer=_init_worker, initargs=(cfg, threads)) as pool:
            for _ in pool.map(extract_clip, todo, [out] * len(todo)):
                bar.update()
    bar.close()
    annotated = {"layout": "jhmdb15", "channels": ["x", "y"], "source": "JHMDB joint_positions (pos_img)"}
    estimated = {"layout": "coco18", "channels": ["x", "y", "confidence"], "estimator": "blazepose-full-multiperson"}
    streams = {
        "pose": annotated if entries and entries[0].joints is not None else estimated,
        **({"context": {"backbone": cfg.backbone}} if cfg.backbone else {}),
        "extract": asdict(cfg),
    }
    write_index(to_index(classes, entries, Path(root).name, streams), out)
    return out


def extraction_summary(index: DatasetIndex, clips: list[Clip]) -> dict[str, Any]:
    """What an extracted store cost and what its poses hold: frames, each step's compute time summed
    over clips (None when a clip predates the record), frames per second of compute, and per class the
    share (%) of frames with at least one and with all ``max_persons`` persons found
    (``skeleton.persons_found``), the UT-Interaction issue's pose sanity check."""
    from earlyact.skeleton import get_layout, persons_found

    extract_cfg = index.streams.get("extract", {})
    persons = int(extract_cfg.get("max_persons", 1))
    layout = get_layout(index.streams.get("pose", {}).get("layout", "coco18"))
    timed = all("seconds" in c.meta for c in clips)
    seconds = {k: round(sum(c.meta["seconds"][k] for c in clips), 1) for k in STEPS} if timed else None
    frames = sum(c.num_frames for c in clips)
    per_class = {}
    for label, name in enumerate(index.classes):
        found = [persons_found(c.pose, layout) for c in clips if c.label == label and c.pose is not None]
        per_class[name] = found_shares(found, persons)
    per_second = round(frames / sum(seconds.values()), 1) if seconds and sum(seconds.values()) > 0 else None
    return {"frames": frames, "clips": len(clips), "max_persons": persons, "seconds": seconds,
            "frames_per_compute_s": per_second, "persons_per_class": per_class, "extract": extract_cfg,
            "pose": index.streams.get("pose", {})}  # fmt: skip


def found_shares(found: list[np.ndarray], persons: int) -> dict[str, Any]:
    """Clips, frames and the share (%) of frames with at least one and with all ``persons`` persons
    found, from each clip's (T,) counts (``skeleton.persons_found``); None without frames."""
    n = np.concatenate(found) if found else np.zeros(0, dtype=int)
    one, every = (round(100 * float((n >= k).mean()), 1) if len(n) else None for k in (1, persons))
    return {"clips": len(found), "frames": len(n), "one": one, "all": every}
