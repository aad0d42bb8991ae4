"""Run files: TOML → attrs classes through one strict cattrs converter.

Every error names the file, the key path (``schedule.max_beta``) and what would be valid.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from vaeframe.errors import ConfigError, PluginError
from vaeframe.plugins import KINDS, PluginSource, Registry
from vaeframe.validators import ParameterError, at_least, greater_than, one_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


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
class ModelSection:
    latent_dim: int = attrs.field(default=10, validator=at_least(1))
    channels: list[int] = attrs.field(factory=lambda: [32, 64, 128])
    focal_gamma: float = attrs.field(default=2.0, validator=at_least(0.0))
    recon_reduction: str = attrs.field(default="sum", validator=one_of("sum", "mean"))

    @channels.validator
    def _check_channels(self, attribute: attrs.Attribute[Any], value: list[int]) -> None:
        if len(value) != 3 or min(value) < 1:
            raise ParameterError(attribute.name,
                                 f"must be three positive channel counts, got {value!r}")


@attrs.define
class TrainSection:
    epochs: int = attrs.field(default=100, validator=at_least(1))
    batch_size: int = attrs.field(default=64, validator=at_least(1))
    lr: float = attrs.field(default=1e-3, validator=greater_than(0.0))
    weight_decay: float = attrs.field(default=0.0, validator=at_least(0.0))
    device: str = attrs.field(default="auto", validator=_device)
    log_every_n_steps: int = attrs.field(default=20, validator=at_least(1))
    eval_every_n_epochs: int = attrs.field(default=1, validator=at_least(1))
    eval_batch_size: int = attrs.field(default=1024, validator=at_least(1))
    on_nonfinite: str = attrs.field(default="stop", validator=one_of("stop", "skip"))
    compile: str = attrs.field(default="off", validator=one_of("off", "graph", "inductor"))
    precision: str = attrs.field(default="fp32", validator=one_of("fp32", "bf16"))


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
        label = KINDS[self.kind][1]
        origin = f" of {self.source.describe()}" if self.source else ""
        return f"{label} '{self.name}'{origin}"


@attrs.define
class RunConfig:
    source: str
    run: RunSection
    data: ComponentConfig
    model: ModelSection
    train: TrainSection
    schedule: ComponentConfig
    kl: ComponentConfig
    loggers: list[ComponentConfig]
    notes: list[str] = attrs.field(factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The resolved run file, every default filled in."""
        def component(c: ComponentConfig) -> dict[str, Any]:
            return {"name": c.name, **converter.unstructure(c.params)}

        return {
            "run": converter.unstructure(self.run),
            "data": component(self.data),
            "model": converter.unstructure(self.model),
            "train": converter.unstructure(self.train),
            "schedule": component(self.schedule),
            "kl": component(self.kl),
            "loggers": [component(c) for c in self.loggers],
        }


SECTIONS = {"run": RunSection, "model": ModelSection, "train": TrainSection}
COMPONENT_SECTIONS = {"data": "datasets", "schedule": "schedules", "kl": "kl_regularizers"}
DEFAULT_COMPONENTS = {"data": "arc-agi-1", "schedule": "linear_warmup", "kl": "none"}
DEFAULT_LOGGERS = [{"name": "console"}, {"name": "jsonl"}]


# -- the converter -------------------------------------------------------------------------
def _describe(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)
    return f"{kind} {value!r}" if not isinstance(value, (list, dict)) else kind


def _strict(expected: tuple[type, ...], label: str, cast: type) -> Any:
    def structure(value: Any, _type: Any) -> Any:
        if (isinstance(value, bool) and bool not in expected) or not isinstance(value, expected):
            raise TypeError(f"expected {label}, got {_describe(value)}")
        return cast(value)

    return structure


def _strict_list(list_type: Any, conv: cattrs.Converter) -> Any:
    """cattrs would split a string into a list of characters: accept only arrays."""
    items = list_structure_factory(list_type, conv)

    def structure(value: Any, type_: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected an array, got {_describe(value)}")
        return items(value, type_)

    return structure


def make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(int, _strict((int,), "an integer", int))
    conv.register_structure_hook(float, _strict((int, float), "a number", float))
    conv.register_structure_hook(str, _strict((str,), "a string", str))
    conv.register_structure_hook(bool, _strict((bool,), "true or false", bool))
    conv.register_structure_hook_factory(lambda t: typing.get_origin(t) is list, _strict_list)
    return conv


converter = make_converter()


def _flatten_errors(exc: BaseException, path: str) -> list[tuple[str, str]]:
    """(key path, message) for every leaf error inside a cattrs validation error."""
    if isinstance(exc, ForbiddenExtraKeysError):
        return [(_join(path, key), "unknown key") for key in sorted(exc.extra_fields)]
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        found: list[tuple[str, str]] = []
        for sub in exc.exceptions:
            sub_path = path
            for note in getattr(sub, "__notes__", []):
                if hasattr(note, "name"):
                    sub_path = _join(path, note.name)
                elif hasattr(note, "index"):
                    sub_path = f"{path}[{note.index}]"
            found += _flatten_errors(sub, sub_path)
        return found
    if isinstance(exc, ParameterError):
        return [(_join(path, exc.field), exc.message)]
    if isinstance(exc, KeyError):
        return [(path, "missing required key")]
    return [(path, str(exc))]


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _structure(data: Any, cls: type, source: str, path: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(source, path, f"expected a table, got {_describe(data)}")
    try:
        attrs.resolve_types(cls)
        return converter.structure(dict(data), cls)
    except ParameterError as exc:
        raise ConfigError(source, _join(path, exc.field), exc.message) from None
    except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
        errors = _flatten_errors(exc, path)
        if len(errors) == 1:
            raise ConfigError(source, *errors[0]) from None
        lines = "\n".join(f"  {p}: {m}" for p, m in errors)
        raise ConfigError(source, "", f"{len(errors)} problems:\n{lines}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(source, path, str(exc)) from None


def _build_component(table: Any, section: str, kind: str, registry: Registry, source: str,
                     drop_unknown: bool = False, notes: list[str] | None = None
                     ) -> ComponentConfig:
    if not isinstance(table, Mapping):
        raise ConfigError(source, section, f"expected a table, got {_describe(table)}")
    params = dict(table)
    name = params.pop("name", None)
    if name is None:
        raise ConfigError(source, f"{section}.name", "missing required key; "
                          + registry.unknown_message(kind, None).split("; ", 1)[1])
    if not isinstance(name, str):
        raise ConfigError(source, f"{section}.name", f"expected a string, got {_describe(name)}")
    try:
        component = registry.get(kind, name)
    except PluginError as exc:
        raise ConfigError(source, f"{section}.name", str(exc)) from None
    if drop_unknown:
        known = {field.name for field in attrs.fields(component.cls) if field.init}
        dropped = sorted(set(params) - known)
        params = {k: v for k, v in params.items() if k in known}
        if dropped and notes is not None:
            notes.append(f"{section} switched to '{name}', which does not take "
                         f"{', '.join(dropped)}: dropped")
    return ComponentConfig(kind, name, _structure(params, component.cls, source, section),
                           component.source)


def parse_toml(path: Path) -> dict[str, Any]:
    """Read a run file; syntax errors name the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read run file: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"invalid TOML: {exc}") from None


def build_config(raw: Mapping[str, Any], registry: Registry, source: str,
                 switched: frozenset[str] = frozenset()) -> RunConfig:
    """Structure a parsed run file; ``switched`` lists component sections whose name was
    overridden, so that parameters the new component lacks are dropped instead of rejected."""
    allowed = {*SECTIONS, *COMPONENT_SECTIONS, "loggers"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(source, unknown[0],
                          f"unknown section; valid sections: {', '.join(sorted(allowed))}")
    sections = {key: _structure(raw.get(key, {}), cls, source, key)
                for key, cls in SECTIONS.items()}
    notes: list[str] = []
    components = {
        key: _build_component(raw.get(key, {"name": DEFAULT_COMPONENTS[key]}), key, kind,
                              registry, source, drop_unknown=key in switched, notes=notes)
        for key, kind in COMPONENT_SECTIONS.items()
    }
    logger_tables = raw.get("loggers", DEFAULT_LOGGERS)
    if not isinstance(logger_tables, list):
        raise ConfigError(source, "loggers", "expected an array of tables ([[loggers]])")
    loggers = [_build_component(table, f"loggers[{i}]", "loggers", registry, source)
               for i, table in enumerate(logger_tables)]
    return RunConfig(source=source, loggers=loggers, notes=notes, **sections, **components)
