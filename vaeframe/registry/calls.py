"""Calls into plugin components: every failure inside a plugin names the plugin."""

from __future__ import annotations

from typing import Any, Protocol

from vaeframe.errors import WRITE_ERRNOS, PluginError, VaeframeError, WriteError


class Describable(Protocol):
    def describe(self) -> str: ...


def plugin_failure(who: Describable | str, method: str, exc: Exception,
                   context: str = "") -> VaeframeError:
    """An exception raised inside ``who.method()`` as an error naming the plugin; ``context``
    (e.g. ``at epoch 3``) says when. vaeframe's own errors pass through unchanged."""
    if isinstance(exc, VaeframeError):
        return exc
    name = who if isinstance(who, str) else who.describe()
    when = f" {context}" if context else ""
    if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
        path = f" {exc.filename}" if exc.filename else ""
        return WriteError(f"{name} failed in {method}(){when}: could not write{path}: "
                          f"{WRITE_ERRNOS[exc.errno]}")
    return PluginError(f"{name} failed in {method}(){when}: {type(exc).__name__}: {exc}")


def call_plugin(component: Any, method: str, *args: Any, context: str = "") -> Any:
    """Call ``component.params.method(*args)``; a failure names the plugin (and ``context``)."""
    return call_named(component, getattr(component.params, method), method, *args,
                      context=context)


def call_named(who: Describable | str, function: Any, method: str, *args: Any,
               context: str = "") -> Any:
    """Call ``function(*args)``, a plugin's ``method``; a failure names ``who``."""
    try:
        return function(*args)
    except Exception as exc:
        raise plugin_failure(who, method, exc, context) from exc
