"""summary.json: what a run did and reached, from the trainer's record of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vaeframe.rundir.status import RunStatus
from vaeframe.runs.criteria import evaluate_run
from vaeframe.training.clock import SETUP_PHASES
from vaeframe.training.record import TrainingRecord


def _final(last: Mapping[str, float], last_eval: Mapping[str, float],
           latent_dim: int) -> dict[str, Any]:
    kl = [last[f"epoch/kl_per_dim/dim_{i}"] for i in range(latent_dim)
          if f"epoch/kl_per_dim/dim_{i}" in last]
    return {
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
    }


RECENT_EVALUATIONS = 3


def _recent(evaluated: list[Mapping[str, float]]) -> dict[str, Any] | None:
    """The mean of the last three evaluations: a figure that one evaluation more or less
    moves less than the final one."""
    recent = evaluated[-RECENT_EVALUATIONS:]
    if not recent:
        return None

    def mean(key: str) -> float | None:
        values = [h[key] for h in recent if key in h]
        return sum(values) / len(values) if values else None

    heldout = [h["heldout/nonblack_acc"] for h in recent]
    return {"epochs": [int(h["epoch"]) for h in recent if "epoch" in h],
            "train_nonblack_acc": mean("train/nonblack_acc"),
            "heldout_nonblack_acc": mean("heldout/nonblack_acc"),
            "heldout_nonblack_acc_range": max(heldout) - min(heldout)}


def _phase_times(record: TrainingRecord) -> dict[str, float]:
    """Seconds by phase, in the order a run goes through them; none overlap."""
    later = dict(record.phase_seconds)
    earlier = {phase: later.pop(phase) for phase in (*SETUP_PHASES, "capture") if phase in later}
    times = {**earlier, "train": record.train_seconds, **later}
    return {phase: round(seconds, 3) for phase, seconds in times.items()}


def run_summary(record: TrainingRecord, status: RunStatus) -> dict[str, Any]:
    """The summary.json of a run in ``status`` (``finished``, ``interrupted``, ``failed``)."""
    last = record.history[-1] if record.history else {}
    evaluated = [h for h in record.history if "heldout/nonblack_acc" in h]
    last_eval = evaluated[-1] if evaluated else {}
    parallel = record.world_size > 1
    return {
        "name": record.name,
        "status": str(status),
        "run_dir": record.run_dir,
        "device": record.device,
        "world_size": record.world_size,
        **({"parameters_identical_across_ranks": record.ranks_agree} if parallel else {}),
        "epochs_completed": record.epochs_completed,
        "epochs": record.epochs,
        "steps": record.steps,
        "skipped_steps": record.skipped_steps,
        "wall_time_s": round(record.wall_seconds, 3),
        "time_s": _phase_times(record),
        "train_grids_per_s": round(record.grids_seen / max(record.train_seconds, 1e-9), 1),
        "latent_dim": record.latent_dim,
        "dataset": dict(record.dataset),
        "final": _final(last, last_eval, record.latent_dim),
        "best": {"epoch": record.best_epoch,
                 "heldout_nonblack_acc": record.best_metric if record.best_epoch else None},
        "last_3_evaluations": _recent(evaluated),
        # evaluation, best.pt's use by the latent tools: the averaged weights when on
        "weights": {"averaged": bool(record.ema_decay), "ema_decay": record.ema_decay or None},
        "beta_history": list(record.beta_history),
        "declared": record.declared.to_dict(),
        "criteria": evaluate_run(record.history, record.declared, record.beta_history,
                                 record.latent_dim),
        **({"disentanglement": dict(record.disentanglement)}
           if record.disentanglement is not None else {}),
    }
