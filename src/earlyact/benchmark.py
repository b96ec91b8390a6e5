"""`earlyact benchmark`: reproducible early-prediction benchmarks on real datasets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from earlyact.config import ExperimentConfig, load_config
from earlyact.data import Clip, DatasetIndex
from earlyact.evaluate import markdown_table, write_report
from earlyact.experiment import run_experiment
from earlyact.storage import atomic_write_json, atomic_write_text

JHMDB_DEFAULTS = [
    "features.layout=jhmdb15",
]  # dotted overrides applied before the user's own: the benchmark's tuned settings


def jhmdb_config(path: str | Path | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """The JHMDB benchmark's config: defaults, JHMDB_DEFAULTS, then the user's file and overrides."""
    cfg = load_config(path, [*JHMDB_DEFAULTS, *(overrides or [])])
    return cfg


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
    extra = {"train_file": str(train_path), "test_file": str(test_path), "command": command}
    results = _run(index, clips, cfg, out_dir, extra)
    if report is not None:
        compute = sum(results["compute_seconds"].values())
        intro = f"""Produced by `{command}`: {compute:.0f} s of compute on this machine (2 CPU cores), summed
over seeds {results["seeds"]} and over interrupted and resumed parts of the run.

Data: JHMDB ground-truth 2D joints (`pos_world`, 15 joints, one person), {len(index.classes)} classes,
training file `{train_path}`, test file `{test_path}` ({results["n_clips"]} test clips). Streams read
by the models: {", ".join(results["streams"])} (context = the skeleton descriptor of
`features.skeleton_context`, action = the action network's LSTM state; no RGB). Accuracy in %, mean ±
std over seeds; `teacher` sees the whole clip (offline upper bound)."""
        write_report(results, out_dir, report, "JHMDB early action prediction", intro)
    return results


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
