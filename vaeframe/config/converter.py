"""The strict cattrs converter of run files, and where an error is blamed: every error names
the file or flag, the key path (``schedule.max_beta``, ``loggers.1.mode``) and what would
be valid."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from vaeframe.errors import ConfigError
from vaeframe.validators import ParameterError


def describe_value(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
            dict: "table"}.get(type(value), type(value).__name__)
    return f"{kind} {value!r}" if not isinstance(value, (list, dict)) else kind


def _strict(expected: tuple[type, ...], label: str, cast: type) -> Any:
    def structure(value: Any, _type: Any) -> Any:
        if (isinstance(value, bool) and bool not in expected) or not isinstance(value, expected):
            raise TypeError(f"expected {label}, got {describe_value(value)}")
        return cast(value)

    return structure


def _strict_list(list_type: Any, conv: cattrs.Converter) -> Any:
    """cattrs would split a string into a list of characters: accept only arrays."""
    items = list_structure_factory(list_type, conv)

    def structure(value: Any, type_: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected an array, got {describe_value(value)}")
        return items(value, type_)

    return structure


def make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(int, _strict((int,), "an integer", int))
    conv.register_structure_hook(float, _strict((int, float), "a number", float))
    conv.register_structure_hook(str, _strict((str,), "a string", str))
    conv.register_structure_hook(bool, _strict((bool,), "true or false", bool))
    conv.register_structure_hook_factory(lambda t: typing.get_origin(t) is list, _strict_list)
    # a tuple field is an array in a run file, and in what loggers are given
    conv.register_unstructure_hook_func(lambda t: t is tuple or typing.get_origin(t) is tuple,
                                        lambda value: [conv.unstructure(v) for v in value])
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
                if isinstance(note, AttributeValidationNote):
                    sub_path = _join(path, note.name)
                elif isinstance(note, IterableValidationNote):  # not any str: str.index
                    sub_path = _join(path, note.index)
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

    ``flags`` maps key paths (``kl.threshold``, ``loggers.1.mode``) to the flag that set
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
            cut = key.rfind(".")
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


def structure_table(data: Any, cls: type, blame: Blame, path: str) -> Any:
    """``data`` structured into ``cls``; any failure is one :class:`ConfigError` at ``path``."""
    if not isinstance(data, Mapping):
        raise blame.error(path, f"expected a table, got {describe_value(data)}")
    try:
        attrs.resolve_types(cls)
        return converter.structure(dict(data), cls)
    except ParameterError as exc:
        raise blame.error(_join(path, exc.field), exc.message) from None
    except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
        raise blame.errors(_flatten_errors(exc, path)) from None
    except (TypeError, ValueError) as exc:
        raise blame.error(path, str(exc)) from None
