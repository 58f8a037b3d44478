"""The only code that talks to MLflow: register, promote, load, model cards.

Public API (import from the modules; nothing MLflow-typed leaves this package):

- `model_registry.registry.Registry`
    - `Registry.open(tracking_uri, *, create=False)`: a `sqlite:///path` registry; a missing file is refused (and
      nothing created) unless `create`; a database without the riskgen sentinel is refused.
    - `register(result, *, input_sha256, code_version, registered_by) -> ModelVersionInfo`: one MLflow run under
      experiment `riskgen.<theme>` (params, metrics, tags, text-only artifacts) and the next version of registered
      model `riskgen.<theme>`.
    - `versions(theme)`, `version(theme, n)`, `champion(theme)`, `latest_version(theme)`, `promotions()`.
    - `promote(theme, version, *, who, why, expected_champion="any", force=False) -> PromotionRecord`:
      compare-and-set on the `champion` alias under a kernel lock; a worse model on the same test dates is refused.
    - `load(theme, version | "champion") -> LoadedModel`: every artifact checked against its recorded sha256
      before anything is parsed; never unpickles; never falls back to another version.
- `model_registry.model_card.render_model_card(result, version, registered_by, code_version) -> str`
- `model_registry.records`: `ModelVersionInfo`, `PromotionRecord`, `LoadedModel`, `Tag` (tag keys).
- `model_registry.errors`: `RegistryNotFound`, `NotARiskgenRegistry`, `UnsupportedRegistry`, `ModelNotFound`,
  `ModelIntegrityError`, `PromotionConflict`, `PromotionRefused` (all `RegistryError`).

On disk, beside the database: `artifacts/` (run artifacts), `registry.lock` (promotion/registration lock) and
`promotions.jsonl` (one line per promotion).
"""
