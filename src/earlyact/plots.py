"""Figures: accuracy against observation ratio (like the paper's Figs. 4-6) and confusion matrices."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from earlyact.storage import atomic_write_with  # noqa: E402


def plot_accuracy(results: dict[str, Any], path: str | Path) -> Path:
    """One line per method (mean over seeds, shaded ± std when there are several seeds)."""
    ratios = np.array(results["ratios"])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method, acc in results["accuracy"].items():
        acc = np.array(acc)
        style = "--" if method == "teacher" else "-"
        ax.plot(ratios, acc, style, marker="o", ms=4, label=method)
        std = np.array(results.get("accuracy_std", {}).get(method, np.zeros_like(acc)))
        if std.any():
            ax.fill_between(ratios, acc - std, acc + std, alpha=0.15)
    ax.set_xlabel("observation ratio")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(ratios)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.set_title(
        f"Early prediction ({results['n_clips']} test clips; streams: {', '.join(results['streams'])})",
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def plot_confusions(confusions: dict[float, np.ndarray], classes: Sequence[str], path: str | Path) -> Path:
    """Row-normalised confusion matrices side by side, one per observation ratio."""
    fig, axes = plt.subplots(1, len(confusions), figsize=(4.2 * len(confusions), 4.4), squeeze=False)
    for ax, (ratio, m) in zip(axes[0], sorted(confusions.items()), strict=True):
        norm = m / np.maximum(m.sum(1, keepdims=True), 1)
        ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        ax.set_title(f"r = {ratio:g}", fontsize=10)
        ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set_xlabel("predicted")
        for (i, j), v in np.ndenumerate(m):
            if v:
                ax.text(
                    j,
                    i,
                    str(v),
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
    axes[0][0].set_ylabel("true")
    return _save(fig, path)


def _save(fig: plt.Figure, path: str | Path) -> Path:
    fig.tight_layout()
    path = atomic_write_with(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)
    return path
