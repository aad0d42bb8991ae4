"""The run directory on disk: its layout, statuses, checkpoints, and reading it back.

- ``layout``: every path inside a run directory, and how run directories are named;
- ``status``: the statuses a run ends in (``finished``, ``interrupted``, ``failed``);
- ``checkpoint``: the checkpoint format, atomic writes and reading one back;
- ``writer``: the background thread that writes checkpoints;
- ``record``: a run directory read back (summary.json, config.toml, the history);
- ``files``: small files written so that a failed write is one error;
- ``history``: a resumed run's history trimmed back to its checkpoint.
"""
