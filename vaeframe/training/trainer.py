"""The trainer: a front end that assembles one run's collaborators and runs its loops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vaeframe.config.schema import ComponentConfig, RunConfig
from vaeframe.errors import VaeframeError
from vaeframe.rundir.checkpoint import FORMAT as CHECKPOINT_FORMAT
from vaeframe.rundir.checkpoint import mismatch
from vaeframe.training.assembly import RunParts, assemble
from vaeframe.training.checkpointing import CheckpointPolicy
from vaeframe.training.clock import PhaseClock
from vaeframe.training.devices import resolve_device
from vaeframe.training.distributed import World
from vaeframe.training.epoch_loop import EpochLoop
from vaeframe.training.evaluation import Evaluator
from vaeframe.training.fit_loop import FitLoop
from vaeframe.training.loggers import LoggerHub
from vaeframe.training.loop_state import LoopState
from vaeframe.training.record import TrainingRecord
from vaeframe.training.rng import restore_rng_state, rng_state, seed_everything
from vaeframe.training.signals import StopRequest
from vaeframe.version import __version__


class Trainer:
    """One training run of a :class:`RunConfig` into a run directory.

    The runner checks the settings, resolves the device and starts the world first
    (:mod:`vaeframe.runs.runner`) and passes ``device``; without it, ``train.device`` is
    resolved here (for tests and benchmarks). ``loggers`` is the list of opened loggers,
    which the runner fills; ``started`` is the ``time.perf_counter()`` at which the run
    started (the CLI: vaeframe's import), so that the time until the trainer is made is
    ``startup``.
    """

    def __init__(self, config: RunConfig, run_dir: Path, loggers: list[ComponentConfig],
                 stop: StopRequest | None = None, world: World | None = None,
                 started: float | None = None, device: torch.device | None = None) -> None:
        self.config, self.run_dir = config, run_dir
        self.world = world or World()
        self.device = device or resolve_device(config.train.device)
        self.clock = PhaseClock(started)
        self.stop = stop or StopRequest()
        self.parts: RunParts = assemble(config, self.device, self.world, self.clock)
        self.state = LoopState()
        t = config.train
        self.checkpoints = CheckpointPolicy(run_dir, self.state_dict, self.world, self.clock,
                                            t.checkpoint_every_n_epochs, t.epochs,
                                            background=t.checkpoint_writer == "thread",
                                            on_failure=self.stop.fail)
        hub = LoggerHub(loggers, self.clock)
        self.epoch_loop = EpochLoop(self.parts, self.state, t, self.world, self.stop, hub,
                                    config.kl, self.checkpoints.note)
        average = self.parts.optimisation.average  # evaluated, and in best.pt, when on
        evaluator = Evaluator(average.model if average else self.parts.model,
                              self.parts.data.train, self.parts.data.heldout,
                              t.eval_batch_size, config.loss, self.world)
        self.fit_loop = FitLoop(self.parts, self.state, t, self.epoch_loop, evaluator,
                                self.checkpoints, hub, self.clock, self.stop)
        self.ranks_agree: bool | None = None

    @property
    def model(self) -> torch.nn.Module:
        return self.parts.model

    def fit(self) -> TrainingRecord:
        """Train to ``train.epochs``; raises :class:`Interrupted` after saving on a signal.

        Every checkpoint is on disk when it returns or raises."""
        try:
            self.fit_loop.run()
            if self.world.parallel:
                flat = torch.cat([p.detach().flatten() for p in self.model.parameters()]).cpu()
                self.ranks_agree = all(torch.equal(flat, other)
                                       for other in self.world.gather(flat))
        finally:
            self.checkpoints.flush()  # its wait counts in the record
        return self.record()

    def state_dict(self) -> dict[str, Any]:
        """A checkpoint (format 1): every rank takes part (RNG states are gathered)."""
        parts = self.parts
        return {
            "format": CHECKPOINT_FORMAT, "vaeframe_version": __version__,
            "model": parts.model.state_dict(), **parts.optimisation.state_dict(),
            **self.state.state_dict(),
            "scheduler": parts.scheduler.state_dict(),
            "rng": self.world.gather(rng_state(parts.generator)),
            "counters": {**self.clock.state_dict(), "grids_seen": self.state.grids_seen,
                         "skipped_steps": parts.training_step.skipped},
            **({"objective": networks.state_dict()}
               if (networks := parts.training_step.networks) else {}),
            "config": self.config.to_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], source: Path) -> None:
        parts = self.parts
        try:
            parts.model.load_state_dict(state["model"])
            parts.optimisation.load_state_dict(state)
            if parts.training_step.networks is not None:
                parts.training_step.networks.load_state_dict(state["objective"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise VaeframeError(f"{source}: does not fit this run's model, optimizer or "
                                "objective networks (was [model], [optimizer], [kl] or "
                                "train.ema_decay changed?): "
                                f"{mismatch(exc)}") from None
        self.state.load_state_dict(state, self.device)
        parts.scheduler.load_state_dict(state["scheduler"])
        self.clock.load_state_dict(state["counters"])
        parts.training_step.skipped = int(state["counters"]["skipped_steps"])
        rngs = state["rng"]
        if len(rngs) == self.world.size:
            restore_rng_state(rngs[self.world.rank], parts.generator)
        else:  # another world size: the order of grids continues, the noise is reseeded
            restore_rng_state(rngs[0], parts.generator)
            seed_everything(self.config.run.seed + self.world.rank + 7919 * self.state.step)

    def record(self, disentanglement: dict[str, Any] | None = None) -> TrainingRecord:
        """What the run's summary reports."""
        parts, state = self.parts, self.state
        return TrainingRecord(
            name=self.config.run.name, run_dir=str(self.run_dir), device=str(self.device),
            world_size=self.world.size, ranks_agree=self.ranks_agree,
            epochs=self.config.train.epochs, epochs_completed=state.epochs_completed,
            steps=state.step, skipped_steps=parts.training_step.skipped,
            wall_seconds=self.clock.wall_seconds, train_seconds=self.clock.seconds["train"],
            grids_seen=state.grids_seen, phase_seconds=self.clock.phase_seconds(),
            latent_dim=parts.model.latent_dim,
            dataset=parts.data.describe(self.config.data.name), history=state.history,
            beta_history=parts.scheduler.beta_history, best_epoch=state.best_epoch,
            best_metric=state.best_metric, declared=parts.declared,
            ema_decay=self.config.train.ema_decay, disentanglement=disentanglement)
