"""Per-frame latency of online prediction: one frame through the two student stages.

Compares, side by side in one run, the predictor's ``step`` (hand-written LSTM cell on the
students' weights, what live prediction uses) with calling the students' ``nn.LSTM`` modules on
a one-frame sequence while carrying their (h, c) state, at the paper's sizes, and the window net
(``context_nets.WindowNet``, the JHMDB context stream) on one frame's window. Prints a table of
median and 95th-percentile milliseconds per frame.

    python benchmarks/step_latency.py [--frames 300] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from earlyact.config import ContextNetConfig, FeatureConfig, ModelConfig
from earlyact.context_nets import WindowNet
from earlyact.features import prefix_windows, window_dims
from earlyact.models import Predictor
from earlyact.skeleton import JHMDB15


def _time(fn, frames: int) -> np.ndarray:
    out = []
    for _ in range(frames):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return np.array(out[10:])  # drop warm-up


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--context-dim", type=int, default=4096, help="paper: VGG-16 fc7")
    ap.add_argument("--action-dim", type=int, default=256)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Predictor(args.context_dim, args.action_dim, 21, ModelConfig(), teachers=False).eval()
    ctx, act = torch.randn(1, args.context_dim), torch.randn(1, args.action_dim)
    state = model.init_state(1)

    def step() -> None:
        nonlocal state
        _, state = model.step(ctx, act, state)

    lstm_state = [None, None]

    @torch.no_grad()
    def nn_lstm() -> None:
        x = model._stage_inputs(ctx[:, None], act[:, None])
        h, lstm_state[0] = model.students[0].lstm(x, lstm_state[0])
        x2 = model._second_input(h, act[:, None])
        h2, lstm_state[1] = model.students[1].lstm(x2, lstm_state[1])
        model.students[1].head(h2)

    win = ContextNetConfig(channels=64, window=32)
    window_net = WindowNet(*window_dims(1, JHMDB15, win), 21, win).eval()
    pose = np.random.default_rng(0).normal(size=(64, 1, 15, 2))

    @torch.inference_mode()
    def window() -> None:  # the newest frame's window of the last 64 frames, then the network
        rows = np.array([len(pose) - 1])
        x = prefix_windows(pose, JHMDB15, FeatureConfig(), win, rows)  # (1, L, D)
        window_net(torch.from_numpy(x)[None])

    rows = {
        "Predictor.step (LSTM cell)": _time(step, args.frames),
        "nn.LSTM, one-frame sequence": _time(nn_lstm, args.frames),
        "window net (JHMDB-15, 32-frame window, 64 channels)": _time(window, args.frames),
    }
    print(
        f"torch {torch.__version__}, {args.threads} threads, context {args.context_dim}-d, action {args.action_dim}-d\n"
    )
    print("| path | median ms/frame | p95 ms/frame | frames/s (median) |")
    print("|---|---|---|---|")
    for name, ms in rows.items():
        print(f"| {name} | {np.median(ms):.2f} | {np.percentile(ms, 95):.2f} | {1000 / np.median(ms):.0f} |")


if __name__ == "__main__":
    main()
