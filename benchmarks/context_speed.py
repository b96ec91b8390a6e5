"""Frames per second of decoding alone and of decoding + context features, side by side.

    python benchmarks/context_speed.py [--videos ../shared/data/ut_interaction/segmented_set1] [--clips 6]

Prints one table: for each backbone, frames/s of decode + features with the network run by torch
and by ONNX Runtime (``backbones.OnnxBackbone``), next to decode alone, on the same clips, with
both limited to the given number of threads (2 = this project's CPU budget).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from earlyact.backbones import BACKBONES, OnnxBackbone
from earlyact.video import read_video


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=Path, default=Path("../shared/data/ut_interaction/segmented_set1"))
    ap.add_argument("--clips", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backbones", nargs="+", default=["efficientnet-lite0"])
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    files = sorted(p for p in args.videos.iterdir() if p.suffix in (".avi", ".mp4"))[: args.clips]
    start = time.perf_counter()
    videos = [read_video(f) for f in files]
    decode = time.perf_counter() - start
    n = sum(len(v.frames) for v in videos)
    rows = [("decode only", decode)]
    for name in args.backbones:
        backbone = BACKBONES[name]()
        for runtime, net in (("torch", backbone), ("onnxruntime", OnnxBackbone(backbone, args.threads))):
            net.features(videos[0].frames[:2])  # warm-up
            start = time.perf_counter()
            for v in videos:
                net.features(v.frames, args.batch_size)
            rows.append((f"decode + {name} ({runtime})", decode + time.perf_counter() - start))
    print(f"{len(files)} clips from {args.videos}, {n} frames, torch {torch.__version__}, {args.threads} threads\n")
    print_speed_table(rows, n)


def print_speed_table(rows: list[tuple[str, float]], frames: int) -> None:
    """One Markdown row per pipeline: seconds and frames/s over the same ``frames``."""
    print("| pipeline | seconds | frames/s |")
    print("|---|---|---|")
    for label, sec in rows:
        print(f"| {label} | {sec:.1f} | {frames / sec:.1f} |")


if __name__ == "__main__":
    main()
