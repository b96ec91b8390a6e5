"""Shared fixtures: tiny configs and datasets, and the real data in ../shared when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from earlyact.config import load_config

REPO = Path(__file__).resolve().parents[1]


def shared_root() -> Path:
    return Path(os.environ.get("EARLYACT_SHARED", REPO.parent / "shared")) / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (or $EARLYACT_SHARED/data); skipped when absent unless CI requires it."""
    root = shared_root()
    if not root.is_dir():
        if os.environ.get("EARLYACT_REQUIRE_SHARED") == "1":
            pytest.fail(f"real data required (EARLYACT_REQUIRE_SHARED=1) but {root} does not exist")
        pytest.skip(f"real data not found at {root}; set EARLYACT_SHARED to its parent folder")
    return root


@pytest.fixture
def tiny_cfg():
    """A config small enough to train in a second or two."""
    return load_config(
        None,
        [
            "demo.clips_per_class=6",
            "demo.min_frames=12",
            "demo.max_frames=20",
            "model.hidden1=8",
            "model.hidden2=8",
            "action_net.point_channels=[8,8]",
            "action_net.global_channels=8",
            "action_net.embed=16",
            "action_net.hidden=8",
            "train.epochs=2",
            "train.batch_size=8",
            "action_train.epochs=2",
            "action_train.batch_size=8",
        ],
    )
