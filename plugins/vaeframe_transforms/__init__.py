"""Built-in per-batch transforms: dihedral transforms of each grid and colour permutations.

Both run on the training device inside the step, draw from torch's default generator of that
device (per rank, saved in every checkpoint; never the generator that orders the grids) and
never sync with the host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from vaeframe import NUM_COLOURS, PAD, SIDE, ParameterError, hookimpl

if TYPE_CHECKING:
    from torch import Tensor


def _probability(_instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ParameterError(attribute.name, f"must be between 0 and 1, got {value!r}")


def _chosen(grids: Tensor, probability: float) -> Tensor:
    """``(N,)`` booleans: which grids of the batch are transformed."""
    import torch

    return torch.rand(grids.shape[0], device=grids.device) < probability


@attrs.define
class Dihedral:
    """Rotate or reflect each grid (one of the 8 symmetries of a square), packed top-left again."""

    p: float = attrs.field(default=1.0, validator=_probability)

    def apply(self, grids: Tensor) -> Tensor:
        import torch

        n, device = grids.shape[0], grids.device
        inside = grids != PAD
        heights = inside.any(dim=2).sum(dim=1)
        widths = inside.any(dim=1).sum(dim=1)
        symmetry = torch.randint(0, 8, (n,), device=device)
        symmetry = torch.where(_chosen(grids, self.p), symmetry, torch.zeros_like(symmetry))
        transpose, flip_rows, flip_cols = (symmetry & 1) > 0, (symmetry & 2) > 0, (symmetry & 4) > 0
        out_h = torch.where(transpose, widths, heights).view(n, 1, 1)
        out_w = torch.where(transpose, heights, widths).view(n, 1, 1)
        axis = torch.arange(SIDE, device=device)
        rows, cols = axis.view(1, SIDE, 1), axis.view(1, 1, SIDE)
        r = torch.where(flip_rows.view(n, 1, 1), out_h - 1 - rows, rows)
        c = torch.where(flip_cols.view(n, 1, 1), out_w - 1 - cols, cols)
        swap = transpose.view(n, 1, 1)
        source_r, source_c = torch.where(swap, c, r), torch.where(swap, r, c)
        valid = (rows < out_h) & (cols < out_w)
        flat = (source_r.clamp(0, SIDE - 1) * SIDE + source_c.clamp(0, SIDE - 1)).view(n, -1)
        moved = grids.reshape(n, -1).gather(1, flat).view(n, SIDE, SIDE)
        return torch.where(valid, moved, torch.full_like(moved, PAD))


@attrs.define
class PermuteColours:
    """Permute colours 1-9 of each grid at random; black (0) and padding stay."""

    p: float = attrs.field(default=1.0, validator=_probability)

    def apply(self, grids: Tensor) -> Tensor:
        import torch

        n, device = grids.shape[0], grids.device
        colours = torch.rand(n, NUM_COLOURS - 1, device=device).argsort(dim=1) + 1
        identity = torch.arange(1, NUM_COLOURS, device=device).expand(n, -1)
        colours = torch.where(_chosen(grids, self.p).view(n, 1), colours, identity)
        table = torch.cat([torch.zeros(n, 1, dtype=colours.dtype, device=device), colours,
                           torch.full((n, 1), PAD, dtype=colours.dtype, device=device)], dim=1)
        mapped = table.gather(1, grids.reshape(n, -1).long())
        return mapped.view_as(grids).to(grids.dtype)


@hookimpl
def register_transforms(register):
    register("dihedral", Dihedral)
    register("permute_colours", PermuteColours)
