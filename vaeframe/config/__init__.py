"""Run files: reading TOML, structuring it into attrs classes, and command-line overrides.

- ``tomlfile``: TOML in and out (tomllib, or tomli before Python 3.11);
- ``schema``: the sections of a run file (``[run]``, ``[train]``) and ``RunConfig``;
- ``converter``: the strict cattrs converter and error key paths (``Blame``);
- ``build``: a parsed run file to a ``RunConfig``, each component looked up in the registry;
- ``legacy``: keys that moved, and run directories written by older versions;
- ``overrides``: ``--set``, ``--free-bits``, ``--beta-schedule``, ``--beta-max``, ``--epochs``.

Depends on the registry only; imports no torch.
"""
