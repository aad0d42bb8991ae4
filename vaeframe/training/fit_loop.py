"""The epochs of a run: β for each, the epoch loop, then the epoch's row, evaluation and
checkpoints; a stop request saves a checkpoint and raises :class:`Interrupted`."""

from __future__ import annotations

import math

import torch

from vaeframe.config.schema import TrainSection
from vaeframe.errors import PluginError, TrainingError
from vaeframe.training.assembly import RunParts
from vaeframe.training.checkpointing import CheckpointPolicy
from vaeframe.training.clock import PhaseClock
from vaeframe.training.epoch_loop import EpochLoop
from vaeframe.training.evaluation import Evaluator, per_dim_metrics
from vaeframe.training.fastpath import capture_seconds
from vaeframe.training.loggers import LoggerHub
from vaeframe.training.loop_state import LoopState
from vaeframe.training.signals import Interrupted, StopRequest
from vaeframe.training.stats import STEP_SCALARS, scalars


class FitLoop:
    """Trains ``state`` on to ``settings.epochs``."""

    def __init__(self, parts: RunParts, state: LoopState, settings: TrainSection,
                 epoch_loop: EpochLoop, evaluator: Evaluator, checkpoints: CheckpointPolicy,
                 hub: LoggerHub, clock: PhaseClock, stop: StopRequest) -> None:
        self.parts = parts
        self.state = state
        self.settings = settings
        self.epoch_loop = epoch_loop
        self.evaluator = evaluator
        self.checkpoints = checkpoints
        self.hub = hub
        self.clock = clock
        self.stop = stop

    def run(self) -> None:
        state, epochs = self.state, self.settings.epochs
        self.clock.start_loop()
        while state.in_progress is not None or state.epoch < epochs:
            if state.in_progress is None:
                self._next_beta()
            beta = self.parts.scheduler.beta_history[-1]
            self.parts.beta.fill_(beta)
            means = self._train_epoch()
            if means is None:
                self.checkpoints.save(best=False)
                raise Interrupted(self.stop.signum or 2)
            stopping = self.epoch_loop.agreed_stop and state.epoch < epochs
            self._finish_epoch(self.epoch_loop.totals_layout.unpack(means.cpu().tolist()),
                               beta, stopping)
            self.clock.tick()
            if stopping:
                raise Interrupted(self.stop.signum or 2)

    def _next_beta(self) -> None:
        try:
            self.parts.scheduler.step(self.state.epoch + 1)
        except PluginError as exc:
            raise PluginError(f"{exc}; training stopped after epoch {self.state.epoch}; "
                              f"{self.checkpoints.note()}") from exc
        self.state.epoch += 1

    def _train_epoch(self) -> torch.Tensor | None:
        """The epoch loop, timed as ``train`` less what its fast path spent capturing."""
        captured = capture_seconds(self.parts.step_function)
        with self.clock.phase("train"):
            means = self.epoch_loop.run()
        self.clock.move("train", "capture", capture_seconds(self.parts.step_function) - captured)
        self.clock.tick()
        return means

    def _finish_epoch(self, means: dict[str, list[float]], beta: float, stopping: bool) -> None:
        """Log the epoch, evaluate when due, and save ``best.pt`` when the held-out figure
        improved and ``last.pt`` when due (:class:`CheckpointPolicy`)."""
        state = self.state
        step = scalars(means, STEP_SCALARS)
        if not all(map(math.isfinite, [*step.values(), *means["kl_per_dim"]])) or \
                not self._parameters_finite():
            raise TrainingError(self.epoch_loop.nonfinite_message())
        # lr: the rate of the epoch's last step, read at its end (not inside a step)
        metrics: dict[str, float] = {"epoch": float(state.epoch), "beta": beta,
                                     "lr": float(self.parts.optimisation.learning_rate.logged())}
        metrics.update({f"epoch/{key}": value for key, value in step.items()})
        metrics.update(per_dim_metrics("epoch/kl_per_dim", means["kl_per_dim"]))
        metrics.update({f"epoch/{key}": means[key][0]
                        for key in self.epoch_loop.layout.extras})
        metrics.update((f"epoch/kl/{key}", value) for key, value in
                       zip(self.epoch_loop.monitored_keys, means["monitored"], strict=True))
        if self.parts.training_step.skipped:
            metrics["skipped_steps"] = float(self.parts.training_step.skipped)
        if state.epoch % self.settings.eval_every_n_epochs == 0 or \
                state.epoch == self.settings.epochs:
            with self.clock.phase("evaluation"):
                metrics.update(self.evaluator())
        state.history.append(metrics)
        # a row is logged only once every earlier checkpoint is on disk, so a kill at any
        # moment loses at most checkpoint_every_n_epochs epochs of logged rows
        self.checkpoints.flush()
        self.hub.log(metrics, state.step)
        improved = state.improved(metrics.get("heldout/nonblack_acc"))
        self.checkpoints.save(best=improved,
                              last=self.checkpoints.last_due(state.epoch, stopping))

    def _parameters_finite(self) -> bool:
        flags = torch.stack([p.detach().isfinite().all() for p in self.parts.model.parameters()])
        return bool(flags.all())
