"""The `earlyact` command. It only parses arguments and calls one function per subcommand."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from earlyact.config import ExperimentConfig, load_config


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="YAML file with config overrides (see configs/)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="dotted override, e.g. --set train.lr=1e-3 --set seeds=[0,1] (repeatable)",
    )  # fmt: skip


def _cfg(args: argparse.Namespace) -> ExperimentConfig:
    return load_config(args.config, args.overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="earlyact", description="Real-time early action prediction.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="generate the synthetic dataset, train and compare all methods")
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (resumable)")
    p.add_argument("--report", type=Path, help="also write a Markdown report here (e.g. docs/results/demo.md)")
    _config_args(p)

    p = sub.add_parser("compare", help="train and evaluate several methods on a dataset folder")
    p.add_argument("dataset", type=Path, help="dataset folder (index.json + clips/)")
    p.add_argument("--out", type=Path, required=True, help="output folder (resumable)")
    p.add_argument("--methods", nargs="+", help="methods (default: config's methods)")
    p.add_argument("--seeds", nargs="+", type=int, help="seeds (default: config's seeds)")
    _config_args(p)

    p = sub.add_parser("train", help="train one method on a dataset's train split")
    p.add_argument("dataset", type=Path, help="dataset folder (index.json + clips/)")
    p.add_argument("--method", default="kd-ms-lstm", help="lstm-ce, ms-lstm, kd-ms-lstm or teacher")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="run folder (resumable)")
    _config_args(p)

    p = sub.add_parser("evaluate", help="accuracy of a checkpoint at each observation ratio")
    p.add_argument("checkpoint", type=Path, help="checkpoint folder written by train/compare/demo")
    p.add_argument("dataset", type=Path, help="dataset folder (index.json + clips/)")
    p.add_argument("--split", default="test")
    p.add_argument("--out", type=Path, required=True, help="folder for results.json/.md and plots")
    p.add_argument("--ratios", nargs="+", type=float, default=[round(0.1 * i, 1) for i in range(1, 11)])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"earlyact {args.command}: error: {e}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from earlyact.demo import run_demo

        run_demo(_cfg(args), args.out, args.report)
    elif args.command == "compare":
        from earlyact.evaluate import markdown_table
        from earlyact.experiment import compare_on_dataset

        overrides = list(args.overrides)
        if args.methods:
            overrides.append(f"methods=[{','.join(args.methods)}]")
        if args.seeds:
            overrides.append(f"seeds=[{','.join(map(str, args.seeds))}]")
        results = compare_on_dataset(args.dataset, load_config(args.config, overrides), args.out)
        print(markdown_table(results))
        print(f"results: {args.out / 'results.json'}; plot: {args.out / 'accuracy.png'}")
    elif args.command == "train":
        from earlyact.experiment import train_on_dataset

        path = train_on_dataset(args.dataset, args.method, args.seed, _cfg(args), args.out)
        print(f"checkpoint: {path}")
    elif args.command == "evaluate":
        from earlyact.evaluate import markdown_table
        from earlyact.experiment import evaluate_on_dataset

        results = evaluate_on_dataset(args.checkpoint, args.dataset, args.split, args.ratios, args.out)
        print(markdown_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
