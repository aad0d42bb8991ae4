"""The ``vaeframe`` command line: the parser, each command's flow, and the job entry point.

- ``app``: the parser and the ``run``, ``report``, ``encode`` and ``list-plugins`` commands;
- ``sweep``: the ``vaeframe sweep`` command's flow;
- ``job``: what a cluster job runs (``vaeframe ARGV`` with its output in a log).

The top layer: it may import anything in vaeframe, and nothing in vaeframe imports it.
"""

from vaeframe.cli.app import main

__all__ = ["main"]
