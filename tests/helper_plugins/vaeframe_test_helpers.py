"""Plugins that misbehave on purpose, loaded by tests with ``-p vaeframe_test_helpers``."""

from __future__ import annotations

import attrs

from vaeframe import Logger, at_least, hookimpl


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
    register("explode", Explode)


@attrs.define
class Explode:
    """Plain KL until call `after`, then raises: to test that plugin failures name the plugin."""

    after: int = attrs.field(default=2, validator=at_least(0))
    _calls: int = attrs.field(default=0, init=False)

    def kl_loss(self, kl):
        self._calls += 1
        if self._calls > self.after:
            raise RuntimeError("regularizer exploded")
        return kl.sum(dim=1).mean()


@attrs.define
class Flaky(Logger):
    """A logger that raises in the method named by `fail_in`."""

    fail_in: str = "log"

    def log(self, metrics, step):
        if self.fail_in == "log":
            raise OSError("disk full")

    def close(self, summary, status):
        if self.fail_in == "close":
            raise OSError("cannot flush")


@hookimpl
def register_loggers(register):
    register("flaky", Flaky)


@attrs.define
class Gate:
    """Leaves grids as they are, but blocks every step while the file ``path`` exists: a test
    holds a run at a known point (its first step) until it has sent its signal."""

    path: str = ""

    def apply(self, grids):
        import os
        import time

        while self.path and os.path.exists(self.path):
            time.sleep(0.01)
        return grids


@hookimpl
def register_transforms(register):
    register("gate", Gate)
