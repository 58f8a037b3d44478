"""Training the LightGBM scorer: negative down-sampling with weight correction, early stopping, Platt calibration."""

from __future__ import annotations

from collections.abc import Callable

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression

from risk_models.dataset import TrainingFrame
from risk_models.labels import LABEL
from risk_models.scorer import Calibration, Scorer
from risk_models.spec import ModelParams

Progress = Callable[[str], None]


def category_codes(frame: pl.DataFrame, categorical: list[str]) -> dict[str, tuple[str, ...]]:
    """Sorted category values seen in training, per categorical feature (unseen values score as missing)."""
    return {c: tuple(sorted(v for v in frame[c].unique().to_list() if v is not None)) for c in categorical}


def sample_negatives(labels: np.ndarray, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep every positive and `rate` of negatives; weight kept negatives by 1/rate so the class balance is intact."""
    if rate >= 1.0:
        return np.arange(labels.size), np.ones(labels.size)
    rng = np.random.default_rng(seed)
    keep = (labels == 1) | (rng.random(labels.size) < rate)
    weights = np.where(labels[keep] == 1, 1.0, 1.0 / rate)
    return np.flatnonzero(keep), weights


def lightgbm_params(params: ModelParams, positive_share: float) -> dict[str, object]:
    return {
        "objective": "binary",
        "metric": ["average_precision", "auc"],
        "first_metric_only": True,
        "num_leaves": params.num_leaves,
        "max_depth": params.max_depth,
        "learning_rate": params.learning_rate,
        "min_data_in_leaf": params.min_data_in_leaf,
        "feature_fraction": params.feature_fraction,
        "bagging_fraction": params.bagging_fraction,
        "bagging_freq": 1,
        "lambda_l2": params.lambda_l2,
        # Rare positives: up-weight them moderately; calibration restores probabilities afterwards.
        "scale_pos_weight": float(min(10.0, max(1.0, 0.25 / max(positive_share, 1e-6)))),
        "num_threads": params.num_threads,
        "seed": params.seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }


def train_scorer(data: TrainingFrame, params: ModelParams, progress: Progress | None = None) -> Scorer:
    """Fit on `train`, stop early on `valid`, calibrate on `valid`. Deterministic for a given frame and params."""
    say = progress or (lambda _message: None)
    train, valid = data.part("train"), data.part("valid")
    draft = Scorer(
        "",
        tuple(data.feature_names),
        category_codes(train, data.categorical),
        Calibration(1.0, 0.0),
        params.num_threads,
    )
    labels = train[LABEL].to_numpy()
    rows, weights = sample_negatives(labels, params.negative_sample_rate, params.seed)
    categorical = [data.feature_names.index(c) for c in data.categorical]
    train_set = lgb.Dataset(
        draft.matrix(train)[rows],
        labels[rows],
        weight=weights,
        feature_name=list(data.feature_names),
        categorical_feature=categorical,
        free_raw_data=True,
    )
    valid_set = train_set.create_valid(draft.matrix(valid), valid[LABEL].to_numpy())
    say(
        f"training on {rows.size:,} of {labels.size:,} rows ({int(labels.sum()):,} positives), "
        f"validating on {valid.height:,}"
    )
    booster = lgb.train(
        lightgbm_params(params, float(labels.mean())),
        train_set,
        num_boost_round=params.num_boost_round,
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False), _progress_callback(say)],
    )
    model_text = booster.model_to_string(num_iteration=booster.best_iteration)
    uncalibrated = Scorer(model_text, draft.feature_names, draft.categories, draft.calibration, params.num_threads)
    calibration = fit_calibration(uncalibrated.raw_score(valid), valid[LABEL].to_numpy())
    say(f"best iteration {booster.best_iteration}, calibration a={calibration.a:.3f} b={calibration.b:.3f}")
    return Scorer(model_text, draft.feature_names, draft.categories, calibration, params.num_threads)


def fit_calibration(raw: np.ndarray, labels: np.ndarray) -> Calibration:
    """Platt scaling fitted on held-out rows (unweighted, so it undoes the training re-weighting)."""
    model = LogisticRegression(C=1e6, solver="lbfgs")
    model.fit(raw.reshape(-1, 1), labels)
    return Calibration(float(model.coef_[0, 0]), float(model.intercept_[0]))


def _progress_callback(say: Progress) -> Callable[[lgb.callback.CallbackEnv], None]:
    def report(env: lgb.callback.CallbackEnv) -> None:
        if env.iteration % 50 == 0 and env.evaluation_result_list:
            name, metric, value, _ = env.evaluation_result_list[0][:4]
            say(f"  round {env.iteration:>4}: {name} {metric} {value:.4f}")

    return report
