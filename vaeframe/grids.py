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


def checked_grid(grid: object, index: int, source: str) -> np.ndarray:
    """``grid`` as a 2-D integer array of colours 0-9 with sides from 1 to 30, or one
    :class:`VaeframeError` that names ``source``, the grid's ``index`` and what is wrong.

    Whole numbers stored as floats (``1.0``) are colours; ``1.5``, NaN, booleans, strings
    and ragged nested lists are not."""
    where = f"{source}: grid {index}"
    try:
        array = np.asarray(grid)
    except ValueError:  # numpy refuses ragged nested lists
        raise VaeframeError(f"{where} is ragged: every row must have the same length") from None
    if array.dtype == object:
        raise VaeframeError(f"{where} is ragged or holds non-numbers: it must be a 2-D array "
                            "of integers 0-9")
    if array.ndim != 2 or not (1 <= array.shape[0] <= SIDE and 1 <= array.shape[1] <= SIDE):
        raise VaeframeError(f"{where} has shape {array.shape}; "
                            f"grids must be 2-D with sides from 1 to {SIDE}")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise VaeframeError(f"{where} holds NaN or infinity; colours are integers 0-9")
        if (array != np.round(array)).any():
            odd = array[array != np.round(array)].flat[0].item()
            raise VaeframeError(f"{where} holds {odd!r}, not a whole number; colours are "
                                "integers 0-9")
    elif array.dtype.kind not in "iu":
        raise VaeframeError(f"{where} has dtype {array.dtype}; colours are integers 0-9")
    if array.min() < 0 or array.max() >= NUM_COLOURS:
        raise VaeframeError(f"{where} has colours outside 0-9 "
                            f"(min {array.min().item()!r}, max {array.max().item()!r})")
    return array.astype(np.int64, copy=False)


def pack_grids(grids: Sequence[np.ndarray], source: str) -> torch.Tensor:
    """Pack grids into a ``(N, 30, 30)`` uint8 tensor, padded with :data:`PAD`; each grid is
    checked by :func:`checked_grid`."""
    import torch

    packed = np.full((len(grids), SIDE, SIDE), PAD, dtype=np.uint8)
    for index, grid in enumerate(grids):
        array = checked_grid(grid, index, source)
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
        raise VaeframeError(f"nonblack_accuracy: {len(grids)} grids but {len(predicted)} "
                            "predictions; give one prediction per grid")
    correct = total = 0
    for index, (grid, guess) in enumerate(zip(grids, predicted, strict=True)):
        grid = checked_grid(grid, index, "nonblack_accuracy(grids)")
        guess = checked_grid(guess, index, "nonblack_accuracy(predicted)")
        h, w = min(grid.shape[0], guess.shape[0]), min(grid.shape[1], guess.shape[1])
        total += int((grid != 0).sum())
        correct += int(((grid[:h, :w] == guess[:h, :w]) & (grid[:h, :w] != 0)).sum())
    return correct / max(total, 1)
