"""Frames per second of the whole extraction (decode -> pose -> context features -> clip files)
next to decoding alone, on the same UT-Interaction clips, for 1 and 2 worker processes.

    python benchmarks/extract_speed.py [--root ../shared/data/ut_interaction/segmented_set1] [--clips 6]

Runs ``earlyact.extract.extract_dataset`` (the code ``earlyact extract`` runs) into a temporary
folder, so the numbers include pose estimation, the default backbone and writing the clips.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from context_speed import print_speed_table  # benchmarks/ is on sys.path when run as a script

from earlyact.config import ExtractConfig
from earlyact.datasets import read_ut_interaction
from earlyact.extract import extract_dataset
from earlyact.video import read_video


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path("../shared/data/ut_interaction/segmented_set1"))
    ap.add_argument("--clips", type=int, default=6, help="the first clip of each class when 6")
    ap.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--detect-every", type=int, default=ExtractConfig.detect_every)
    args = ap.parse_args()
    _, entries = read_ut_interaction(args.root)
    chosen = [next(e for e in entries if e.label == k) for k in range(6)][: args.clips]
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "set"
        subset.mkdir()
        for e in chosen:
            shutil.copy(e.path, subset / e.path.name)
        start = time.perf_counter()
        n = sum(len(read_video(e.path).frames) for e in chosen)
        rows = [("decode only", time.perf_counter() - start)]
        for w in args.workers:
            cfg = ExtractConfig(workers=w, detect_every=args.detect_every)
            start = time.perf_counter()
            extract_dataset(subset, "ut-interaction", Path(tmp) / f"out{w}", cfg)
            rows.append((f"extract, {w} worker(s): decode + pose + {cfg.backbone}", time.perf_counter() - start))
    print(f"{len(chosen)} clips of {args.root}, {n} frames, detect_every {args.detect_every}\n")
    print_speed_table(rows, n)


if __name__ == "__main__":
    main()
