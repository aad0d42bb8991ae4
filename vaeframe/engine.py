"""The training loop: builds what a run file names, trains, evaluates, writes the run directory."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
import torch

from vaeframe.api import GridData, Logger, RunInfo
from vaeframe.checkpoint import save_checkpoint
from vaeframe.config import RunConfig
from vaeframe.errors import PluginError, TrainingError, VaeframeError
from vaeframe.grids import pack_grids
from vaeframe.losses import focal_loss, kl_per_dim
from vaeframe.metrics import evaluate
from vaeframe.model import ConvBetaVAE
from vaeframe.schedules import BetaScheduler

STEP_SCALARS = ("loss", "recon_loss", "kl_loss", "kl_raw")


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


def create_run_dir(output_dir: str, name: str) -> Path:
    """A new directory ``output_dir/name-YYYYmmdd-HHMMSS[-N]``; never an existing one."""
    base = Path(output_dir)
    try:
        base.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for attempt in range(1000):
            candidate = base / (f"{name}-{stamp}" + (f"-{attempt}" if attempt else ""))
            try:
                candidate.mkdir()
                return candidate
            except FileExistsError:
                continue
    except OSError as exc:
        raise VaeframeError(f"run.output_dir = {output_dir!r}: cannot create a run directory "
                            f"there ({exc.strerror}); choose a writable directory") from None
    raise VaeframeError(f"run.output_dir = {output_dir!r}: too many runs named {name!r}")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """One training run of a :class:`RunConfig` into a run directory."""

    def __init__(self, config: RunConfig, run_dir: Path, loggers: list[Logger]) -> None:
        self.config = config
        self.run_dir = run_dir
        self.loggers = loggers
        self.device = resolve_device(config.train.device)
        seed_everything(config.run.seed)

        data = self._load_data()
        self.train_grids = pack_grids(data.train, f"dataset {config.data.name!r}").to(self.device)
        self.heldout_grids = pack_grids(data.heldout, f"dataset {config.data.name!r}").to(
            self.device)
        self.data_description = data.description

        m = config.model
        self.model = ConvBetaVAE(m.latent_dim, tuple(m.channels)).to(self.device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.train.lr,
                                          weight_decay=config.train.weight_decay)
        self.scheduler = BetaScheduler(config.schedule.params, config.train.epochs,
                                       config.schedule.describe())
        self.regularizer = config.kl.params
        self.beta = torch.zeros((), device=self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(config.run.seed)
        self.epoch = 0
        self.step = 0
        self.best_metric = -1.0
        self.best_epoch = 0
        self.history: list[dict[str, float]] = []
        self.train_seconds = 0.0
        self.grids_seen = 0

    def _load_data(self) -> GridData:
        try:
            data = self.config.data.params.load()
        except VaeframeError:
            raise
        except Exception as exc:
            raise PluginError(f"dataset {self.config.data.name!r} failed to load: "
                              f"{type(exc).__name__}: {exc}") from exc
        if not data.train or not data.heldout:
            raise VaeframeError(f"dataset {self.config.data.name!r} has "
                                f"{len(data.train)} training and {len(data.heldout)} held-out "
                                "grids; it needs at least one of each")
        return data

    # -- the step ----------------------------------------------------------------------------
    def train_step(self, batch: torch.Tensor) -> torch.Tensor:
        """One optimisation step; returns loss, recon, KL used, KL raw and KL per dim on device."""
        logits, mu, logvar = self.model(batch)
        recon = focal_loss(logits, batch, self.config.model.focal_gamma,
                           self.config.model.recon_reduction)
        kl = kl_per_dim(mu, logvar)
        kl_used = self.regularizer.kl_loss(kl)
        loss = recon + self.beta * kl_used
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        scalars = torch.stack([loss, recon, kl_used, kl.sum(1).mean()]).detach()
        return torch.cat([scalars, kl.detach().mean(0)])

    def train_epoch(self) -> torch.Tensor:
        """One pass over the training grids in a fresh on-device permutation."""
        n = self.train_grids.shape[0]
        batch_size = self.config.train.batch_size
        log_every = self.config.train.log_every_n_steps
        order = torch.randperm(n, device=self.device, generator=self.generator)
        totals = torch.zeros(len(STEP_SCALARS) + self.model.latent_dim, device=self.device)
        num_steps = (n + batch_size - 1) // batch_size
        for logger in self.loggers:
            logger.epoch_started(self.epoch, self.config.train.epochs, num_steps)
        for start in range(0, n, batch_size):
            batch = self.train_grids[order[start : start + batch_size]]
            stats = self.train_step(batch)
            totals += stats
            self.step += 1
            if self.step % log_every == 0:
                self._log(self._step_metrics(stats.cpu()))
        self.grids_seen += n
        return totals / num_steps

    # -- metrics -----------------------------------------------------------------------------
    def _step_metrics(self, stats: torch.Tensor) -> dict[str, float]:
        values = stats.tolist()
        if not all(np.isfinite(values[: len(STEP_SCALARS)])):
            raise TrainingError(self._nan_message())
        metrics = {f"train/{key}": value for key, value in zip(STEP_SCALARS, values, strict=False)}
        metrics["train/beta"] = self.scheduler.beta_history[-1]
        metrics.update(per_dim_metrics("train/kl_per_dim", values[len(STEP_SCALARS):]))
        metrics["epoch"] = float(self.epoch)
        return metrics

    def _checkpoint_note(self) -> str:
        last = self.run_dir / "checkpoints" / "last.pt"
        return f"the last good checkpoint is {last}" if last.exists() else "no checkpoint yet"

    def _nan_message(self) -> str:
        return (f"non-finite loss at step {self.step} (epoch {self.epoch}); stopped; "
                f"{self._checkpoint_note()}. Lower train.lr or check the data.")

    def _log(self, metrics: Mapping[str, float]) -> None:
        for logger in self.loggers:
            logger.log(metrics, self.step)

    def _evaluate(self) -> dict[str, float]:
        t = self.config.train
        m = self.config.model
        train = evaluate(self.model, self.train_grids, t.eval_batch_size, m.focal_gamma,
                         m.recon_reduction)
        heldout = evaluate(self.model, self.heldout_grids, t.eval_batch_size, m.focal_gamma,
                           m.recon_reduction)
        flat = torch.cat([
            torch.stack([train["nonblack_acc"].float(), heldout["nonblack_acc"].float(),
                         train["active_units"].float(), heldout["recon_loss"]]),
            heldout["kl_per_dim"],
        ]).cpu().tolist()
        metrics = {
            "train/nonblack_acc": flat[0],
            "heldout/nonblack_acc": flat[1],
            "active_units": flat[2],
            "heldout/recon_loss": flat[3],
        }
        metrics.update(per_dim_metrics("heldout/kl_per_dim", flat[4:]))
        return metrics

    # -- the loop ----------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        epochs = self.config.train.epochs
        started = time.perf_counter()
        while self.epoch < epochs:
            try:
                beta = self.scheduler.step(self.epoch + 1)
            except PluginError as exc:
                raise PluginError(f"{exc}; training stopped after epoch {self.epoch}; "
                                  f"{self._checkpoint_note()}") from exc
            self.epoch += 1
            self.beta.fill_(beta)
            t0 = time.perf_counter()
            means = self.train_epoch().cpu().tolist()
            self.train_seconds += time.perf_counter() - t0
            if not all(np.isfinite(means)):
                raise TrainingError(self._nan_message())
            metrics: dict[str, float] = {"epoch": float(self.epoch), "beta": beta}
            metrics.update({f"epoch/{k}": v for k, v in zip(STEP_SCALARS, means, strict=False)})
            metrics.update(per_dim_metrics("epoch/kl_per_dim", means[len(STEP_SCALARS):]))
            if self.epoch % self.config.train.eval_every_n_epochs == 0 or self.epoch == epochs:
                metrics.update(self._evaluate())
            self.history.append(metrics)
            self._log(metrics)
            self._checkpoint(metrics)
        return self.summary("finished", time.perf_counter() - started)

    def _checkpoint(self, metrics: Mapping[str, float]) -> None:
        directory = self.run_dir / "checkpoints"
        score = metrics.get("heldout/nonblack_acc")
        if score is not None and score > self.best_metric:
            self.best_metric, self.best_epoch = score, self.epoch
            save_checkpoint(self.state_dict(), directory / "best.pt")
        save_checkpoint(self.state_dict(), directory / "last.pt")

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "scheduler": self.scheduler.state_dict(),
            "best": {"metric": self.best_metric, "epoch": self.best_epoch},
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                "generator": self.generator.get_state(),
                "python": list(random.getstate()[1]),
                "numpy": np.random.get_state()[1].tolist(),
            },
            "config": self.config.to_dict(),
        }

    def summary(self, status: str, wall_seconds: float) -> dict[str, Any]:
        last = self.history[-1] if self.history else {}
        evaluated = [h for h in self.history if "heldout/nonblack_acc" in h]
        last_eval = evaluated[-1] if evaluated else {}
        kl = [last[key] for key in sorted(
            (k for k in last if k.startswith("epoch/kl_per_dim/dim_")),
            key=lambda k: int(k.rsplit("_", 1)[1]))]
        return {
            "name": self.config.run.name,
            "status": status,
            "run_dir": str(self.run_dir),
            "device": str(self.device),
            "epochs_completed": self.epoch,
            "epochs": self.config.train.epochs,
            "steps": self.step,
            "wall_time_s": round(wall_seconds, 3),
            "train_grids_per_s": round(self.grids_seen / max(self.train_seconds, 1e-9), 1),
            "dataset": {"name": self.config.data.name, "description": self.data_description,
                        "train_grids": int(self.train_grids.shape[0]),
                        "heldout_grids": int(self.heldout_grids.shape[0])},
            "final": {
                "beta": last.get("beta"),
                "loss": last.get("epoch/loss"),
                "recon_loss": last.get("epoch/recon_loss"),
                "kl_loss": last.get("epoch/kl_loss"),
                "kl_raw": last.get("epoch/kl_raw"),
                "train_nonblack_acc": last_eval.get("train/nonblack_acc"),
                "heldout_nonblack_acc": last_eval.get("heldout/nonblack_acc"),
                "active_units": last_eval.get("active_units"),
                "kl_per_dim": kl,
                "kl_per_dim_min": min(kl) if kl else None,
                "kl_per_dim_max": max(kl) if kl else None,
                "kl_per_dim_mean": sum(kl) / len(kl) if kl else None,
            },
            "best": {"epoch": self.best_epoch, "heldout_nonblack_acc": self.best_metric
                     if self.best_epoch else None},
            "beta_history": self.scheduler.beta_history,
        }


def per_dim_metrics(prefix: str, values: list[float]) -> dict[str, float]:
    """``prefix/dim_i`` for every value, plus ``prefix/min``, ``/max`` and ``/mean``."""
    metrics = {f"{prefix}/dim_{i}": v for i, v in enumerate(values)}
    if values:
        metrics[f"{prefix}/min"] = min(values)
        metrics[f"{prefix}/max"] = max(values)
        metrics[f"{prefix}/mean"] = sum(values) / len(values)
    return metrics


def run(config: RunConfig) -> dict[str, Any]:
    """Train ``config`` into a new run directory; returns the summary written there."""
    run_dir = create_run_dir(config.run.output_dir, config.run.name)
    resolved = config.to_dict()
    (run_dir / "config.toml").write_text(tomli_w.dumps(resolved), encoding="utf-8")
    loggers: list[Logger] = [c.params for c in config.loggers]
    for logger in loggers:
        logger.open(RunInfo(name=config.run.name, run_dir=run_dir, config=resolved))
    status, summary = "failed", None
    trainer: Trainer | None = None
    started = time.perf_counter()
    try:
        trainer = Trainer(config, run_dir, loggers)
        summary = trainer.fit()
        status = "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        if summary is None:
            summary = (trainer.summary(status, time.perf_counter() - started) if trainer
                       else {"name": config.run.name, "status": status, "run_dir": str(run_dir)})
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n",
                                              encoding="utf-8")
        for logger in loggers:
            logger.close(summary, status)
    return summary
