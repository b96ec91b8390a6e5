"""Checkpoints without pickle: weights in safetensors, everything else in JSON/YAML.

A checkpoint folder holds ``model.safetensors`` (the predictor's weights and those of the
networks behind its streams: action network, context network, early window net), ``checkpoint.json``
(class names, method, the streams it reads and how each is computed, model dimensions, configs) and
``config.yaml`` (the resolved experiment config). Folders are written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from earlyact.config import ActionNetConfig, ContextNetConfig, FeatureConfig, ModelConfig, from_dict
from earlyact.context_nets import ContextNet, make_window_net
from earlyact.methods import get_method
from earlyact.models import ActionNet, Predictor, StreamNets
from earlyact.storage import atomic_dir, atomic_write_with, read_json

FORMAT_VERSION = 1


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Atomically write a flat dict of tensors as safetensors (with string ``metadata`` in its header)."""
    flat = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write_with(path, lambda tmp: save_file(flat, tmp, metadata=metadata))


def load_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a safetensors file's header (``save_tensors(..., metadata=)``)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such weights file") from None
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise ValueError(f"{path}: not a readable safetensors file ({e})") from None


def load_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such weights file") from None
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise ValueError(f"{path}: not a readable safetensors file ({e})") from None


def optimizer_to_tensors(
    opt: torch.optim.Optimizer,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer's state into tensors (for safetensors) and JSON-able metadata."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{pid}.{k}"] = v
            else:
                scalars[f"{pid}.{k}"] = v
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def optimizer_from_tensors(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, v in [*tensors.items(), *meta["scalars"].items()]:
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    groups = meta["param_groups"]
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    opt.load_state_dict({"state": state, "param_groups": groups})


@dataclass
class Bundle:
    """A loaded checkpoint: the predictor, the networks behind its streams, and what they need."""

    predictor: Predictor
    nets: StreamNets
    info: dict[str, Any]  # checkpoint.json
    twin: Bundle | None = None  # ``speed_twin``: the twin that predicts while few frames are seen (``twin/``)

    @property
    def action_net(self) -> ActionNet | None:
        return self.nets.action

    @property
    def classes(self) -> list[str]:
        return self.info["classes"]

    @property
    def features(self) -> FeatureConfig:
        return from_dict(FeatureConfig, self.info["features"])


def save_checkpoint(
    folder: str | Path,
    predictor: Predictor,
    nets: StreamNets,
    info: dict[str, Any],
    config_yaml: str,
) -> Path:
    """Write a self-contained checkpoint folder (atomically). ``info`` must be JSON-able."""
    tensors = {f"predictor.{k}": v for k, v in predictor.state_dict().items()}
    for prefix, net in (("action_net", nets.action), ("context_net", nets.context), ("early_net", nets.early)):
        if net is not None:
            tensors.update({f"{prefix}.{k}": v for k, v in net.state_dict().items()})
    with atomic_dir(folder) as tmp:
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
            str(tmp / "model.safetensors"),
        )
        (tmp / "checkpoint.json").write_text(json.dumps({"format": FORMAT_VERSION, **info}, indent=2))
        (tmp / "config.yaml").write_text(config_yaml)
    return Path(folder)


def load_checkpoint(folder: str | Path) -> Bundle:
    """Rebuild the predictor (and action network) of a checkpoint folder, in eval mode."""
    folder = Path(folder)
    info = read_json(folder / "checkpoint.json", f"is {folder} a checkpoint folder?")
    tensors = load_tensors(folder / "model.safetensors")
    method = get_method(info["method"])
    dims = info["dims"]
    predictor = Predictor(
        dims["context"], dims["action"], len(info["classes"]),
        from_dict(ModelConfig, info["model"]), two_stage=method.two_stage, teachers=method.teachers,
    )  # fmt: skip
    predictor.load_state_dict(_strip(tensors, "predictor."))
    nets = StreamNets()
    if dims["action"] > 0:
        a = info["action_net"]
        acfg = from_dict(ActionNetConfig, a["config"])
        nets.action = ActionNet(a["num_joints"], a["in_channels"], a["num_classes"], acfg)
        nets.action.load_state_dict(_strip(tensors, "action_net."))
        nets.action.eval()
    if info.get("context_net"):
        c = info["context_net"]
        ccfg = from_dict(ContextNetConfig, c["config"])
        if ccfg.window > 0:
            nets.context = make_window_net(c["dist_dim"], c["motion_dim"], c["num_classes"], ccfg)
        else:
            nets.context = ContextNet(c["input_dim"], c["num_classes"], ccfg)
        nets.context.load_state_dict(_strip(tensors, "context_net."))
        nets.context.eval()
    if info.get("early_net"):  # model.early_frames: the early window net (one member)
        e = info["early_net"]
        ecfg = from_dict(ContextNetConfig, e["config"])
        nets.early = make_window_net(e["dist_dim"], e["motion_dim"], e["num_classes"], ecfg)
        nets.early.load_state_dict(_strip(tensors, "early_net."))
        nets.early.eval()
    predictor.eval()
    twin = load_checkpoint(folder / "twin") if (folder / "twin").is_dir() else None  # earlyact.twin
    return Bundle(predictor, nets, info, twin)


def _strip(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
