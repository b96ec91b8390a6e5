import json
from dataclasses import replace

import numpy as np
import pytest

from earlyact.config import TrainConfig
from earlyact.data import Clip
from earlyact.experiment import held_out_validation, recorded_validation


def _fold_clips() -> tuple[list[Clip], list[Clip]]:
    """Five sequences of two clips; sequence "3" is the test fold."""
    clips = [Clip(f"c{i}", i % 2, context=np.zeros((4, 2), np.float32), meta={"group": str(1 + i // 2)})
             for i in range(10)]  # fmt: skip
    return [c for c in clips if c.meta["group"] != "3"], [c for c in clips if c.meta["group"] == "3"]


def test_held_out_validation_follows_the_test_fold_and_is_recorded(tmp_path):
    train_all, test = _fold_clips()
    cfg = TrainConfig(val_fraction=0.15, val_by_group=True)
    record = tmp_path / "validation.json"
    train, val = held_out_validation(train_all, test, cfg, 1, record)
    assert {c.meta["group"] for c in val} == {"5"}  # seed 1: the second sequence after the test one
    assert len(train) == 6 and not {c.clip_id for c in train} & {c.clip_id for c in val}
    saved = json.loads(record.read_text())
    assert saved == {"validation": ["c8", "c9"], "test_group": "3", "seed": 1}
    assert held_out_validation(train_all, test, cfg, 1, record)[1] == val  # a resumed run: same part
    assert recorded_validation(record, train_all) == val  # what re-scoring reads
    assert recorded_validation(tmp_path / "missing.json", train_all) is None  # a folder made before the record
    with pytest.raises(ValueError, match="validation.json: this run held out 2 other validation clips"):
        held_out_validation(train_all, test, cfg, 0, record)  # another seed's part would mix the runs
    no_val = held_out_validation(train_all, test, replace(cfg, val_fraction=0), 0, tmp_path / "none.json")
    assert no_val == (train_all, []) and json.loads((tmp_path / "none.json").read_text())["validation"] == []
