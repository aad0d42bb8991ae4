"""Built-in optimizers (``[optimizer]``: adam, adamw, sgd) and learning-rate schedules
(``[lr_schedule]``: constant, cosine, step)."""

from __future__ import annotations

from vaeframe import hookimpl
from vaeframe_optimizers.optimizers import SGD, Adam, AdamW
from vaeframe_optimizers.schedules import Constant, Cosine, Step


@hookimpl
def register_optimizers(register):
    register("adam", Adam)
    register("adamw", AdamW)
    register("sgd", SGD)


@hookimpl
def register_lr_schedules(register):
    register("constant", Constant)
    register("cosine", Cosine)
    register("step", Step)
