"""``vaeframe``: parse the command line, run the command, turn errors into exit codes."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from vaeframe.cli.commands import (
    command_encode,
    command_explore,
    command_list_plugins,
    command_report,
    command_run,
)
from vaeframe.cli.parser import build_parser
from vaeframe.cli.sweep import sweep_command
from vaeframe.errors import RunDirWarning, VaeframeError
from vaeframe.registry.manager import set_extra_modules


def _show_warning(message: Warning | str, category: type[Warning], *args: object,
                  _default: object = warnings.showwarning, **kwargs: object) -> None:
    """Run-directory warnings as one ``warning:`` line; others as Python shows them."""
    if issubclass(category, RunDirWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        _default(message, category, *args, **kwargs)  # type: ignore[operator]


def main(argv: Sequence[str] | None = None) -> int:
    warnings.showwarning = _show_warning
    args = build_parser().parse_args(argv)
    set_extra_modules([*args.plugins, *args.command_plugins])
    try:
        if args.command == "sweep":
            return sweep_command(args, run_point)
        commands = {"run": command_run, "report": command_report, "encode": command_encode,
                    "explore": command_explore,
                    "list-plugins": command_list_plugins}
        return commands[args.command](args)
    except VaeframeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`vaeframe list-plugins | head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error
        return 141  # 128 + SIGPIPE, as a shell reports it


@contextlib.contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (the file descriptors) to ``log``."""
    saved = [os.dup(1), os.dup(2)]
    with log.open("a", encoding="utf-8") as handle:
        for fd in (1, 2):
            os.dup2(handle.fileno(), fd)
        try:
            yield
        finally:
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)


def run_point(argv: Sequence[str], log: str) -> int:
    """What a cluster job runs: ``vaeframe ARGV``, its output appended to ``log``; its exit
    code. submitit pickles it by module and name (``vaeframe.sweep_cluster`` keeps the name
    that jobs submitted by older versions refer to)."""
    os.environ.setdefault("COLUMNS", "160")  # the console's width in the log
    with _output_to(Path(log)):
        code = main(list(argv))
        sys.stdout.flush()
        sys.stderr.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
