"""``vaeframe explore RUN_DIR``: load the run, then serve the page until Ctrl-C."""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import sys
import threading
import time
import webbrowser
from collections.abc import Iterator
from pathlib import Path

from vaeframe.errors import VaeframeError
from vaeframe.rundir.layout import checkpoint_path

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def chosen_checkpoint(run_dir: Path, checkpoint: str | None) -> str:
    """``checkpoint`` if given; else ``best``, or ``last`` for a run that saved no best yet."""
    if checkpoint is not None:
        return checkpoint
    if checkpoint_path(run_dir, "best").is_file() or not checkpoint_path(run_dir, "last").is_file():
        return "best"
    print(f"note: {run_dir} has no best checkpoint yet; exploring its last one", file=sys.stderr)
    return "last"


def explore_command(run_dir: Path, host: str = LOOPBACK, port: int = 8765,
                    checkpoint: str | None = None, device: str = "cpu",
                    per_split: int | None = None, open_browser: bool = False) -> int:
    """Load ``run_dir`` (any problem is one error before anything is served), then serve
    the explorer on ``host:port`` until interrupted."""
    started = time.perf_counter()
    if not 0 <= port <= 65535:
        raise VaeframeError(f"--port {port}: expected a port from 0 to 65535 "
                            "(0 picks a free one)")
    if per_split is not None and per_split < 1:
        raise VaeframeError(f"--map-grids {per_split}: expected at least 1 grid per split")

    with stopped_by_signals():
        return _load_and_serve(run_dir, host, port, checkpoint, device, per_split,
                               open_browser, started)


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise KeyboardInterrupt, also where SIGINT came in ignored (a
    background job of a shell script inherits that, and Python then installs no handler);
    set before the URL is printed, since whoever reads it may signal at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.default_int_handler)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _load_and_serve(run_dir: Path, host: str, port: int, checkpoint: str | None, device: str,
                    per_split: int | None, open_browser: bool, started: float) -> int:
    from vaeframe.explore.server import ExploreServer
    from vaeframe.explore.session import MAP_PER_SPLIT, ExploreSession
    from vaeframe.latents.trained import load_run

    run = load_run(run_dir, chosen_checkpoint(run_dir, checkpoint), device, "--device")
    session = ExploreSession(run, run.data(), per_split or MAP_PER_SPLIT)
    try:
        server = ExploreServer((host, port), session)
    except OSError as exc:
        raise VaeframeError(f"--host {host} --port {port}: cannot listen there "
                            f"({exc.strerror or exc}); pick another with --port, or 0 for any "
                            "free port") from None
    try:  # from here on, Ctrl-C is how one stops the explorer: exit 0
        if not is_loopback(host):
            print(f"warning: --host {host}: the explorer is reachable from other machines; "
                  "it has no password and shows this run's grids and latents to anyone who "
                  "can connect", file=sys.stderr)
        print(f"exploring {run.record.label} ({run.checkpoint.name}, epoch {run.epoch}) at "
              f"{server.url}  [ready in {time.perf_counter() - started:.1f} s; Ctrl-C stops]",
              flush=True)
        if open_browser:
            webbrowser.open(server.url)
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
