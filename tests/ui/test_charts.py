"""The figure and card functions on hand-made frames: series, titles, legends, empty states."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from tests.ui.conftest import figure
from ui import cards, charts
from ui.view import Filters, build_view

JAN = lambda d: date(2024, 1, d)  # noqa: E731


def _trend(items: list[str], days: int = 3) -> pd.DataFrame:
    rows = []
    for i, item in enumerate(items):
        for d in range(1, days + 1):
            rows.append(
                {
                    "date": pd.Timestamp(JAN(d)),
                    "item": item,
                    "txn_count": 10.0,
                    "failed_count": 1.0 + i,
                    "revenue": 100.0 * (i + 1),
                    "processing_time_s_sum": 20.0,
                    "failure_rate": 0.1 * (i + 1),
                    "avg_processing_s": 2.0,
                    "revenue_ma7": 90.0 * (i + 1),
                    "failure_rate_ma7": 0.1,
                    "avg_processing_s_ma7": 2.0,
                }
            )
    return pd.DataFrame(rows)


def _legend_is_horizontal_and_inside(fig) -> None:
    legend = fig.layout.legend
    assert legend.orientation == "h"
    assert 0 <= legend.x <= 1 and 0 <= legend.y <= 1  # paper coordinates inside the plot area
    assert fig.layout.showlegend is True


def test_trend_figure_breaks_down_by_item_with_named_series() -> None:
    items = ["UPI", "Credit Card"]
    fig = figure(
        charts.trend_figure(
            _trend(items), "revenue", dimension="channel", items=items, title="Revenue per day by channel"
        )
    )
    names = [t.name for t in fig.data]
    assert names == ["UPI · daily", "UPI", "Credit Card · daily", "Credit Card"]
    shown = [t.name for t in fig.data if t.showlegend is not False]
    assert shown == ["UPI", "Credit Card"]  # one legend entry per item; daily lines grouped with it
    for trace in fig.data:
        if trace.showlegend is not False:
            assert "%{fullData.name}" in trace.hovertemplate and "7-day avg" in trace.hovertemplate
    assert list(fig.data[1].y) == [90.0, 90.0, 90.0]  # the bold line is the moving average
    assert fig.layout.title.text.startswith("Revenue per day by channel")
    assert fig.layout.hovermode == "x unified"
    _legend_is_horizontal_and_inside(fig)


def test_trend_figure_without_breakdown_shows_daily_bars_and_the_average() -> None:
    fig = figure(charts.trend_figure(_trend(["All"]), "failure_rate", dimension=None, items=["All"]))
    assert [t.type for t in fig.data] == ["bar", "scatter"]
    assert [t.name for t in fig.data] == ["Daily failure rate", "7-day average"]
    assert fig.layout.title.text == "Failure rate per day"
    assert fig.layout.yaxis.tickformat == ".1%"
    _legend_is_horizontal_and_inside(fig)


def test_comparison_figure_has_bars_in_order_and_the_selection_line() -> None:
    comparison = pd.DataFrame(
        {
            "item": ["UPI", "Net Banking"],
            "txn_count": [60, 40],
            "failure_rate": [0.05, 0.08],
            "avg_processing_s": [0.9, 3.1],
        }
    )
    fig = figure(
        charts.comparison_figure(
            comparison, "failure_rate", dimension="channel", overall=0.062, title="Failure rate by channel"
        )
    )
    bar, line = fig.data
    assert list(bar.x) == ["UPI", "Net Banking"] and list(bar.y) == [0.05, 0.08]
    assert "%{fullData.name}" in bar.hovertemplate and bar.name == "Failure rate"
    assert line.name == "Whole selection: 6.20%"
    assert fig.layout.title.text == "Failure rate by channel"
    _legend_is_horizontal_and_inside(fig)


@pytest.mark.parametrize(
    "metric, dimension, shown, total, title",
    [
        ("revenue", None, 1, 1, "Revenue per day"),
        ("revenue", "channel", 4, 4, "Revenue per day by channel"),
        ("failure_rate", "city", 4, 9, "Failure rate per day by city · top 4 of 9"),
        ("avg_processing_s", "segment", 3, 3, "Avg processing time per day by segment at transaction time"),
    ],
)
def test_trend_titles(metric: str, dimension: str | None, shown: int, total: int, title: str) -> None:
    assert charts.trend_title(metric, dimension, shown, total) == title


@pytest.mark.parametrize(
    "kwargs, dimension, shown, total, title",
    [
        ({}, "channel", 4, 4, "Failure rate by channel"),
        ({"region": "South"}, "state", 6, 6, "Failure rate by state in South"),
        ({"region": "North", "state": "Uttar Pradesh"}, "city", 5, 5, "Failure rate by city in Uttar Pradesh"),
        ({"channel": "UPI"}, "region", 6, 6, "Failure rate by region · UPI"),
        (
            {"state": "Maharashtra", "segment": "SME"},
            "city",
            6,
            9,
            "Failure rate by city in Maharashtra · SME · top 6 of 9",
        ),
        (
            {"city": "Pune", "channel": "UPI"},
            "segment",
            4,
            4,
            "Failure rate by segment at transaction time in Pune · UPI",
        ),
    ],
)
def test_comparison_titles_adapt_to_the_selection(
    kwargs: dict, dimension: str, shown: int, total: int, title: str
) -> None:
    f = Filters(JAN(1), JAN(2), **kwargs)
    assert charts.comparison_title("failure_rate", dimension, f, shown, total) == title


def test_an_empty_view_gives_no_data_figures_not_errors() -> None:
    view = build_view(Filters(JAN(1), JAN(7), channel="Cheque"), [], [], source="agg_daily_region")
    figures = {k: figure(v) for k, v in charts.view_figures(view).items()}
    assert set(figures) == {
        "trend_revenue",
        "trend_failure_rate",
        "trend_avg_processing_s",
        "compare_failure_rate",
        "compare_avg_processing_s",
    }
    for fig in figures.values():
        assert fig.data == ()
        assert charts.NO_DATA in fig.layout.annotations[0].text
    assert figures["compare_failure_rate"].layout.title.text.startswith("Failure rate by region · Cheque")
    html = cards.kpi_cards_html(view)
    assert 'data-empty="true"' in html and "—" in html


def test_view_figures_use_the_views_dimensions() -> None:
    rows = [(20240100 + d, ch, 10, 1, 50.0, 12.0) for d in range(1, 8) for ch in ("UPI", "Debit Card")]
    view = build_view(
        Filters(JAN(4), JAN(7)),
        rows,
        [("UPI", 40, 4, 200.0, 48.0), ("Debit Card", 40, 4, 200.0, 48.0)],
        source="agg_daily_region",
    )
    figures = {k: figure(v) for k, v in charts.view_figures(view).items()}
    assert figures["trend_revenue"].layout.title.text.startswith("Revenue per day by channel")
    assert {t.name for t in figures["trend_revenue"].data if t.showlegend is not False} == {"UPI", "Debit Card"}
    assert figures["compare_avg_processing_s"].layout.title.text.startswith("Avg processing time by channel")


def test_pass_rate_figure_has_one_series_per_suite() -> None:
    df = pd.DataFrame(
        {
            "run_date": [JAN(1), JAN(1), JAN(2), JAN(2)],
            "suite": ["raw", "processed"] * 2,
            "expectations": [4, 4, 4, 4],
            "passed": [4, 3, 4, 4],
            "pass_rate": [1.0, 0.75, 1.0, 1.0],
        }
    )
    fig = figure(charts.pass_rate_figure(df))
    assert [t.name for t in fig.data] == ["processed", "raw"]
    assert all("%{fullData.name}" in t.hovertemplate for t in fig.data)
    _legend_is_horizontal_and_inside(fig)
    assert charts.NO_DATA not in str(fig.layout.annotations)
    assert "No quality history" in figure(charts.pass_rate_figure(df.iloc[0:0])).layout.annotations[0].text


@pytest.mark.parametrize(
    "metric, value, text",
    [
        ("revenue", 950.0, "₹950"),
        ("revenue", 12_400.0, "₹12.4K"),
        ("revenue", 3_214_000.0, "₹3.21M"),
        ("failure_rate", 0.04256, "4.26%"),
        ("avg_processing_s", 1.5, "1.50 s"),
        ("txn_count", 12345.0, "12,345"),
        ("revenue", None, "—"),
    ],
)
def test_kpi_values_are_formatted_for_reading(metric: str, value: float | None, text: str) -> None:
    assert cards.format_value(metric, value) == text


def test_kpi_cards_carry_raw_values_and_colour_changes_by_meaning() -> None:
    rows = [(20240101, "All", 10, 1, 100.0, 10.0), (20240102, "All", 10, 2, 150.0, 10.0)]
    view = build_view(Filters(JAN(2), JAN(2)), rows, [], source="agg_daily_region")
    html = cards.kpi_cards_html(view)
    assert 'data-kpi="revenue" data-value="150.00" data-previous="100.00"' in html
    assert 'data-kpi="failure_rate" data-value="0.200000"' in html
    assert 'data-kpi="txn_count" data-value="10"' in html
    # revenue up = good; failure rate up = bad
    revenue_card = html.split('data-kpi="revenue"')[1].split('data-kpi="failure_rate"')[0]
    failure_card = html.split('data-kpi="failure_rate"')[1].split('data-kpi="avg_processing_s"')[0]
    assert "chg good" in revenue_card and "▲ 50.0%" in revenue_card
    assert "chg bad" in failure_card and "▲ 10.00 pp" in failure_card


def test_header_escapes_what_the_warehouse_says() -> None:
    from ui.view import Freshness

    fresh = Freshness(
        last_loaded_day=JAN(9),
        last_run_day=JAN(10),
        last_run_status="failed",
        last_run_message="<script>alert(1)</script>",
    )
    html = cards.header_html(fresh, data_docs_url="/data-docs/", data_docs_ready=True)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Data as of <b>09 Jan 2024</b>" in html and 'href="/data-docs/"' in html
    assert "bap-dot bad" in html


def test_freshness_panel_shows_each_files_accounting_and_the_day_a_later_file_changed() -> None:
    from ui.view import FileAccounting, Freshness

    may2 = FileAccounting(
        run_date=date(2024, 5, 2),
        rows_received=1_007,
        rows_loaded=1_005,
        rows_loaded_earlier=2,
        rows_corrections=3,
        rows_quarantined=1,
        duplicates_dropped=1,
    )
    may1 = FileAccounting(
        run_date=date(2024, 5, 1),
        rows_received=1_000,
        rows_loaded=997,
        rows_superseded=3,
        changed_by=date(2024, 5, 2),
        changed_at=datetime(2024, 5, 3, 2, tzinfo=UTC),
    )
    odd = FileAccounting(run_date=date(2024, 4, 30), rows_received=12, rows_loaded=10)  # two records unaccounted
    fresh = Freshness(last_loaded_day=date(2024, 5, 2), last_run_status="loaded", files=(may2, may1, odd))
    html = cards.header_html(fresh, data_docs_url=None, data_docs_ready=False)
    assert 'data-testid="file-accounting"' in html and "Last file <b>02 May</b>: 1,007 received" in html
    row = html.split('data-file="2024-05-02"')[1].split("</tr>")[0]
    for attr, value in (
        ("rows-received", 1007),
        ("loaded-own-day", 1003),
        ("rows-loaded-earlier", 2),
        ("rows-corrections", 3),
        ("rows-superseded", 0),
        ("rows-quarantined", 1),
        ("duplicates-dropped", 1),
    ):
        assert f'data-{attr}="{value}"' in row
    assert 'data-balanced="true"' in row
    assert cards.accounting_text(may2) == (
        "1,007 received = 1,003 into 02 May + 2 into earlier days (late records and corrections)"
        " + 0 superseded by a later file + 1 quarantined + 1 duplicates; 3 corrections (any day)"
    )
    assert 'data-changed-by="2024-05-02"' in html and "<b>01 May</b> changed by the file of <b>02 May</b>" in html
    assert 'data-file="2024-04-30"' in html and "does not add up" in cards.accounting_text(odd)
    # nothing loaded yet: no accounting, no change
    empty = cards.header_html(Freshness(), data_docs_url=None, data_docs_ready=False)
    assert "file-accounting" not in empty and "changed-by" not in empty


def test_every_figure_is_a_valid_plotly_figure() -> None:
    """The figures skip Plotly's validation for speed: validate every kind here once."""
    rows = [(20240100 + d, ch, 10, 1, 50.0, 12.0) for d in range(1, 8) for ch in ("UPI", "Debit Card")]
    view = build_view(Filters(JAN(4), JAN(7)), rows, [("UPI", 40, 4, 200.0, 48.0)], source="agg_daily_region")
    total = build_view(
        Filters(JAN(4), JAN(7), city="Pune", channel="UPI", segment="SME"),
        [(20240104, "All", 3, 1, 9.0, 3.0)],
        [("SME", 3, 1, 9.0, 3.0)],
        source="agg_daily_city",
    )
    quality = pd.DataFrame(
        {"run_date": [JAN(1)], "suite": ["raw"], "expectations": [4], "passed": [3], "pass_rate": [0.75]}
    )
    figures = [
        *charts.view_figures(view).values(),
        *charts.view_figures(total).values(),
        charts.pass_rate_figure(quality),
        charts.empty_figure("Nothing"),
        charts.reasons_figure(pd.DataFrame({"reject_reason": ["bad amount"], "row_count": [3]})),
    ]
    validated = [figure(fig) for fig in figures]  # raises on any invalid property
    assert list(validated[0].data[1].x) == ["2024-01-04", "2024-01-05", "2024-01-06", "2024-01-07"]


def test_figures_are_plain_plotly_json_serialised_once_for_the_wire() -> None:
    """No go.Figure (whose per-property validation costs ~50 ms a figure) on the request path: a
    chart is a plain spec, and the payload gr.Plot sends is made from it directly."""
    from gradio.components.plot import PlotData

    from ui.app import plot

    spec = charts.empty_figure("Nothing")
    assert type(spec) is dict and set(spec) == {"data", "layout"}
    payload = plot(spec)
    assert isinstance(payload, PlotData) and payload.type == "plotly"
    assert figure(payload).layout.title.text == "Nothing"
