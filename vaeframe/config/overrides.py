"""Command-line overrides of a parsed run file: the seed's flags and ``--set a.b=value``."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from vaeframe.config.build import build_config
from vaeframe.config.schema import RunConfig
from vaeframe.config.tomlfile import TOMLDecodeError, loads_toml, toml_value
from vaeframe.errors import ConfigError
from vaeframe.registry.declarations import floor_field
from vaeframe.registry.kinds import KINDS
from vaeframe.registry.manager import Registry


def parse_value(text: str) -> Any:
    """A TOML value (``3``, ``0.5``, ``true``, ``[1, 2]``, ``"x"``), else the text itself."""
    try:
        return loads_toml(f"value = {text}")["value"]
    except TOMLDecodeError:
        return text


def key_path(path: Sequence[str | int]) -> str:
    """``["loggers", 1, "mode"]`` → ``loggers.1.mode``: errors spell key paths as ``--set``
    takes them."""
    return ".".join(str(part) for part in path)


def registered_floor_field(registry: Registry, name: Any) -> str | None:
    """The floor field that the registered KL regularizer ``name`` (bare or qualified, looked
    up as a run file's is) declares, or ``None`` where no plugin registers it; a name that
    picks no single component (ambiguous, or a qualifier naming no plugin that registers it)
    is the registry's :class:`PluginError`."""
    component = registry.find("kl_regularizers", name) if isinstance(name, str) else None
    return floor_field(component.cls) if component else None


def parse_path(key: str) -> list[str | int] | None:
    """``a.b`` → ``["a", "b"]``, list items by index (``loggers.0.mode``); ``None`` if malformed."""
    parts = key.strip().split(".")
    if not all(part.strip() for part in parts):
        return None
    return [int(p) if p.strip().isdigit() else p.strip() for p in parts]


def parse_assignment(expression: str) -> tuple[list[str | int], Any]:
    """``a.b=value`` → (``["a", "b"]``, value); list items by index: ``loggers.0.mode=x``."""
    key, sep, text = expression.partition("=")
    path = parse_path(key)
    if not sep or path is None:
        raise ConfigError(f"--set {expression}", "",
                          "expected KEY.PATH=VALUE, for example --set train.epochs=5")
    return path, parse_value(text.strip())


def set_path(raw: dict[str, Any], path: list[str | int], value: Any, flag: str) -> None:
    node: Any = raw
    for depth, part in enumerate(path[:-1]):
        here = ".".join(str(p) for p in path[: depth + 1])
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                raise ConfigError(flag, here, "no such list item")
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise ConfigError(flag, here, "is not a table")
            node = node.setdefault(part, {})
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or not -len(node) <= last < len(node):
            raise ConfigError(flag, ".".join(map(str, path)), "no such list item")
    elif not isinstance(node, dict):
        raise ConfigError(flag, ".".join(map(str, path[:-1])), "is not a table")
    node[last] = value


@attrs.define
class Overridden:
    """A run file with the command line's overrides applied."""

    raw: dict[str, Any]
    switched: frozenset[str]  # component sections whose name an override changed
    flags: dict[str, str]  # key path -> the flag that set it, for error messages
    notes: list[str] = attrs.field(factory=list)  # what a flag did beyond setting its key

    def build(self, registry: Registry, source: str) -> RunConfig:
        """``raw`` structured (:func:`build_config`), with these notes before its own."""
        config = build_config(self.raw, registry, source, self.switched, self.flags)
        config.notes[:0] = self.notes
        return config


def _check_floor_sets(sets: Sequence[str], flag: str, field: str | None) -> None:
    """Refuse the first ``--set`` that would undo what ``--free-bits`` chose: the whole ``kl``
    table, ``kl.name`` or ``kl.<floor field>``."""
    for expression in sets:
        path, _ = parse_assignment(expression)
        if path[0] != "kl" or (len(path) > 1 and path[1] not in ("name", field)):
            continue
        floor = f" (kl.{field})" if field else ""
        if len(path) == 1:
            what = "replaces the whole kl table"
        elif path[1] == "name":
            what = "picks the KL regularizer"
        else:
            what = f"sets kl.{field} too"
        raise ConfigError(
            f"{flag} and --set {expression}", key_path(path[:2]),
            f"--free-bits sets the KL floor{floor} and this --set {what}; give one "
            "of them (any other --set kl.KEY=VALUE applies after --free-bits)")


def _with_floor(raw: dict[str, Any], registry: Registry, free_bits: float,
                sets: Sequence[str], flags: dict[str, str], notes: list[str]) -> None:
    """``--free-bits X``: the floor field of the run file's KL regularizer set to X, or the
    kind's floor regularizer in its place (with a note) when it declares no floor."""
    flag = f"--free-bits {free_bits:g}"
    kl = raw.get("kl", {})
    if not isinstance(kl, Mapping):
        return  # not a table: build_config says so, blaming the run file
    kind = KINDS["kl_regularizers"]
    name = kl.get("name", kind.default)
    if not isinstance(name, str) or name not in registry.components[kind.name]:
        _check_floor_sets(sets, flag, None)
        return  # no such regularizer (or not one name): build_config says so, naming kl.name
    field = registered_floor_field(registry, name)
    if field is None:
        replaced = kl
        kl = {"name": kind.with_floor}
        field = registered_floor_field(registry, kl["name"])
        if field is None:
            raise ConfigError(flag, "kl", f"needs a KL regularizer with a floor; "
                              f"{registry.unknown_message('kl_regularizers', kl['name'])}")
        flags["kl.name"] = flag
        params = ", ".join(f"{key} = {toml_value(value)}"
                           for key, value in replaced.items() if key != "name")
        had = f" ({params})" if params else ""
        if "kl" not in raw:
            had = " (the default)"
        notes.append(f"{flag}: kl was {name!r}{had}, which declares no floor; switched to "
                     f"{kl['name']!r} with {field} = {toml_value(free_bits)}")
    _check_floor_sets(sets, flag, field)
    raw["kl"] = {**kl, field: free_bits}
    flags[f"kl.{field}"] = flag


def apply_overrides(raw: dict[str, Any], registry: Registry, *, sets: Sequence[str] = (),
                    beta_schedule: str | None = None, beta_max: float | None = None,
                    free_bits: float | None = None, epochs: int | None = None) -> Overridden:
    """A copy of ``raw`` with the overrides applied: the seed's flags first (``--beta-schedule``,
    ``--beta-max``, ``--free-bits``, ``--epochs``), then every ``--set`` in order, whatever
    their order on the command line.

    ``--free-bits X`` sets the floor of the run file's KL regularizer when it declares one
    (``floor_field``); otherwise it selects the kind's floor regularizer with that floor and
    says so in the returned ``notes``. ``--set kl.KEY=VALUE`` for any other key then applies
    to the regularizer ``--free-bits`` left (``--set kl.per=batch``). ``--set kl=...``,
    ``--set kl.name=...`` or ``--set kl.<floor field>=...`` together with ``--free-bits`` is
    refused: both would choose the floor or the regularizer, so give one.
    """
    raw = copy.deepcopy(raw)
    switched: set[str] = set()
    flags: dict[str, str] = {}
    notes: list[str] = []
    if beta_schedule is not None:
        schedule = raw.setdefault("schedule", {})
        if schedule.get("name", KINDS["schedules"].default) != beta_schedule:
            switched.add("schedule")
        schedule["name"] = beta_schedule
        flags["schedule.name"] = f"--beta-schedule {beta_schedule}"
    if beta_max is not None:
        raw.setdefault("schedule", {})["max_beta"] = beta_max
        flags["schedule.max_beta"] = f"--beta-max {beta_max:g}"
    if free_bits is not None:
        _with_floor(raw, registry, free_bits, sets, flags, notes)
    if epochs is not None:
        raw.setdefault("train", {})["epochs"] = epochs
        flags["train.epochs"] = f"--epochs {epochs}"
    for expression in sets:
        path, value = parse_assignment(expression)
        set_path(raw, path, value, f"--set {expression}")
        flags[key_path(path)] = f"--set {expression}"
    return Overridden(raw, frozenset(switched), flags, notes)


def configure(raw: dict[str, Any], registry: Registry, source: str, *,
              sets: Sequence[str] = (), beta_schedule: str | None = None,
              beta_max: float | None = None, free_bits: float | None = None,
              epochs: int | None = None) -> RunConfig:
    """A parsed run file with the command line's overrides applied, structured; errors at a
    key that a flag set name the flag, and ``notes`` say what a flag did beyond its key (the
    overrides' notes first, then those of :func:`build_config`)."""
    overridden = apply_overrides(raw, registry, sets=sets, beta_schedule=beta_schedule,
                                 beta_max=beta_max, free_bits=free_bits, epochs=epochs)
    return overridden.build(registry, source)
