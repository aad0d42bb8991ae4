"""Plugins that misbehave on purpose, loaded by tests with ``-p vaeframe_test_helpers``."""

from __future__ import annotations

import attrs

from vaeframe import at_least, hookimpl


@attrs.define
class Poison:
    """Plain KL until call `after`, then NaN: to test the non-finite guard."""

    after: int = attrs.field(default=5, validator=at_least(0))
    _calls: int = attrs.field(default=0, init=False)

    def kl_loss(self, kl):
        self._calls += 1
        total = kl.sum(dim=1).mean()
        return total * float("nan") if self._calls > self.after else total


@hookimpl
def register_kl_regularizers(register):
    register("poison", Poison)
