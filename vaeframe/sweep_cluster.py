"""Old import path, kept for submitit jobs pickled by earlier versions (they name
``vaeframe.sweep_cluster.run_point``); the code is in :mod:`vaeframe.sweeps.cluster` and
:mod:`vaeframe.cli.app`."""

from vaeframe.cli.app import run_point
from vaeframe.sweeps.cluster import ClusterLauncher, SlurmOptions, cluster_launcher, slurm_options

__all__ = ["ClusterLauncher", "SlurmOptions", "cluster_launcher", "run_point", "slurm_options"]
