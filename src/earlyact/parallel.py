"""Independent training units (seeds, UT-Interaction folds) run side by side in worker processes.

Why: the networks here are small, and their torch threads spend more time synchronising than
computing; on 2 CPU cores two processes at one thread each train about twice as many seeds per hour
as one process at two threads (``python benchmarks/thread_speed.py``). The arithmetic, and so the
weights, depend on the torch thread count but not on how many units run at once: with ``threads``
fixed, a run gives the same predictions one unit after another or side by side (tested), and on a
machine with more cores too, where torch's default thread count would change them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any

import torch
from tqdm.auto import tqdm


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block at ``threads`` torch threads (0: torch's own setting), then restore the setting."""
    if threads <= 0:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block (what processes spawned in it inherit), then restore them."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _init_worker(threads: int) -> None:
    if threads > 0:
        torch.set_num_threads(threads)


def run_units(
    fn: Callable[..., Any], units: Sequence[tuple], workers: int = 1, threads: int = 0, desc: str = "units"
) -> list[Any]:
    """``[fn(*unit) for unit in units]``, in order, each at ``threads`` torch threads (0: torch's default).

    With ``workers`` > 1 the units run in that many spawned processes (``fn`` and the units must pickle;
    forking a process that already ran torch is unsafe). There the phases' own progress bars are
    silenced (they would overwrite each other) and a bar here counts finished units. A unit that fails
    cancels those not yet started and its error is raised here; each unit's folder is resumable, so a
    rerun continues where every unit stopped."""
    if workers <= 1 or len(units) <= 1:
        with torch_threads(threads):
            return [fn(*unit) for unit in units]
    spawn = multiprocessing.get_context("spawn")
    with (
        _environment(TQDM_DISABLE="1"),
        ProcessPoolExecutor(min(workers, len(units)), spawn, initializer=_init_worker, initargs=(threads,)) as pool,
    ):
        futures = [pool.submit(fn, *unit) for unit in units]
        _wait(pool, futures, desc)
    return [f.result() for f in futures]


def _wait(pool: ProcessPoolExecutor, futures: list[Future], desc: str) -> None:
    """Show the finished units; on the first failure cancel what has not started and raise it."""
    for done in tqdm(as_completed(futures), total=len(futures), desc=desc, unit="unit"):
        if done.exception() is not None:
            pool.shutdown(wait=False, cancel_futures=True)
            raise done.exception()
