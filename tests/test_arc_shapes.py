"""arc-shapes: grids follow their recorded factors, deterministically from the seed."""

from __future__ import annotations

import numpy as np
import pytest
from vaeframe_arc.shapes import SHAPE_NAMES, ArcShapes, factor_names, generate

from vaeframe import GridData, ParameterError, VaeframeError

# Each shape at size 1 (a 3×3 box), unturned, written out by hand.
SIZE_ONE = {
    "line": ["...", "###", "..."],
    "rectangle": ["###", "###", "###"],
    "frame": ["###", "#.#", "###"],
    "L": ["#..", "#..", "###"],
    "T": ["###", ".#.", ".#."],
    "plus": [".#.", "###", ".#."],
    "zigzag": ["#..", "##.", ".##"],
    "checkerboard": ["#.#", ".#.", "#.#"],
}
TURNS = {"line": 2, "rectangle": 1, "frame": 1, "L": 4, "T": 4, "plus": 1, "zigzag": 4,
         "checkerboard": 1}


def cell_count(kind: str, size: int) -> int:
    box = 2 * size + 1
    return {"line": box, "rectangle": box * box, "frame": 4 * (box - 1),
            "checkerboard": (box * box + 1) // 2}.get(kind, 2 * box - 1)


def with_factors(shapes: ArcShapes):
    """The grids, the training grids' factors and the held-out grids' factors."""
    data = shapes.load()
    return data, dict(data.train_labels), dict(data.heldout_labels)


def one_object(n: int = 3000, side: int = 16, seed: int = 0):
    return generate(n, side, 1, np.random.default_rng(seed))


def test_the_same_seed_gives_the_same_grids_and_another_seed_others() -> None:
    data, train_f, heldout_f = with_factors(ArcShapes(num_train=300, num_heldout=50, seed=4))
    again, train_g, heldout_g = with_factors(ArcShapes(num_train=300, num_heldout=50, seed=4))
    other = ArcShapes(num_train=300, num_heldout=50, seed=5).load()
    assert np.array_equal(np.stack(data.train), np.stack(again.train))
    assert np.array_equal(np.stack(data.heldout), np.stack(again.heldout))
    assert all(np.array_equal(train_f[k], train_g[k]) for k in train_f)
    assert all(np.array_equal(heldout_f[k], heldout_g[k]) for k in heldout_f)
    assert not np.array_equal(np.stack(data.train), np.stack(other.train))


def test_training_and_held_out_grids_are_drawn_apart() -> None:
    data, train_f, heldout_f = with_factors(ArcShapes(num_train=200, num_heldout=200))
    assert not np.array_equal(np.stack(data.train), np.stack(data.heldout))
    assert not np.array_equal(train_f["row"], heldout_f["row"])


def test_load_gives_arc_grids_and_factors_named_in_order() -> None:
    shapes = ArcShapes(num_train=40, num_heldout=10, side=12, max_objects=2)
    data, train_f, heldout_f = with_factors(shapes)
    assert isinstance(shapes.load(), GridData)
    assert len(data.train) == 40 and len(data.heldout) == 10
    assert all(g.shape == (12, 12) and g.min() >= 0 and g.max() <= 9 for g in data.train)
    assert tuple(train_f) == tuple(heldout_f) == shapes.factor_names == factor_names(2)
    assert all(v.shape == (40,) for v in train_f.values())


def test_a_single_object_has_its_colour_its_cell_count_and_its_box_centre() -> None:
    grids, f = one_object()
    for i, grid in enumerate(grids):
        kind, size = SHAPE_NAMES[f["kind"][i]], f["size"][i]
        rows, cols = np.nonzero(grid)
        assert set(grid[rows, cols]) == {f["colour"][i]}
        assert len(rows) == cell_count(kind, size)
        # the painted cells' box is centred on (row, col): nothing wrapped round an edge
        assert (rows.min() + rows.max()) == 2 * f["row"][i]
        assert (cols.min() + cols.max()) == 2 * f["col"][i]
        assert max(rows.max() - rows.min(), cols.max() - cols.min()) == 2 * size


def test_size_one_objects_match_the_hand_drawn_shapes_turned() -> None:
    grids, f = one_object()
    seen = set()
    for i in np.flatnonzero(f["size"] == 1):
        kind, turn = SHAPE_NAMES[f["kind"][i]], f["orientation"][i]
        r, c = f["row"][i], f["col"][i]
        drawn = np.array([[ch == "#" for ch in line] for line in SIZE_ONE[kind]])
        expected = np.rot90(drawn, turn) * f["colour"][i]
        assert np.array_equal(grids[i, r - 1:r + 2, c - 1:c + 2], expected), (kind, turn)
        seen.add((kind, turn))
    assert seen == {(k, t) for k, n in TURNS.items() for t in range(n)}


def test_every_factor_value_appears_and_positions_do_not_depend_on_size() -> None:
    _, f = one_object(side=16)
    assert set(f["kind"]) == set(range(len(SHAPE_NAMES)))
    assert set(f["colour"]) == set(range(1, 10))
    assert set(f["size"]) == {1, 2, 3}
    for size in (1, 3):  # centres range over what the largest (7×7) box allows, for all sizes
        assert set(f["row"][f["size"] == size]) == set(range(3, 13))
        assert set(f["col"][f["size"] == size]) == set(range(3, 13))


@pytest.mark.parametrize("side", [7, 16, 30])
def test_several_objects_keep_apart_in_reading_order(side: int) -> None:
    grids, f = generate(1500, side, 3, np.random.default_rng(1))
    assert set(f["count"]) == {1, 2, 3}
    for i, grid in enumerate(grids):
        count = f["count"][i]
        boxes, cells = [], 0
        for j in range(3):
            if j >= count:
                assert all(f[f"{name}_{j}"][i] == -1 for name in ("kind", "colour", "row"))
                continue
            kind = SHAPE_NAMES[f[f"kind_{j}"][i]]
            h, r, c = f[f"size_{j}"][i], f[f"row_{j}"][i], f[f"col_{j}"][i]
            across = kind == "line" and f[f"orientation_{j}"][i] == 0
            high, wide = (0, h) if across else (h, 0) if kind == "line" else (h, h)
            assert r - high >= 0 and c - wide >= 0 and r + high < side and c + wide < side
            box = grid[r - high:r + high + 1, c - wide:c + wide + 1]
            assert set(box[box > 0]) == {f[f"colour_{j}"][i]}
            assert np.count_nonzero(box) == cell_count(kind, h)
            boxes.append((r, c, high, wide))
            cells += cell_count(kind, h)
        assert np.count_nonzero(grid) == cells  # no cell outside the boxes, none overwritten
        assert boxes == sorted(boxes)
        for a, (r, c, high, wide) in enumerate(boxes):  # a black cell at least between boxes
            for r2, c2, high2, wide2 in boxes[a + 1:]:
                assert abs(r - r2) > high + high2 + 1 or abs(c - c2) > wide + wide2 + 1


@pytest.mark.parametrize(("params", "field"), [
    ({"side": 3}, "side"), ({"side": 31}, "side"), ({"max_objects": 4}, "max_objects"),
    ({"max_objects": 0}, "max_objects"), ({"num_train": 0}, "num_train"),
    ({"num_heldout": 0}, "num_heldout"), ({"seed": -1}, "seed"),
    ({"side": 6, "max_objects": 2}, "max_objects"),
])
def test_bad_parameters_name_their_field(params: dict[str, int], field: str) -> None:
    with pytest.raises(ParameterError) as caught:
        ArcShapes(**params)
    assert caught.value.field == field


def test_small_canvases_work() -> None:
    grids, f = generate(50, 4, 1, np.random.default_rng(0))
    assert grids.shape == (50, 4, 4) and set(f["size"]) == {1}
    with pytest.raises(ParameterError, match="side"):
        generate(5, 6, 3, np.random.default_rng(0))


def test_held_out_grids_are_unseen_and_labelled_with_their_factors() -> None:
    shapes = ArcShapes(num_train=20000, num_heldout=2000)
    data = shapes.load()
    training = {(g.shape, g.tobytes()) for g in data.train}
    assert len(data.heldout) == 2000
    assert not any((g.shape, g.tobytes()) in training for g in data.heldout)
    assert data.factors == shapes.factor_names
    for split, grids in (("train", data.train), ("heldout", data.heldout)):
        labels = data.train_labels if split == "train" else data.heldout_labels
        assert tuple(labels) == data.factors and all(len(v) == len(grids) for v in labels.values())
        for i in range(0, len(grids), 97):  # the colour label is the colour painted
            assert set(np.unique(grids[i])) == {0, labels["colour"][i]}
    drawn_anyway = ArcShapes(num_train=20000, num_heldout=2000, drop_seen=False).load()
    seen = sum((g.shape, g.tobytes()) in training for g in drawn_anyway.heldout)
    assert seen > 100  # why drop_seen is the default: a small canvas repeats itself


def test_a_canvas_too_small_for_unseen_held_out_grids_is_a_clear_error() -> None:
    with pytest.raises(VaeframeError, match=r"found only .* unseen in training on a 4×4 canvas"):
        ArcShapes(num_train=5000, num_heldout=500, side=4).load()
