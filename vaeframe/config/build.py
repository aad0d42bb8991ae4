"""A parsed run file to a ``RunConfig``: fixed sections structured, each component looked up
in the registry by ``name`` and its table structured into the component's class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from vaeframe.config.converter import Blame, describe_value, structure_table
from vaeframe.config.legacy import check_moved_keys
from vaeframe.config.schema import SECTIONS, ComponentConfig, RunConfig
from vaeframe.errors import PluginError
from vaeframe.registry.kinds import KINDS, Kind
from vaeframe.registry.manager import Registry


def _build_component(table: Any, section: str, kind: Kind, registry: Registry, blame: Blame,
                     drop_unknown: bool = False, notes: list[str] | None = None
                     ) -> ComponentConfig:
    if not isinstance(table, Mapping):
        raise blame.error(section, f"expected a table, got {describe_value(table)}")
    params = dict(table)
    name = params.pop("name", kind.default)
    if name is None:
        raise blame.error(f"{section}.name", "missing required key; "
                          + registry.unknown_message(kind.name, None).split("; ", 1)[1])
    if not isinstance(name, str):
        raise blame.error(f"{section}.name", f"expected a string, got {describe_value(name)}")
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
    return ComponentConfig(kind.name, name, structure_table(params, component.cls, blame, section),
                           component.source)


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
    check_moved_keys(raw, blame)
    sections = {key: structure_table(raw.get(key, {}), cls, blame, key)
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
                _build_component(table, f"{kind.section}.{i}", kind, registry, blame)
                for i, table in enumerate(tables)]
        else:
            components[kind.section] = _build_component(
                raw.get(kind.section, {"name": kind.default}), kind.section, kind, registry,
                blame, drop_unknown=kind.section in switched, notes=notes)
    return RunConfig(source=source, notes=notes, **sections, **components)
