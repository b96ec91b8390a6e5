"""`earlyact demo`: the whole method on the embedded synthetic dataset, no download needed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from earlyact.config import ExperimentConfig, load_config
from earlyact.data import load_dataset, read_index, save_dataset
from earlyact.evaluate import markdown_table, write_report
from earlyact.experiment import run_experiment
from earlyact.synthetic import make_dataset

DEMO_OVERRIDES = [
    "model.hidden1=64",
    "model.hidden2=64",
    "action_net.hidden=64",
    "action_train.epochs=30",
    "train.epochs=40",
    "seeds=[0,1]",
]  # smaller than the paper's sizes so that the demo runs in about 3 minutes on 2 CPU cores


def demo_config(path: str | Path | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """The demo's config: defaults, then DEMO_OVERRIDES, then the user's file and overrides."""
    return load_config(path, [*DEMO_OVERRIDES, *(overrides or [])])


def ensure_demo_data(root: str | Path, cfg: ExperimentConfig) -> Path:
    """Generate the synthetic dataset into ``root`` unless a complete one is already there."""
    root = Path(root)
    if not (root / "index.json").exists():  # the index is written last: its presence means complete
        index, clips = make_dataset(cfg.demo)
        save_dataset(index, clips, root)
    read_index(root)
    return root


def run_demo(
    cfg: ExperimentConfig, out_dir: str | Path, report: str | Path | None = None, command: str = "earlyact demo"
) -> dict[str, Any]:
    """Generate (or reuse) the demo data, train and evaluate every method, print the table;
    with ``report``, also write a Markdown report (and its figures beside it)."""
    out = Path(out_dir)
    start = time.perf_counter()
    data = ensure_demo_data(out / "data", cfg)
    index, train = load_dataset(data, "train")
    _, test = load_dataset(data, "test")
    results = run_experiment(index, train, test, cfg, out)
    print(markdown_table(results))
    print(f"streams: {', '.join(results['streams'])}; {len(train)} training and {len(test)} test clips")
    print(f"plot: {out / 'accuracy.png'}\nconfusion matrices: {out / 'confusion.png'}")
    wall = time.perf_counter() - start
    print(f"wall time: {wall:.0f} s")
    if report is not None:
        _write_demo_report(results, out, Path(report), wall, command)
        print(f"report: {report}")
    return results


def _write_demo_report(results: dict[str, Any], out: Path, report: Path, wall: float, command: str) -> None:
    intro = f"""Produced by `{command}` (wall time {wall:.0f} s on this machine, including data generation).

Data: {results["n_clips"]} test clips of the embedded synthetic dataset (COCO-18 skeletons of two
people; classes {", ".join(results["classes"])}). Streams read by the models:
{", ".join(results["streams"])} (context = the skeleton descriptor of `features.skeleton_context`,
action = the action network's LSTM state). Seeds: {results["seeds"]}; accuracy in %, mean ± std
over seeds. `teacher` sees the whole clip: an offline upper bound, not an online method."""
    write_report(results, out, report, "Demo results: synthetic two-person interactions", intro)
