"""The plugin manager: entry-point discovery, one registry per kind, error isolation."""

from __future__ import annotations

import difflib
import importlib
import os
import traceback
from collections.abc import Iterable
from importlib import metadata
from types import ModuleType
from typing import Any

import attrs
import pluggy

from vaeframe.errors import PluginError
from vaeframe.registry import hookspecs
from vaeframe.registry.kinds import KINDS, Kind

ENTRY_POINT_GROUP = "vaeframe"
PLUGINS_ENV = "VAEFRAME_PLUGINS"
DISABLE_AUTOLOAD_ENV = "VAEFRAME_DISABLE_PLUGIN_AUTOLOAD"

@attrs.frozen
class PluginSource:
    """Where a plugin came from: an entry point of a distribution, or a module named by -p."""

    module: str
    entry_point: str | None = None
    package: str | None = None
    version: str | None = None

    def describe(self) -> str:
        origin = f"{self.package} {self.version}" if self.package else "not packaged"
        via = f"entry point '{self.entry_point}'" if self.entry_point else "loaded with -p"
        return f"plugin '{self.module}' ({via}, package {origin})"


@attrs.frozen
class Parameter:
    name: str
    type: str
    default: Any
    required: bool


@attrs.frozen
class Component:
    """One registered component: a name, its attrs class and the plugin that registered it."""

    kind: str
    name: str
    cls: type
    source: PluginSource

    @property
    def description(self) -> str:
        doc = (self.cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @property
    def parameters(self) -> list[Parameter]:
        params = []
        for field in attrs.fields(self.cls):
            if not field.init or field.name.startswith("_"):
                continue
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                default = default.factory() if not default.takes_self else None
            type_name = field.type if isinstance(field.type, str) else getattr(
                field.type, "__name__", repr(field.type))
            required = default is attrs.NOTHING
            params.append(Parameter(field.name, str(type_name), None if required else default,
                                    required))
        return params


@attrs.frozen
class PluginFailure:
    source: PluginSource
    error: str

    def describe(self) -> str:
        return f"{self.source.describe()} failed: {self.error}"


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, PluginError):  # vaeframe's own message says it all
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


class Registry:
    """Every component that the loaded plugins registered, by kind and name."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Component]] = {kind: {} for kind in KINDS}
        self.failures: list[PluginFailure] = []
        self.conflicts: dict[tuple[str, str], str] = {}
        self.sources: list[PluginSource] = []
        self._manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._manager.add_hookspecs(hookspecs)

    # -- loading ---------------------------------------------------------------------------
    def load_entry_points(self) -> None:
        """Load every plugin of the ``vaeframe`` entry-point group, one at a time."""
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist
            source = PluginSource(
                module=ep.value,
                entry_point=ep.name,
                package=dist.metadata["Name"] if dist else None,
                version=dist.version if dist else None,
            )
            try:
                module = ep.load()
            except Exception as exc:
                self.failures.append(PluginFailure(source, _error_text(exc)))
                continue
            self.add_plugin(module, source)

    def load_modules(self, names: Iterable[str]) -> None:
        """Import and add plugin modules by name (``-p`` and ``VAEFRAME_PLUGINS``)."""
        for name in names:
            source = PluginSource(module=name)
            try:
                module = importlib.import_module(name)
            except Exception as exc:
                self.failures.append(PluginFailure(source, _error_text(exc)))
                continue
            self.add_plugin(module, source)

    def add_plugin(self, plugin: ModuleType | object, source: PluginSource) -> None:
        """Register one plugin object and collect the components its hooks register."""
        if self._manager.is_registered(plugin) or self._manager.has_plugin(source.module):
            return
        unknown = self._unknown_hooks(plugin)
        if unknown:
            self.failures.append(PluginFailure(source, unknown))
            return
        try:
            self._manager.register(plugin, name=source.module)
        except Exception as exc:
            self.failures.append(PluginFailure(source, _error_text(exc)))
            return
        self.sources.append(source)
        for kind in KINDS.values():
            for impl in getattr(self._manager.hook, kind.hook).get_hookimpls():
                if impl.plugin is plugin:
                    self._call_hook(kind, impl.function, source)

    def _unknown_hooks(self, plugin: object) -> str | None:
        known = [kind.hook for kind in KINDS.values()]
        for attr in dir(plugin):
            if self._manager.parse_hookimpl_opts(plugin, attr) is None or attr in known:
                continue
            hint = difflib.get_close_matches(attr, known, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            return (f"implements unknown hook '{attr}'{suggestion}; "
                    f"known hooks: {', '.join(known)}")
        return None

    def _call_hook(self, kind: Kind, function: Any, source: PluginSource) -> None:
        label = kind.label

        def register(name: str, cls: type) -> None:
            if not isinstance(name, str) or not name:
                raise PluginError(f"{label} names must be non-empty strings, got {name!r}")
            if not (isinstance(cls, type) and attrs.has(cls)):
                raise PluginError(f"{label} '{name}' must be an attrs class, got {cls!r}")
            if any((field.alias or field.name) == "name" for field in attrs.fields(cls)
                   if field.init):
                raise PluginError(f"{label} '{name}' ({cls.__qualname__}) has a field called "
                                  "'name', which the run file uses to pick the component; "
                                  "rename the field")
            missing = [method for method in kind.required
                       if not callable(getattr(cls, method, None))]
            if missing:
                raise PluginError(f"{label} '{name}' ({cls.__qualname__}) has no method "
                                  f"{', '.join(f'{m}()' for m in missing)}, which every "
                                  f"{label} must provide (see the {kind.hook} hook)")
            problem = kind.check(name, cls) if kind.check else None
            if problem:
                raise PluginError(problem)
            existing = self.components[kind.name].get(name)
            if existing is not None:
                self.conflicts[(kind.name, name)] = (
                    f"{label} '{name}' is registered twice: by {existing.source.describe()} "
                    f"and by {source.describe()}")
                return
            self.components[kind.name][name] = Component(kind.name, name, cls, source)

        try:
            function(register=register)
        except Exception as exc:
            self.failures.append(PluginFailure(source, f"in {kind.hook}: {_error_text(exc)}"))

    # -- lookup ----------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])

    def get(self, kind: str, name: str) -> Component:
        """The component ``name`` of ``kind``, or a :class:`PluginError` that says why not."""
        conflict = self.conflicts.get((kind, name))
        if conflict:
            raise PluginError(conflict + "; uninstall or disable one of them")
        component = self.components[kind].get(name)
        if component is not None:
            return component
        raise PluginError(self.unknown_message(kind, name))

    def unknown_message(self, kind: str, name: object) -> str:
        label = KINDS[kind].label
        known = ", ".join(self.names(kind))
        message = f"unknown {label} {name!r}; " + (f"available: {known}" if known else
                                                    f"no {label} is registered")
        if self.failures:
            failed = "; ".join(failure.describe() for failure in self.failures)
            message += f". Plugins that failed to load (one may provide it): {failed}"
        return message

    def problems(self) -> list[str]:
        return [f.describe() for f in self.failures] + list(self.conflicts.values())


def plugin_modules_from_env() -> list[str]:
    value = os.environ.get(PLUGINS_ENV, "")
    return [name.strip() for name in value.split(",") if name.strip()]


def autoload_disabled() -> bool:
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() not in ("", "0", "false", "no")


_default_registry: Registry | None = None
_extra_modules: list[str] = []


def set_extra_modules(names: Iterable[str]) -> None:
    """Plugin modules to load besides entry points (the CLI's ``-p``); resets the registry."""
    global _default_registry
    _extra_modules[:] = list(names)
    _default_registry = None


def build_registry(extra_modules: Iterable[str] = (), autoload: bool | None = None) -> Registry:
    """A fresh registry: entry points (unless disabled), ``VAEFRAME_PLUGINS``, then modules."""
    registry = Registry()
    if not (autoload_disabled() if autoload is None else not autoload):
        registry.load_entry_points()
    registry.load_modules([*plugin_modules_from_env(), *extra_modules])
    return registry


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _default_registry
    if _default_registry is None:
        _default_registry = build_registry(_extra_modules)
    return _default_registry
