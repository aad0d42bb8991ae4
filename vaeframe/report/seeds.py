"""Runs that differ only in their seed, grouped: one column, one curve and one point each.

The seed moves disentanglement scores as much as the method does (Locatello et al. 2019), so
a report shows repeated runs as their mean and spread. A group is the runs whose resolved
configs (``config.toml``) are equal once ``run.seed``, ``run.name`` and ``run.output_dir``
are left out: a sweep's seeded points (``[sweep] seeds``), or runs made with ``--set
run.seed=N``. It is labelled by what its members' labels share without their ``seed=N``
part. A figure of a group of n ≥ 2 runs is shown as ``mean ± std (n=k)``: the sample
standard deviation (ddof=1) of the k runs that have the figure.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from vaeframe.rundir.record import RunRecord

SEED_KEY = "run.seed"
#: the keys (paths of the resolved config) that runs of one group may differ in: the seed,
#: where the run went, and the device it ran on (--devices spreads a point's seeds)
SEED_FREE_KEYS = (SEED_KEY, "run.name", "run.output_dir", "train.device")
#: a label's seed: ``seed=N`` of [sweep] seeds, or ``run.seed=N`` of a grid over run.seed
SEED_PART = re.compile(r"(?:^|-)(?:run\.)?seed=\d+(?=-|$)")


@attrs.frozen
class RunGroup:
    """One column of the report: a run alone, or the runs that differ only in their seed."""

    label: str
    records: tuple[RunRecord, ...]

    @property
    def grouped(self) -> bool:
        """Two runs or more: its figures are means with their spread."""
        return len(self.records) > 1

    @property
    def first(self) -> RunRecord:
        return self.records[0]

    @property
    def seeds(self) -> list[Any]:
        """Each run's ``run.seed``, in the group's order."""
        return [_at(r.config, SEED_KEY) for r in self.records]

    def where(self, keep: Callable[[RunRecord], bool]) -> RunGroup | None:
        """The group of its runs that ``keep`` keeps (under the same label), if any."""
        kept = tuple(r for r in self.records if keep(r))
        return attrs.evolve(self, records=kept) if kept else None


def seedless(config: Mapping[str, Any]) -> dict[str, Any]:
    """A resolved config without what may differ between the runs of a group."""
    config = copy.deepcopy(dict(config))
    for key in SEED_FREE_KEYS:
        *tables, last = key.split(".")
        table: Any = config
        for name in tables:
            table = table.get(name) if isinstance(table, dict) else None
        if isinstance(table, dict):
            table.pop(last, None)
    return config


def _at(config: Mapping[str, Any], key: str) -> Any:
    """The value at the dotted ``key`` of a config, ``None`` where there is none."""
    value: Any = config
    for name in key.split("."):
        value = value.get(name) if isinstance(value, Mapping) else None
    return value


def _fingerprint(config: Mapping[str, Any]) -> str:
    return json.dumps(seedless(config), sort_keys=True, default=str)


def strip_seed(label: str) -> str:
    """``S-ultra-seed=1`` → ``S-ultra``: a label without its ``seed=N`` (or
    ``run.seed=N``) part."""
    return SEED_PART.sub("", label).strip("-")


def common_label(records: Sequence[RunRecord]) -> str:
    """What the runs' labels (else their run names) share without the seed part; else their
    common beginning; else the first run's label."""
    for labels in ([r.label for r in records],
                   [str(r.summary.get("name") or r.label) for r in records]):
        stripped = {strip_seed(label) for label in labels}
        if len(stripped) == 1 and (found := stripped.pop()):
            return found
    labels = [r.label for r in records]
    size = next((i for i, chars in enumerate(zip(*labels, strict=False))
                 if len(set(chars)) > 1), min(map(len, labels)))
    return labels[0][:size].rstrip("-_=.") or labels[0]


def group_runs(records: Sequence[RunRecord]) -> list[RunGroup]:
    """``records`` as columns, in the order of each group's first run: runs whose configs
    differ only in ``run.seed`` (and their names and places) form one group."""
    members: dict[str, list[RunRecord]] = {}
    for record in records:
        members.setdefault(_fingerprint(record.config), []).append(record)
    groups = [RunGroup(common_label(runs) if len(runs) > 1 else runs[0].label, tuple(runs))
              for runs in members.values()]
    labels = [g.label for g in groups]
    return [attrs.evolve(g, label=f"{g.label} (seeds {', '.join(map(str, g.seeds))})")
            if g.grouped and labels.count(g.label) > 1 else g for g in groups]


def numbers(values: Iterable[Any]) -> list[float]:
    """The values that are numbers (``None``, text and booleans left out)."""
    return [float(v) for v in values
            if isinstance(v, int | float) and not isinstance(v, bool)]


def mean_std(values: Iterable[Any]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof=1; 0 for one value) and count of the numbers
    among ``values``; ``nan`` for none."""
    found = numbers(values)
    n = len(found)
    if not n:
        return math.nan, math.nan, 0
    mean = math.fsum(found) / n
    if n == 1:
        return mean, 0.0, 1
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in found) / (n - 1)), n


def spread(values: Iterable[Any], show: Callable[[Any], str]) -> str:
    """``mean ± std (n=k)`` of the numbers among ``values``, each shown by ``show``;
    ``mean (n=1)`` for one, ``—`` for none."""
    mean, std, n = mean_std(values)
    if not n:
        return "—"
    if n == 1:
        return f"{show(mean)} (n=1)"
    return f"{show(mean)} ± {show(std)} (n={n})"
