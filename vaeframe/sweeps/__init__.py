"""Sweeps: a run file with a ``[sweep]`` table run as many independent runs.

- ``spec``: the sweep file, its points and each point's run configuration;
- ``commands``: the command line of a point, one for ``--list``, ``--jobs`` and clusters;
- ``sequential``: points one after another in this process;
- ``pool``, ``slots``, ``progress``: ``--jobs N`` points at once, each in a process;
- ``cluster``: ``--executor slurm``: points as submitit jobs;
- ``state``: where each point stands in a sweep directory, for ``--resume`` and the report.
"""
