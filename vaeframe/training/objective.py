"""An objective's own networks (FactorVAE's discriminator): built, placed on the device,
wrapped for DDP under torchrun, given their optimizer, and saved in every checkpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from vaeframe.errors import PluginError
from vaeframe.registry.calls import call_plugin
from vaeframe.registry.declarations import has_networks
from vaeframe.training.distributed import World


class ObjectiveNetworks:
    """The networks an objective declares (``networks(latent_dim)``) and their optimizer
    (``networks_optimizer(parameters)``, else Adam at lr 1e-4, betas (0.5, 0.9), as Kim & Mnih
    2018 train FactorVAE's discriminator)."""

    def __init__(self, objective: Any, latent_dim: int, device: torch.device,
                 world: World) -> None:
        built = call_plugin(objective, "networks", latent_dim)
        if not isinstance(built, Mapping) or not built or not all(
                isinstance(name, str) and isinstance(module, nn.Module)
                for name, module in built.items()):
            raise PluginError(f"{objective.describe()}: networks() must return a non-empty "
                              "dict of names to torch.nn.Module, got "
                              f"{type(built).__name__}")
        self.modules = {name: module.to(device).train() for name, module in built.items()}
        self.networks: dict[str, nn.Module] = dict(self.modules)
        if world.parallel:  # their gradients are averaged over ranks, like the model's
            ids = [device.index] if device.type == "cuda" else None
            self.networks = {name: DistributedDataParallel(module, device_ids=ids)
                             for name, module in self.modules.items()}
        parameters = [p for module in self.modules.values() for p in module.parameters()]
        if callable(getattr(objective.params, "networks_optimizer", None)):
            self.optimizer = call_plugin(objective, "networks_optimizer", parameters)
        else:
            self.optimizer = torch.optim.Adam(parameters, lr=1e-4, betas=(0.5, 0.9))

    def state_dict(self) -> dict[str, Any]:
        return {"networks": {name: module.state_dict() for name, module in self.modules.items()},
                "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for name, module in self.modules.items():
            module.load_state_dict(state["networks"][name])
        self.optimizer.load_state_dict(state["optimizer"])


def objective_networks(objective: Any, latent_dim: int, device: torch.device,
                       world: World) -> ObjectiveNetworks | None:
    """The objective's networks, or ``None`` for an objective without any."""
    return ObjectiveNetworks(objective, latent_dim, device, world) if has_networks(
        objective) else None
