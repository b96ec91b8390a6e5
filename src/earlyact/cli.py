"""The `earlyact` command. It only parses arguments and calls one function per subcommand."""

from __future__ import annotations

import argparse
import shlex
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

    p = sub.add_parser("extract", help="videos -> pose + context features -> a dataset folder (resumable)")
    p.add_argument("root", type=Path, help="dataset folder")
    p.add_argument("--layout", default="videos", help="ut-interaction, ucf101, jhmdb, generic or videos (unlabelled)")
    p.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    p.add_argument("--labels", type=Path, help="generic: CSV clip,label[,split]; ucf101: the split-list folder")
    p.add_argument("--split", type=int, default=1, help="ucf101 / jhmdb split (1-3)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="ExtractConfig field, e.g. --set workers=2 --set backbone=vgg16-fc7")  # fmt: skip

    _add_benchmark_parser(sub)
    return parser


def _add_benchmark_parser(sub: argparse._SubParsersAction) -> None:
    """``earlyact benchmark jhmdb|ut-interaction``: the reproducible benchmarks on real datasets."""
    p = sub.add_parser("benchmark", help="reproducible benchmarks on real datasets")
    bench = p.add_subparsers(dest="dataset", required=True)
    b = bench.add_parser(
        "jhmdb", help="JHMDB ground-truth joints: GT_train_k.pkl / GT_test_k.pkl, or the official tree, any split k"
    )
    b.add_argument("--train", type=Path, help="GT_train_<k>.pkl (with --test)")
    b.add_argument("--test", type=Path, help="GT_test_<k>.pkl")
    b.add_argument("--root", type=Path, help="or the official tree: ROOT/joint_positions/ and ROOT/splits/")
    b.add_argument("--split", type=int, help="with --root: the official split (1-3; default 1)")
    b.add_argument("--classes", nargs="+", help="with --root: only these classes (default: all the lists name)")
    b.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    b.add_argument("--out", type=Path, required=True, help="output folder (resumable)")
    b.add_argument("--report", type=Path, help="also write a Markdown report here (e.g. docs/results/jhmdb.md)")
    b.add_argument("--workers", type=int, default=3, help="seeds trained side by side (processes; results unchanged)")
    _config_args(b)
    u = bench.add_parser(
        "ut-interaction", help="UT-Interaction segmented set: extract, then 10-fold leave-one-sequence-out"
    )
    u.add_argument("--root", type=Path, required=True, help="a segmented set folder of <clip>_<seq>_<label>.avi")
    u.add_argument("--out", type=Path, required=True, help="output folder (resumable)")
    u.add_argument("--features", type=Path, help="feature folder to reuse or write (default OUT/features)")
    u.add_argument("--seeds", nargs="+", type=int, default=[0])
    u.add_argument("--workers", type=int, default=2, help="processes extracting clips, then training folds in parallel")
    u.add_argument("--report", type=Path, help="also write a Markdown report here (docs/results/ut-interaction.md)")
    _config_args(u)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command_line = "earlyact " + shlex.join(argv)  # recorded in reports and results
    try:
        return _dispatch(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"earlyact {args.command}: error: {e}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from earlyact.demo import demo_config, run_demo

        run_demo(demo_config(args.config, args.overrides), args.out, args.report, args.command_line)
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
    elif args.command == "extract":
        from earlyact.config import ExtractConfig, apply_overrides, from_dict, to_dict
        from earlyact.extract import extract_dataset

        cfg = from_dict(ExtractConfig, apply_overrides(to_dict(ExtractConfig()), args.overrides), "extract")
        out = extract_dataset(args.root, args.layout, args.out, cfg, args.labels, args.split)
        print(f"dataset: {out}")
    elif args.command == "benchmark":
        _benchmark(args)
    return 0


def _benchmark(args: argparse.Namespace) -> None:
    from earlyact import benchmark
    from earlyact.config import ExtractConfig

    seeds = f"seeds=[{','.join(map(str, args.seeds))}]"
    overrides = [f"workers={args.workers}", *args.overrides, seeds]
    if args.dataset == "jhmdb":
        cfg = benchmark.jhmdb_config(args.config, overrides)
        given = (args.root is not None, args.train is not None, args.test is not None)
        if given not in ((True, False, False), (False, True, True)):
            raise ValueError("give --train and --test (the pickles), or --root (the official tree)")
        if args.root is None and (args.split is not None or args.classes):
            raise ValueError("--split and --classes go with --root; the pickles hold one split's classes")
        if args.root is not None:
            split = 1 if args.split is None else args.split
            benchmark.benchmark_jhmdb_official(
                args.root, split, args.classes, cfg, args.out, args.command_line, args.report
            )
        else:
            benchmark.benchmark_jhmdb(args.train, args.test, cfg, args.out, args.command_line, args.report)
    else:
        cfg = benchmark.ut_config(args.config, overrides)
        extract = ExtractConfig(workers=args.workers)
        benchmark.benchmark_ut_interaction(
            args.root, cfg, args.out, extract, args.features, args.command_line, args.report
        )


if __name__ == "__main__":
    sys.exit(main())
