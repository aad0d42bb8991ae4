"""The plugin contract: one hook per kind of component.

Each hook receives a ``register`` callable. A plugin calls ``register(name, cls)`` once per
component it provides, where ``cls`` is an attrs class whose fields are the component's
parameters (the run file's table for it is structured into that class) and whose docstring's
first line is the one-line description shown by ``vaeframe list-plugins``. Two plugins may
register the same name: a run file then picks one by its qualified name,
``"<plugin module or distribution>:<name>"`` (``"vaeframe_regularizers:capacity"``), and the
bare name is an error that suggests those qualified names.

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
    """Register β schedules (``[schedule]`` in a run file).

    A schedule class provides ``beta(self, epoch: int, num_epochs: int) -> float``: the KL
    weight for ``epoch`` (1-indexed) of a run of ``num_epochs`` epochs. It must be a pure
    function of its fields and its arguments, so that a resumed run gets the same β.

    Optional: ``period(self, num_epochs: int) -> int | None``, the number of epochs after
    which β repeats (``None`` for a schedule that does not cycle). A schedule that declares
    a period is checked by the success criterion "cyclical β cycles".
    """


@hookspec
def register_kl_regularizers(register: Register) -> None:
    """Register KL regularizers (``[kl]`` in a run file).

    A regularizer class provides ``kl_loss(self, kl: Tensor) -> Tensor`` or
    ``kl_loss(self, kl: Tensor, progress: vaeframe.Progress) -> Tensor``: given the unclamped
    KL of every sample and latent dimension, shape ``(batch, latent_dim)``, return the scalar
    KL term that the loss multiplies by β. ``progress`` holds the run's progress as tensors on
    the training device that the engine updates in place, so the result is a pure function
    of the fields, ``kl`` and ``progress``. It must not synchronise with the host.

    Objectives that see the posterior (β-TCVAE, FactorVAE, DIP-VAE) write
    ``kl_loss(self, posterior: vaeframe.Posterior) -> Tensor`` instead: ``posterior`` holds
    ``mu``, ``logvar``, the sampled ``z`` the decoder saw, ``kl``, ``progress``, ``beta`` and
    ``data`` (``vaeframe.DataFacts``: training grids, held-out grids, latent size). They may
    add ``extra_loss(self, posterior) -> Tensor``, added to the loss without β (the loss is
    ``recon + β·kl_loss + extra_loss``), and train networks of their own:
    ``networks(self, latent_dim) -> dict[str, nn.Module]`` with
    ``networks_loss(self, posterior) -> Tensor`` (required with ``networks``) and, optionally,
    ``networks_optimizer(self, parameters) -> Optimizer``. The engine builds the networks on
    the device, trains them in the same backward pass, saves them in every checkpoint and
    wraps them in DDP under torchrun; ``posterior.frozen(name)`` calls one with its
    parameters detached (for ``kl_loss`` and ``extra_loss``). The fast paths refuse an
    objective with networks.

    Optional declarations, read by the success criteria, ``--free-bits`` and the report:

    - ``floor_field: ClassVar[str]``, the name of the field that holds the KL per dimension
      (nats) the regularizer keeps every dimension at or above. Criterion 2 checks that floor
      (a floor of ``0.0`` must then be the plain KL: criterion 4), and ``--free-bits X`` sets
      that field to X. A class that defines ``kl_floor`` instead is refused where it
      registers, because that name is not read.
    - ``is_plain_kl(self) -> bool``: true when ``kl_loss`` is exactly the plain KL.
    - ``monitor(self, progress) -> dict[str, Tensor]``: values worth logging (for example a
      target capacity), as 0-d tensors computed from the progress with no host sync. They are
      logged as ``train/kl/<key>`` at logging steps (the value at the progress of the step
      just taken) and as ``epoch/kl/<key>`` at epoch ends (the mean over the epoch's steps,
      like every other ``epoch/`` key).
    """


@hookspec
def register_models(register: Register) -> None:
    """Register model architectures (``[model]`` in a run file).

    A model class provides ``build(self) -> torch.nn.Module``; its fields are the
    architecture's hyper-parameters. The module must have an integer ``latent_dim`` and:

    - ``encode(grids) -> (mu, logvar)``: ``grids`` is a ``(N, 30, 30)`` uint8 tensor of
      classes 0-10 (colours 0-9, padding 10, each grid packed at the top-left); ``mu`` and
      ``logvar`` are float tensors ``(N, latent_dim)``.
    - ``decode(z) -> logits``: ``(N, latent_dim)`` → ``(N, 11, 30, 30)`` logits over the classes.
    - ``forward(grids) -> (logits, mu, logvar)``: in training mode it samples
      ``z ~ N(mu, exp(logvar))`` (the reparameterisation trick) and decodes it; in eval mode
      it decodes ``mu``.

    The engine checks the contract on two grids when it builds the module and refuses a model
    that breaks it, naming the plugin.
    """


@hookspec
def register_losses(register: Register) -> None:
    """Register reconstruction losses (``[loss]`` in a run file).

    A loss class provides ``loss(self, logits: Tensor, grids: Tensor) -> Tensor``: the
    reconstruction term of a batch, a scalar averaged over the batch, from the
    ``(N, 11, 30, 30)`` logits and the ``(N, 30, 30)`` uint8 grids (padding, class 10, is
    a class of its own). It must not synchronise with the host.
    """


@hookspec
def register_optimizers(register: Register) -> None:
    """Register optimizers (``[optimizer]`` in a run file).

    An optimizer class provides ``build(self, parameters, device, capturable) ->
    torch.optim.Optimizer``: the optimizer of the model's ``parameters`` on ``device`` (a
    ``torch.device``). ``capturable`` is true when the whole step is captured in a CUDA graph
    (``train.compile = "graph"``): build an optimizer that can be captured (torch's Adam and
    AdamW take ``capturable=True``), or raise an error that says why it cannot. The learning
    rate of each parameter group is read once, after ``build``, as the base that the
    ``[lr_schedule]`` scales; with a schedule other than a constant one, the engine replaces
    it by a 0-d tensor on the device that it fills before every step, so the optimizer must
    accept a tensor learning rate (torch's Adam, AdamW and SGD do).
    """


@hookspec
def register_lr_schedules(register: Register) -> None:
    """Register learning-rate schedules (``[lr_schedule]`` in a run file).

    A schedule class provides ``lr(self, base_lr: float, progress: vaeframe.Progress) ->
    Tensor``: the learning rate of the step in progress, a 0-d tensor on the training device
    computed from its fields, the optimizer's learning rate ``base_lr`` and ``progress``
    (tensors the engine updates in place before every step). It runs inside every step, also
    inside a captured CUDA graph, so it must not synchronise with the host; being a pure
    function of the progress, a resumed run gets the same rates.

    Optional: ``is_constant(self) -> bool``, true when ``lr`` is ``base_lr`` at every step:
    the engine then leaves the optimizer's learning rate as a plain number, never updated,
    which keeps the default run bit-identical to a plain ``torch.optim`` loop.
    """


@hookspec
def register_transforms(register: Register) -> None:
    """Register per-batch transforms (``[[transforms]]`` in a run file, applied in order).

    A transform class provides ``apply(self, grids: Tensor) -> Tensor``: a batch of
    ``(N, 30, 30)`` uint8 grids (padding 10, each grid packed at the top-left) to a batch of
    the same shape and dtype. It runs inside every training step on the training device (never
    at evaluation), must not synchronise with the host, and draws its randomness from torch's
    default generator of that device (``torch.rand(..., device=grids.device)``), which is per
    rank and saved in every checkpoint, so a resumed run stays bit-identical.
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

    Optional, for a dataset with factors: ``fixed_factor_grids(self, factor, count, rng)
    -> list[numpy.ndarray]``, ``count`` fresh grids sharing one value of ``factor`` (the
    other factors drawn as usual, from the numpy Generator ``rng``); with it, a run ends
    with the FactorVAE score beside MIG, DCI and SAP.
    """
