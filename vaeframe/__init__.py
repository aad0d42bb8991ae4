"""vaeframe: a small, fast, pluggable framework for training β-VAEs on ARC-AGI grids.

The public API for plugin authors and notebook users. Importing it does not import torch.
"""

from __future__ import annotations

# first: a run's start-up is timed from this import
from vaeframe.training import clock as _clock  # noqa: F401

# isort: split
from vaeframe.errors import ConfigError, PluginError, RunDirWarning, TrainingError, VaeframeError
from vaeframe.grids import (
    NUM_CLASSES,
    NUM_COLOURS,
    PAD,
    SIDE,
    nonblack_accuracy,
    pack_grids,
    unseen,
    unseen_mask,
)
from vaeframe.registry.hookspecs import hookimpl
from vaeframe.registry.posterior import DataFacts, Posterior
from vaeframe.registry.types import GridData, Logger, Progress, RunInfo
from vaeframe.rundir.history import trim_history
from vaeframe.training.beta import BetaScheduler, get_beta_schedule, make_schedule
from vaeframe.validators import ParameterError, at_least, at_most, greater_than, less_than, one_of
from vaeframe.version import __version__

# they import torch, so they are imported on first use: `import vaeframe` stays torch-free
_LAZY = {
    "load_run": "vaeframe.latents.trained",
    "TrainedRun": "vaeframe.latents.trained",
    # the model plugin's base class and its input helpers (vaeframe.modules works as well)
    "GridVAE": "vaeframe.modules",
    "one_hot_grids": "vaeframe.modules",
    "coordinate_planes": "vaeframe.modules",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # the next lookup is an ordinary attribute
        return value
    raise AttributeError(f"module 'vaeframe' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "NUM_CLASSES",
    "NUM_COLOURS",
    "PAD",
    "SIDE",
    "BetaScheduler",
    "ConfigError",
    "DataFacts",
    "GridData",
    "GridVAE",
    "Logger",
    "ParameterError",
    "PluginError",
    "Posterior",
    "Progress",
    "RunDirWarning",
    "RunInfo",
    "TrainedRun",
    "TrainingError",
    "VaeframeError",
    "__version__",
    "at_least",
    "at_most",
    "coordinate_planes",
    "get_beta_schedule",
    "greater_than",
    "hookimpl",
    "less_than",
    "load_run",
    "make_schedule",
    "nonblack_accuracy",
    "one_hot_grids",
    "one_of",
    "pack_grids",
    "trim_history",
    "unseen",
    "unseen_mask",
]
