"""The batches of one epoch: progress, the step, running sums and logging steps.

Nothing reaches the host except at logging steps and the epoch's end, each one transfer of
named statistics (:mod:`vaeframe.training.stats`) that also carries the ranks' agreement on
a stop request under torchrun.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from vaeframe.config.schema import TrainSection
from vaeframe.errors import TrainingError
from vaeframe.registry.calls import call_plugin
from vaeframe.training.assembly import RunParts
from vaeframe.training.distributed import World
from vaeframe.training.evaluation import per_dim_metrics
from vaeframe.training.loggers import LoggerHub
from vaeframe.training.loop_state import EpochInProgress, LoopState
from vaeframe.training.signals import StopRequest
from vaeframe.training.stats import STEP_SCALARS, StatLayout, scalars


class EpochLoop:
    """Runs the epoch in progress of ``state`` to its end, or until a stop is agreed."""

    def __init__(self, parts: RunParts, state: LoopState, settings: TrainSection,
                 world: World, stop: StopRequest, hub: LoggerHub, kl: Any,
                 checkpoint_note: Callable[[], str]) -> None:
        self.parts = parts
        self.state = state
        self.settings = settings
        self.world = world
        self.stop = stop
        self.hub = hub
        self.kl = kl  # the KL regularizer component, whose monitor() is logged
        self.checkpoint_note = checkpoint_note
        self.layout = parts.training_step.layout
        self.monitored_keys = list(self.monitored())
        #: the epoch's running sums: the step's statistics, then the monitored values
        self.totals_layout = self.layout.extended("monitored", len(self.monitored_keys))
        #: a logging step's transfer: the totals' parts, then a scheduled learning rate
        self.learning_rate = parts.optimisation.learning_rate
        self.logged_layout = (self.totals_layout if self.learning_rate.constant
                              else self.totals_layout.extended("lr", 1))
        self.agreed_stop = False
        # progress is written before each step only where a component reads it
        self.uses_progress = parts.monitor is not None or parts.training_step.reads_progress

    @property
    def num_steps(self) -> int:
        return -(-self.parts.data.train.shape[0] // self.settings.batch_size)

    def monitored(self) -> dict[str, torch.Tensor]:
        """The KL regularizer's monitored values at the current progress, on the device."""
        if self.parts.monitor is None:
            return {}
        values = call_plugin(self.kl, "monitor", self.parts.progress)
        device = self.parts.beta.device
        return {key: torch.as_tensor(value, device=device).float().reshape(())
                for key, value in dict(values).items()}

    def run(self) -> torch.Tensor | None:
        """The epoch's mean statistics (summed over ranks); ``None`` if a stop came first."""
        state, parts, n = self.state, self.parts, self.parts.data.train.shape[0]
        if state.in_progress is None:
            order = torch.randperm(n, device=parts.beta.device, generator=parts.generator)
            state.in_progress = EpochInProgress(
                order, 0, torch.zeros(self.totals_layout.width, device=order.device))
        epoch = state.in_progress
        if epoch.totals.numel() < self.totals_layout.width:  # older checkpoints: no monitored
            epoch.totals = torch.cat([epoch.totals, epoch.totals.new_zeros(
                self.totals_layout.width - epoch.totals.numel())])
        self.hub.epoch_started(state.epoch, self.settings.epochs, self.num_steps)
        while epoch.batch_index < self.num_steps:
            if self.agreed_stop or (self.stop.requested and not self.world.parallel):
                return None
            stats = self._step(epoch)
            if stats is None:
                continue
            epoch.totals += self._with_monitored(stats)
            epoch.steps_in_totals += 1
            if state.step % self.settings.log_every_n_steps == 0:
                self._log_step(stats)
        state.in_progress = None
        state.grids_seen += n
        return self.reduce_with_stop_flag(epoch.totals) / max(epoch.steps_in_totals, 1)

    def _step(self, epoch: EpochInProgress) -> torch.Tensor | None:
        state, batch_size = self.state, self.settings.batch_size
        start = epoch.batch_index * batch_size
        indices, weight = self.world.shard(epoch.order[start : start + batch_size])
        self.parts.training_step.loss_weight = weight
        if self.uses_progress:
            done = (state.epoch - 1 + epoch.batch_index / self.num_steps) / self.settings.epochs
            self.parts.progress.set(state.epoch, state.step + 1, self.settings.epochs, done)
        stats = self.parts.step_function(self.parts.data.train[indices])
        epoch.batch_index += 1
        state.step += 1
        if stats is not None and self.world.parallel:  # the sum over ranks is the global mean
            stats = stats * (weight / self.world.size)
        return stats

    def _with_monitored(self, stats: torch.Tensor, share: float | None = None) -> torch.Tensor:
        """``stats`` followed by the monitored values (each rank's ``share`` of them)."""
        if not self.monitored_keys:
            return stats
        values = torch.stack(list(self.monitored().values()))
        share = (1 / self.world.size) if share is None else share
        return self.totals_layout.pack({**self.layout.split(stats),
                                        "monitored": values * share if share != 1 else values})

    def _log_step(self, stats: torch.Tensor) -> None:
        """One transfer: the ranks' summed statistics, the monitored values and the
        learning rate of the step (the same on every rank)."""
        flat = self._with_monitored(self.reduce_with_stop_flag(stats), share=1)
        if not self.learning_rate.constant:
            flat = self.logged_layout.pack({**self.totals_layout.split(flat),
                                            "lr": self.learning_rate.logged()})
        values = self.logged_layout.unpack(flat.cpu().tolist())
        self.hub.log(self.step_metrics(values), self.state.step)

    def reduce_with_stop_flag(self, stats: torch.Tensor) -> torch.Tensor:
        """Under torchrun: sum ``stats`` over ranks and agree on a stop request, in one
        all-reduce (only at logging steps and epoch ends)."""
        if not self.world.parallel:
            self.agreed_stop = self.stop.requested
            return stats
        flag = torch.tensor([float(self.stop.requested)], device=stats.device)
        layout = StatLayout((("stats", stats.numel()), ("stop", 1)))
        reduced = layout.split(self.world.sum(layout.pack({"stats": stats.detach(),
                                                            "stop": flag})))
        self.agreed_stop = bool(reduced["stop"] > 0)
        return reduced["stats"]

    def step_metrics(self, values: dict[str, list[float]]) -> dict[str, float]:
        """A logging step's row; a non-finite loss stops training."""
        step = scalars(values, STEP_SCALARS)
        if not all(map(math.isfinite, step.values())):
            raise TrainingError(self.nonfinite_message())
        metrics = {f"train/{key}": value for key, value in step.items()}
        metrics["train/beta"] = self.parts.scheduler.beta_history[-1]
        metrics["train/lr"] = values["lr"][0] if "lr" in values else self.learning_rate.logged()
        metrics.update(per_dim_metrics("train/kl_per_dim", values["kl_per_dim"]))
        metrics.update(scalars({f"train/{k}": values[k] for k in self.layout.extras},
                               [f"train/{k}" for k in self.layout.extras]))
        metrics.update((f"train/kl/{key}", value)
                       for key, value in zip(self.monitored_keys, values["monitored"],
                                             strict=True))
        metrics["epoch"] = float(self.state.epoch)
        return metrics

    def nonfinite_message(self) -> str:
        return (f"non-finite loss detected at step {self.state.step} (epoch {self.state.epoch};"
                " checked at logging steps and epoch ends); training stopped and no checkpoint "
                f"was overwritten; {self.checkpoint_note()}. Lower optimizer.lr, or set "
                "train.on_nonfinite = \"skip\" to skip such steps")
