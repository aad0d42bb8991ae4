"""Building a model component's module and checking it keeps the model contract."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vaeframe.errors import PluginError
from vaeframe.grids import NUM_CLASSES, SIDE, pack_grids
from vaeframe.registry.calls import call_plugin

HOOK = "register_models"


def build_model(component: Any, device: torch.device) -> nn.Module:
    """``component.params.build()`` on ``device``, checked against the contract on two grids.

    The check runs without gradients, in eval mode and with the RNG state restored, so it
    changes nothing about the training that follows.
    """
    module = call_plugin(component, "build")
    if not isinstance(module, nn.Module):
        raise _broken(component, f"build() returned {type(module).__name__}, not a "
                                 "torch.nn.Module")
    latent_dim = getattr(module, "latent_dim", None)
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise _broken(component, f"the module's latent_dim is {latent_dim!r}; it must be a "
                                 "positive integer")
    for method in ("encode", "decode"):
        if not callable(getattr(module, method, None)):
            raise _broken(component, f"the module has no {method}() method")
    module = module.to(device)
    _check_shapes(component, module, latent_dim, device)
    return module


def _broken(component: Any, problem: str) -> PluginError:
    return PluginError(f"{component.describe()} breaks the model contract: {problem} "
                       f"(see the {HOOK} hook in docs/plugins.md)")


def _shape_problem(name: str, value: Any, shape: tuple[int, ...]) -> str | None:
    if not isinstance(value, torch.Tensor):
        return f"{name} is {type(value).__name__}, not a tensor"
    if tuple(value.shape) != shape or not value.is_floating_point():
        return f"{name} has shape {tuple(value.shape)} and dtype {value.dtype}; expected " \
               f"a float tensor of shape {shape}"
    return None


def _check_shapes(component: Any, module: nn.Module, latent_dim: int,
                  device: torch.device) -> None:
    import numpy as np

    grids = pack_grids([np.zeros((3, 4), dtype=np.int64), np.ones((SIDE, SIDE), dtype=np.int64)],
                       "model check").to(device)
    logits_shape, latent_shape = (2, NUM_CLASSES, SIDE, SIDE), (2, latent_dim)
    was_training = module.training
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            module.eval()
            encoded = module.encode(grids)
            if not (isinstance(encoded, tuple) and len(encoded) == 2):
                raise _broken(component, "encode() must return (mu, logvar)")
            problems = [_shape_problem("encode()'s mu", encoded[0], latent_shape),
                        _shape_problem("encode()'s logvar", encoded[1], latent_shape),
                        _shape_problem("decode()'s logits", module.decode(encoded[0]),
                                       logits_shape)]
            output = module(grids)
            if not (isinstance(output, tuple) and len(output) == 3):
                raise _broken(component, "forward() must return (logits, mu, logvar)")
            problems += [_shape_problem(f"forward()'s {name}", value, shape) for name, value, shape
                         in zip(("logits", "mu", "logvar"), output,
                                (logits_shape, latent_shape, latent_shape), strict=True)]
    except PluginError:
        raise
    except Exception as exc:
        raise _broken(component, f"calling it on two grids raised {type(exc).__name__}: {exc}"
                      ) from exc
    finally:
        module.train(was_training)
    found = [p for p in problems if p]
    if found:
        raise _broken(component, found[0])
