"""A training phase's resumable state: one atomic commit per epoch, and readable copies of it.

After every epoch ``commit`` writes ``resume.safetensors`` (the weights, the optimizer's state, the
running weight average and, in its header, the counters and history) by one atomic rename, so a
run killed at any instant, even between two of its files, resumes from one consistent epoch and
ends with the weights of a run that was never stopped. The readable files written after it
(``metrics.csv``, ``last.safetensors``, ``average.safetensors``: the averaged weights under the model's
names, ``state.json``) are copies; a kill
that leaves them behind the commit is repaired on the next ``resume``. ``best.safetensors`` is
written before the commit and only from an epoch whose rerun gives the same weights.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import torch

from earlyact.checkpoint import load_metadata, load_tensors, optimizer_to_tensors, save_tensors
from earlyact.storage import atomic_write_json, atomic_write_text

RESUME = "resume.safetensors"  # one file per phase, replaced atomically after every epoch: its commit
PARTS = ("model", "optimizer", "average")  # what the commit holds, as "<part>/<name>" tensors

Tensors = dict[str, torch.Tensor]


def _fresh_state(settings: dict) -> dict:
    """The counters of a phase before its first epoch."""
    return {"epoch": 0, "best_score": -float("inf"), "best_epoch": 0, "bad_epochs": 0, "done": False,
            "history": [], "settings": settings}  # fmt: skip


def resume(out: Path, settings: dict) -> tuple[dict, dict[str, Tensors] | None]:
    """The phase's state (with the optimizer's metadata under "optimizer") and its saved tensors by
    part: a fresh state and None when nothing was committed; the last commit (``resume.safetensors``),
    or in folders written before it existed ``state.json`` with ``last`` and ``optimizer.safetensors``
    (their tensors only while the phase is unfinished). A phase trained with other ``settings`` is
    refused (``check_settings``)."""
    if (out / RESUME).exists():
        state, saved = json.loads(load_metadata(out / RESUME)["state"]), None
        stale = _stale_views(out, state)
        if stale or not state["done"]:  # a finished phase with current copies needs only its kept weights
            saved = _split(load_tensors(out / RESUME))
        if stale:
            write_views(out, state, saved["model"], saved["average"] or None)
    elif (out / "state.json").exists():
        state = json.loads((out / "state.json").read_text())
        saved = None
        if not state["done"]:
            saved = {"model": load_tensors(out / "last.safetensors"), "average": {},
                     "optimizer": load_tensors(out / "optimizer.safetensors")}  # fmt: skip
    else:
        return _fresh_state(settings), None
    check_settings(out, state.setdefault("settings", settings), settings)  # older states: none saved
    return state, saved


def commit(out: Path, state: dict, weights: Tensors, opt: torch.optim.Optimizer, averaged: Tensors | None) -> None:
    """Commit an epoch: ``state``, ``weights``, ``opt``'s state and the running average in one file
    written atomically, then its readable copies (``write_views``)."""
    opt_tensors, opt_meta = optimizer_to_tensors(opt)
    committed = {**state, "optimizer": opt_meta}
    parts = {"model": weights, "optimizer": opt_tensors, "average": averaged or {}}
    tensors = {f"{part}/{k}": v for part, d in parts.items() for k, v in d.items()}
    save_tensors(out / RESUME, tensors, metadata={"state": json.dumps(committed)})
    write_views(out, committed, weights, averaged)


def write_views(out: Path, state: dict, weights: Tensors, averaged: Tensors | None) -> None:
    """The readable copies of a commit: the metrics log, the last (and averaged) weights, and
    ``state.json`` last, so a current ``state.json`` says every copy is current."""
    _write_csv(out / "metrics.csv", state["history"])
    save_tensors(out / "last.safetensors", weights)
    if averaged:
        save_tensors(out / "average.safetensors", _module_weights(averaged))
    atomic_write_json(out / "state.json", state)


def _module_weights(averaged: Tensors) -> Tensors:
    """The averaged model's weights under the model's own names (a ``torch.optim.swa_utils.AveragedModel``
    state less its count)."""
    return {k.removeprefix("module."): v for k, v in averaged.items() if k.startswith("module.")}


def check_settings(out: Path, saved: dict, now: dict) -> None:
    """Refuse to resume a phase whose saved settings differ from the current ones (naming them).

    A setting the saved state lacks was added to the code after the phase was trained, which ran
    with what is now its default: not compared (so older runs stay reusable)."""
    old, new = _flat(saved), _flat(now)
    changed = sorted(k for k in old if old[k] != new.get(k))
    if changed:
        detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed[:6])
        raise ValueError(
            f"{out}: this phase was trained with other settings ({detail}); "
            "use another output folder, or delete this one to retrain it"
        )


def _split(tensors: Tensors) -> dict[str, Tensors]:
    """A commit's tensors by part."""
    parts: dict[str, Tensors] = {p: {} for p in PARTS}
    for key, v in tensors.items():
        part, name = key.split("/", 1)
        parts[part][name] = v
    return parts


def _stale_views(out: Path, state: dict) -> bool:
    """Whether ``state.json`` (the last copy written) is missing or behind the committed epoch."""
    if not (out / "state.json").exists():
        return True
    return json.loads((out / "state.json").read_text()).get("epoch") != state["epoch"]


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _write_csv(path: Path, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, keys)
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())
