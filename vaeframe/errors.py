"""Errors that the command line turns into one clear message and exit code 2."""

from __future__ import annotations

import errno


class VaeframeError(Exception):
    """A problem the user can fix; its message says what and where."""

    exit_code = 2


class ConfigError(VaeframeError):
    """A run file or command-line override that cannot be used."""

    def __init__(self, source: str, path: str, message: str) -> None:
        self.source = source
        self.path = path
        self.message = message
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {message}")


class PluginError(VaeframeError):
    """A plugin that failed to load, or a component name that cannot be resolved."""


class TrainingError(VaeframeError):
    """Training stopped for a reason the user should see (for example a non-finite loss)."""

    exit_code = 1


class WriteError(VaeframeError):
    """A file of the run could not be written (a full disk, a read-only file system, ...);
    the last good checkpoint is intact. Exit code 74, sysexits' EX_IOERR."""

    exit_code = 74


#: what a failed write's errno means, and what to do: vaeframe's own writes and plugins'
WRITE_ERRNOS = {
    errno.ENOSPC: "no space left on the device; free some, or set run.output_dir elsewhere",
    errno.EDQUOT: "the disk quota is used up; free some, or set run.output_dir elsewhere",
    errno.EROFS: "the file system is read-only; set run.output_dir to a writable place",
    errno.EACCES: "permission denied; set run.output_dir to a place you may write",
    errno.EPERM: "permission denied; set run.output_dir to a place you may write",
}


class RunDirWarning(UserWarning):
    """A run directory was read around damage: a torn last history line was ignored, or a
    run without summary.json was opened from its checkpoint."""
