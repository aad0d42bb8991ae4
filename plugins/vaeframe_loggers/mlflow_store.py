"""Where the mlflow logger's runs go: a tracking URI, or the local store next to the runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

STORE_DIR = ".mlflow"  # beside the run directories; hidden, so `runs/*/` names runs only


@attrs.frozen
class Store:
    """A tracking URI and where it came from (``source`` names it in errors); ``local`` is the
    directory of the local store when the URI is that store, else ``None``."""

    uri: str
    source: str
    local: Path | None = None

    @property
    def artifacts(self) -> Path | None:
        return self.local / "artifacts" if self.local else None


def choose_store(tracking_uri: str, run_dir: Path) -> Store:
    """The field, else ``$MLFLOW_TRACKING_URI``, else ``<output_dir>/.mlflow/mlflow.db``."""
    if tracking_uri:
        return Store(tracking_uri, "tracking_uri")
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return Store(os.environ["MLFLOW_TRACKING_URI"], "MLFLOW_TRACKING_URI")
    local = Path(run_dir).resolve().parent / STORE_DIR
    return Store(f"sqlite:///{local / 'mlflow.db'}", "local store", local)


@contextmanager
def opening(store: Store) -> Iterator[None]:
    """Open the local store one process at a time: MLflow creates its tables on first use,
    and two processes doing that at once (``vaeframe sweep --jobs``) break each other."""
    if store.local is None:
        yield
        return
    store.local.mkdir(exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no lock
        yield
        return
    with Path(store.local, "mlflow.db.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released by the system if the process dies
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
