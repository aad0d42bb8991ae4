"""The `broadcast` model: a spatial broadcast decoder on a canvas. Cells outside the canvas
are padding at no cost, inside it every cell is drawn from z and its position, and it
trains end to end from a run file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import only_run_dir, vaeframe
from vaeframe_models import Broadcast

from vaeframe.grids import PAD


def grids_on(canvas: int, count: int = 4) -> torch.Tensor:
    grids = torch.full((count, 30, 30), PAD, dtype=torch.uint8)
    grids[:, :canvas, :canvas] = torch.randint(0, 10, (count, canvas, canvas))
    return grids


@pytest.mark.parametrize("canvas", [8, 16, 30])
def test_logits_cover_the_whole_grid_and_padding_outside_the_canvas_costs_nothing(
        canvas: int) -> None:
    torch.manual_seed(0)
    model = Broadcast(latent_dim=3, canvas=canvas, channels=[8, 16, 16],
                      decoder_channels=8).build()
    grids = grids_on(canvas)
    logits, mu, logvar = model(grids)
    assert logits.shape == (4, 11, 30, 30) and mu.shape == logvar.shape == (4, 3)
    per_cell = F.cross_entropy(logits, grids.long(), reduction="none")
    outside = torch.ones(30, 30, dtype=torch.bool)
    outside[:canvas, :canvas] = False
    if canvas < 30:
        assert per_cell[:, outside].max() < 1e-20
    assert per_cell[:, ~outside].min() > 0.1  # untrained: the canvas is a guess


def test_every_parameter_learns_and_the_decoder_draws_from_z() -> None:
    torch.manual_seed(0)
    model = Broadcast(latent_dim=3, canvas=16, channels=[8, 16, 16], decoder_channels=8).build()
    logits, _, _ = model(grids_on(16))
    F.cross_entropy(logits, grids_on(16).long()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    first, second = model.decode(torch.zeros(1, 3)), model.decode(torch.ones(1, 3))
    assert not torch.allclose(first[..., :16, :16], second[..., :16, :16])
    assert torch.equal(first[..., 16:, :], second[..., 16:, :])


def test_the_encoder_reads_only_the_canvas() -> None:
    torch.manual_seed(0)
    model = Broadcast(latent_dim=3, canvas=8, channels=[8, 16, 16], decoder_channels=8).build()
    grids = grids_on(8)
    changed = grids.clone()
    changed[:, 8:, 8:] = 3
    assert torch.equal(model.encode(grids)[0], model.encode(changed)[0])


def test_a_broadcast_run_on_arc_shapes_trains_and_scores(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    result = vaeframe(
        "run", Path(__file__).parents[1] / "configs" / "smoke.toml",
        "--set", f"run.output_dir={out}",
        "--set", 'data={name="arc-shapes", num_train=64, num_heldout=32, side=12}',
        "--set", 'model={name="broadcast", latent_dim=4, canvas=12, channels=[8, 16, 16], '
                 'decoder_channels=8}')
    assert result.returncode == 0, result.stderr
    summary = json.loads((only_run_dir(out) / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["latent_dim"] == 4
    assert 0.0 <= summary["final"]["heldout_nonblack_acc"] <= 1.0
    assert "mig" in summary["disentanglement"]
