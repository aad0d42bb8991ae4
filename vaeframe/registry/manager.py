"""The plugin manager: entry-point discovery, one registry per kind, error isolation."""

from __future__ import annotations

import difflib
import importlib
import os
import re
import traceback
from collections.abc import Iterable, Iterator, Mapping
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
#: separates a plugin from a component name in a qualified name: ``plugin_module:name``
QUALIFIER = ":"


def canonical_package(name: str) -> str:
    """A distribution name as packaging compares them: case-insensitive, ``-``, ``_`` and
    ``.`` alike."""
    return re.sub(r"[-_.]+", "-", name).lower()


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
    def qualified(self) -> str:
        """``plugin_module:name``: the name that picks this component whatever else is
        registered."""
        return f"{self.source.module}{QUALIFIER}{self.name}"

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


class ComponentTable(Mapping[str, Component]):
    """The components of one kind, keyed by the name that picks each: its bare name, or its
    qualified name where more than one plugin registers that name. Looking a name up (``[]``,
    ``get``, ``in``) is :meth:`Registry.find`: a qualified name picks its plugin's component,
    and a bare name that several plugins register raises :class:`PluginError`."""

    def __init__(self, registry: Registry, kind: str) -> None:
        self._registry = registry
        self._kind = kind

    def __getitem__(self, name: str) -> Component:
        component = self._registry.find(self._kind, name) if isinstance(name, str) else None
        if component is None:
            raise KeyError(name)
        return component

    def __iter__(self) -> Iterator[str]:
        for found in self._registry.registered[self._kind].values():
            for component in found:
                yield component.name if len(found) == 1 else component.qualified

    def __len__(self) -> int:
        return sum(map(len, self._registry.registered[self._kind].values()))


class Registry:
    """Every component that the loaded plugins registered, by kind and name."""

    def __init__(self) -> None:
        #: kind -> bare name -> every component registered under it, in loading order
        self.registered: dict[str, dict[str, list[Component]]] = {kind: {} for kind in KINDS}
        self.failures: list[PluginFailure] = []
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
            if QUALIFIER in name:
                raise PluginError(f"{label} name {name!r} contains {QUALIFIER!r}, which "
                                  "separates a plugin from a component name in a qualified "
                                  f"name (plugin{QUALIFIER}name); rename it")
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
            found = self.registered[kind.name].setdefault(name, [])
            if any(component.source == source for component in found):
                raise PluginError(f"{label} '{name}' is registered twice by this plugin")
            found.append(Component(kind.name, name, cls, source))

        try:
            function(register=register)
        except Exception as exc:
            self.failures.append(PluginFailure(source, f"in {kind.hook}: {_error_text(exc)}"))

    # -- lookup ----------------------------------------------------------------------------
    @property
    def components(self) -> dict[str, ComponentTable]:
        """Every component by kind, as a read-only mapping that looks names up as
        :meth:`get` does."""
        return {kind: ComponentTable(self, kind) for kind in self.registered}

    def names(self, kind: str) -> list[str]:
        """The bare names registered for ``kind``, each once."""
        return sorted(self.registered[kind])

    def entries(self, kind: str) -> list[Component]:
        """Every component of ``kind``, by name, those sharing a name by plugin."""
        return sorted((c for found in self.registered[kind].values() for c in found),
                      key=lambda c: (c.name, c.source.module))

    def is_ambiguous(self, kind: str, name: str) -> bool:
        """Whether more than one plugin registers the bare ``name`` for ``kind``."""
        return len(self.registered[kind].get(name, ())) > 1

    def get(self, kind: str, name: str) -> Component:
        """The component ``name`` of ``kind``, or a :class:`PluginError` that says why not.

        ``name`` is a bare name (``capacity``) or a qualified one, ``plugin:capacity``, where
        ``plugin`` is the plugin's module (an entry point's value, or the module given with
        ``-p``) or its distribution's name (compared as packaging does). A qualified name
        always picks that plugin's component; a bare name that several plugins register is
        an error that suggests their qualified names.
        """
        component = self.find(kind, name)
        if component is None:
            raise PluginError(self.unknown_message(kind, name))
        return component

    def find(self, kind: str, name: str) -> Component | None:
        """As :meth:`get`, but ``None`` where no plugin registers the (bare) name at all."""
        qualifier, qualified, bare = name.rpartition(QUALIFIER)
        found = self.registered[kind].get(bare, [])
        if not found:
            return None
        if not qualified:
            if len(found) == 1:
                return found[0]
            raise PluginError(self.ambiguous_message(kind, bare))
        matches = _matching(found, qualifier)
        if len(matches) == 1:
            return matches[0]
        label = KINDS[kind].label
        if not matches:
            raise PluginError(
                f"{label} {name!r}: no plugin {qualifier!r} registers {label} '{bare}'; "
                f"it is registered by {_listed(c.source.describe() for c in found)}; "
                f"name {'one of them' if len(found) > 1 else 'it'}: {_choices(found)}")
        raise PluginError(
            f"{label} {name!r}: package {matches[0].source.package} has "
            f"{_count(len(matches))} plugins that register {label} '{bare}': "
            f"{_listed(c.source.describe() for c in matches)}; name one of them: "
            f"{_choices(found, matches)}")

    def ambiguous_message(self, kind: str, name: str) -> str:
        """Why the bare ``name`` picks no component: the plugins that register it, and the
        qualified names that pick each one."""
        found = self.registered[kind][name]
        return (f"{KINDS[kind].label} '{name}' is registered by {_count(len(found))} plugins: "
                f"{_listed(c.source.describe() for c in found)}; name one of them: "
                f"{_choices(found)}")

    def ambiguities(self) -> list[str]:
        """A message for every bare name that more than one plugin registers."""
        return [self.ambiguous_message(kind, name) for kind, by_name in self.registered.items()
                for name in sorted(by_name) if len(by_name[name]) > 1]

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
        """Plugins that failed to load (a name that several plugins register is not one: see
        :meth:`ambiguities`)."""
        return [f.describe() for f in self.failures]


def _matching(found: list[Component], qualifier: str) -> list[Component]:
    """The components of ``found`` whose plugin ``qualifier`` names: by module first, else by
    distribution name."""
    by_module = [c for c in found if c.source.module == qualifier]
    if by_module:
        return by_module
    wanted = canonical_package(qualifier)
    return [c for c in found if c.source.package and canonical_package(c.source.package) == wanted]


def qualified_names(component: Component, found: list[Component]) -> list[str]:
    """The qualified names that pick ``component`` among ``found`` (every component that
    shares its bare name): the module form, and the distribution form where it is unique."""
    qualifiers = [component.source.module, *([component.source.package]
                                             if component.source.package else [])]
    return [f"{q}{QUALIFIER}{component.name}" for q in qualifiers
            if _matching(found, q) == [component]]


def _choices(found: list[Component], among: list[Component] | None = None) -> str:
    """``"a:x" (or "a-dist:x"), "b:x"``: the qualified names of each of ``among``."""
    choices = []
    for component in found if among is None else among:
        first, *others = qualified_names(component, found)
        choices.append(f'"{first}"' + "".join(f' (or "{other}")' for other in others))
    return ", ".join(choices)


def _listed(items: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _count(number: int) -> str:
    return {2: "two", 3: "three", 4: "four"}.get(number, str(number))


def plugin_modules_from_env() -> list[str]:
    value = os.environ.get(PLUGINS_ENV, "")
    return [name.strip() for name in value.split(",") if name.strip()]


def autoload_disabled() -> bool:
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() not in ("", "0", "false", "no")


_default_registry: Registry | None = None
_extra_modules: list[str] = []


def extra_modules() -> list[str]:
    """The plugin modules given besides entry points (``-p``), e.g. for a worker process."""
    return list(_extra_modules)


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
