"""What an objective sees of a batch: its posterior, the training progress and facts about
the data (contract v3 of the KL regularizers). None of it needs torch at import."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import torch

    from vaeframe.registry.types import Progress


@attrs.frozen
class DataFacts:
    """Facts about the run's data that estimators need (e.g. β-TCVAE's dataset size)."""

    train_grids: int  # grids in the training split (the N of minibatch-weighted sampling)
    heldout_grids: int
    latent_dim: int


@attrs.frozen
class Posterior:
    """The posterior of one training batch, for an objective's ``kl_loss(posterior)``.

    - ``mu``, ``logvar``: ``(batch, latent_dim)`` float32, the encoder's output;
    - ``z``: ``(batch, latent_dim)``, the sample the decoder saw (``mu + σ·ε``);
    - ``kl``: ``(batch, latent_dim)``, the unclamped KL(q(z|x) ‖ N(0, I)) of each sample and
      dimension (what a ``kl_loss(kl)`` regularizer receives);
    - ``progress``: the run's :class:`vaeframe.Progress`;
    - ``data``: :class:`DataFacts`;
    - ``beta``: the schedule's β now, a 0-d tensor (the engine multiplies ``kl_loss`` by it);
    - ``networks``: the objective's own networks by name (see ``networks()``), in training
      mode; call them through :meth:`frozen` inside ``kl_loss`` and ``extra_loss`` so that
      the VAE's loss does not train them.

    Everything is on the training device; nothing here may be read on the host inside a step.
    """

    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    kl: torch.Tensor
    progress: Progress
    data: DataFacts
    beta: torch.Tensor
    networks: Mapping[str, torch.nn.Module] = attrs.field(factory=dict)

    @property
    def batch_size(self) -> int:
        return self.mu.shape[0]

    def network(self, name: str) -> torch.nn.Module:
        """The objective's network ``name`` (gradients flow into its parameters)."""
        try:
            return self.networks[name]
        except KeyError:  # raised inside the plugin's method, which the error then names
            raise LookupError(f"the objective has no network {name!r}; its networks: "
                              f"{', '.join(self.networks) or 'it has none'}") from None

    def frozen(self, name: str) -> Callable[..., Any]:
        """The network ``name`` with its parameters detached: gradients reach the inputs
        (the encoder, through ``z``) but not the network."""
        from torch.func import functional_call

        module = self.network(name)
        inner = getattr(module, "module", module)  # under torchrun: the DDP wrapper's module
        state = {key: value.detach() for key, value in inner.named_parameters()}
        state.update(dict(inner.named_buffers()))
        return lambda *args: functional_call(inner, state, args)
