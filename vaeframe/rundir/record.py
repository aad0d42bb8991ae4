"""A finished run directory read back: summary.json, config.toml and metrics.jsonl."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from vaeframe.config.legacy import upgrade_run_dir_config
from vaeframe.config.tomlfile import TOMLDecodeError, loads_toml
from vaeframe.errors import RunDirWarning, VaeframeError
from vaeframe.registry.declarations import Declared, declarations
from vaeframe.rundir.layout import CHECKPOINTS, CONFIG_FILE, DEFAULT_HISTORY_FILE, SUMMARY_FILE
from vaeframe.rundir.status import RunStatus


def epoch_rows(history: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The per-epoch rows of a history (metrics.jsonl also holds per-step rows)."""
    return [row for row in history if "epoch/loss" in row]


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

    @property
    def declared(self) -> Declared:
        """What the run's components declared: summary.json's ``declared``, or for runs made
        before it existed, what the components of its config.toml declare now."""
        stored = self.summary.get("declared")
        if isinstance(stored, dict):
            return Declared.from_dict(stored)
        return _declared_by_components(self.config)


def _declared_by_components(config: Mapping[str, Any]) -> Declared:
    from vaeframe.config.build import build_config
    from vaeframe.registry.manager import get_registry

    try:
        run = build_config({**config, "loggers": []}, get_registry(), CONFIG_FILE)
    except VaeframeError:
        return Declared()
    return declarations(run.schedule, run.kl, run.train.epochs)


def component_label(config: Mapping[str, Any], section: str) -> str:
    """``name (field value, ...)`` of the component in ``section`` of a resolved run file."""
    table = dict(config.get(section, {}))
    name = table.pop("name", "?")
    fields = ", ".join(f"{key} {value}" for key, value in table.items())
    return f"{name} ({fields})" if fields else str(name)


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


def _history_file(run_dir: Path, summary: dict[str, Any]) -> Path:
    """Where the run's history is, as summary.json says (``history_file``)."""
    return run_dir / str(summary.get("history_file", DEFAULT_HISTORY_FILE))


def _read_history(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines history. A last line that does not parse is what a kill
    during a write leaves: it is ignored with a :class:`RunDirWarning`; a bad line before
    the last is an error."""
    if not path.is_file():
        return []
    lines = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if line.strip()]
    rows = []
    for index, (number, line) in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except ValueError:
            if index == len(lines) - 1:
                warnings.warn(f"{path}:{number}: ignored a torn last line (a run killed while "
                              "writing it)", RunDirWarning, stacklevel=3)
                break
            raise VaeframeError(f"{path}:{number}: not a JSON line") from None
    return rows


def _summary(run_dir: Path) -> dict[str, Any]:
    """summary.json; for a run killed before writing one that has a checkpoint, a summary
    that says so (``status: "unknown"``), with a :class:`RunDirWarning`."""
    path = run_dir / SUMMARY_FILE
    has_checkpoint = any((run_dir / CHECKPOINTS).glob("*.pt"))
    if path.exists() or not (has_checkpoint and (run_dir / CONFIG_FILE).is_file()):
        return _read_json(path, run_dir)
    warnings.warn(f"{run_dir}: no {SUMMARY_FILE} (the run was killed, or is still running); "
                  "read from its checkpoints", RunDirWarning, stacklevel=3)
    return {"name": run_dir.name, "status": str(RunStatus.UNKNOWN),
            "status_note": f"no {SUMMARY_FILE}: killed, or still running"}


def read_run(run_dir: Path) -> RunRecord:
    """Read one run directory; anything missing or malformed is a clear error, except what a
    kill leaves (see :func:`_summary` and :func:`_read_history`)."""
    if not run_dir.is_dir():
        raise VaeframeError(f"{run_dir}: no such run directory")
    summary = _summary(run_dir)
    try:
        config = loads_toml((run_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VaeframeError(f"{run_dir}: not a vaeframe run directory (no {CONFIG_FILE})"
                            ) from None
    except (OSError, TOMLDecodeError) as exc:
        raise VaeframeError(f"{run_dir / CONFIG_FILE}: unreadable ({exc})") from None
    config = upgrade_run_dir_config(config)
    if "name" not in summary or summary.get("status") == RunStatus.UNKNOWN:
        summary["name"] = str(config.get("run", {}).get("name", run_dir.name))
    history = _read_history(_history_file(run_dir, summary))
    return RunRecord(run_dir, summary, config, history, str(summary.get("name", run_dir.name)))


def load_runs(run_dirs: Sequence[Path]) -> list[RunRecord]:
    """Every run directory, each labelled by its run name (its directory's name where two
    runs share a name)."""
    records = [read_run(Path(d)) for d in dict.fromkeys(Path(d).resolve() for d in run_dirs)]
    labels = [r.label for r in records]
    for record in records:
        if labels.count(record.label) > 1:
            record.label = record.path.name
    return records
