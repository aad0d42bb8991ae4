"""vaeframe: a small, fast, pluggable framework for training β-VAEs on ARC-AGI grids.

The public API for plugin authors and notebook users. Importing it does not import torch.
"""

from __future__ import annotations

from vaeframe import timing as timing  # first: a run's start-up is timed from here
from vaeframe.api import GridData, Logger, Progress, RunInfo
from vaeframe.errors import ConfigError, PluginError, TrainingError, VaeframeError
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
from vaeframe.hookspecs import hookimpl
from vaeframe.schedules import BetaScheduler, get_beta_schedule, make_schedule
from vaeframe.validators import ParameterError, at_least, greater_than, one_of

__version__ = "0.1.0"

_LAZY = {"load_run": "vaeframe.trained", "TrainedRun": "vaeframe.trained"}  # they import torch


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vaeframe' has no attribute {name!r}")


__all__ = [
    "NUM_CLASSES",
    "NUM_COLOURS",
    "PAD",
    "SIDE",
    "BetaScheduler",
    "ConfigError",
    "GridData",
    "Logger",
    "ParameterError",
    "PluginError",
    "Progress",
    "RunInfo",
    "TrainedRun",
    "TrainingError",
    "VaeframeError",
    "__version__",
    "at_least",
    "get_beta_schedule",
    "greater_than",
    "hookimpl",
    "load_run",
    "make_schedule",
    "nonblack_accuracy",
    "one_of",
    "pack_grids",
    "unseen",
    "unseen_mask",
]
