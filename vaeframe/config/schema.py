"""The sections of a run file as attrs classes, and ``RunConfig``, a run file structured."""

from __future__ import annotations

from typing import Any

import attrs

from vaeframe.config.converter import converter
from vaeframe.registry.kinds import KINDS
from vaeframe.registry.manager import PluginSource
from vaeframe.validators import ParameterError, at_least, at_most, less_than, one_of

MAX_EPOCHS = 2**24


def _device(_instance: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    head = value.split(":", 1)[0]
    if head not in ("auto", "cpu", "cuda", "mps") or (":" in value and head != "cuda"):
        raise ParameterError(attribute.name,
                             f"must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {value!r}")


@attrs.define
class RunSection:
    name: str = "run"
    seed: int = 0
    output_dir: str = "runs"


@attrs.define
class TrainSection:
    epochs: int = attrs.field(default=100, validator=[at_least(1), at_most(
        MAX_EPOCHS, "training progress counts epochs as float32, exact up to 2**24")])
    batch_size: int = attrs.field(default=64, validator=at_least(1))
    device: str = attrs.field(default="auto", validator=_device)
    log_every_n_steps: int = attrs.field(default=20, validator=at_least(1))
    eval_every_n_epochs: int = attrs.field(default=1, validator=at_least(1))
    eval_batch_size: int = attrs.field(default=1024, validator=at_least(1))
    checkpoint_every_n_epochs: int = attrs.field(default=1, validator=at_least(1))
    checkpoint_writer: str = attrs.field(default="thread", validator=one_of("thread", "inline"))
    on_nonfinite: str = attrs.field(default="stop", validator=one_of("stop", "skip"))
    compile: str = attrs.field(default="off", validator=one_of("off", "graph", "inductor"))
    precision: str = attrs.field(default="fp32", validator=one_of("fp32", "bf16"))
    #: the largest norm of the model's gradient (over all its parameters); 0 leaves it alone
    clip_grad_norm: float = attrs.field(default=0.0, validator=at_least(0.0))
    #: the decay of an exponential moving average of the weights, which evaluation, best.pt
    #: and the latent tools then use; 0 averages nothing
    ema_decay: float = attrs.field(default=0.0, validator=[at_least(0.0), less_than(1.0)])


@attrs.define
class ComponentConfig:
    """A component named in the run file: its registry kind, name, built parameters and the
    plugin that registered it."""

    kind: str
    name: str
    params: Any  # an instance of the component's attrs class
    source: PluginSource | None = None

    def describe(self) -> str:
        """``schedule 'cyclical' of plugin '...' (entry point '...', package ...)``, for errors."""
        label = KINDS[self.kind].label
        origin = f" of {self.source.describe()}" if self.source else ""
        return f"{label} '{self.name}'{origin}"


@attrs.define
class RunConfig:
    """A run file, structured: its fixed sections and one component per kind."""

    source: str
    run: RunSection
    train: TrainSection
    data: ComponentConfig
    transforms: list[ComponentConfig]
    model: ComponentConfig
    loss: ComponentConfig
    schedule: ComponentConfig
    kl: ComponentConfig
    optimizer: ComponentConfig
    lr_schedule: ComponentConfig
    loggers: list[ComponentConfig]
    notes: list[str] = attrs.field(factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The resolved run file, every default filled in."""
        def component(c: ComponentConfig) -> dict[str, Any]:
            return {"name": c.name, **converter.unstructure(c.params)}

        resolved: dict[str, Any] = {"run": converter.unstructure(self.run)}
        for kind in KINDS.values():
            value = getattr(self, kind.section)
            resolved[kind.section] = ([component(c) for c in value] if kind.many
                                      else component(value))
        resolved["train"] = converter.unstructure(self.train)
        return resolved



SECTIONS = {"run": RunSection, "train": TrainSection}
