"""Named statistics packed in one flat tensor, so that a step or an evaluation reaches the
host in one transfer and nothing reads its values by position."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import torch

STEP_SCALARS = ("loss", "recon_loss", "kl_loss", "kl_raw")  # every step's scalars, in order


@attrs.frozen
class StatLayout:
    """The parts of a flat statistics tensor: ``(name, width)`` in order."""

    parts: tuple[tuple[str, int], ...]

    @classmethod
    def of_step(cls, latent_dim: int, extras: Sequence[str] = ()) -> StatLayout:
        """A training step's statistics: :data:`STEP_SCALARS`, ``kl_per_dim``, then the
        objective's ``extras`` (``extra_loss``, ``networks_loss``), one value each."""
        return cls((*((name, 1) for name in STEP_SCALARS), ("kl_per_dim", latent_dim),
                    *((name, 1) for name in extras)))

    @property
    def extras(self) -> list[str]:
        """The parts after ``kl_per_dim`` of a step's layout."""
        names = [name for name, _ in self.parts]
        return names[names.index("kl_per_dim") + 1 :] if "kl_per_dim" in names else []

    @property
    def width(self) -> int:
        return sum(width for _, width in self.parts)

    def extended(self, name: str, width: int) -> StatLayout:
        """This layout with ``name`` of ``width`` values after its parts."""
        return StatLayout((*self.parts, (name, width)))

    def pack(self, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """One flat tensor of every part, in order (each part flattened, dtypes promoted as
        ``torch.cat`` does; no host sync)."""
        return torch.cat([values[name].reshape(-1) for name, _ in self.parts])

    def unpack(self, flat: Sequence[float]) -> dict[str, list[float]]:
        """The values of each part of a flat sequence (host values, after one transfer)."""
        if len(flat) != self.width:
            raise ValueError(f"{len(flat)} values for a layout of width {self.width}")
        found, start = {}, 0
        for name, width in self.parts:
            found[name] = list(flat[start : start + width])
            start += width
        return found

    def split(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        """The parts of a flat tensor, as views on the device."""
        return dict(zip((n for n, _ in self.parts),
                        torch.split(flat, [w for _, w in self.parts]), strict=True))


def scalars(unpacked: Mapping[str, list[float]], names: Sequence[str]) -> dict[str, float]:
    """The single value of each of ``names`` in unpacked statistics."""
    return {name: unpacked[name][0] for name in names}
