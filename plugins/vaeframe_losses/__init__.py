"""Built-in reconstruction losses over the 11 classes (10 colours and padding).

Both sum over the 900 cells of each grid (``reduction = "sum"``, the default) or average
over them (``"mean"``), then average over the batch. The reduction decides what β means:
summed, the reconstruction term is ~900 times larger than averaged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from vaeframe import at_least, hookimpl, one_of

if TYPE_CHECKING:
    from torch import Tensor


def _reduce(per_cell: Tensor, reduction: str) -> Tensor:
    per_grid = per_cell.flatten(1).sum(1) if reduction == "sum" else per_cell.flatten(1).mean(1)
    return per_grid.mean()


def _log_p_true(logits: Tensor, grids: Tensor) -> Tensor:
    """log p(true class) of every cell, ``(N, 30, 30)``."""
    import torch.nn.functional as F

    return F.log_softmax(logits, dim=1).gather(1, grids.long().unsqueeze(1)).squeeze(1)


@attrs.define
class Focal:
    """Focal loss −(1 − p)^γ log p of every cell (Lin et al. 2017); γ = 0 is cross-entropy."""

    gamma: float = attrs.field(default=2.0, validator=at_least(0.0))
    reduction: str = attrs.field(default="sum", validator=one_of("sum", "mean"))

    def loss(self, logits: Tensor, grids: Tensor) -> Tensor:
        log_p = _log_p_true(logits, grids)
        per_cell = -log_p if self.gamma == 0 else -((1 - log_p.exp()) ** self.gamma) * log_p
        return _reduce(per_cell, self.reduction)


@attrs.define
class CrossEntropy:
    """Cross-entropy −log p of every cell."""

    reduction: str = attrs.field(default="sum", validator=one_of("sum", "mean"))

    def loss(self, logits: Tensor, grids: Tensor) -> Tensor:
        return _reduce(-_log_p_true(logits, grids), self.reduction)


@hookimpl
def register_losses(register):
    register("focal", Focal)
    register("cross_entropy", CrossEntropy)
