"""Run files: TOML → attrs classes through one strict cattrs converter.

Every error names the file, the key path (``schedule.max_beta``) and what would be valid.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from vaeframe.errors import ConfigError, PluginError
from vaeframe.plugins import KINDS, Kind, PluginSource, Registry
from vaeframe.tomlio import TOMLDecodeError, loads_toml
from vaeframe.validators import ParameterError, at_least, greater_than, one_of


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
    epochs: int = attrs.field(default=100, validator=at_least(1))
    batch_size: int = attrs.field(default=64, validator=at_least(1))
    lr: float = attrs.field(default=1e-3, validator=greater_than(0.0))
    weight_decay: float = attrs.field(default=0.0, validator=at_least(0.0))
    device: str = attrs.field(default="auto", validator=_device)
    log_every_n_steps: int = attrs.field(default=20, validator=at_least(1))
    eval_every_n_epochs: int = attrs.field(default=1, validator=at_least(1))
    eval_batch_size: int = attrs.field(default=1024, validator=at_least(1))
    checkpoint_every_n_epochs: int = attrs.field(default=1, validator=at_least(1))
    checkpoint_writer: str = attrs.field(default="thread", validator=one_of("thread", "inline"))
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
#: keys of run files written before models and losses became components: (old, new)
MOVED_KEYS = {"model.focal_gamma": "loss.gamma", "model.recon_reduction": "loss.reduction"}


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


@attrs.frozen
class Blame:
    """Where a value came from: the run file, or the command-line flag that set its key.

    ``flags`` maps key paths (``kl.threshold``, ``loggers[1].mode``) to the flag that set
    them (``--free-bits -1``); an error at a key, or below a key, that a flag set names the
    flag instead of the file.
    """

    source: str
    flags: Mapping[str, str] = attrs.field(factory=dict)

    def origin(self, path: str) -> str:
        key = path
        while key:
            if key in self.flags:
                return self.flags[key]
            cut = max(key.rfind("."), key.rfind("["))
            key = key[:cut] if cut > 0 else ""
        return self.source

    def error(self, path: str, message: str) -> ConfigError:
        return ConfigError(self.origin(path), path, message)

    def errors(self, found: list[tuple[str, str]]) -> ConfigError:
        if len(found) == 1:
            return self.error(*found[0])
        lines = "\n".join(f"  {p}: {m}" + (f" (from {self.origin(p)})"
                                            if self.origin(p) != self.source else "")
                          for p, m in found)
        return ConfigError(self.source, "", f"{len(found)} problems:\n{lines}")


def _structure(data: Any, cls: type, blame: Blame, path: str) -> Any:
    if not isinstance(data, Mapping):
        raise blame.error(path, f"expected a table, got {_describe(data)}")
    try:
        attrs.resolve_types(cls)
        return converter.structure(dict(data), cls)
    except ParameterError as exc:
        raise blame.error(_join(path, exc.field), exc.message) from None
    except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
        raise blame.errors(_flatten_errors(exc, path)) from None
    except (TypeError, ValueError) as exc:
        raise blame.error(path, str(exc)) from None


def _build_component(table: Any, section: str, kind: Kind, registry: Registry, blame: Blame,
                     drop_unknown: bool = False, notes: list[str] | None = None
                     ) -> ComponentConfig:
    if not isinstance(table, Mapping):
        raise blame.error(section, f"expected a table, got {_describe(table)}")
    params = dict(table)
    name = params.pop("name", kind.default)
    if name is None:
        raise blame.error(f"{section}.name", "missing required key; "
                          + registry.unknown_message(kind.name, None).split("; ", 1)[1])
    if not isinstance(name, str):
        raise blame.error(f"{section}.name", f"expected a string, got {_describe(name)}")
    try:
        component = registry.get(kind.name, name)
    except PluginError as exc:
        raise blame.error(f"{section}.name", str(exc)) from None
    if drop_unknown:
        known = {field.name for field in attrs.fields(component.cls) if field.init}
        dropped = sorted(set(params) - known)
        params = {k: v for k, v in params.items() if k in known}
        if dropped and notes is not None:
            notes.append(f"{section} switched to '{name}', which does not take "
                         f"{', '.join(dropped)}: dropped")
    return ComponentConfig(kind.name, name, _structure(params, component.cls, blame, section),
                           component.source)


def parse_toml(path: Path) -> dict[str, Any]:
    """Read a run file; syntax errors name the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read run file: {exc.strerror}") from None
    try:
        return loads_toml(text)
    except TOMLDecodeError as exc:
        raise ConfigError(str(path), "", f"invalid TOML: {exc}") from None


def _check_moved_keys(raw: Mapping[str, Any], blame: Blame) -> None:
    """A run file in the layout before ``[loss]`` existed gets one error per moved key."""
    for old, new in MOVED_KEYS.items():
        section, key = old.split(".")
        table = raw.get(section)
        if isinstance(table, Mapping) and key in table:
            new_section, new_key = new.split(".")
            raise blame.error(old, f"has moved: set {new_key} in a [{new_section}] section "
                                   f"({new} = {table[key]!r}); [model] now holds only the "
                                   "architecture")


def upgrade_run_dir_config(raw: dict[str, Any]) -> dict[str, Any]:
    """A run directory's config.toml written by vaeframe 0.1 (focal-loss keys in ``[model]``,
    no ``[loss]``) in today's layout; a current one is returned unchanged."""
    model = raw.get("model")
    if not isinstance(model, dict) or "loss" in raw or "name" in model:
        return raw
    upgraded = {**raw, "model": {k: v for k, v in model.items()
                                 if f"model.{k}" not in MOVED_KEYS}}
    upgraded["model"]["name"] = KINDS["models"].default
    loss = {new.split(".")[1]: model[old.split(".")[1]] for old, new in MOVED_KEYS.items()
            if old.split(".")[1] in model}
    upgraded["loss"] = {"name": KINDS["losses"].default, **loss}
    return upgraded


def build_config(raw: Mapping[str, Any], registry: Registry, source: str,
                 switched: frozenset[str] = frozenset(),
                 flags: Mapping[str, str] | None = None) -> RunConfig:
    """Structure a parsed run file.

    ``switched`` lists component sections whose name was overridden, so that parameters the
    new component lacks are dropped instead of rejected; ``flags`` maps the key paths set on
    the command line to their flags, so that errors there name the flag.
    """
    blame = Blame(source, dict(flags or {}))
    allowed = {*SECTIONS, *(kind.section for kind in KINDS.values())}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise blame.error(unknown[0],
                          f"unknown section; valid sections: {', '.join(sorted(allowed))}")
    _check_moved_keys(raw, blame)
    sections = {key: _structure(raw.get(key, {}), cls, blame, key)
                for key, cls in SECTIONS.items()}
    notes: list[str] = []
    components: dict[str, Any] = {}
    for kind in KINDS.values():
        if kind.many:
            tables = raw.get(kind.section, [{"name": name} for name in kind.defaults])
            if not isinstance(tables, list):
                raise blame.error(kind.section, "expected an array of tables "
                                                f"([[{kind.section}]])")
            components[kind.section] = [
                _build_component(table, f"{kind.section}[{i}]", kind, registry, blame)
                for i, table in enumerate(tables)]
        else:
            components[kind.section] = _build_component(
                raw.get(kind.section, {"name": kind.default}), kind.section, kind, registry,
                blame, drop_unknown=kind.section in switched, notes=notes)
    return RunConfig(source=source, notes=notes, **sections, **components)
