"""Great Expectations suites generated from table contracts, and the suite report of a delivery.

Row-level quarantine is done in polars elsewhere; this module produces the auditable GX report: one suite per
contract, validated on the accepted frame, saved as the full JSON validation result and as a Data Docs site.

Two GX behaviours are designed around: an empty batch passes every column rule (so every suite starts with a row
count rule), and an expectation that raises is only a result with `exception_info` (so it is listed as errored and
fails the report; an expectation that produced no result at all is treated the same way).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # read by GX at import and context creation
if logging.getLogger("great_expectations").level == logging.NOTSET:  # unless the application chose a level
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # GX logs ~300 INFO lines per run

import great_expectations as gx
import great_expectations.expectations as gxe
import polars as pl
from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

from features.atomic import write_json_atomic
from features.contracts import Column, TableContract
from features.uscc import USCC_ALPHABET

SUITE_PREFIX = "riskgen."
DATASOURCE = "riskgen_frames"
DOCS_SITE = "riskgen_gx"
# GX matches with Python `re.search` on pandas, where `$` also matches before a trailing newline: "<18 chars>\n"
# passed `^[...]{18}$`. `\Z` is the true end of the string (polars' `$` already is).
USCC_REGEX = rf"^[{USCC_ALPHABET}]{{18}}\Z"
RESULT_FORMAT: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 20}


@dataclass(frozen=True)
class GxReport:
    """Summary of one table's suite run.

    Attributes:
        table: contract name.
        success: every expectation evaluated and passed (an errored expectation is never a success).
        evaluated: expectations with a result.
        successful: expectations that passed.
        failed_expectations: `"<rule> (<expectation type>)"` of every expectation that did not pass, errored ones
            included, in suite order.
        errored_expectations: the subset that raised (or produced no result).
        json_path: full GX validation result as JSON.
        html_path: the Data Docs page of this validation.
    """

    table: str
    success: bool
    evaluated: int
    successful: int
    failed_expectations: list[str]
    errored_expectations: list[str]
    json_path: Path
    html_path: Path


def _meta(contract: TableContract, rule: str, source: str) -> dict[str, str]:
    return {"contract": contract.name, "rule": rule, "source": source}


def _table_expectations(contract: TableContract) -> Iterator[gxe.Expectation]:
    """Table-level rules: row count, ordered column set, key uniqueness and the two clocks."""
    yield gxe.ExpectTableRowCountToBeBetween(
        min_value=contract.min_rows, meta=_meta(contract, "min_rows", "TableContract.min_rows")
    )
    yield gxe.ExpectTableColumnsToMatchOrderedList(
        column_list=contract.column_names, meta=_meta(contract, "columns", "TableContract.columns")
    )
    keys_meta = _meta(contract, "keys_unique", "TableContract.keys")
    if len(contract.keys) == 1:
        yield gxe.ExpectColumnValuesToBeUnique(column=contract.keys[0], meta=keys_meta)
    elif contract.keys:
        yield gxe.ExpectCompoundColumnsToBeUnique(column_list=list(contract.keys), meta=keys_meta)
    if contract.event_at and contract.recorded_at:
        yield gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=contract.recorded_at,
            column_B=contract.event_at,
            or_equal=True,
            ignore_row_if="either_value_is_missing",  # a missing clock is the not-null rule's finding
            meta=_meta(contract, "recorded_not_before_event", "TableContract.event_at/recorded_at"),
        )


def _column_expectations(contract: TableContract, column: Column) -> Iterator[gxe.Expectation]:
    """Value rules of one column: required, allowed set, numeric bounds, credit-code format."""
    name = column.name
    if column.required:
        meta = _meta(contract, f"required:{name}", "Column.required")
        yield gxe.ExpectColumnValuesToNotBeNull(column=name, meta=meta)
    if column.allowed is not None:
        meta = _meta(contract, f"allowed:{name}", "Column.allowed")
        yield gxe.ExpectColumnValuesToBeInSet(column=name, value_set=list(column.allowed), meta=meta)
    if column.minimum is not None or column.maximum is not None:
        meta = _meta(contract, f"bounds:{name}", "Column.minimum/maximum")
        yield gxe.ExpectColumnValuesToBeBetween(
            column=name, min_value=column.minimum, max_value=column.maximum, meta=meta
        )
    if column.uscc:
        meta = _meta(contract, f"uscc_format:{name}", "Column.uscc")
        yield gxe.ExpectColumnValuesToMatchRegex(column=name, regex=USCC_REGEX, meta=meta)


def build_expectation_suite(contract: TableContract) -> gx.ExpectationSuite:
    """Generate the GX suite `riskgen.<table>` from a table contract.

    Args:
        contract: the table contract.

    Returns:
        An unsaved suite; every expectation's `meta["rule"]` names the contract rule it comes from.
    """
    expectations = list(_table_expectations(contract))
    for column in contract.columns:
        expectations.extend(_column_expectations(contract, column))
    return gx.ExpectationSuite(
        name=f"{SUITE_PREFIX}{contract.name}",
        expectations=expectations,
        meta={"contract": contract.name, "title": contract.title, "generated_by": __name__},
    )


def _new_context(docs_dir: Path) -> AbstractDataContext:
    """An ephemeral context: in-memory stores, one filesystem Data Docs site, no analytics, no progress bars."""
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        data_docs_sites={DOCS_SITE: site},
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(project_config=config, mode="ephemeral")


def _validate(
    context: AbstractDataContext, contract: TableContract, frame: pl.DataFrame
) -> tuple[gx.ExpectationSuite, ExpectationSuiteValidationResult]:
    """Validate one frame with its contract's suite inside `context` (the result lands in its store).

    Each table gets its own data source, deleted after the run: a data source's execution engine keeps every
    batch's pandas frame, so a shared one would hold all tables' frames until the context is gone.
    """
    suite = context.suites.add(build_expectation_suite(contract))
    source = context.data_sources.add_pandas(name=f"{DATASOURCE}_{contract.name}")
    batch = source.add_dataframe_asset(name=contract.name).add_batch_definition_whole_dataframe(name="whole")
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{SUITE_PREFIX}{contract.name}", data=batch, suite=suite)
    )
    try:
        result = definition.run(batch_parameters={"dataframe": frame.to_pandas()}, result_format=RESULT_FORMAT)
    finally:
        context.validation_definitions.delete(definition.name)
        context.data_sources.delete(source.name)
    return suite, result


def _raised(exception_info: Any) -> bool:
    """True when GX recorded an exception: flat `{raised_exception: True}` or nested per metric id."""
    if isinstance(exception_info, Mapping):
        if exception_info.get("raised_exception") is True:
            return True
        return any(_raised(value) for value in exception_info.values())
    if isinstance(exception_info, list | tuple | set | frozenset):
        return any(_raised(value) for value in exception_info)
    return False


def _label(meta: Mapping[str, Any], expectation_type: str) -> str:
    return f"{meta.get('rule', '?')} ({expectation_type})"


def _outcome(suite: gx.ExpectationSuite, result: ExpectationSuiteValidationResult) -> tuple[list[str], list[str]]:
    """Failed and errored labels in suite order; a suite expectation without a result counts as errored."""
    by_rule: dict[str, ExpectationValidationResult] = {}
    for evr in result.results:
        config = evr.expectation_config
        if config is not None:
            by_rule[str((config.meta or {}).get("rule"))] = evr
    failed: list[str] = []
    errored: list[str] = []
    for expectation in suite.expectations:
        label = _label(expectation.meta or {}, expectation.expectation_type)
        found = by_rule.get(str((expectation.meta or {}).get("rule")))
        raised = found is None or _raised(found.exception_info)
        if raised:
            errored.append(label)
        if raised or not (found and found.success):
            failed.append(label)
    return failed, errored


def _page_path(docs_dir: Path, result: ExpectationSuiteValidationResult) -> Path:
    """Path of the Data Docs page GX renders for one validation result (`validations/<suite>/<run>/...`)."""
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
        run_id=result.meta["run_id"],
        batch_identifier=result.batch_id,
    )
    return docs_dir.joinpath("validations", *key.to_tuple()).with_suffix(".html")


def _report(
    contract: TableContract,
    suite: gx.ExpectationSuite,
    result: ExpectationSuiteValidationResult,
    gx_dir: Path,
) -> GxReport:
    """Write the JSON result and summarise it; the Data Docs page must exist (GX only logs render errors)."""
    json_path = gx_dir / f"{contract.name}.json"
    write_json_atomic(result.to_json_dict(), json_path)
    html_path = _page_path(gx_dir / "data_docs", result)
    if not html_path.is_file():
        raise RuntimeError(f"GX did not render the Data Docs page for {contract.name!r} ({html_path})")
    failed, errored = _outcome(suite, result)
    return GxReport(
        table=contract.name,
        success=bool(result.success) and not failed,
        evaluated=int(result.statistics["evaluated_expectations"]),
        successful=int(result.statistics["successful_expectations"]),
        failed_expectations=failed,
        errored_expectations=errored,
        json_path=json_path,
        html_path=html_path,
    )


def run_suites(
    frames: Mapping[str, pl.DataFrame], contracts: Mapping[str, TableContract], out_dir: Path
) -> list[GxReport]:
    """Validate several tables in one GX context and build one Data Docs site for all of them.

    Args:
        frames: accepted frames by table name.
        contracts: contracts by table name; every frame needs one.
        out_dir: run folder; results go to `out_dir/gx/<table>.json` and `out_dir/gx/data_docs/`.

    Returns:
        One report per frame, in the order of `frames`.

    Raises:
        KeyError: a frame has no contract.
        RuntimeError: GX did not render a validation page.
    """
    missing = sorted(set(frames) - set(contracts))
    if missing:
        raise KeyError(f"no contract for frames {missing}; contracts: {sorted(contracts)}")
    gx_dir = Path(out_dir) / "gx"
    docs_dir = gx_dir / "data_docs"
    context = _new_context(docs_dir)
    runs = [(contracts[name], *_validate(context, contracts[name], frame)) for name, frame in frames.items()]
    context.build_data_docs(site_names=[DOCS_SITE])
    return [_report(contract, suite, result, gx_dir) for contract, suite, result in runs]


def run_expectation_suite(contract: TableContract, frame: pl.DataFrame, out_dir: Path) -> GxReport:
    """Validate one table's frame with its generated suite and write the JSON result and Data Docs.

    The Data Docs site is rebuilt from this run only (GX drops pages whose results are not in its store), so
    validate all tables of a run together with `run_suites` to keep them in one site.

    Args:
        contract: the table contract.
        frame: the frame to validate (converted to pandas for GX).
        out_dir: run folder; results go to `out_dir/gx/<table>.json` and `out_dir/gx/data_docs/`.

    Returns:
        The report; `success` is False when any expectation failed or errored.
    """
    return run_suites({contract.name: frame}, {contract.name: contract}, out_dir)[0]
