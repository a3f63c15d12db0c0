"""Five custom GX expectations the built-in catalogue has no (fast, exact) form for.

Importing this module registers them with GX (the suites in expectations/gx/expectations name
them by type), so `flows.quality.gx_project` imports it before it loads a suite.

Why custom rather than built-in:
- column types: `expect_column_type_to_be` cannot name a parametrised Arrow type such as
  decimal128(12, 2), so one table-level check compares every column with its Arrow type;
- bucket vs processing time: the built-in form is three `row_condition`ed range checks, and GX
  applies a row condition by filtering the whole batch, which costs ~0.4 s per check at 1M rows
  (and `expect_column_pair_values_to_be_in_set` iterates the rows in Python);
- revenue vs amount x fee, and date_key vs the timestamp's day: no built-in row-wise check across
  two columns of different kinds exists for pandas;
- quarantine share: the quarantined rows are not in the processed batch at all; the counts come
  in as suite parameters and the check reads like any other in Data Docs and dq_results.
The map metrics are plain numpy/pyarrow over whole columns (tens of milliseconds at 1M rows).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from great_expectations.compatibility import pydantic
from great_expectations.core.suite_parameters import SuiteParameterDict
from great_expectations.execution_engine.pandas_execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    BatchExpectation,
    ColumnPairMapExpectation,
    MulticolumnMapExpectation,
)
from great_expectations.expectations.metrics.map_metric_provider.column_pair_condition_partial import (
    column_pair_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.column_pair_map_metric_provider import (
    ColumnPairMapMetricProvider,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_condition_partial import (
    multicolumn_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.multicolumn_map_metric_provider import (
    MulticolumnMapMetricProvider,
)
from great_expectations.render.components import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer
from great_expectations.render.renderer_configuration import RendererConfiguration

from flows.dates import date_key

__all__ = [
    "ExpectColumnPairValuesToMatchBuckets",
    "ExpectColumnPairValuesToMatchDateKey",
    "ExpectTableColumnTypesToMatch",
    "ExpectMulticolumnValuesToMatchRevenueRule",
    "ExpectQuarantinedShareToBeAtMost",
]


def _shown(value: object) -> object:
    """A kwarg as Data Docs shows it: suite parameters (not yet substituted on suite pages) by name."""
    if isinstance(value, dict) and "$PARAMETER" in value:
        return f"[{value['$PARAMETER']}]"
    return value


class _Described:
    """Renders the expectation in Data Docs as the sentence `describe(kwargs)` returns."""

    @classmethod
    def describe(cls, kwargs: dict[str, Any]) -> str:
        raise NotImplementedError

    @classmethod
    def _prescriptive_template(cls, renderer_configuration: RendererConfiguration[Any]) -> RendererConfiguration[Any]:
        renderer_configuration.template_str = cls.describe(renderer_configuration.kwargs)
        return renderer_configuration

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(
        cls,
        configuration: Any = None,
        result: Any = None,
        runtime_configuration: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[RenderedStringTemplateContent]:
        if configuration is None and result is not None:
            configuration = result.expectation_config
        params = dict(configuration.kwargs) if configuration is not None else {}
        styling = (runtime_configuration or {}).get("styling", {})
        return [
            RenderedStringTemplateContent(
                content_block_type="string_template",
                string_template={"template": cls.describe(params), "params": {}, "styling": styling},
            )
        ]


def as_float(values: pd.Series) -> np.ndarray:
    """float64 view of a numeric column (numpy or Arrow-backed, decimals included); nulls -> NaN."""
    if isinstance(values.dtype, pd.ArrowDtype):
        arrow = pa.array(values.array)  # the Arrow data behind the column (Arrow array protocol)
        floats: np.ndarray = pc.cast(arrow, pa.float64()).to_numpy(zero_copy_only=False)
        return floats.astype(np.float64, copy=False)
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def arrow_type_name(dtype: object) -> str:
    """The Arrow type a pandas column holds, as Arrow spells it ('decimal128(12, 2)', 'timestamp[us, tz=UTC]')."""
    if isinstance(dtype, pd.ArrowDtype):
        return str(dtype.pyarrow_dtype)
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return str(pa.timestamp(dtype.unit, tz=str(dtype.tz)))
    try:
        return str(pa.from_numpy_dtype(dtype))
    except (pa.ArrowNotImplementedError, TypeError):
        return str(dtype)


# --- every column has its contract type ------------------------------------------------------


class ExpectTableColumnTypesToMatch(_Described, BatchExpectation):
    """Expect each listed column to exist with exactly the given Arrow type (other columns are ignored).

    The batch is an Arrow table converted by `flows.quality.frames`, which keeps the Arrow type
    recoverable from the pandas dtype. The observed value lists the columns that differ
    ({"amount": "double"}, or "missing").
    """

    column_types: dict[str, str] | SuiteParameterDict[str, Any]

    metric_dependencies: ClassVar[tuple[str, ...]] = ("table.column_types",)
    domain_keys: ClassVar[tuple[str, ...]] = ("row_condition", "condition_parser")
    success_keys: ClassVar[tuple[str, ...]] = ("column_types",)
    args_keys: ClassVar[tuple[str, ...]] = ("column_types",)

    @classmethod
    def describe(cls, kwargs: dict[str, Any]) -> str:
        listed = ", ".join(f"{name} {type_name}" for name, type_name in (kwargs.get("column_types") or {}).items())
        return f"Columns must have these Arrow types: {listed}."

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        expected: dict[str, str] = self.configuration.get_success_kwargs()["column_types"]
        actual = {entry["name"]: arrow_type_name(entry["type"]) for entry in metrics["table.column_types"]}
        mismatches = {
            name: actual.get(name, "missing") for name, type_name in expected.items() if actual.get(name) != type_name
        }
        return {
            "success": not mismatches,
            "result": {"observed_value": mismatches or "all match"},
        }


# --- bucket consistent with a numeric column -------------------------------------------------


class ColumnPairValuesMatchBuckets(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.match_buckets"
    condition_domain_keys = (
        "batch_id",
        "table",
        "column_A",
        "column_B",
        "row_condition",
        "condition_parser",
        "ignore_row_if",
    )
    condition_value_keys = ("buckets",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A: pd.Series, column_B: pd.Series, buckets: list[list[Any]], **kwargs: Any) -> pd.Series:
        value = as_float(column_A)
        ok = np.zeros(len(value), dtype=bool)
        with np.errstate(invalid="ignore"):
            for label, lower, upper in buckets:
                in_range = np.ones(len(value), dtype=bool) if lower is None else value >= lower
                if upper is not None:
                    in_range &= value < upper
                ok |= in_range & (column_B == label).to_numpy(dtype=bool, na_value=False)
        return pd.Series(ok, index=column_A.index)


class ExpectColumnPairValuesToMatchBuckets(_Described, ColumnPairMapExpectation):
    """Expect column_B to hold the label of the bucket column_A falls in.

    `buckets` is a list of [label, lower_inclusive, upper_exclusive]; a null bound is open.
    """

    buckets: list[tuple[str, float | None, float | None]] | SuiteParameterDict[str, Any]
    ignore_row_if: str = "both_values_are_missing"

    map_metric: ClassVar[str] = "column_pair_values.match_buckets"
    success_keys: ClassVar[tuple[str, ...]] = ("column_A", "column_B", "buckets", "ignore_row_if", "mostly")
    args_keys: ClassVar[tuple[str, ...]] = ("column_A", "column_B", "buckets")

    @classmethod
    def describe(cls, kwargs: dict[str, Any]) -> str:
        parts = []
        for label, lower, upper in kwargs.get("buckets") or []:
            low = "" if lower is None else f"{lower} <= "
            high = "" if upper is None else f" < {upper}"
            parts.append(f"'{label}' where {low}{kwargs.get('column_A')}{high}")
        return f"{kwargs.get('column_B')} must be the bucket of {kwargs.get('column_A')}: " + "; ".join(parts) + "."


# --- date_key is the UTC day of the timestamp -------------------------------------------------


class ColumnPairValuesMatchDateKey(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.match_date_key"
    condition_domain_keys = (
        "batch_id",
        "table",
        "column_A",
        "column_B",
        "row_condition",
        "condition_parser",
        "ignore_row_if",
    )
    condition_value_keys = ()

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A: pd.Series, column_B: pd.Series, **kwargs: Any) -> pd.Series:
        # flows.dates.date_key (the one definition) on each distinct day, spread back by its code.
        codes, days = pd.factorize(column_A.dt.tz_convert("UTC").dt.floor("D"))
        keys = np.array([date_key(day.date()) for day in days] + [-1], dtype=np.int64)
        expected = keys[codes]  # code -1 (a null timestamp) picks the -1 sentinel
        ok = expected == column_B.to_numpy(dtype=np.int64, na_value=-2)
        return pd.Series(ok, index=column_A.index)


class ExpectColumnPairValuesToMatchDateKey(_Described, ColumnPairMapExpectation):
    """Expect column_B to be the warehouse key (YYYYMMDD, flows.dates.date_key) of the UTC day of
    the timestamp in column_A: a late record keeps its own day."""

    ignore_row_if: str = "both_values_are_missing"

    map_metric: ClassVar[str] = "column_pair_values.match_date_key"
    success_keys: ClassVar[tuple[str, ...]] = ("column_A", "column_B", "ignore_row_if", "mostly")
    args_keys: ClassVar[tuple[str, ...]] = ("column_A", "column_B")

    @classmethod
    def describe(cls, kwargs: dict[str, Any]) -> str:
        return f"{kwargs.get('column_B')} must be the UTC day of {kwargs.get('column_A')} as YYYYMMDD."


# --- revenue = amount x fee_percent / 100 for earning rows, 0 otherwise ------------------------


class MulticolumnValuesMatchRevenueRule(MulticolumnMapMetricProvider):
    condition_metric_name = "multicolumn_values.match_revenue_rule"
    condition_domain_keys = (
        "batch_id",
        "table",
        "column_list",
        "row_condition",
        "condition_parser",
        "ignore_row_if",
    )
    condition_value_keys = ("earning_status", "tolerance")

    @multicolumn_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_list: pd.DataFrame, earning_status: str, tolerance: float, **kwargs: Any) -> pd.Series:
        amount_col, fee_col, status_col, revenue_col = column_list.columns
        amount = as_float(column_list[amount_col])
        fee = as_float(column_list[fee_col])
        revenue = as_float(column_list[revenue_col])
        earns = (column_list[status_col] == earning_status).to_numpy(dtype=bool, na_value=False)
        expected = np.where(earns, amount * fee / 100.0, 0.0)
        with np.errstate(invalid="ignore"):
            ok = np.abs(revenue - expected) <= tolerance + 1e-9  # NaN anywhere -> not ok
        return pd.Series(ok, index=column_list.index)


class ExpectMulticolumnValuesToMatchRevenueRule(_Described, MulticolumnMapExpectation):
    """Expect revenue = amount x fee_percent / 100 (within `tolerance`) where status is the earning
    status, and 0 otherwise. column_list is [amount, fee_percent, status, revenue], in that order."""

    earning_status: str = "SUCCESS"
    tolerance: float = 0.01
    ignore_row_if: Literal["all_values_are_missing", "any_value_is_missing", "never"] = "all_values_are_missing"

    map_metric: ClassVar[str] = "multicolumn_values.match_revenue_rule"
    success_keys: ClassVar[tuple[str, ...]] = ("column_list", "earning_status", "tolerance", "ignore_row_if", "mostly")
    args_keys: ClassVar[tuple[str, ...]] = ("column_list",)

    @classmethod
    def describe(cls, kwargs: dict[str, Any]) -> str:
        amount, fee, status, revenue = kwargs.get("column_list") or ("amount", "fee_percent", "status", "revenue")
        return (
            f"{revenue} must equal {amount} x {fee} / 100 within {kwargs.get('tolerance', 0.01)} where {status} is "
            f"{kwargs.get('earning_status', 'SUCCESS')}, and 0 otherwise."
        )

    @pydantic.validator("column_list")
    def _four_columns(cls, v: list[str]) -> list[str]:
        if len(v) != 4:
            raise ValueError("column_list must be [amount, fee_percent, status, revenue]")
        return v


# --- share of the day's rows the transform quarantined ------------------------------------------


class ExpectQuarantinedShareToBeAtMost(_Described, BatchExpectation):
    """Expect rows_quarantined / rows_received to be at most `max_share`.

    The counts are suite parameters from the transform; the batch is the processed day, whose row
    count is reported alongside. A day with no rows received has a share of 0.
    """

    rows_received: int | SuiteParameterDict[str, Any]
    rows_quarantined: int | SuiteParameterDict[str, Any]
    max_share: float | SuiteParameterDict[str, Any]

    metric_dependencies: ClassVar[tuple[str, ...]] = ("table.row_count",)
    domain_keys: ClassVar[tuple[str, ...]] = ("row_condition", "condition_parser")
    success_keys: ClassVar[tuple[str, ...]] = ("rows_received", "rows_quarantined", "max_share")
    args_keys: ClassVar[tuple[str, ...]] = ("rows_received", "rows_quarantined", "max_share")

    @classmethod
    def describe(cls, kwargs: dict[str, Any]) -> str:
        return (
            f"At most {_shown(kwargs.get('max_share'))} of the rows received ({_shown(kwargs.get('rows_received'))}) "
            f"may be quarantined (quarantined: {_shown(kwargs.get('rows_quarantined'))})."
        )

    def _validate(
        self,
        metrics: dict[str, Any],
        runtime_configuration: dict[str, Any] | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        kwargs = self.configuration.get_success_kwargs()
        received = int(kwargs["rows_received"])
        quarantined = int(kwargs["rows_quarantined"])
        share = quarantined / received if received else 0.0
        return {
            "success": share <= float(kwargs["max_share"]),
            "result": {
                "observed_value": round(share, 6),
                # Counted in rows received, as Data Docs' "N unexpected values, P% of M rows" reads.
                "element_count": received,
                "unexpected_count": quarantined,
                "unexpected_percent": 100.0 * share,
                "details": {"rows_processed": metrics.get("table.row_count")},
            },
        }
