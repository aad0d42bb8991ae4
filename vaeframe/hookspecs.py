"""The plugin contract: one hook per kind of component.

Each hook receives a ``register`` callable. A plugin calls ``register(name, cls)`` once per
component it provides, where ``cls`` is an attrs class whose fields are the component's
parameters (the run file's table for it is structured into that class) and whose docstring's
first line is the one-line description shown by ``vaeframe list-plugins``.

Implementations must not import torch at module level: ``list-plugins`` loads every plugin
and must stay fast. Import it inside the methods that do the work.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

PROJECT_NAME = "vaeframe"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[[str, type], None]


@hookspec
def register_schedules(register: Register) -> None:
    """Register β schedules.

    A schedule class provides ``beta(self, epoch: int, num_epochs: int) -> float``: the KL
    weight for ``epoch`` (1-indexed) of a run of ``num_epochs`` epochs. It must be a pure
    function of its fields and its arguments, so that a resumed run gets the same β.
    """


@hookspec
def register_kl_regularizers(register: Register) -> None:
    """Register KL regularizers (``[kl]`` in a run file).

    A regularizer class provides ``kl_loss(self, kl: Tensor) -> Tensor``: given the unclamped
    KL of every sample and latent dimension, shape ``(batch, latent_dim)``, return the scalar
    KL term that the loss multiplies by β. It must not synchronise with the host.
    """


@hookspec
def register_loggers(register: Register) -> None:
    """Register metric loggers (``[[loggers]]`` in a run file).

    A logger class subclasses :class:`vaeframe.Logger` and overrides what it needs:
    ``open(run)``, ``epoch_started(epoch, num_epochs, num_steps)``, ``log(metrics, step)``
    and ``close(summary, status)``. Metrics arrive as plain Python floats.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register grid datasets (``[data]`` in a run file).

    A dataset class provides ``load(self) -> vaeframe.GridData``: the grids to train on and
    the grids held out for evaluation, each a list of 2-D integer numpy arrays with colours
    0-9 and sides of at most 30.
    """
