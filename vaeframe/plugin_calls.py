"""Calls into plugin components: every failure inside a plugin names the plugin."""

from __future__ import annotations

from typing import Any, Protocol

from vaeframe.errors import PluginError, VaeframeError


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
    return PluginError(f"{name} failed in {method}(){when}: {type(exc).__name__}: {exc}")


def call_plugin(component: Any, method: str, *args: Any) -> Any:
    """Call ``component.params.method(*args)``; a failure names the plugin."""
    try:
        return getattr(component.params, method)(*args)
    except Exception as exc:
        raise plugin_failure(component, method, exc) from exc
