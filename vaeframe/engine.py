"""The trainer: the training loop, evaluation, checkpoints and resuming of one run."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel

from vaeframe import __version__, distributed
from vaeframe.allocator import keep_freed_memory
from vaeframe.api import Progress
from vaeframe.checkpoint import FORMAT as CHECKPOINT_FORMAT
from vaeframe.checkpoint import load_checkpoint, mismatch
from vaeframe.checkpoint_writer import CheckpointWriter
from vaeframe.config import ComponentConfig, RunConfig
from vaeframe.datasets import load_grid_data
from vaeframe.declarations import declarations
from vaeframe.distributed import World
from vaeframe.errors import PluginError, TrainingError, VaeframeError
from vaeframe.factor_scores import factor_scores
from vaeframe.fastpath import capture_seconds, make_step_function
from vaeframe.grids import count_seen, pack_grids
from vaeframe.interrupts import StopRequest
from vaeframe.metrics import evaluate
from vaeframe.model_contract import build_model
from vaeframe.plugin_calls import call_plugin, plugin_failure
from vaeframe.rng import restore_rng_state, rng_state, seed_everything
from vaeframe.rundir import checkpoint_path
from vaeframe.schedules import BetaScheduler
from vaeframe.step import STEP_SCALARS, TrainingStep
from vaeframe.summary import TrainingRecord, run_summary
from vaeframe.timing import PHASES, SETUP_PHASES


class Interrupted(Exception):
    """Training stopped on a signal after saving a checkpoint."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by signal {signum}")


def resolve_device(name: str) -> torch.device:
    """``auto`` is CUDA when present, else the CPU; a device that is absent is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise VaeframeError(f"train.device = {name!r}, but no CUDA device is available; "
                            "use 'auto' or 'cpu'")
    if name == "mps" and not torch.backends.mps.is_available():
        raise VaeframeError("train.device = 'mps', but MPS is not available; use 'auto' or 'cpu'")
    return torch.device(name)


def per_dim_metrics(prefix: str, values: list[float]) -> dict[str, float]:
    """``prefix/dim_i`` for every value, plus ``prefix/min``, ``/max`` and ``/mean``."""
    metrics = {f"{prefix}/dim_{i}": v for i, v in enumerate(values)}
    if values:
        metrics[f"{prefix}/min"] = min(values)
        metrics[f"{prefix}/max"] = max(values)
        metrics[f"{prefix}/mean"] = sum(values) / len(values)
    return metrics


class Trainer:
    """One training run of a :class:`RunConfig` into a run directory.

    Settings are checked before it is made (:func:`vaeframe.runner.check_settings`); the
    trainer builds the components, runs the loop, evaluates, and saves and restores
    checkpoints. :meth:`record` is what the run's summary reports. ``started`` is the
    ``time.perf_counter()`` at which the run started (the CLI: vaeframe's import): the time
    until the trainer is made is reported as ``startup``.
    """

    def __init__(self, config: RunConfig, run_dir: Path, loggers: list[ComponentConfig],
                 stop: StopRequest | None = None, world: World | None = None,
                 started: float | None = None) -> None:
        began = time.perf_counter()
        self.seconds = dict.fromkeys(PHASES, 0.0)  # where the wall time went besides training
        self.seconds["startup"] = began - started if started is not None else 0.0
        self.config = config
        self.run_dir = run_dir
        self.loggers = loggers
        self.stop = stop or StopRequest()
        self.world = world or World()
        self.device = distributed.start(self.world, resolve_device(config.train.device))
        if self.device.type == "cpu":
            keep_freed_memory()
        # sampling noise differs between ranks; the order of grids (self.generator) does not
        seed_everything(config.run.seed + self.world.rank)

        loading = time.perf_counter()
        data = load_grid_data(config.data)
        self.data = data
        source = f"dataset {config.data.name!r}"
        self.train_grids = pack_grids(data.train, source).to(self.device)
        self.heldout_grids = pack_grids(data.heldout, source).to(self.device)
        self.data_description = data.description
        self.heldout_seen = count_seen(data.heldout, data.train)
        self.seconds["data"] = time.perf_counter() - loading

        self.model = build_model(config.model, self.device)
        self.latent_dim: int = self.model.latent_dim
        t = config.train
        self.network: torch.nn.Module = self.model
        if self.world.parallel:  # DDP broadcasts rank 0's initial weights to every rank
            self.network = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        cuda = self.device.type == "cuda"
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=t.lr,
                                          weight_decay=t.weight_decay, fused=cuda or None,
                                          capturable=t.compile == "graph")
        self.scheduler = BetaScheduler(config.schedule.params, config.train.epochs,
                                       config.schedule.describe())
        self.declared = declarations(config.schedule, config.kl, config.train.epochs)
        self.beta = torch.zeros((), device=self.device)
        self.progress = Progress.create(config.train.epochs, self.device)
        self.monitor = getattr(config.kl.params, "monitor", None)
        self.training_step = TrainingStep(
            network=self.network, optimizer=self.optimizer, loss=config.loss,
            regularizer=config.kl, beta=self.beta, progress=self.progress,
            bf16=t.precision == "bf16", parallel=self.world.parallel,
            skip_nonfinite=t.on_nonfinite == "skip", transforms=config.transforms)
        # progress is written before each step only where a component reads it
        self.uses_progress = self.monitor is not None or self.training_step.reads_progress
        self.generator = torch.Generator(device=self.device).manual_seed(config.run.seed)
        self.epoch = 0
        self.step = 0
        self.best_metric = -1.0
        self.best_epoch = 0
        self.history: list[dict[str, float]] = []
        self.train_seconds = 0.0
        self.wall_seconds = 0.0
        self.writer = CheckpointWriter(background=t.checkpoint_writer == "thread")
        self.grids_seen = 0
        # the epoch in progress: its order of grids, the next batch and the running sums
        self.order: torch.Tensor | None = None
        self.batch_index = 0
        self.totals = self._zero_totals()
        self.steps_in_totals = 0
        self.agreed_stop = False
        self.ranks_agree: bool | None = None
        self.disentanglement: dict[str, Any] | None = None  # at the end, for factor datasets
        self.step_function = make_step_function(self.training_step, self.model, t.compile)
        self.seconds["setup"] = time.perf_counter() - began - self.seconds["data"]

    def _zero_totals(self) -> torch.Tensor:
        return torch.zeros(len(STEP_SCALARS) + self.latent_dim, device=self.device)

    @property
    def skipped_steps(self) -> int:
        return self.training_step.skipped

    def _monitored(self, prefix: str) -> tuple[list[str], torch.Tensor | None]:
        """The KL regularizer's monitored values at the current progress, on the device."""
        if self.monitor is None:
            return [], None
        try:
            values = dict(self.monitor(self.progress))
        except Exception as exc:
            raise plugin_failure(self.config.kl, "monitor", exc) from exc
        keys = [f"{prefix}/kl/{key}" for key in values]
        return keys, torch.stack([torch.as_tensor(v, device=self.device).float().reshape(())
                                  for v in values.values()]) if values else None

    def train_epoch(self) -> torch.Tensor | None:
        """Run the epoch in progress to its end; ``None`` if a stop was requested first."""
        n = self.train_grids.shape[0]
        batch_size = self.config.train.batch_size
        log_every = self.config.train.log_every_n_steps
        num_steps = (n + batch_size - 1) // batch_size
        epochs = self.config.train.epochs
        if self.order is None:
            self.order = torch.randperm(n, device=self.device, generator=self.generator)
            self.batch_index, self.steps_in_totals = 0, 0
            self.totals = self._zero_totals()
        for logger in self.loggers:
            call_plugin(logger, "epoch_started", self.epoch, self.config.train.epochs, num_steps)
        while self.batch_index < num_steps:
            if self.agreed_stop or (self.stop.requested and not self.world.parallel):
                return None
            start = self.batch_index * batch_size
            indices, weight = self.world.shard(self.order[start : start + batch_size])
            self.training_step.loss_weight = weight
            if self.uses_progress:
                self.progress.set(self.epoch, self.step + 1, epochs,
                                  (self.epoch - 1 + self.batch_index / num_steps) / epochs)
            stats = self.step_function(self.train_grids[indices])
            self.batch_index += 1
            self.step += 1
            if stats is None:
                continue
            if self.world.parallel:  # weighted so that the sum over ranks is the global mean
                stats = stats * (weight / self.world.size)
            self.totals += stats
            self.steps_in_totals += 1
            if self.step % log_every == 0:
                reduced = self._reduce_with_stop_flag(stats)
                keys, monitored = self._monitored("train")
                if monitored is not None:
                    reduced = torch.cat([reduced, monitored])
                self._log(self._step_metrics(reduced.cpu(), keys))
        self.order = None
        self.grids_seen += n
        return self._reduce_with_stop_flag(self.totals) / max(self.steps_in_totals, 1)

    def _reduce_with_stop_flag(self, stats: torch.Tensor) -> torch.Tensor:
        """Under torchrun: sum ``stats`` over ranks and agree on a stop request, in one
        all-reduce (only at logging steps and epoch ends)."""
        if not self.world.parallel:
            self.agreed_stop = self.stop.requested
            return stats
        flag = torch.tensor([float(self.stop.requested)], device=stats.device)
        reduced = self.world.sum(torch.cat([stats.detach(), flag]))
        self.agreed_stop = bool(reduced[-1] > 0)
        return reduced[:-1]

    # -- metrics -----------------------------------------------------------------------------
    def _step_metrics(self, stats: torch.Tensor, monitored: list[str]) -> dict[str, float]:
        values = stats.tolist()
        if not all(map(math.isfinite, values[: len(STEP_SCALARS)])):
            raise TrainingError(self._nonfinite_message())
        metrics = {f"train/{key}": v for key, v in zip(STEP_SCALARS, values, strict=False)}
        metrics["train/beta"] = self.scheduler.beta_history[-1]
        per_dim = values[len(STEP_SCALARS) : len(STEP_SCALARS) + self.latent_dim]
        metrics.update(per_dim_metrics("train/kl_per_dim", per_dim))
        metrics.update(zip(monitored, values[len(STEP_SCALARS) + self.latent_dim :],
                           strict=True))
        metrics["epoch"] = float(self.epoch)
        return metrics

    def _checkpoint_note(self) -> str:
        self._flush_checkpoints()
        last = checkpoint_path(self.run_dir, "last")
        if not last.exists():
            return "there is no checkpoint yet"
        return f"the last good checkpoint is {last} (epoch {self._checkpoint_epoch()})"

    def _nonfinite_message(self) -> str:
        return (f"non-finite loss detected at step {self.step} (epoch {self.epoch}; checked at "
                "logging steps and epoch ends); training stopped and no checkpoint was "
                f"overwritten; {self._checkpoint_note()}. Lower train.lr, or set "
                "train.on_nonfinite = \"skip\" to skip such steps")

    def _checkpoint_epoch(self) -> int | str:
        try:
            return load_checkpoint(checkpoint_path(self.run_dir, "last"))["epoch"]
        except VaeframeError:
            return "?"

    def _log(self, metrics: Mapping[str, float]) -> None:
        t0 = time.perf_counter()
        for logger in self.loggers:
            call_plugin(logger, "log", metrics, self.step)
        self.seconds["loggers"] += time.perf_counter() - t0

    def _recon_loss(self, logits: torch.Tensor, grids: torch.Tensor) -> torch.Tensor:
        return call_plugin(self.config.loss, "loss", logits, grids)

    def _evaluate(self) -> dict[str, float]:
        batch_size = self.config.train.eval_batch_size
        rank, size = self.world.rank, self.world.size  # each rank evaluates its share
        train = evaluate(self.model, self.train_grids[rank::size], batch_size,
                         self._recon_loss, self.world.sum)
        heldout = evaluate(self.model, self.heldout_grids[rank::size], batch_size,
                           self._recon_loss, self.world.sum)
        flat = torch.cat([
            torch.stack([train["nonblack_acc"].float(), heldout["nonblack_acc"].float(),
                         train["active_units"].float(), heldout["recon_loss"]]),
            heldout["kl_per_dim"],
        ]).cpu().tolist()
        metrics = {"train/nonblack_acc": flat[0], "heldout/nonblack_acc": flat[1],
                   "active_units": flat[2], "heldout/recon_loss": flat[3]}
        metrics.update(per_dim_metrics("heldout/kl_per_dim", flat[4:]))
        return metrics

    # -- the loop ----------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Train to ``train.epochs``; raises :class:`Interrupted` after saving on a signal.

        Every checkpoint is on disk when it returns or raises."""
        try:
            return self._fit()
        finally:
            self._flush_checkpoints()

    def _fit(self) -> dict[str, Any]:
        epochs = self.config.train.epochs
        started = time.perf_counter() - self.wall_seconds
        while self.order is not None or self.epoch < epochs:
            if self.order is None:
                try:
                    self.scheduler.step(self.epoch + 1)
                except PluginError as exc:
                    raise PluginError(f"{exc}; training stopped after epoch {self.epoch}; "
                                      f"{self._checkpoint_note()}") from exc
                self.epoch += 1
            beta = self.scheduler.beta_history[-1]
            self.beta.fill_(beta)
            t0, logged = time.perf_counter(), self.seconds["loggers"]
            captured = capture_seconds(self.step_function)
            epoch_means = self.train_epoch()
            captured = capture_seconds(self.step_function) - captured
            self.seconds["capture"] += captured
            self.train_seconds += (time.perf_counter() - t0 - captured
                                   - (self.seconds["loggers"] - logged))
            self.wall_seconds = time.perf_counter() - started
            if epoch_means is None:
                self.save_checkpoint(best=False)
                raise Interrupted(self.stop.signum or 2)
            stopping = self.agreed_stop and self.epoch < epochs
            self._finish_epoch(epoch_means.cpu().tolist(), beta, stopping)
            self.wall_seconds = time.perf_counter() - started
            if stopping:
                raise Interrupted(self.stop.signum or 2)
        if self.world.parallel:
            flat = torch.cat([p.detach().flatten() for p in self.model.parameters()]).cpu()
            self.ranks_agree = all(torch.equal(flat, other) for other in self.world.gather(flat))
        if self.world.is_main:
            t0 = time.perf_counter()
            self.disentanglement = factor_scores(self.model, self.data,
                                                 self.config.train.eval_batch_size,
                                                 self.config.run.seed)
            self.seconds["disentanglement"] += time.perf_counter() - t0
        self._flush_checkpoints()  # its wait counts in the summary
        return run_summary(self.record(), "finished")

    def _finish_epoch(self, means: list[float], beta: float, stopping: bool) -> None:
        """Log the epoch, evaluate when due, and save ``best.pt`` when the held-out figure
        improved and ``last.pt`` every ``checkpoint_every_n_epochs``, at the end, and before
        a stop."""
        if not all(map(math.isfinite, means)) or not self._parameters_finite():
            raise TrainingError(self._nonfinite_message())
        metrics: dict[str, float] = {"epoch": float(self.epoch), "beta": beta}
        metrics.update({f"epoch/{k}": v for k, v in zip(STEP_SCALARS, means, strict=False)})
        metrics.update(per_dim_metrics("epoch/kl_per_dim", means[len(STEP_SCALARS):]))
        keys, monitored = self._monitored("epoch")
        if monitored is not None:
            metrics.update(zip(keys, monitored.cpu().tolist(), strict=True))
        if self.skipped_steps:
            metrics["skipped_steps"] = float(self.skipped_steps)
        epochs = self.config.train.epochs
        if self.epoch % self.config.train.eval_every_n_epochs == 0 or self.epoch == epochs:
            t0 = time.perf_counter()
            metrics.update(self._evaluate())
            self.seconds["evaluation"] += time.perf_counter() - t0
        self.history.append(metrics)
        self._log(metrics)
        score = metrics.get("heldout/nonblack_acc")
        improved = score is not None and score > self.best_metric
        if improved:
            self.best_metric, self.best_epoch = score, self.epoch
        last = (self.epoch % self.config.train.checkpoint_every_n_epochs == 0
                or self.epoch == epochs or stopping)
        if improved or last:
            self.save_checkpoint(best=improved, last=last)

    def _parameters_finite(self) -> bool:
        flags = torch.stack([p.detach().isfinite().all() for p in self.model.parameters()])
        return bool(flags.all())

    # -- state -------------------------------------------------------------------------------
    def save_checkpoint(self, best: bool, last: bool = True) -> None:
        """Every rank takes part (RNG states are gathered); rank 0 hands the state to the
        checkpoint writer (``best.pt`` first, then ``last.pt``)."""
        state = self.state_dict()
        if not self.world.is_main:
            return
        names = ["best"] * best + ["last"] * last
        t0 = time.perf_counter()  # the snapshot, and any wait for the previous write
        self.writer.submit(state, [checkpoint_path(self.run_dir, name) for name in names])
        self.seconds["checkpoints"] += time.perf_counter() - t0

    def _flush_checkpoints(self) -> None:
        t0 = time.perf_counter()
        self.writer.flush()
        self.seconds["checkpoints"] += time.perf_counter() - t0

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "vaeframe_version": __version__,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "scheduler": self.scheduler.state_dict(),
            "best": {"metric": self.best_metric, "epoch": self.best_epoch},
            "rng": self.world.gather(rng_state(self.generator)),
            "epoch_in_progress": None if self.order is None else {
                "order": self.order, "batch_index": self.batch_index,
                "totals": self.totals, "steps_in_totals": self.steps_in_totals},
            "history": self.history,
            "counters": {"train_seconds": self.train_seconds, "wall_seconds": self.wall_seconds,
                         **{f"{phase}_seconds": self.seconds[phase] for phase in PHASES},
                         "grids_seen": self.grids_seen, "skipped_steps": self.skipped_steps},
            "config": self.config.to_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], source: Path) -> None:
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise VaeframeError(f"{source}: does not fit this run's model or optimizer "
                                f"(was [model] changed?): {mismatch(exc)}") from None
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.best_metric = float(state["best"]["metric"])
        self.best_epoch = int(state["best"]["epoch"])
        self.history = [dict(row) for row in state["history"]]
        counters = state["counters"]
        self.train_seconds = float(counters["train_seconds"])
        self.wall_seconds = float(counters["wall_seconds"])
        for phase in PHASES:  # absent from older checkpoints; set-up adds this process's
            self.seconds[phase] = float(counters.get(f"{phase}_seconds", 0.0)) + (
                self.seconds[phase] if phase in SETUP_PHASES else 0.0)
        self.grids_seen = int(counters["grids_seen"])
        self.training_step.skipped = int(counters["skipped_steps"])
        progress = state["epoch_in_progress"]
        if progress is not None:
            self.order = progress["order"].to(self.device)
            self.batch_index = int(progress["batch_index"])
            self.totals = progress["totals"].to(self.device)
            self.steps_in_totals = int(progress["steps_in_totals"])
        rngs = state["rng"]
        if len(rngs) == self.world.size:
            restore_rng_state(rngs[self.world.rank], self.generator)
        else:  # another world size: the order of grids continues, the noise is reseeded
            restore_rng_state(rngs[0], self.generator)
            seed_everything(self.config.run.seed + self.world.rank + 7919 * self.step)

    def record(self) -> TrainingRecord:
        """What the run's summary reports."""
        return TrainingRecord(
            name=self.config.run.name, run_dir=str(self.run_dir), device=str(self.device),
            world_size=self.world.size, ranks_agree=self.ranks_agree,
            epochs=self.config.train.epochs,
            epochs_completed=self.epoch - (self.order is not None), steps=self.step,
            skipped_steps=self.skipped_steps, wall_seconds=self.wall_seconds,
            train_seconds=self.train_seconds, grids_seen=self.grids_seen,
            phase_seconds=dict(self.seconds),
            latent_dim=self.latent_dim,
            dataset={"name": self.config.data.name, "description": self.data_description,
                     "train_grids": int(self.train_grids.shape[0]),
                     "heldout_grids": int(self.heldout_grids.shape[0]),
                     "heldout_identical_to_train": self.heldout_seen},
            history=self.history, beta_history=self.scheduler.beta_history,
            best_epoch=self.best_epoch, best_metric=self.best_metric, declared=self.declared,
            disentanglement=self.disentanglement)
