"""Each run's reconstructions, latent traversals and latent map, drawn from its checkpoint.

Runs are drawn in worker processes, one run at a time each, as many workers as there are
CPUs (and runs): matplotlib and the encoder both hold a process to one core, and a sweep's
report draws three pictures for every point.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING

from vaeframe.errors import VaeframeError
from vaeframe.registry.manager import extra_modules, set_extra_modules
from vaeframe.registry.types import GridData
from vaeframe.rundir.layout import slug
from vaeframe.rundir.record import RunRecord
from vaeframe.training.devices import available_cpus

if TYPE_CHECKING:
    from vaeframe.latents.trained import TrainedRun

RECONSTRUCTED_GRIDS = 8
Images = list[tuple[str, str]]  # (alt text, file name) of each picture


_last_dataset: dict[str, GridData] = {}  # the [data] table last loaded → its dataset


def _dataset(run: TrainedRun) -> GridData:
    """A run's dataset; loaded once for consecutive runs with the same [data] table (a
    sweep's points usually share one)."""
    key = json.dumps(run.config.to_dict()["data"], sort_keys=True)
    if key not in _last_dataset:
        _last_dataset.clear()
        _last_dataset[key] = run.data()
    return _last_dataset[key]


def pictures_of_run(record: RunRecord, checkpoint: Path, out: Path) -> Images:
    """Reconstructions, latent traversals and the latent map of one run's checkpoint."""
    from vaeframe.latents.trained import open_checkpoint
    from vaeframe.report.arc_grids import plot_reconstructions
    from vaeframe.report.latent_pictures import encode_sample, plot_latent_map, plot_traversals
    from vaeframe.report.reconstruct import reconstruct

    run = open_checkpoint(record, checkpoint)
    data = _dataset(run)
    name = slug(record.label)
    plot_reconstructions(reconstruct(run, data, RECONSTRUCTED_GRIDS), record.label,
                         out / f"reconstructions_{name}.png")
    encoded = encode_sample(run, data)
    plot_traversals(run, data, encoded, record.label, out / f"traversals_{name}.png")
    plot_latent_map(data, encoded, record.label, out / f"latents_{name}.png")
    return [(f"{record.label}: reconstructions", f"reconstructions_{name}.png"),
            (f"{record.label}: latent traversals", f"traversals_{name}.png"),
            (f"{record.label}: latent map", f"latents_{name}.png")]


def _in_worker(record: RunRecord, checkpoint: Path, out: Path) -> Images | str:
    """:func:`pictures_of_run`, with a vaeframe error returned as its message (some error
    classes do not survive the trip back between processes)."""
    try:
        return pictures_of_run(record, checkpoint, out)
    except VaeframeError as exc:
        return str(exc)


def _start_worker(threads: int, plugins: list[str]) -> None:
    """A worker's share of the CPUs, and the parent's ``-p`` plugin modules (a spawned
    process starts without them, and a run may use their components)."""
    import torch

    torch.set_num_threads(threads)
    set_extra_modules(plugins)


def _in_workers(runs: Sequence[tuple[RunRecord, Path]], out: Path,
                workers: int) -> list[Images | str] | None:
    """Each run's pictures from a worker process; ``None`` where no process pool can be made
    (no /dev/shm for its locks, say)."""
    try:
        pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"),  # never fork torch
            initializer=_start_worker,
            initargs=(max(1, available_cpus() // workers), extra_modules()))
    except (OSError, NotImplementedError):
        return None
    try:
        with pool:
            return list(pool.map(_in_worker, *zip(*runs, strict=True), [out] * len(runs)))
    except BrokenProcessPool:
        raise VaeframeError("a process drawing the runs' pictures died (out of memory?); "
                            f"the pictures in {out} may be incomplete") from None


def pictures_of_runs(runs: Sequence[tuple[RunRecord, Path]], out: Path) -> Images:
    """The pictures of every (run, checkpoint), in the order of ``runs``."""
    workers = min(len(runs), available_cpus())
    drawn = _in_workers(runs, out, workers) if workers > 1 else None
    if drawn is None:
        return [image for record, checkpoint in runs
                for image in pictures_of_run(record, checkpoint, out)]
    for found in drawn:
        if isinstance(found, str):
            raise VaeframeError(found)
    return [image for images in drawn for image in images]
