"""Where the registry lives and how to reach it without MLflow creating or migrating anything by accident.

MLflow's `MlflowClient(tracking_uri="sqlite:///…")` creates the database file in its constructor, runs its schema
migrations on any SQLite file without MLflow tables (including somebody else's database), and puts artifacts of
experiments created without an explicit location under `./mlruns` of the current directory. So the file is
inspected with the standard `sqlite3` module, read-only, before MLflow is ever pointed at it, and every experiment
gets an explicit artifact location beside the database.
"""

from __future__ import annotations

import logging
import sqlite3
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from model_registry.errors import NotARiskgenRegistry, RegistryNotFound, UnsupportedRegistry

SENTINEL_EXPERIMENT = "riskgen"
SENTINEL_TAG = "riskgen.registry"
SENTINEL_VALUE = "1"
SQLITE_PREFIX = "sqlite:///"
# Tables every MLflow tracking + registry database has; their absence means the file is not an MLflow registry.
MLFLOW_TABLES = frozenset({"alembic_version", "experiments", "experiment_tags", "runs", "registered_models"})
HOW_TO_CREATE = "run `riskgen models init` or train a theme first (or pass create=True)"

DatabaseKind = Literal["missing", "empty", "riskgen", "mlflow", "foreign"]


@dataclass(frozen=True)
class Location:
    """A registry on one machine: the SQLite file and the files kept beside it."""

    db_path: Path

    @property
    def uri(self) -> str:
        # Always absolute, so a later change of working directory cannot point MLflow elsewhere.
        return SQLITE_PREFIX + str(self.db_path)

    @property
    def artifact_root(self) -> Path:
        return self.db_path.parent / "artifacts"

    @property
    def lock_path(self) -> Path:
        return self.db_path.parent / "registry.lock"

    @property
    def promotions_log(self) -> Path:
        return self.db_path.parent / "promotions.jsonl"

    def artifact_location(self, experiment: str) -> str:
        """File URI of an experiment's artifact folder (explicit, so MLflow never falls back to ./mlruns)."""
        return (self.artifact_root / experiment).as_uri()


def parse_location(tracking_uri: str) -> Location:
    """The SQLite file named by a `sqlite:///path` URI (relative paths resolved against the working directory).

    Raises:
        UnsupportedRegistry: for any other kind of URI.
    """
    if not tracking_uri.startswith(SQLITE_PREFIX) or len(tracking_uri) == len(SQLITE_PREFIX):
        raise UnsupportedRegistry(
            f"registry URI {tracking_uri!r} is not supported: use sqlite:///path/to/mlflow.db "
            "(an MLflow server needs a shared promotion lock, which riskgen does not provide yet)"
        )
    raw = tracking_uri[len(SQLITE_PREFIX) :]
    if "?" in raw or raw == ":memory:":
        raise UnsupportedRegistry(f"registry URI {tracking_uri!r}: give a plain file path, without query options")
    return Location(Path(raw).expanduser().absolute())


def inspect_database(path: Path) -> DatabaseKind:
    """What the file at `path` is, read-only and without creating anything."""
    if not path.exists():
        return "missing"
    if not path.is_file():
        return "foreign"
    if path.stat().st_size == 0:
        return "empty"
    try:
        # mode=ro: never creates the file, never writes (unlike sqlite3.connect(path) or MLflow).
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return "foreign"
    try:
        return _classify(connection)
    except sqlite3.DatabaseError:  # not a database at all ("file is not a database")
        return "foreign"
    finally:
        connection.close()


def _classify(connection: sqlite3.Connection) -> DatabaseKind:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return "empty"
    if not tables >= MLFLOW_TABLES:
        return "foreign"
    row = connection.execute(
        "SELECT t.value FROM experiments e JOIN experiment_tags t ON t.experiment_id = e.experiment_id "
        "WHERE e.name = ? AND e.lifecycle_stage = 'active' AND t.key = ?",
        (SENTINEL_EXPERIMENT, SENTINEL_TAG),
    ).fetchone()
    return "riskgen" if row is not None and row[0] == SENTINEL_VALUE else "mlflow"


def check_openable(location: Location, create: bool) -> DatabaseKind:
    """Refuse a registry that is missing (unless creating) or is not ours; return what the file is.

    Raises:
        RegistryNotFound: the file does not exist and create is False.
        NotARiskgenRegistry: the file is another database, or an MLflow database without the riskgen sentinel.
    """
    kind = inspect_database(location.db_path)
    if kind == "riskgen" or (create and kind in ("missing", "empty")):
        return kind
    if kind == "missing":
        raise RegistryNotFound(f"no model registry at {location.db_path}: {HOW_TO_CREATE}")
    if kind == "empty":
        raise NotARiskgenRegistry(f"{location.db_path} is an empty file, not a riskgen registry: {HOW_TO_CREATE}")
    what = "an MLflow database riskgen did not create" if kind == "mlflow" else "not an MLflow registry database"
    raise NotARiskgenRegistry(
        f"{location.db_path} is {what} (no `{SENTINEL_EXPERIMENT}` experiment tagged {SENTINEL_TAG}=1); "
        "check the path (RISKGEN_HOME / --registry) — riskgen will not write into it"
    )


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Silence MLflow's and Alembic's INFO chatter and MLflow's warnings for the duration of a call.

    Levels are restored afterwards so a caller's own logging configuration is left as it was.
    """
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"mlflow(\..*)?$")
            warnings.filterwarnings("ignore", module=r"alembic(\..*)?$")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
