"""A run's parts, built from its configuration: the data on the device, the model (wrapped
for DDP under torchrun), the optimisation, the β scheduler, the progress and the step."""

from __future__ import annotations

import inspect
from typing import Any

import attrs
import torch
from torch.nn.parallel import DistributedDataParallel

from vaeframe.config.schema import RunConfig
from vaeframe.errors import PluginError
from vaeframe.grids import count_seen, pack_grids
from vaeframe.registry.declarations import Declared, declarations
from vaeframe.registry.posterior import DataFacts
from vaeframe.registry.types import GridData, Progress
from vaeframe.training.allocator import keep_freed_memory
from vaeframe.training.beta import BetaScheduler
from vaeframe.training.clock import PhaseClock
from vaeframe.training.data import load_grid_data
from vaeframe.training.distributed import World
from vaeframe.training.fastpath import StepFunction, make_step_function
from vaeframe.training.model import build_model
from vaeframe.training.objective import objective_networks
from vaeframe.training.optimisation import Optimisation, build_optimizer
from vaeframe.training.rng import seed_everything
from vaeframe.training.step import TrainingStep


@attrs.frozen
class RunData:
    """The dataset's grids, packed on the training device."""

    source: GridData
    train: torch.Tensor  # (N, 30, 30) uint8, padding 10
    heldout: torch.Tensor
    heldout_seen: int  # held-out grids equal to a training grid

    def describe(self, name: str) -> dict[str, Any]:
        """summary.json's ``dataset``."""
        return {"name": name, "description": self.source.description,
                "train_grids": int(self.train.shape[0]),
                "heldout_grids": int(self.heldout.shape[0]),
                "heldout_identical_to_train": self.heldout_seen}


@attrs.define
class RunParts:
    """Everything a run trains with (``step_function`` may be swapped, e.g. by a test)."""

    data: RunData
    model: torch.nn.Module
    network: torch.nn.Module  # the model, or its DDP wrapper under torchrun
    optimizer: torch.optim.Optimizer
    optimisation: Optimisation  # the optimizer, its learning rate, clipping and averaging
    scheduler: BetaScheduler
    beta: torch.Tensor  # 0-d, on the device, filled in place each epoch
    progress: Progress
    training_step: TrainingStep
    step_function: StepFunction
    generator: torch.Generator  # the order of grids; the same on every rank
    monitor: Any  # the KL regularizer's ``monitor(progress)``, or None
    declared: Declared


def check_returns_z(model_component: Any, objective: Any, model: torch.nn.Module) -> None:
    """An objective that reads the posterior needs the sample the decoder saw."""
    try:
        takes = "return_z" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        takes = False
    if not takes:
        raise PluginError(f"{objective.describe()} reads the posterior's sampled z, but "
                          f"{model_component.describe()}'s forward() takes no return_z; "
                          "subclass vaeframe.GridVAE, or give forward(grids, return_z=False) "
                          "that also returns z when asked (see the register_models hook)")


def load_data(config: RunConfig, device: torch.device) -> RunData:
    data = load_grid_data(config.data)
    source = f"dataset {config.data.name!r}"
    return RunData(data, pack_grids(data.train, source).to(device),
                   pack_grids(data.heldout, source).to(device),
                   count_seen(data.heldout, data.train))


def assemble(config: RunConfig, device: torch.device, world: World,
             clock: PhaseClock) -> RunParts:
    """Seed, load the data (the ``data`` phase), then build the rest (``setup``)."""
    with clock.phase("setup"):
        if device.type == "cpu":
            keep_freed_memory()
        # sampling noise differs between ranks; the order of grids (the generator) does not
        seed_everything(config.run.seed + world.rank)
        with clock.phase("data"):
            data = load_data(config, device)
        model = build_model(config.model, device)
        network: torch.nn.Module = model
        if world.parallel:  # DDP broadcasts rank 0's initial weights to every rank
            network = DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None)
        t = config.train
        optimizer = build_optimizer(config.optimizer, model, device, t.compile == "graph")
        beta = torch.zeros((), device=device)
        progress = Progress.create(t.epochs, device)
        optimisation = Optimisation(optimizer, config.lr_schedule, progress, model, t)
        networks = objective_networks(config.kl, model.latent_dim, device, world)
        step = TrainingStep(
            network=network, optimisation=optimisation, loss=config.loss, regularizer=config.kl,
            beta=beta, progress=progress, latent_dim=model.latent_dim,
            bf16=t.precision == "bf16", parallel=world.parallel,
            skip_nonfinite=t.on_nonfinite == "skip", transforms=config.transforms,
            facts=DataFacts(int(data.train.shape[0]), int(data.heldout.shape[0]),
                            model.latent_dim), networks=networks)
        if step.reads_posterior:
            check_returns_z(config.model, config.kl, model)
        return RunParts(
            data=data, model=model, network=network, optimizer=optimizer,
            optimisation=optimisation,
            scheduler=BetaScheduler(config.schedule.params, t.epochs,
                                    config.schedule.describe()),
            beta=beta, progress=progress, training_step=step,
            step_function=make_step_function(step, model, t.compile),
            generator=torch.Generator(device=device).manual_seed(config.run.seed),
            monitor=getattr(config.kl.params, "monitor", None),
            declared=declarations(config.schedule, config.kl, t.epochs))
