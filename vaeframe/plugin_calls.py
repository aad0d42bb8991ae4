"""Calls into plugin components whose failures name the plugin."""

from __future__ import annotations

from typing import Any

from vaeframe.config import ComponentConfig
from vaeframe.errors import PluginError, VaeframeError


def plugin_failure(component: ComponentConfig, method: str, exc: Exception) -> VaeframeError:
    """An exception raised inside a plugin, as an error that names the plugin."""
    if isinstance(exc, VaeframeError):
        return exc
    return PluginError(f"{component.describe()} failed in {method}(): "
                       f"{type(exc).__name__}: {exc}")


def call_plugin(component: ComponentConfig, method: str, *args: Any) -> Any:
    """Call ``component.params.method(*args)``; a failure names the plugin."""
    try:
        return getattr(component.params, method)(*args)
    except Exception as exc:
        raise plugin_failure(component, method, exc) from exc
