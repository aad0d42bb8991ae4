"""Keep a tracker's history to one value per figure and step."""

from __future__ import annotations

from collections.abc import Mapping

import attrs


@attrs.define
class RepeatFilter:
    """Drops figures already logged at the same step with the same value.

    An epoch's last step logs two rows, the training row and the epoch row, and both carry
    ``epoch``; trackers that keep every point would show that figure twice at one step.
    """

    _last: dict[str, tuple[int, float]] = attrs.field(factory=dict, init=False)

    def new(self, metrics: Mapping[str, float], step: int) -> dict[str, float]:
        fresh = {key: value for key, value in metrics.items()
                 if self._last.get(key) != (step, value)}
        self._last.update((key, (step, value)) for key, value in fresh.items())
        return fresh
