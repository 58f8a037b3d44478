"""Reading the registry: versions of a theme, one version, the champion — as plain `ModelVersionInfo` records.

MLflow trap: `search_model_versions` may leave `aliases` empty "for performance reasons", so aliases are always read
from the registered model (`get_registered_model(name).aliases`), never from search results.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from model_registry.backend import quiet_mlflow
from model_registry.errors import ModelNotFound
from model_registry.records import CHAMPION, ModelVersionInfo

NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"


def model_name(theme: str) -> str:
    """Registered model name of a theme (the same as `ThematicModelSpec.registered_model_name`)."""
    if not theme.isidentifier():  # also keeps the name safe inside MLflow filter strings
        raise ValueError(f"theme name {theme!r} must be a Python identifier")
    return f"riskgen.{theme}"


def experiment_name(theme: str) -> str:
    """MLflow experiment holding the training runs of a theme."""
    return model_name(theme)


class Catalog:
    """Read-only queries on registered versions."""

    def __init__(self, client: MlflowClient) -> None:
        self.client = client

    def versions(self, theme: str) -> list[ModelVersionInfo]:
        """Every version of the theme's model, oldest first (empty when the theme was never registered)."""
        name = model_name(theme)
        with quiet_mlflow():
            aliases = self._aliases(name)
            if aliases is None:
                return []
            return sorted((self._info(theme, mv, aliases) for mv in self._search(name)), key=lambda i: i.version)

    def latest_version(self, theme: str) -> int:
        """The highest version number of the theme's model, 0 when there is none (no per-run lookups)."""
        with quiet_mlflow():
            return max((int(mv.version) for mv in self._search(model_name(theme))), default=0)

    def _search(self, name: str) -> list[ModelVersion]:
        found: list[ModelVersion] = []
        token = None
        while True:  # search results are paged
            page = self.client.search_model_versions(f"name = '{name}'", page_token=token)
            found += list(page)
            token = page.token
            if not token:
                return found

    def version(self, theme: str, version: int) -> ModelVersionInfo:
        """One version of the theme's model.

        Raises:
            ModelNotFound: the theme or the version does not exist.
        """
        name = model_name(theme)
        with quiet_mlflow():
            aliases = self._aliases(name)
            if aliases is None:
                raise ModelNotFound(f"no registered model {name}: train and register the theme first")
            try:
                found = self.client.get_model_version(name, str(version))
            except MlflowException as error:
                if error.error_code != NOT_FOUND:
                    raise
                raise ModelNotFound(f"{name} has no version {version}") from error
            return self._info(theme, found, aliases)

    def champion(self, theme: str) -> ModelVersionInfo | None:
        """The version carrying the `champion` alias, or None when there is none."""
        with quiet_mlflow():
            aliases = self._aliases(model_name(theme)) or {}
        if CHAMPION not in aliases:
            return None
        return self.version(theme, aliases[CHAMPION])

    def _aliases(self, name: str) -> dict[str, int] | None:
        """{alias: version} of a registered model, None when the model does not exist."""
        try:
            model = self.client.get_registered_model(name)
        except MlflowException as error:
            if error.error_code != NOT_FOUND:
                raise
            return None
        return {alias: int(version) for alias, version in model.aliases.items()}

    def _info(self, theme: str, found: ModelVersion, aliases: dict[str, int]) -> ModelVersionInfo:
        number = int(found.version)
        return ModelVersionInfo(
            theme=theme,
            version=number,
            run_id=found.run_id or "",
            created=datetime.fromtimestamp(found.creation_timestamp / 1000, UTC),
            tags=dict(found.tags),
            metrics=self._run_metrics(found.run_id),
            aliases=tuple(sorted(alias for alias, v in aliases.items() if v == number)),
            source=found.source or "",
        )

    def _run_metrics(self, run_id: str | None) -> dict[str, float]:
        if not run_id:
            return {}
        try:
            return dict(self.client.get_run(run_id).data.metrics)
        except MlflowException as error:
            if error.error_code != NOT_FOUND:
                raise
            return {}  # the run was deleted: the version still exists, without figures
