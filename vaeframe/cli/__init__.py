"""The ``vaeframe`` command line: the parser, each command's flow, and the job entry point.

- ``parser``: every command, flag and help text;
- ``app``: ``main`` (parse, run the command, errors to exit codes) and ``run_point``, what a
  cluster job runs (``vaeframe ARGV`` with its output in a log);
- ``commands``: the ``run``, ``report``, ``encode`` and ``list-plugins`` commands;
- ``sweep``: the ``vaeframe sweep`` command's flow.

The top layer: it may import anything in vaeframe, and nothing in vaeframe imports it.
"""

from vaeframe.cli.app import main

__all__ = ["main"]
