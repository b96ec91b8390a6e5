"""Why does distillation help the demo only from r = 0.3 on? Sweep alpha on the demo dataset.

Trains `kd-ms-lstm` students for several distillation weights alpha (both stages), reusing the
action networks and teachers of `earlyact demo --out runs/demo` (run that first), and prints a
table of test accuracy per observation ratio next to `lstm-ce` and `ms-lstm` from the same run.
A diagnostic, not a tuning step: the demo keeps its default alpha.

    python benchmarks/demo_alpha_sweep.py [--demo runs/demo] [--report docs/results/demo_alpha.md]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from earlyact.data import load_dataset
from earlyact.demo import demo_config
from earlyact.experiment import run_experiment
from earlyact.storage import atomic_write_text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", type=Path, default=Path("runs/demo"))
    ap.add_argument("--alphas", nargs="+", type=float, default=[0.0, 0.001, 0.003, 0.01, 0.03, 0.1])
    ap.add_argument("--report", type=Path, help="also write the table to this Markdown file")
    args = ap.parse_args()
    base = json.loads((args.demo / "results.json").read_text())
    index, train = load_dataset(args.demo / "data", "train")
    _, test = load_dataset(args.demo / "data", "test")
    rows = {m: base["accuracy"][m] for m in ("lstm-ce", "ms-lstm") if m in base["accuracy"]}
    for alpha in args.alphas:
        cfg = demo_config(None, ["methods=[kd-ms-lstm]", f"loss.alpha1={alpha}", f"loss.alpha2={alpha}"])
        out = args.demo.parent / f"{args.demo.name}_alpha" / f"{alpha:g}"
        for seed in cfg.seeds:  # the same action networks and teachers as the demo run
            for part in ("action_net", "teachers"):
                src, dst = args.demo / f"seed_{seed}" / part, out / f"seed_{seed}" / part
                if not dst.exists():
                    shutil.copytree(src, dst)
        rows[f"kd-ms-lstm α={alpha:g}"] = run_experiment(index, train, test, cfg, out)["accuracy"]["kd-ms-lstm"]
    ratios = base["ratios"]
    lines = [f"Test accuracy (%) on the demo, mean of seeds {base['seeds']}", ""]
    lines.append("| method | " + " | ".join(f"{r:g}" for r in ratios) + " | mean |")
    lines.append("|---" * (len(ratios) + 2) + "|")
    for name, acc in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{a:.1f}" for a in acc) + f" | {sum(acc) / len(acc):.1f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.report:
        cmd = "python benchmarks/demo_alpha_sweep.py " + " ".join(sys.argv[1:])
        text = f"# Demo: distillation weight sweep\n\nProduced by `{cmd.strip()}` after `earlyact demo`.\n\n{table}"
        atomic_write_text(args.report, text)


if __name__ == "__main__":
    main()
