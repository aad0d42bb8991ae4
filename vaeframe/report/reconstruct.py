"""A run's model rebuilt from its run directory, and a few grids reconstructed with it."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np

from vaeframe.latents.trained import TrainedRun
from vaeframe.registry.types import GridData
from vaeframe.rundir.layout import CHECKPOINT_NAMES, checkpoint_path
from vaeframe.rundir.record import RunRecord


@attrs.frozen
class Reconstructions:
    """Inputs and reconstructions (``(k, 30, 30)`` uint8, padding = 10) of both splits."""

    checkpoint: Path
    epoch: int
    indices: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]


def find_checkpoint(record: RunRecord) -> Path | None:
    """``checkpoints/best.pt`` (best held-out accuracy), else ``last.pt``, else ``None``."""
    for name in CHECKPOINT_NAMES:
        path = checkpoint_path(record.path, name)
        if path.is_file():
            return path
    return None


def reconstruct(run: TrainedRun, data: GridData, count: int) -> Reconstructions:
    """Reconstruct ``count`` grids of each split, evenly spread, from their posterior means."""
    import torch

    from vaeframe.grids import most_likely_class, pack_grids
    from vaeframe.latents.codes import encode_packed

    indices, inputs, outputs = {}, {}, {}
    for split, grids in (("train", data.train), ("heldout", data.heldout)):
        chosen = np.unique(np.linspace(0, len(grids) - 1, min(count, len(grids))).astype(int))
        packed = pack_grids([grids[i] for i in chosen], f"dataset {run.config.data.name!r}")
        mu, _ = encode_packed(run.model, packed, run.batch_size)
        indices[split] = chosen
        inputs[split] = packed.numpy()
        outputs[split] = most_likely_class(run.decode_logits(mu)).to(torch.uint8).numpy()
    return Reconstructions(run.checkpoint, run.epoch, indices, inputs, outputs)
