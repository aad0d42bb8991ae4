"""ARC-like grids drawn from recorded factors: shape, colour, size, orientation and position.

Every object is one of :data:`SHAPE_NAMES` in a square box of side ``2 * size + 1``, turned by
``orientation`` quarter turns (counted modulo the shape's symmetry, so the factor is always
visible in the pixels), painted one colour 1-9 on black and placed by the centre (``row``,
``col``) of its box. Centres are drawn from the range that fits the largest size, so for one
object per grid all factors are independent. With several objects their boxes keep at least
one black cell apart, objects are numbered in reading order of their centres, and the factors
of absent objects are -1.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import attrs
import numpy as np

from vaeframe import GridData, ParameterError, VaeframeError, at_least, at_most, one_of

SHAPE_NAMES = ("line", "rectangle", "frame", "L", "T", "plus", "zigzag", "checkerboard")
_PERIODS = np.array([2, 1, 1, 4, 4, 1, 4, 1])  # distinct quarter turns of each shape
_OBJECT_FACTORS = ("kind", "colour", "size", "orientation", "row", "col")
MAX_SIDE = 30
MAX_OBJECTS = 3
MIN_SIDE_SEVERAL = 7  # three 3×3 boxes one cell apart fit in 7×7


def _mask(kind: str, box: int) -> np.ndarray:
    """The cells of ``kind`` in a ``box`` × ``box`` square (box odd), unturned."""
    i = np.arange(box)
    mid = box // 2
    edge = (i == 0) | (i == box - 1)
    masks: dict[str, Callable[[], np.ndarray]] = {
        "line": lambda: np.broadcast_to(i[:, None] == mid, (box, box)),
        "rectangle": lambda: np.ones((box, box), dtype=bool),
        "frame": lambda: edge[:, None] | edge[None, :],
        "L": lambda: (i[None, :] == 0) | (i[:, None] == box - 1),
        "T": lambda: (i[:, None] == 0) | (i[None, :] == mid),
        "plus": lambda: (i[:, None] == mid) | (i[None, :] == mid),
        "zigzag": lambda: (i[:, None] - i[None, :] == 0) | (i[:, None] - i[None, :] == 1),
        "checkerboard": lambda: (i[:, None] + i[None, :]) % 2 == 0,
    }
    return np.array(masks[kind](), dtype=bool)


@attrs.frozen
class _Templates:
    """Cell offsets from the centre for every (kind, size, turn), padded by repeating a cell."""

    rows: np.ndarray  # (templates, cells)
    cols: np.ndarray
    half_rows: np.ndarray  # (templates,) half height of the occupied box
    half_cols: np.ndarray
    max_size: int

    def index(self, kind: np.ndarray, size: np.ndarray, turn: np.ndarray) -> np.ndarray:
        return (kind * self.max_size + size - 1) * 4 + turn


@lru_cache(maxsize=8)
def _templates(max_size: int) -> _Templates:
    cells: list[np.ndarray] = []
    for kind in SHAPE_NAMES:
        for size in range(1, max_size + 1):
            for turn in range(4):
                cells.append(np.argwhere(np.rot90(_mask(kind, 2 * size + 1), turn)) - size)
    width = max(len(c) for c in cells)
    padded = np.stack([np.concatenate([c, np.repeat(c[:1], width - len(c), 0)]) for c in cells])
    return _Templates(rows=padded[:, :, 0], cols=padded[:, :, 1],
                      half_rows=np.abs(padded[:, :, 0]).max(1),
                      half_cols=np.abs(padded[:, :, 1]).max(1), max_size=max_size)


def max_size(side: int) -> int:
    """The largest size on a canvas of ``side``: boxes up to about half the canvas."""
    return max(1, (side - 1) // 4)


def factor_names(max_objects: int) -> tuple[str, ...]:
    """Names of the factors :func:`generate` records, in order."""
    if max_objects == 1:
        return _OBJECT_FACTORS
    return ("count", *(f"{name}_{j}" for j in range(max_objects) for name in _OBJECT_FACTORS))


def check_layout(side: int, max_objects: int) -> None:
    """Raise :class:`ParameterError` unless ``max_objects`` objects fit on a ``side`` canvas."""
    if not 4 <= side <= MAX_SIDE:
        raise ParameterError("side", f"must be from 4 to {MAX_SIDE}, got {side!r}")
    if not 1 <= max_objects <= MAX_OBJECTS:
        raise ParameterError("max_objects", f"must be from 1 to {MAX_OBJECTS}, got {max_objects!r}")
    if max_objects > 1 and side < MIN_SIDE_SEVERAL:
        raise ParameterError("max_objects", f"more than one object needs side >= "
                                            f"{MIN_SIDE_SEVERAL}, got side {side}")


def _free_centres(row: np.ndarray, col: np.ndarray, half_rows: np.ndarray,
                  half_cols: np.ndarray, centres: np.ndarray, j: int) -> np.ndarray:
    """(n, P*P): centres where object ``j`` stays a black cell away from objects before it."""
    n, p = len(row), len(centres)
    blocked = np.zeros((n, p, p), dtype=bool)
    for i in range(j):
        rows = np.abs(centres - row[:, i, None]) <= (half_rows[:, j] + half_rows[:, i] + 1)[:, None]
        cols = np.abs(centres - col[:, i, None]) <= (half_cols[:, j] + half_cols[:, i] + 1)[:, None]
        blocked |= rows[:, :, None] & cols[:, None, :]
    return ~blocked.reshape(n, p * p)


def _draw(count: np.ndarray, side: int, max_objects: int, rng: np.random.Generator
          ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Draw objects for grids with ``count`` objects each; also says which grids fitted."""
    n, shape = len(count), (len(count), max_objects)
    top = max_size(side)
    kind = rng.integers(0, len(SHAPE_NAMES), shape)
    f = {"kind": kind, "colour": rng.integers(1, 10, shape),
         "size": rng.integers(1, top + 1, shape),
         "orientation": rng.integers(0, 4, shape) % _PERIODS[kind]}
    templates = _templates(top)
    t = templates.index(kind, f["size"], f["orientation"])
    half_rows, half_cols = templates.half_rows[t], templates.half_cols[t]
    centres = np.arange(top, side - top)
    row, col = np.full(shape, -1), np.full(shape, -1)
    row[:, 0], col[:, 0] = rng.choice(centres, n), rng.choice(centres, n)
    fitted = np.ones(n, dtype=bool)
    for j in range(1, max_objects):
        sel = np.flatnonzero(count > j)
        free = _free_centres(row[sel], col[sel], half_rows[sel], half_cols[sel], centres, j)
        num_free = free.sum(1)
        pick = (rng.random(len(sel)) * num_free).astype(np.int64)
        flat = np.argmax(np.cumsum(free, 1) > pick[:, None], 1)
        row[sel, j], col[sel, j] = centres[flat // len(centres)], centres[flat % len(centres)]
        fitted[sel[num_free == 0]] = False
    f["row"], f["col"] = row, col
    return f, fitted


def _reading_order(f: dict[str, np.ndarray], count: np.ndarray, side: int) -> None:
    """Number present objects by their centres in reading order; absent ones become -1."""
    present = np.arange(f["row"].shape[1]) < count[:, None]
    order = np.argsort(np.where(present, f["row"] * side + f["col"], side * side), 1)
    for name, values in f.items():
        f[name] = np.where(present, np.take_along_axis(values, order, 1), -1)


def _render(f: dict[str, np.ndarray], side: int) -> np.ndarray:
    templates = _templates(max_size(side))
    grids = np.zeros((len(f["kind"]), side, side), dtype=np.uint8)
    for j in range(f["kind"].shape[1]):
        sel = np.flatnonzero(f["kind"][:, j] >= 0)
        t = templates.index(f["kind"][sel, j], f["size"][sel, j], f["orientation"][sel, j])
        grids[sel[:, None], f["row"][sel, j, None] + templates.rows[t],
              f["col"][sel, j, None] + templates.cols[t]] = f["colour"][sel, j, None]
    return grids


def generate(n: int, side: int, max_objects: int, rng: np.random.Generator
             ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``n`` grids ``(n, side, side)`` uint8 and their factors, keyed by :func:`factor_names`."""
    check_layout(side, max_objects)
    count = rng.integers(1, max_objects + 1, n)
    f = {name: np.full((n, max_objects), -1) for name in _OBJECT_FACTORS}
    pending = np.arange(n)
    while pending.size:  # grids whose objects did not fit are drawn again, all objects anew
        drawn, fitted = _draw(count[pending], side, max_objects, rng)
        for name, values in drawn.items():
            f[name][pending[fitted]] = values[fitted]
        pending = pending[~fitted]
    _reading_order(f, count, side)
    grids = _render(f, side)
    if max_objects == 1:
        return grids, {name: f[name][:, 0] for name in _OBJECT_FACTORS}
    factors = {"count": count}
    for j in range(max_objects):
        factors.update({f"{name}_{j}": f[name][:, j] for name in _OBJECT_FACTORS})
    return grids, factors


def _side(_instance: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if not 4 <= value <= MAX_SIDE:
        raise ParameterError(attribute.name, f"must be from 4 to {MAX_SIDE}, got {value!r}")


MAX_GRIDS = 10_000_000  # 9 GB as packed 30×30 grids, before the lists that hold them
_GRID_COUNT_BOUND = at_most(MAX_GRIDS, "grids are held in memory: 9 GB packed at this bound")
MAX_DRAWS = 20  # rounds of drawing held-out grids before a canvas is judged too small


def fixed_factor_grids(factor: str, count: int, side: int, max_objects: int,
                       rng: np.random.Generator) -> np.ndarray:
    """``count`` grids that share one value of ``factor`` (drawn as a grid's value is), the
    other factors drawn as usual: the batches of the FactorVAE score. Grids are drawn and
    kept when they have that value, so every factor keeps its dependence on the others
    (orientation on the kind's symmetry)."""
    _, first = generate(1, side, max_objects, rng)
    value = first[factor][0]
    kept: list[np.ndarray] = []
    found = 0
    for _ in range(10 * MAX_DRAWS):
        grids, factors = generate(4 * count, side, max_objects, rng)
        match = grids[factors[factor] == value][: count - found]
        kept.append(match)
        found += len(match)
        if found == count:
            return np.concatenate(kept)
    raise VaeframeError(f"arc-shapes: could not draw {count} grids with {factor} = {value}")


def _unseen_heldout(n: int, seen: np.ndarray, side: int, max_objects: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``n`` grids none of which is identical to a grid of ``seen``, drawn in rounds."""
    known = {grid.tobytes() for grid in seen}  # same shape and dtype: the bytes decide
    grids, factors = [], []
    found = 0
    for _ in range(MAX_DRAWS):
        drawn, drawn_factors = generate(2 * (n - found) + 16, side, max_objects, rng)
        keep = np.array([grid.tobytes() not in known for grid in drawn])
        keep &= np.cumsum(keep) <= n - found
        grids.append(drawn[keep])
        factors.append({name: values[keep] for name, values in drawn_factors.items()})
        found += int(keep.sum())
        if found == n:
            return (np.concatenate(grids),
                    {name: np.concatenate([f[name] for f in factors]) for name in factors[0]})
    raise VaeframeError(f"arc-shapes: found only {found} of num_heldout = {n} grids unseen in "
                        f"training on a {side}×{side} canvas; lower num_train or num_heldout, "
                        "or use a larger side")


@attrs.define
class ArcShapes:
    """ARC-like shapes (line, rectangle, L, T, plus, zigzag, ...) drawn from recorded factors.

    Training and held-out grids are drawn from independent streams of ``seed``; with
    ``drop_seen`` (the default) held-out grids identical to a training grid are replaced by
    fresh draws, so all ``num_heldout`` held-out grids are unseen. Every grid is labelled
    with its factors (``GridData.factors``).
    """

    num_train: int = attrs.field(default=20000, validator=[at_least(1), _GRID_COUNT_BOUND])
    num_heldout: int = attrs.field(default=2000, validator=[at_least(1), _GRID_COUNT_BOUND])
    side: int = attrs.field(default=16, validator=_side)
    max_objects: int = attrs.field(default=1, validator=one_of(1, 2, 3))
    seed: int = attrs.field(default=0, validator=at_least(0))
    drop_seen: bool = True

    def __attrs_post_init__(self) -> None:
        check_layout(self.side, self.max_objects)

    @property
    def factor_names(self) -> tuple[str, ...]:
        return factor_names(self.max_objects)

    def fixed_factor_grids(self, factor: str, count: int,
                           rng: np.random.Generator) -> list[np.ndarray]:
        """``count`` fresh grids sharing one value of ``factor`` (for the FactorVAE score)."""
        return list(fixed_factor_grids(factor, count, self.side, self.max_objects, rng))

    def load(self) -> GridData:
        train_seed, heldout_seed = np.random.SeedSequence(self.seed).spawn(2)
        train, train_factors = generate(self.num_train, self.side, self.max_objects,
                                        np.random.default_rng(train_seed))
        heldout_rng = np.random.default_rng(heldout_seed)
        if self.drop_seen:
            heldout, heldout_factors = _unseen_heldout(self.num_heldout, train, self.side,
                                                       self.max_objects, heldout_rng)
        else:
            heldout, heldout_factors = generate(self.num_heldout, self.side, self.max_objects,
                                                heldout_rng)
        unseen_note = "; held-out grids unseen in training" if self.drop_seen else ""
        return GridData(train=list(train), heldout=list(heldout),
                        description=f"arc-shapes: {self.side}×{self.side}, up to "
                                    f"{self.max_objects} object(s), seed {self.seed}"
                                    f"{unseen_note}",
                        train_labels=train_factors, heldout_labels=heldout_factors,
                        factors=self.factor_names)
