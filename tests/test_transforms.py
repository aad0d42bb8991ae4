"""Per-batch transforms on real ARC grids, honest held-out data, and resume with transforms."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CONFIGS, only_run_dir, read_jsonl, run_with_plugin, vaeframe
from test_resume import final_weights, interrupted_and_resumed
from vaeframe_arc import ArcAgi1
from vaeframe_transforms import Dihedral, PermuteColours

from vaeframe import PAD, pack_grids, unseen

ARC = ArcAgi1(drop_seen=False).load()


def arc_batch(count: int = 256) -> tuple[list[np.ndarray], torch.Tensor]:
    chosen = [ARC.train[i] for i in np.linspace(0, len(ARC.train) - 1, count).astype(int)]
    return chosen, pack_grids(chosen, "ARC-AGI-1")


def unpack(packed: torch.Tensor) -> np.ndarray:
    """The grid at the top-left of a packed canvas; everything else must be padding."""
    inside = packed != PAD
    height, width = int(inside.any(1).sum()), int(inside.any(0).sum())
    grid = packed[:height, :width]
    assert not (grid == PAD).any(), "padding inside the grid"
    assert not inside[height:].any() and not inside[:, width:].any(), "cells outside the grid"
    return grid.numpy()


def symmetries(grid: np.ndarray) -> list[np.ndarray]:
    return [np.rot90(g, k) for g in (grid, grid.T) for k in range(4)]


def test_dihedral_gives_one_of_the_eight_symmetries_of_each_grid_packed_top_left() -> None:
    torch.manual_seed(0)
    grids, packed = arc_batch()
    out = Dihedral().apply(packed)
    assert out.dtype == torch.uint8 and out.shape == packed.shape
    changed = 0
    for grid, transformed in zip(grids, out, strict=True):
        got = unpack(transformed)
        assert any(s.shape == got.shape and np.array_equal(s, got) for s in symmetries(grid))
        assert Counter(got.ravel().tolist()) == Counter(grid.ravel().tolist())
        changed += not np.array_equal(got, grid)
    assert changed > 150  # 7 of 8 draws move a grid (fewer for symmetric grids)


def test_permute_colours_keeps_black_padding_and_shape_and_maps_colours_one_to_one() -> None:
    torch.manual_seed(1)
    _, packed = arc_batch()
    out = PermuteColours().apply(packed)
    assert out.dtype == torch.uint8 and out.shape == packed.shape
    assert torch.equal(out == PAD, packed == PAD) and torch.equal(out == 0, packed == 0)
    for before, after in zip(packed, out, strict=True):
        pairs = {(int(a), int(b)) for a, b in zip(before.ravel(), after.ravel(), strict=True)}
        assert len({a for a, _ in pairs}) == len(pairs) == len({b for _, b in pairs})


@pytest.mark.parametrize("transform", [Dihedral(p=0.0), PermuteColours(p=0.0)])
def test_probability_zero_changes_nothing(transform) -> None:
    _, packed = arc_batch(64)
    assert torch.equal(transform.apply(packed), packed)


def test_a_bad_probability_names_the_key() -> None:
    result = vaeframe("run", CONFIGS / "smoke.toml", "--set", 'transforms=[{name="dihedral", p=2}]')
    assert result.returncode == 2 and "transforms.0.p: must be between 0 and 1" in result.stderr


LONG = ["--epochs", "4", "--set", "data.num_train=384", "--set", "train.batch_size=8",
        "--set", "train.log_every_n_steps=5", "--set", "model.channels=[4, 8, 8]",
        "--set", 'transforms=[{name="dihedral", p=0.5}, {name="permute_colours"}]']


@pytest.mark.slow
def test_a_run_with_transforms_resumes_bit_identical(tmp_path: Path) -> None:
    whole = vaeframe("run", CONFIGS / "smoke.toml", *LONG, "--set",
                     f"run.output_dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr
    whole_run = only_run_dir(tmp_path / "whole")

    run_dir = interrupted_and_resumed(tmp_path / "parts", str(CONFIGS / "smoke.toml"), *LONG)

    a, b = final_weights(whole_run), final_weights(run_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert read_jsonl(run_dir / "metrics.jsonl") == read_jsonl(whole_run / "metrics.jsonl")


DUPLICATES = """
    import attrs
    import numpy as np
    from vaeframe import GridData, hookimpl

    @attrs.define
    class Overlapping:
        '''Ten training grids; held out: three copies of training grids and five new ones.'''
        def load(self):
            train = [np.full((2, k + 1), k % 10) for k in range(10)]
            heldout = [train[1].copy(), train[4].copy(), train[4].copy()]
            heldout += [np.full((3, 3), k) for k in range(5)]  # (3, 3) is no training shape
            return GridData(train=train, heldout=heldout)

    @hookimpl
    def register_datasets(register):
        register("overlapping", Overlapping)
"""


def test_the_summary_counts_held_out_grids_identical_to_training_grids(tmp_path: Path) -> None:
    result = run_with_plugin(tmp_path, "overlap_plugin", DUPLICATES, "run", CONFIGS / "smoke.toml",
                             "--epochs", "1", "--set", 'data={name="overlapping"}',
                             "--set", f"run.output_dir={tmp_path / 'runs'}")
    assert result.returncode == 0, result.stderr
    summary = json.loads((only_run_dir(tmp_path / "runs") / "summary.json").read_text())
    assert summary["dataset"]["heldout_identical_to_train"] == 3
    assert summary["dataset"]["heldout_grids"] == 8


def test_arc_held_out_grids_are_unseen_even_with_arc_agi_2_training_data() -> None:
    assert len(ARC.heldout) - len(unseen(ARC.heldout, ARC.train)) == 46
    honest = ArcAgi1(add_arc_agi_2=True).load()
    assert len(honest.train) == 3434 + 1912 and len(honest.heldout) == 3564 - 46
    assert unseen(honest.heldout, honest.train) == honest.heldout


FLIP = """
    import attrs
    from vaeframe import hookimpl

    @attrs.define
    class SwapColours:
        '''Swap colours 1 and 2 in every grid: deterministic, so the test can see it.'''
        def apply(self, grids):
            import torch
            one, two = grids == 1, grids == 2
            return torch.where(one, torch.full_like(grids, 2),
                               torch.where(two, torch.full_like(grids, 1), grids))

    @hookimpl
    def register_transforms(register):
        register("swap_colours", SwapColours)
"""


@pytest.mark.slow
def test_a_third_party_transform_runs_in_the_step(tmp_path: Path) -> None:
    runs = {}
    for label, transforms in (("plain", "[]"), ("swapped", '[{name="swap_colours"}]')):
        result = run_with_plugin(tmp_path, "swap_plugin", FLIP, "run", CONFIGS / "smoke.toml",
                                 "--epochs", "1", "--set", f"transforms={transforms}",
                                 "--set", f"run.output_dir={tmp_path / label}")
        assert result.returncode == 0, result.stderr
        runs[label] = read_jsonl(only_run_dir(tmp_path / label) / "metrics.jsonl")
    assert runs["plain"][0]["train/loss"] != runs["swapped"][0]["train/loss"]
