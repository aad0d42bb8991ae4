"""A finished (or interrupted) run loaded back for use: encode, decode and reconstruct grids.

>>> import vaeframe
>>> run = vaeframe.load_run("runs/ultra-20261128-120000")      # best.pt by default
>>> mu, logvar = run.encode(run.data().heldout[:10])
>>> grids = run.decode(mu)                                      # lists of 2-D int arrays
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn

from vaeframe.config.build import build_config
from vaeframe.config.schema import RunConfig
from vaeframe.errors import VaeframeError
from vaeframe.grids import pack_grids
from vaeframe.latents.codes import crop_predictions, decode_latents, encode_packed
from vaeframe.registry.manager import get_registry
from vaeframe.registry.types import GridData
from vaeframe.rundir.checkpoint import load_checkpoint, mismatch
from vaeframe.rundir.layout import CHECKPOINT_NAMES, CONFIG_FILE, checkpoint_path
from vaeframe.rundir.record import RunRecord, read_run
from vaeframe.training.data import load_grid_data
from vaeframe.training.devices import resolve_device
from vaeframe.training.model import build_model


@attrs.define
class TrainedRun:
    """A run's model in eval mode, with the run's resolved configuration and summary.

    Grids go in and come out as lists of 2-D integer arrays (colours 0-9, sides up to 30);
    latents are ``(N, latent_dim)`` float32 arrays.
    """

    record: RunRecord
    config: RunConfig
    model: nn.Module
    checkpoint: Path
    epoch: int
    device: torch.device
    averaged: bool = False  # the weights are the run's moving average (train.ema_decay)

    @property
    def run_dir(self) -> Path:
        return self.record.path

    @property
    def summary(self) -> dict[str, Any]:
        return self.record.summary

    @property
    def latent_dim(self) -> int:
        return int(self.model.latent_dim)

    @property
    def batch_size(self) -> int:
        return self.config.train.eval_batch_size

    def data(self) -> GridData:
        """The run's dataset, loaded with the run's parameters."""
        return load_grid_data(self.config.data)

    def encode(self, grids: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Posterior means and log-variances of ``grids``, each ``(N, latent_dim)``."""
        mu, logvar = encode_packed(self.model, _packed(grids, "encode(grids)"),
                                   self.batch_size)
        return mu.numpy(), logvar.numpy()

    def decode_logits(self, z: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Logits ``(N, 11, 30, 30)`` of latents ``z`` (class 10 is padding)."""
        return decode_latents(self.model, checked_codes(z, self.latent_dim, "decode(z)"),
                              self.batch_size)

    def decode(self, z: np.ndarray | torch.Tensor) -> list[np.ndarray]:
        """The most likely grid for each latent, cropped to the size the model predicts."""
        return crop_predictions(self.decode_logits(z))

    def evaluate(self, grids: Sequence[np.ndarray]) -> dict[str, Any]:
        """The figures training logs, computed the same way: ``nonblack_acc`` (over all 11
        classes on the 30×30 canvas), ``recon_loss``, ``kl_per_dim`` and ``active_units``."""
        from vaeframe.registry.calls import call_plugin
        from vaeframe.training.evaluation import evaluate

        packed = _packed(grids, "evaluate(grids)").to(self.device)
        found = evaluate(self.model, packed, self.batch_size,
                         lambda logits, batch: call_plugin(self.config.loss, "loss", logits,
                                                           batch))
        return {key: value.tolist() for key, value in found.items()}

    def reconstruct(self, grids: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Each grid encoded to its posterior mean and decoded."""
        mu, _ = encode_packed(self.model, _packed(grids, "reconstruct(grids)"), self.batch_size)
        return self.decode(mu)


def _packed(grids: Sequence[np.ndarray], source: str) -> torch.Tensor:
    """``grids`` packed by :func:`pack_grids`, or one error if they are not a sequence."""
    if isinstance(grids, (str, bytes)) or not hasattr(grids, "__len__"):
        raise VaeframeError(f"{source}: expected a list of 2-D grids, got "
                            f"{type(grids).__name__}")
    return pack_grids(list(grids), source)


def checked_codes(z: object, latent_dim: int, source: str) -> torch.Tensor:
    """``z`` as a float32 ``(N, latent_dim)`` tensor of finite numbers, or one
    :class:`VaeframeError` naming ``source`` and what is wrong."""
    try:
        array = np.asarray(z.detach().cpu() if isinstance(z, torch.Tensor) else z,
                           dtype=np.float32)
    except (TypeError, ValueError):
        raise VaeframeError(f"{source}: latents must be numbers in an array of shape "
                            f"(N, {latent_dim}); got ragged rows or non-numbers") from None
    if array.ndim != 2 or array.shape[1] != latent_dim:
        raise VaeframeError(f"{source}: expected latents of shape (N, {latent_dim}), "
                            f"got {array.shape}")
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        raise VaeframeError(f"{source}: latent {int(np.flatnonzero(bad)[0])} holds NaN or "
                            "infinity; latents must be finite")
    return torch.from_numpy(array)


def _checkpoint(run_dir: Path, which: str) -> Path:
    if which not in CHECKPOINT_NAMES:
        raise VaeframeError(f"checkpoint = {which!r}: expected one of "
                            f"{', '.join(CHECKPOINT_NAMES)}")
    path = checkpoint_path(run_dir, which)
    if not path.is_file():
        present = [name for name in CHECKPOINT_NAMES if checkpoint_path(run_dir, name).is_file()]
        hint = f"; it has {', '.join(present)}" if present else \
            " (the run stopped before its first epoch ended)"
        raise VaeframeError(f"{run_dir}: no {which} checkpoint ({path} is missing){hint}")
    return path


def load_run(run_dir: str | Path, checkpoint: str = "best",
             device: str | torch.device = "cpu", device_source: str = "load_run(device)"
             ) -> TrainedRun:
    """Load a run directory's model from ``checkpoint`` (``"best"``: best held-out accuracy,
    or ``"last"``) onto ``device``, whichever device it was trained on. A device this
    machine lacks is an error naming ``device_source`` (the argument or flag it came from),
    before the run is read."""
    if not isinstance(device, torch.device):
        device = resolve_device(str(device), device_source)
    run_dir = Path(run_dir)
    record = read_run(run_dir)
    return open_checkpoint(record, _checkpoint(run_dir, checkpoint), device)


def open_checkpoint(record: RunRecord, path: Path,
                    device: str | torch.device = "cpu") -> TrainedRun:
    """The model of the run ``record`` with the weights of the checkpoint file ``path``:
    the averaged weights where the run averaged them (``train.ema_decay``), as its
    evaluations did."""
    config = build_config({**record.config, "loggers": []}, get_registry(),
                          str(record.path / CONFIG_FILE))
    device = torch.device(device)
    state = load_checkpoint(path, map_location=device)
    model = build_model(config.model, device)
    try:
        model.load_state_dict(state["averaged"]["model"] if "averaged" in state
                              else state["model"])
    except (RuntimeError, KeyError) as exc:
        raise VaeframeError(f"{path}: its weights do not fit {config.model.describe()} as "
                            f"installed now (written by another version of the model's plugin "
                            f"or of vaeframe?): {mismatch(exc)}") from None
    model.eval()
    return TrainedRun(record, config, model, path, int(state["epoch"]), device,
                      averaged="averaged" in state)
