"""``vaeframe sweep --executor slurm``: each point a cluster job, submitted with submitit.

What a job asks for comes from the sweep file's ``[sweep.slurm]`` table and ``--slurm
KEY=VALUE`` flags (:class:`SlurmOptions`). ``--executor local`` runs the same jobs with
submitit's local executor, as processes on this machine (for trying a setup, and for tests).
submitit is an optional dependency (``pip install 'vaeframe[slurm]'``), imported only here,
only when a sweep runs with an executor. The sweep's parent process submits at most
``--jobs`` jobs at a time (default: all), waits for them with one line per running point,
and writes the report; Ctrl-C cancels the running jobs (Slurm sends them SIGTERM, and each
saves a checkpoint), and ``--resume`` continues the sweep later.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from vaeframe.config.converter import Blame, structure_table
from vaeframe.config.overrides import key_path, parse_path, parse_value, set_path
from vaeframe.errors import ConfigError, VaeframeError
from vaeframe.sweeps.slots import Slot
from vaeframe.validators import at_least

EXECUTORS = ("slurm", "local")
SUBMITIT_FOLDER = "submitit"


def _optional_at_least(minimum: float) -> Any:
    return attrs.validators.optional(at_least(minimum))


@attrs.define
class SlurmOptions:
    """``[sweep.slurm]``: what the job of each point asks the cluster for."""

    partition: str | None = None
    time_min: int = attrs.field(default=60, validator=at_least(1))
    gpus_per_node: int = attrs.field(default=0, validator=at_least(0))
    cpus_per_task: int | None = attrs.field(default=None, validator=_optional_at_least(1))
    mem_gb: float | None = attrs.field(default=None, validator=_optional_at_least(0))
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    setup: list[str] = attrs.field(factory=list)  # shell lines run before the job
    additional: dict[str, str] = attrs.field(factory=dict)  # any other sbatch option

    def parameters(self, name: str) -> dict[str, Any]:
        """submitit's ``update_parameters`` for a job called ``name``."""
        slurm = {"partition": self.partition, "account": self.account, "qos": self.qos,
                 "constraint": self.constraint, "setup": self.setup or None,
                 "additional_parameters": self.additional or None}
        return {"name": name, "timeout_min": self.time_min, "gpus_per_node": self.gpus_per_node,
                "cpus_per_task": self.cpus_per_task, "mem_gb": self.mem_gb,
                "stderr_to_stdout": True,
                **{f"slurm_{key}": value for key, value in slurm.items() if value is not None}}


def slurm_options(table: Any, source: str, flags: Sequence[str] = ()) -> SlurmOptions:
    """``[sweep.slurm]`` with ``--slurm KEY=VALUE`` flags applied, checked; errors name the
    key path and the file or flag."""
    raw = copy.deepcopy(dict(table)) if isinstance(table, Mapping) else table
    blamed = {}
    for expression in flags:
        where = f"--slurm {expression}"
        key, sep, text = expression.partition("=")
        path = parse_path(key)
        if not sep or path is None:
            raise ConfigError(where, "", "expected KEY=VALUE, for example --slurm partition=gpu")
        if not isinstance(raw, dict):
            raise ConfigError(source, "sweep.slurm", "expected a table")
        set_path(raw, path, parse_value(text.strip()), where)
        blamed[f"sweep.slurm.{key_path(path)}"] = where
    return structure_table(raw, SlurmOptions, Blame(source, blamed), "sweep.slurm")


@attrs.frozen
class ClusterJob:
    """A point running as a submitit job."""

    job: Any

    def poll(self) -> int | None:
        if not self.job.done():
            return None
        try:
            return int(self.job.result())
        except Exception:  # the job died: killed, timed out, cancelled; its log says why
            return 1

    def send(self, signum: int) -> None:
        self.job.cancel(check=False)


@attrs.define
class ClusterLauncher:
    """Submits points as jobs of a submitit executor."""

    executor: Any
    threads: int | None  # --threads for every job (else the slot's share, on this machine)
    cluster: str
    entry: Callable[[Sequence[str], str], int]  # what a job runs: (vaeframe argv, log) -> code

    def start(self, argv: Sequence[str], slot: Slot, log: Path) -> ClusterJob:
        threads = self.threads or (slot.threads if self.cluster == "local" else None)
        command = [*argv, *(["--threads", str(threads)] if threads else [])]
        job = self.executor.submit(self.entry, command, str(log))
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {self.cluster} job "
                         f"{job.job_id}: vaeframe {' '.join(command)}\n")
        return ClusterJob(job)

    def describe(self, slot: Slot) -> str:
        return f"{self.cluster} job"


def cluster_launcher(cluster: str, folder: Path, options: SlurmOptions, name: str,
                     threads: int | None,
                     entry: Callable[[Sequence[str], str], int]) -> ClusterLauncher:
    """A launcher on ``cluster`` (``slurm`` or ``local``), its submitit files in ``folder``;
    each job calls ``entry(argv, log)`` (the command line's :func:`vaeframe.cli.job.run_point`,
    passed down so that this layer never imports the command line)."""
    try:
        import submitit
    except ImportError:
        raise VaeframeError(f"--executor {cluster} needs submitit: "
                            "pip install 'vaeframe[slurm]'") from None
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    executor.update_parameters(**options.parameters(name))
    return ClusterLauncher(executor, threads or options.cpus_per_task, cluster, entry)
