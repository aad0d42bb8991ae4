"""A finished run directory read back: summary.json, config.toml and metrics.jsonl."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from vaeframe.criteria import epoch_rows
from vaeframe.errors import VaeframeError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@attrs.define
class RunRecord:
    """What a report needs of one run; ``label`` names it in tables and legends."""

    path: Path
    summary: dict[str, Any]
    config: dict[str, Any]
    history: list[dict[str, Any]]
    label: str = ""

    @property
    def epochs(self) -> list[dict[str, Any]]:
        return epoch_rows(self.history)


def _read_json(path: Path, run_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VaeframeError(f"{run_dir}: not a vaeframe run directory (no {path.name})") from None
    except (OSError, ValueError) as exc:
        raise VaeframeError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise VaeframeError(f"{path}: expected a JSON object")
    return data


def _metrics_file(run_dir: Path, config: dict[str, Any]) -> Path:
    for logger in config.get("loggers", []):
        if logger.get("name") == "jsonl":
            return run_dir / logger.get("filename", "metrics.jsonl")
    return run_dir / "metrics.jsonl"


def _read_history(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            raise VaeframeError(f"{path}:{number}: not a JSON line") from None
    return rows


def load_run(run_dir: Path) -> RunRecord:
    """Read one run directory; anything missing or malformed is a clear error."""
    if not run_dir.is_dir():
        raise VaeframeError(f"{run_dir}: no such run directory")
    summary = _read_json(run_dir / "summary.json", run_dir)
    try:
        config = tomllib.loads((run_dir / "config.toml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VaeframeError(f"{run_dir}: not a vaeframe run directory (no config.toml)") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VaeframeError(f"{run_dir / 'config.toml'}: unreadable ({exc})") from None
    history = _read_history(_metrics_file(run_dir, config))
    return RunRecord(run_dir, summary, config, history, str(summary.get("name", run_dir.name)))


def load_runs(run_dirs: Sequence[Path]) -> list[RunRecord]:
    """Every run directory, each labelled by its run name (its directory's name where two
    runs share a name)."""
    records = [load_run(Path(d)) for d in dict.fromkeys(Path(d).resolve() for d in run_dirs)]
    labels = [r.label for r in records]
    for record in records:
        if labels.count(record.label) > 1:
            record.label = record.path.name
    return records
