import json
from dataclasses import replace

import pytest
import torch

from earlyact.parallel import run_units, torch_threads


def test_units_come_back_in_order_from_worker_processes():
    assert run_units(pow, [(2, 3), (3, 2), (2, 5)], workers=2, threads=1) == [8, 9, 32]
    assert run_units(pow, [(2, 3), (3, 2)], workers=1, threads=1) == [8, 9]


def test_a_failing_unit_raises_its_own_error_here():
    with pytest.raises(ValueError, match="invalid literal"):
        run_units(int, [("1",), ("not a number",), ("3",)], workers=2, threads=1)


def test_torch_threads_is_restored_after_the_block():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(0):  # 0: torch's own setting, untouched
        assert torch.get_num_threads() == before


@pytest.mark.slow
def test_seeds_side_by_side_give_the_predictions_of_seeds_one_after_another(tmp_path, tiny_cfg):
    """The weights depend on the torch thread count, not on how many seeds train at once."""
    from earlyact.experiment import run_experiment
    from earlyact.synthetic import make_dataset

    cfg = replace(tiny_cfg, methods=["lstm-ce", "kd-ms-lstm"], seeds=[0, 1], threads=1)
    index, clips = make_dataset(cfg.demo)
    train = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "train"]
    test = [c for c, e in zip(clips, index.clips, strict=True) if e.split == "test"]
    alone = run_experiment(index, train, test, replace(cfg, workers=1), tmp_path / "one")
    both = run_experiment(index, train, test, replace(cfg, workers=2), tmp_path / "two")
    assert both["accuracy_per_seed"] == alone["accuracy_per_seed"]
    for seed in (0, 1):
        for run in ("one", "two"):  # every seed's own compute time, recorded by the process that ran it
            assert json.loads((tmp_path / run / f"seed_{seed}" / "timing.json").read_text())["seconds"] > 0
        saved = [json.loads((tmp_path / r / f"seed_{seed}" / "kd-ms-lstm" / "predictions.json").read_text())
                 for r in ("one", "two")]  # fmt: skip
        assert saved[0]["predictions"] == saved[1]["predictions"]
    assert set(both["compute_seconds"]) == {"seed_0", "seed_1"}
