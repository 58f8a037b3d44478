"""The riskgen model registry on MLflow: open (never by accident), register, list, promote, load.

One MLflow run per training under experiment `riskgen.<theme>`, and a version of registered model `riskgen.<theme>`
whose source is the run's `model` folder. The champion is the MLflow alias `champion`. MLflow is reached only through
an `MlflowClient` bound to this registry's URI: nothing global (tracking URI, environment) is changed.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Literal

from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException

from model_registry.artifacts import registration_tags, run_metrics, run_params, stage_artifacts
from model_registry.backend import (
    SENTINEL_EXPERIMENT,
    SENTINEL_TAG,
    SENTINEL_VALUE,
    Location,
    check_openable,
    parse_location,
    quiet_mlflow,
)
from model_registry.catalog import Catalog, experiment_name, model_name
from model_registry.errors import ModelIntegrityError, ModelNotFound, RegistryError
from model_registry.loading import load_version, read_artifact
from model_registry.model_card import render_model_card
from model_registry.promotion import (
    Expected,
    append_log,
    check_expected,
    decide,
    exclusive_lock,
    read_log,
    record_tags,
)
from model_registry.records import CHAMPION, MODEL_DIR, LoadedModel, ModelVersionInfo, PromotionRecord
from risk_models.train_theme import TrainingResult


class Registry(Catalog):
    """A riskgen model registry: an MLflow SQLite database plus `artifacts/`, a lock and a promotions log beside it."""

    def __init__(self, location: Location, client: MlflowClient) -> None:
        super().__init__(client)
        self.location = location

    @property
    def tracking_uri(self) -> str:
        return self.location.uri

    @classmethod
    def open(cls, tracking_uri: str, *, create: bool = False) -> Registry:
        """Open the registry at a `sqlite:///path` URI.

        Args:
            tracking_uri: `sqlite:///relative/path.db` or `sqlite:////absolute/path.db`.
            create: create the database (and its folder) when missing. Without it a missing file is refused and
                nothing is created, because MLflow would silently start an empty registry at a mistyped path.

        Raises:
            RegistryNotFound: the database does not exist and create is False.
            NotARiskgenRegistry: the file is not a registry riskgen created (no sentinel).
            UnsupportedRegistry: the URI is not a SQLite file URI.
        """
        location = parse_location(tracking_uri)
        if check_openable(location, create) == "riskgen":  # checked before MLflow ever touches the path
            return cls(location, _client(location))
        location.db_path.parent.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(location.lock_path):  # two creators at once: one creates, the other opens
            fresh = check_openable(location, create) != "riskgen"
            client = _client(location)
            if fresh:
                _write_sentinel(client, location)
        return cls(location, client)

    def register(
        self, result: TrainingResult, *, input_sha256: dict[str, str], code_version: str, registered_by: str
    ) -> ModelVersionInfo:
        """Record a training as a run and register its model as the next version of `riskgen.<theme>`.

        Args:
            result: the trained theme.
            input_sha256: full-content sha256 of every input file, by name.
            code_version: git commit or package version of the code that trained it.
            registered_by: who registers it.

        Returns:
            The new version (not promoted: promotion is a separate, recorded decision).
        """
        spec = result.spec
        name = spec.registered_model_name
        # The lock makes the version number predictable, so the model card can name it before it is logged.
        with exclusive_lock(self.location.lock_path), quiet_mlflow(), tempfile.TemporaryDirectory() as tmp:
            experiment_id = self._experiment_id(spec.name)
            self._ensure_model(name, f"{spec.title_zh} / {spec.title_en}")
            number = self.latest_version(spec.name) + 1
            card = render_model_card(result, number, registered_by, code_version)
            hashes = stage_artifacts(result, Path(tmp), card)
            tags = registration_tags(result, input_sha256, code_version, registered_by, hashes)
            version = self._record(result, experiment_id, Path(tmp), tags, number)
        if version != number:
            raise RegistryError(f"{name}: expected to register version {number}, MLflow created {version}")
        return self.version(spec.name, number)

    def promote(
        self,
        theme: str,
        version: int,
        *,
        who: str,
        why: str,
        expected_champion: Expected = "any",
        force: bool = False,
    ) -> PromotionRecord:
        """Make `version` the champion: compare-and-set on the alias, refusing a worse model unless forced.

        Args:
            theme: the theme name.
            version: the version to promote.
            who: who decides (recorded).
            why: the reason (recorded).
            expected_champion: the champion the caller saw (a version, None for "none"); "any" skips the check.
            force: promote even if its test precision at the budget is below the champion's on the same dates.

        Raises:
            PromotionConflict: the champion is no longer `expected_champion`.
            PromotionRefused: the candidate is worse than the champion on the same test dates and force is False.
            ModelNotFound: no such version.
        """
        if not who.strip() or not why.strip():
            raise ValueError("a promotion needs who and why (they are the audit record)")
        with exclusive_lock(self.location.lock_path), quiet_mlflow():
            current = self.champion(theme)
            check_expected(theme, current, expected_champion)
            candidate = self.version(theme, version)
            if not candidate.model_sha256:
                raise ModelIntegrityError(f"{model_name(theme)} version {version} was not registered by riskgen")
            record = decide(candidate, current, who=who, why=why, force=force)
            for key, value in record_tags(record).items():
                self.client.set_model_version_tag(model_name(theme), str(version), key, value)
            self.client.set_registered_model_alias(model_name(theme), CHAMPION, str(version))
            append_log(self.location.promotions_log, record)
        return record

    def load(self, theme: str, version: int | Literal["champion"]) -> LoadedModel:
        """Load a verified version (or the champion): every file is checked against its recorded sha256 first.

        Raises:
            ModelNotFound: no such version, no champion, or an artifact is missing (never another version instead).
            ModelIntegrityError: an artifact was changed or added after registration.
        """
        if version == CHAMPION:
            info = self.champion(theme)
            if info is None:
                raise ModelNotFound(
                    f"{model_name(theme)} has no champion: promote a version first (riskgen models promote)"
                )
        else:
            info = self.version(theme, int(version))
        with quiet_mlflow():
            return load_version(self.client, info)

    def artifact(self, theme: str, version: int, path: str) -> bytes | None:
        """A registered artifact of a version, verified against its recorded sha256 (None when never registered).

        Raises:
            ModelNotFound: no such version, or the artifact was recorded and is missing.
            ModelIntegrityError: the artifact differs from its recorded hash.
        """
        info = self.version(theme, version)
        with quiet_mlflow():
            return read_artifact(self.client, info, path)

    def promotions(self) -> list[PromotionRecord]:
        """Every promotion recorded in this registry's log, oldest first."""
        return read_log(self.location.promotions_log)

    def _experiment_id(self, theme: str) -> str:
        name = experiment_name(theme)
        experiment = self.client.get_experiment_by_name(name)
        if experiment is None:
            return self.client.create_experiment(
                name, artifact_location=self.location.artifact_location(name), tags={"theme": theme}
            )
        if experiment.lifecycle_stage != "active":
            raise RegistryError(f"experiment {name} is deleted; restore it (mlflow experiments restore) first")
        return str(experiment.experiment_id)

    def _ensure_model(self, name: str, description: str) -> None:
        try:
            self.client.get_registered_model(name)
        except MlflowException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            self.client.create_registered_model(name, description=description)

    def _record(self, result: TrainingResult, experiment_id: str, folder: Path, tags: dict[str, str], n: int) -> int:
        """One run with params, metrics, tags and artifacts, then the model version; the run is FAILED on error."""
        run = self.client.create_run(experiment_id, tags=tags, run_name=f"{result.spec.name}-v{n}")
        run_id = run.info.run_id
        try:
            now = int(time.time() * 1000)
            metrics = [Metric(key, value, now, 0) for key, value in run_metrics(result).items()]
            params = [Param(key, value) for key, value in run_params(result).items()]
            self.client.log_batch(run_id, metrics=metrics, params=params)
            self.client.log_artifacts(run_id, str(folder))
            created = self.client.create_model_version(
                result.spec.registered_model_name, f"runs:/{run_id}/{MODEL_DIR}", run_id=run_id, tags=tags
            )
        except BaseException:
            self.client.set_terminated(run_id, "FAILED")
            raise
        self.client.set_terminated(run_id, "FINISHED")
        return int(created.version)


def _client(location: Location) -> MlflowClient:
    """A client bound to this registry only (tracking and registry URI both given; no global set_tracking_uri)."""
    try:
        with quiet_mlflow():
            return MlflowClient(tracking_uri=location.uri, registry_uri=location.uri)
    except MlflowException as error:
        raise RegistryError(
            f"cannot open the registry at {location.db_path}: {error.message} "
            f"(after an MLflow upgrade: `mlflow db upgrade {location.uri}`)"
        ) from error


def _write_sentinel(client: MlflowClient, location: Location) -> None:
    with quiet_mlflow():
        client.create_experiment(
            SENTINEL_EXPERIMENT,
            artifact_location=location.artifact_location(SENTINEL_EXPERIMENT),
            tags={SENTINEL_TAG: SENTINEL_VALUE},
        )
