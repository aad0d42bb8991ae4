"""A KL regularizer registered as ``capacity``, the name of a vaeframe built-in: half the
plain KL. Installed only into a temporary directory by tests/test_qualified_names.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from vaeframe import hookimpl

if TYPE_CHECKING:
    from torch import Tensor


@attrs.define
class HalfKL:
    """Half the plain KL (a third party's 'capacity')."""

    def kl_loss(self, kl: Tensor) -> Tensor:
        return kl.sum(1).mean() * 0.5


@hookimpl
def register_kl_regularizers(register):
    register("capacity", HalfKL)
