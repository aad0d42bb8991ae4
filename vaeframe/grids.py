"""ARC grids as one padded uint8 tensor: colours 0-9, padding its own class (10)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from vaeframe.errors import VaeframeError

if TYPE_CHECKING:
    import torch

NUM_COLOURS = 10
PAD = NUM_COLOURS  # padding outside a grid is its own class, never black
NUM_CLASSES = NUM_COLOURS + 1
SIDE = 30


def most_likely_class(logits: torch.Tensor) -> torch.Tensor:
    """The index of the largest logit along dim 1 of ``(N, C, H, W)`` logits, ``(N, H, W)``.

    The same as ``argmax(1)`` (ties go to the first class), but ``max`` over dim 1 is about
    ten times faster than ``argmax`` on the CPU for these shapes."""
    return logits.max(1).indices


def pack_grids(grids: Sequence[np.ndarray], source: str) -> torch.Tensor:
    """Pack grids into a ``(N, 30, 30)`` uint8 tensor, padded with :data:`PAD`."""
    import torch

    packed = np.full((len(grids), SIDE, SIDE), PAD, dtype=np.uint8)
    for index, grid in enumerate(grids):
        array = np.asarray(grid)
        if array.ndim != 2 or not (1 <= array.shape[0] <= SIDE and 1 <= array.shape[1] <= SIDE):
            raise VaeframeError(f"{source}: grid {index} has shape {array.shape}; "
                                f"grids must be 2-D with sides from 1 to {SIDE}")
        if array.size and (array.min() < 0 or array.max() >= NUM_COLOURS):
            raise VaeframeError(f"{source}: grid {index} has colours outside 0-9 "
                                f"(min {array.min()}, max {array.max()})")
        packed[index, : array.shape[0], : array.shape[1]] = array
    return torch.from_numpy(packed)


def _key(grid: np.ndarray) -> tuple[tuple[int, ...], bytes]:
    array = np.asarray(grid)
    return array.shape, array.astype(np.int64).tobytes()


def unseen_mask(grids: Sequence[np.ndarray], seen: Sequence[np.ndarray]) -> np.ndarray:
    """One boolean per grid of ``grids``: true where it is not identical (same shape, same
    cells) to any of ``seen``. Use it to filter per-grid labels along with :func:`unseen`."""
    keys = {_key(grid) for grid in seen}
    return np.array([_key(grid) not in keys for grid in grids], dtype=bool)


def unseen(grids: Sequence[np.ndarray], seen: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The grids of ``grids`` that are not identical to any of ``seen``, in order: a held-out
    set that holds no training grid."""
    return [grid for grid, keep in zip(grids, unseen_mask(grids, seen), strict=True) if keep]


def count_seen(grids: Sequence[np.ndarray], seen: Sequence[np.ndarray]) -> int:
    """How many of ``grids`` are identical to one of ``seen``."""
    return len(grids) - len(unseen(grids, seen))


def nonblack_accuracy(grids: Sequence[np.ndarray], predicted: Sequence[np.ndarray]) -> float:
    """The share of cells of colours 1-9 in ``grids`` that ``predicted`` reproduces at the same
    place (a cell outside a predicted grid that is too small counts as wrong)."""
    if len(grids) != len(predicted):
        raise ValueError(f"{len(grids)} grids but {len(predicted)} predictions")
    correct = total = 0
    for grid, guess in zip(grids, predicted, strict=True):
        grid, guess = np.asarray(grid), np.asarray(guess)
        h, w = min(grid.shape[0], guess.shape[0]), min(grid.shape[1], guess.shape[1])
        total += int((grid != 0).sum())
        correct += int(((grid[:h, :w] == guess[:h, :w]) & (grid[:h, :w] != 0)).sum())
    return correct / max(total, 1)
