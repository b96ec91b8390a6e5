"""The early-prediction protocol: accuracy at observation ratios, and the results files.

For a ratio r in (0, 1] and a clip of T frames the model observes the first ceil(r * T) frames
and predicts at the last observed one. Because students are causal (tested), their output at
frame n - 1 of a whole-clip pass *is* the prediction after observing n frames, so one pass per
clip serves every ratio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from earlyact.storage import atomic_write_json, atomic_write_text


def observed_frames(num_frames: int, ratio: float) -> int:
    """ceil(ratio * T), robust to float error (0.3 * 10 is 3.0000000000000004), at least 1."""
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"observation ratio {ratio} is not in (0, 1]")
    return max(1, math.ceil(round(ratio * num_frames, 6)))


def ratio_frames(x: torch.Tensor, lengths: torch.Tensor, ratios: Sequence[float]) -> torch.Tensor:
    """x (B, T, K) of a causal pass -> (R, B, K): each ratio's last observed frame of every clip."""
    last = torch.tensor([[observed_frames(int(n), r) - 1 for n in lengths] for r in ratios])  # (R, B)
    return x[torch.arange(len(lengths))[None, :], last.to(x.device)]


def ratio_predictions(logits: torch.Tensor, lengths: torch.Tensor, ratios: Sequence[float]) -> np.ndarray:
    """logits (B, T, K) of a causal pass -> predicted class (R, B) at each ratio's last observed frame."""
    return ratio_frames(logits, lengths, ratios).argmax(-1).cpu().numpy()


def ratio_accuracy(
    logits: torch.Tensor, labels: torch.Tensor, lengths: torch.Tensor, ratios: Sequence[float]
) -> list[float]:
    """Fraction correct (0-1) at each ratio."""
    preds = ratio_predictions(logits, lengths, ratios)
    return (preds == labels.cpu().numpy()[None, :]).mean(1).tolist()


def confusion_matrix(preds: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) counts, rows = true class, columns = predicted class."""
    m = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(m, (labels, preds), 1)
    return m


def summarize(
    per_seed: dict[str, list[list[float]]],
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per method, mean and standard deviation over seeds of accuracy lists (percent)."""
    mean = {m: np.mean(v, axis=0).round(2).tolist() for m, v in per_seed.items()}
    std = {m: np.std(v, axis=0).round(2).tolist() for m, v in per_seed.items()}
    return mean, std


def results_dict(
    ratios: Sequence[float], per_seed: dict[str, list[list[float]]], n_clips: int,
    classes: Sequence[str], streams: Sequence[str], seeds: Sequence[int], extra: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The ``results.json`` schema: accuracies in percent, mean over seeds, plus per seed and std."""
    mean, std = summarize(per_seed)
    return {
        "ratios": list(ratios),
        "accuracy": mean,
        "accuracy_std": std,
        "accuracy_per_seed": per_seed,
        "mean_over_ratios": {m: round(float(np.mean(v)), 2) for m, v in mean.items()},
        "n_clips": n_clips,
        "classes": list(classes),
        "streams": list(streams),
        "seeds": list(seeds),
        **(extra or {}),
    }


def markdown_table(results: dict[str, Any]) -> str:
    """Accuracy (%) per method and ratio, mean ± std over seeds when there are several."""
    ratios = results["ratios"]
    several = len(results["seeds"]) > 1
    head = "| method | " + " | ".join(f"{r:g}" for r in ratios) + " | mean |\n"
    head += "|---" * (len(ratios) + 2) + "|\n"
    rows = []
    for m, acc in results["accuracy"].items():
        std = results["accuracy_std"][m]
        cells = [f"{a:.1f} ± {s:.1f}" if several else f"{a:.1f}" for a, s in zip(acc, std, strict=True)]
        rows.append(f"| {m} | " + " | ".join(cells) + f" | {results['mean_over_ratios'][m]:.1f} |")
    return head + "\n".join(rows) + "\n"


def write_results(
    results: dict[str, Any], out_dir: str | Path, confusions: dict[float, np.ndarray] | None = None
) -> dict[str, Path]:
    """results.json, results.md, accuracy.png and (given confusion matrices) confusion.png."""
    from earlyact.plots import plot_accuracy, plot_confusions

    out = Path(out_dir)
    paths = {"json": atomic_write_json(out / "results.json", results)}
    md = f"Streams: {', '.join(results['streams'])}; clips: {results['n_clips']}; seeds: {results['seeds']}\n\n"
    paths["md"] = atomic_write_text(out / "results.md", md + markdown_table(results))
    paths["plot"] = plot_accuracy(results, out / "accuracy.png")
    if confusions:
        paths["confusion"] = plot_confusions(confusions, results["classes"], out / "confusion.png")
    return paths


def write_report(results: dict[str, Any], out_dir: str | Path, report: str | Path, title: str, intro: str) -> Path:
    """A Markdown report (docs/results/...): title, intro, the table and the figures copied beside it."""
    from earlyact.storage import atomic_write_bytes

    report, out = Path(report), Path(out_dir)
    figures = []
    for name, caption in (("accuracy", "accuracy against observation ratio"), ("confusion", "confusion matrices")):
        src = out / f"{name}.png"
        if src.exists():
            atomic_write_bytes(report.parent / f"{report.stem}_{name}.png", src.read_bytes())
            figures.append(f"![{caption}]({report.stem}_{name}.png)")
    confusion = (
        f"Confusion matrices of `{results.get('confusion_method', '')}` at r = 0.2, 0.5, 1.0 (summed over "
        f"{'folds and seeds' if 'folds' in results else 'seeds'})."
    )
    body = [f"# {title}", intro.strip(), markdown_table(results).strip(), figures[0] if figures else ""]
    if len(figures) > 1:
        body += [confusion, figures[1]]
    return atomic_write_text(report, "\n\n".join(b for b in body if b) + "\n")
