"""Rebuild a run's model and data from its run directory and reconstruct a few grids."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np

from vaeframe.report.runs import RunRecord
from vaeframe.rundir import CHECKPOINT_NAMES, CONFIG_FILE, checkpoint_path


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


def reconstruct(record: RunRecord, checkpoint: Path, count: int) -> Reconstructions:
    """Reconstruct ``count`` grids of each split, evenly spread, from their posterior means."""
    import torch

    from vaeframe.checkpoint import load_checkpoint
    from vaeframe.config import build_config
    from vaeframe.grids import pack_grids
    from vaeframe.model_contract import build_model
    from vaeframe.plugin_calls import call_plugin
    from vaeframe.plugins import get_registry

    config = build_config({**record.config, "loggers": []}, get_registry(),
                          str(record.path / CONFIG_FILE))
    data = call_plugin(config.data, "load")
    state = load_checkpoint(checkpoint)
    model = build_model(config.model, torch.device("cpu"))
    model.load_state_dict(state["model"])
    model.eval()
    indices, inputs, outputs = {}, {}, {}
    for split, grids in (("train", data.train), ("heldout", data.heldout)):
        chosen = np.unique(np.linspace(0, len(grids) - 1, min(count, len(grids))).astype(int))
        packed = pack_grids([grids[i] for i in chosen], f"dataset {config.data.name!r}")
        with torch.no_grad():
            mu, _ = model.encode(packed)
            predicted = model.decode(mu).argmax(1)
        indices[split] = chosen
        inputs[split] = packed.numpy()
        outputs[split] = predicted.to(torch.uint8).numpy()
    return Reconstructions(checkpoint, int(state["epoch"]), indices, inputs, outputs)
