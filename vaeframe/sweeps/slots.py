"""How ``vaeframe sweep --jobs N`` shares the machine: N slots, each with CPU threads and a
device, for the point that runs in it.

The CPUs this process may use (its affinity; restrict them with ``taskset``) are divided
among the slots, so that the points' threads add up to the CPUs and never oversubscribe them.
``--threads T`` (or ``OMP_NUM_THREADS`` in the environment) gives every point T threads
instead. With ``--devices cuda:0,cuda:1`` slot k uses device k mod 2, so that each GPU runs
its share of the points; without it every point uses its own ``train.device``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from vaeframe.config.schema import TrainSection
from vaeframe.errors import VaeframeError
from vaeframe.validators import ParameterError

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


@attrs.frozen
class Slot:
    """Where one point runs: slot ``index`` (from 0), its threads and device (``None``: the
    point's own ``train.device``)."""

    index: int
    threads: int
    device: str | None = None

    def describe(self) -> str:
        where = self.device or "its own train.device"
        return f"{where}, {self.threads} thread{'s' * (self.threads != 1)}"

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` with the slot's thread count for PyTorch's and MKL's thread pools."""
        return {**base, **dict.fromkeys(THREAD_VARIABLES, str(self.threads))}

    def sets(self) -> list[str]:
        """The ``--set`` that puts a point on the slot's device (none without a device)."""
        return [f'train.device="{self.device}"'] if self.device else []


def parse_devices(text: str) -> tuple[str, ...]:
    """``--devices cuda:0,cuda:1`` → ``("cuda:0", "cuda:1")``, each a valid ``train.device``."""
    devices = tuple(part.strip() for part in text.split(","))
    for device in devices:
        try:
            TrainSection(device=device)
        except ParameterError as exc:
            raise VaeframeError(f"--devices {text}: {device!r} {exc.message}; give a "
                                "comma-separated list such as cuda:0,cuda:1") from None
    return devices


def environment_threads(environ: Mapping[str, str]) -> int | None:
    """``OMP_NUM_THREADS`` when it is set to a positive integer, else ``None``."""
    value = environ.get(THREAD_VARIABLES[0], "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def plan_slots(jobs: int, cpus: int, devices: Sequence[str] = (),
               threads: int | None = None) -> list[Slot]:
    """``jobs`` slots; the threads of all slots add up to ``cpus`` unless ``threads`` is
    given (at least one thread a slot); devices are assigned round-robin."""
    if jobs < 1:
        raise VaeframeError(f"--jobs {jobs}: give at least 1")
    slots = []
    for index in range(jobs):
        share = cpus // jobs + (index < cpus % jobs)
        device = devices[index % len(devices)] if devices else None
        slots.append(Slot(index, threads or max(1, share), device))
    return slots
