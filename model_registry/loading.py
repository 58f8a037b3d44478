"""Loading a version: read its files, check every byte against the hashes recorded at registration, then build.

Order matters (test M4): nothing is parsed and no LightGBM booster is constructed until every file matches its
recorded sha256 — an edited leaf value loads silently in LightGBM and a malformed one can crash the interpreter.
Nothing is ever unpickled (M6): files are read as bytes and parsed as JSON or LightGBM text only, and any file the
registration did not write (say a planted `model/model.pkl`) is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

from model_registry.artifacts import sha256_bytes
from model_registry.errors import ModelIntegrityError, ModelNotFound, UnsupportedRegistry
from model_registry.records import (
    FEATURES_FILE,
    MODEL_DIR,
    MODEL_FILE,
    SCORER_FILE,
    SPEC_FILE,
    LoadedModel,
    ModelVersionInfo,
    Tag,
)
from risk_models.scorer import Scorer

MODEL_TEXT = f"{MODEL_DIR}/{MODEL_FILE}"
SCORER_JSON = f"{MODEL_DIR}/{SCORER_FILE}"


def load_version(client: MlflowClient, info: ModelVersionInfo) -> LoadedModel:
    """Fetch, verify and build a registered version.

    Raises:
        ModelNotFound: an artifact of the version is missing.
        ModelIntegrityError: an artifact differs from its recorded hash, or a file was added.
    """
    contents = fetch_verified(client, info)
    metadata = _json(contents, SCORER_JSON, info)
    try:
        scorer = Scorer.from_parts(contents[MODEL_TEXT].decode("utf-8"), metadata)
    except (UnicodeDecodeError, KeyError, TypeError, ValueError) as error:
        raise ModelIntegrityError(f"{_name(info)}: model files do not form a scorer: {error}") from error
    booster = scorer.booster()  # only now, from verified text
    return LoadedModel(scorer, booster, _json(contents, SPEC_FILE, info), _json(contents, FEATURES_FILE, info), info)


def fetch_verified(client: MlflowClient, info: ModelVersionInfo) -> dict[str, bytes]:
    """The bytes of the version's model folder, spec.json and features.json, each checked against its hash.

    Each file is read once into memory and the checked bytes are the ones used, so nothing can change in between.
    """
    manifest = recorded_hashes(info)
    wanted = {path for path in manifest if path.startswith(f"{MODEL_DIR}/")} | {SPEC_FILE, FEATURES_FILE}
    root = _artifact_root(client, info)
    present = {
        p.relative_to(root).as_posix(): p for name in (MODEL_DIR, SPEC_FILE, FEATURES_FILE) for p in _files(root / name)
    }
    missing = sorted(wanted - set(present))
    if missing:
        raise ModelNotFound(f"{_name(info)}: artifact {', '.join(missing)} missing from run {info.run_id}")
    extra = sorted(set(present) - wanted)
    if extra:
        raise ModelIntegrityError(
            f"{_name(info)}: unexpected file(s) {', '.join(extra)} in the registered artifacts (not written at "
            "registration; refusing to load anything from this version)"
        )
    contents = {path: present[path].read_bytes() for path in sorted(wanted)}
    verify_hashes(info, manifest, contents)
    return contents


def read_artifact(client: MlflowClient, info: ModelVersionInfo, path: str) -> bytes | None:
    """The bytes of one registered artifact (e.g. `evaluation/drift_reference.json`), checked against its hash.

    None when the version was registered without it (an older version); raises when it was recorded and is now
    missing or changed.
    """
    manifest = recorded_hashes(info)
    if path not in manifest:
        return None
    file = _artifact_root(client, info) / path
    if not file.is_file():
        raise ModelNotFound(f"{_name(info)}: artifact {path} missing from run {info.run_id}")
    data = file.read_bytes()
    if sha256_bytes(data) != manifest[path]:
        raise ModelIntegrityError(
            f"{_name(info)}: {path} has sha256 {sha256_bytes(data)}, but {manifest[path]} was recorded at "
            "registration (tampered or replaced); refusing to use it"
        )
    return data


def _files(path: Path) -> list[Path]:
    """The files at `path`: itself, everything under it when a folder, nothing when absent."""
    if path.is_dir():
        return [p for p in sorted(path.rglob("*")) if not p.is_dir()]
    return [path] if path.exists() else []


def recorded_hashes(info: ModelVersionInfo) -> dict[str, str]:
    """{artifact path: sha256} recorded on the version at registration."""
    raw = info.tags.get(Tag.ARTIFACTS_SHA256)
    if not raw or not info.model_sha256:
        raise ModelIntegrityError(
            f"{_name(info)} carries no recorded artifact hashes: it was not registered by riskgen; refusing to load"
        )
    try:
        manifest = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ModelIntegrityError(f"{_name(info)}: the recorded artifact hashes are not JSON ({error})") from error
    if not isinstance(manifest, dict) or MODEL_TEXT not in manifest:
        raise ModelIntegrityError(f"{_name(info)}: the recorded artifact hashes do not list {MODEL_TEXT}")
    return {str(k): str(v) for k, v in manifest.items()}


def verify_hashes(info: ModelVersionInfo, manifest: dict[str, str], contents: dict[str, bytes]) -> None:
    """Refuse any file whose sha256 differs from the one recorded (model.txt also against the version's tag)."""
    for path, data in contents.items():
        actual = sha256_bytes(data)
        if actual != manifest[path]:
            raise ModelIntegrityError(
                f"{_name(info)}: {path} has sha256 {actual}, but {manifest[path]} was recorded at registration "
                "(tampered or replaced); refusing to load"
            )
    if sha256_bytes(contents[MODEL_TEXT]) != info.model_sha256:
        raise ModelIntegrityError(f"{_name(info)}: {MODEL_TEXT} does not match the version's model_sha256 tag")


def _artifact_root(client: MlflowClient, info: ModelVersionInfo) -> Path:
    """The run's artifact folder on this machine.

    Read in place rather than through `download_artifacts`: MLflow 3 resolves `runs:/` URIs through a repository
    that copies into a new temporary folder it never deletes and draws a progress bar on stderr for every call.
    """
    try:
        artifact_uri = client.get_run(info.run_id).info.artifact_uri
    except MlflowException as error:
        raise ModelNotFound(f"{_name(info)}: its run {info.run_id} cannot be read ({error.message})") from error
    repository = get_artifact_repository(artifact_uri)
    if not isinstance(repository, LocalArtifactRepository):
        raise UnsupportedRegistry(f"{_name(info)}: artifacts at {artifact_uri} are not on this machine")
    return Path(repository.artifact_dir)


def _json(contents: dict[str, bytes], path: str, info: ModelVersionInfo) -> dict[str, Any]:
    try:
        value = json.loads(contents[path].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelIntegrityError(f"{_name(info)}: {path} is not UTF-8 JSON ({error})") from error
    if not isinstance(value, dict):
        raise ModelIntegrityError(f"{_name(info)}: {path} is not a JSON object")
    return value


def _name(info: ModelVersionInfo) -> str:
    return f"model riskgen.{info.theme} version {info.version}"
