"""The Gradio dashboard: the event functions, the Blocks wiring, and `serve()` for `bap dashboard`.

    serve(settings)                       # blocks; http://127.0.0.1:7860
    server = serve(settings, port=0, block=False); server.url; server.close()
    build_app(queries)                    # the gr.Blocks alone (tests)

One web app (ui/web.py) serves the dashboard at / and the Great Expectations Data Docs under
/data-docs/. Bound to a loopback address it needs no login (unless BAP_DASHBOARD_AUTH is set);
bound to any other address it refuses to start without BAP_DASHBOARD_AUTH.

Speed for a team: every output of a filter change (five figures already serialised to Plotly
JSON, KPI cards, table, dropdowns) is kept in one render cache shared by every session, keyed by
the normalised selection and the warehouse's data version, so a view that anyone asked for is
served again without re-reading, re-building or re-serialising it; a landed load empties it.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import cachetools
import gradio as gr
import pandas as pd
import plotly.io
import sqlalchemy as sa
from gradio.components.plot import PlotData

from flows.errors import WarehouseUnavailable
from flows.settings import Settings
from ui import cards, charts
from ui.charts import FigureSpec
from ui.queries import NOT_INITIALISED, DashboardQueries, open_reader
from ui.view import (
    ALL,
    SEGMENT_AS_CHOICES,
    Cascade,
    DashboardView,
    Filters,
    export_csv,
    none_if_all,
    segment_as,
)
from ui.web import (
    DATA_DOCS_PATH,
    DashboardConfigError,
    DataDocsFiles,
    ProtectedStatic,
    create_web_app,
    is_loopback,
    parse_credentials,
    required_credentials,
)

__all__ = [
    "DATA_DOCS_PATH",
    "Dashboard",
    "DashboardConfigError",
    "DashboardServer",
    "DataDocsFiles",
    "ProtectedStatic",
    "build_app",
    "is_loopback",
    "parse_credentials",
    "parse_day",
    "required_credentials",
    "serve",
]

log = logging.getLogger("bap.dashboard")

CUSTOM: Final[str] = "Custom"
PRESETS: Final[dict[str, int | None]] = {  # name -> days ending at the last loaded day (None = all)
    "Last 7 days": 7,
    "Last 30 days": 30,
    "Last 90 days": 90,
    "Last 365 days": 365,
    "All time": None,
}
DEFAULT_PRESET: Final[str] = "Last 30 days"
CONCURRENCY: Final[int] = 8  # dashboard events at once (the reader engine pools 10 connections)
RENDER_CACHE_SIZE: Final[int] = 512  # rendered views kept (a view's outputs are ~100 kB)
CLOSED_TABLE: Final[dict[str, Any]] = {"headers": list(cards.DAILY_COLUMNS), "data": []}


# ---------------------------------------------------------------------------------------------
# The event functions (plain methods: tests call them directly)
# ---------------------------------------------------------------------------------------------


def parse_day(value: Any) -> date | None:
    """A date from what gr.DateTime sends ('2024-01-31', '2024-01-31 00:00:00', a date, a
    timestamp); None when it is empty or not a date."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)):
        try:
            return date.fromtimestamp(value)
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date()  # 'YYYY-MM-DD HH:MM:SS' and the like, nothing else
    except ValueError:
        return None


def plot(spec: FigureSpec) -> PlotData:
    """A figure spec as gr.Plot's payload, serialised once (Plotly's JSON encoder, no validation)."""
    return PlotData(type="plotly", plot=plotly.io.to_json(spec, validate=False))


def table(frame: pd.DataFrame, words: str) -> tuple[dict[str, Any], str]:
    """(the table's update, a note): an empty table is hidden and the note says so in words."""
    if frame.empty:
        return gr.update(value=None, visible=False), cards.notice_html(words, tone="info")
    return gr.update(value=table_data(frame), visible=True), ""


def table_data(frame: pd.DataFrame) -> dict[str, Any]:
    """A frame as gr.Dataframe's plain {"headers", "data"} value: Gradio turns that into its payload
    about 100x faster than a DataFrame (which it inspects cell by cell for styling)."""
    return {"headers": [str(c) for c in frame.columns], "data": frame.astype(object).values.tolist()}


def _fresh(outputs: tuple[Any, ...]) -> tuple[Any, ...]:
    """A cached output tuple for one response: Gradio consumes update dicts, so each response gets
    its own copies (figures, HTML and frames are shared: nothing changes them)."""
    return tuple(dict(o) if isinstance(o, dict) else o for o in outputs)


class Later:
    """A cached output drawn the first time a response sends it: the daily table's rows, which
    most filter changes never send (the table is closed), cost a tenth of a new view."""

    def __init__(self, draw: Callable[[], Any]) -> None:
        self._draw: Callable[[], Any] | None = draw
        self._value: Any = None

    def value(self) -> Any:
        draw = self._draw
        if draw is not None:  # two sessions drawing it at once draw the same value
            self._value = draw()
            self._draw = None
        return self._value


@dataclass
class Selection:
    """A normalised filter state: what the widgets said, resolved (dates, cascade, "All")."""

    filters: Filters
    cascade: Cascade
    preset: str
    notes: list[str] = field(default_factory=list)

    def key(self) -> Hashable:
        return (self.filters, self.preset, tuple(self.notes))


class Dashboard:
    """What each event does. Every method takes the filter widgets' values and returns values
    for the output widgets, in the order of OUTPUT_NAMES / QUALITY_OUTPUT_NAMES."""

    def __init__(
        self,
        queries: DashboardQueries,
        *,
        data_docs_url: str | None = DATA_DOCS_PATH + "/",
        data_docs_dir: Path | None = None,
        export_dir: Path | None = None,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.queries = queries
        self.data_docs_url = data_docs_url
        self.data_docs_dir = data_docs_dir
        self.export_dir = export_dir or Path(tempfile.mkdtemp(prefix="bap-dashboard-"))
        self.today = today
        self.rendered: cachetools.LRUCache[Hashable, tuple[Any, ...]] = cachetools.LRUCache(RENDER_CACHE_SIZE)
        self.render_hits = 0
        self.render_misses = 0
        self._rendered_version: Hashable = None
        self._render_lock = threading.Lock()

    # -- selection --------------------------------------------------------------------------
    def preset_range(self, preset: str | None) -> tuple[date, date]:
        bounds = self.queries.bounds()
        last = bounds[1] if bounds else self.today()
        first = bounds[0] if bounds else last
        days = PRESETS.get(preset or DEFAULT_PRESET, PRESETS[DEFAULT_PRESET])
        if days is None:
            return first, last
        return last - timedelta(days=days - 1), last

    def _matching_preset(self, start: date, end: date) -> str:
        for name in PRESETS:
            if self.preset_range(name) == (start, end):
                return name
        return CUSTOM

    def _dates(self, preset: str, start: Any, end: Any, follow_preset: bool) -> tuple[date, date, list[str]]:
        notes: list[str] = []
        start_day, end_day = parse_day(start), parse_day(end)
        if (start not in (None, "") and start_day is None) or (end not in (None, "") and end_day is None):
            notes.append("A date could not be read (use YYYY-MM-DD); the period's preset is shown instead.")
            start_day = end_day = None
        if (follow_preset and preset != CUSTOM) or start_day is None or end_day is None:
            start_day, end_day = self.preset_range(preset if preset != CUSTOM else DEFAULT_PRESET)
        if start_day > end_day:
            start_day, end_day = end_day, start_day
            notes.append("The start date was after the end date: the two were swapped.")
        return start_day, end_day, notes

    def select(
        self,
        preset: str | None,
        start: Any,
        end: Any,
        region: str | None,
        state: str | None,
        city: str | None,
        channel: str | None,
        segment: str | None,
        segment_time: str | None = None,
        *,
        follow_preset: bool = False,
    ) -> Selection:
        """The widgets' values -> a normalised selection (the render cache's key). `segment_time`:
        "current" reads the segment filter and breakdowns as the customers' current segment;
        anything else (API clients that do not send it) as the segment at transaction time."""
        preset = preset if preset in PRESETS or preset == CUSTOM else DEFAULT_PRESET
        start_day, end_day, notes = self._dates(preset, start, end, follow_preset)
        geo = self.queries.cascade(none_if_all(region), none_if_all(state), none_if_all(city))
        filters = Filters(
            start=start_day,
            end=end_day,
            region=geo.region,
            state=geo.state,
            city=geo.city,
            channel=none_if_all(channel),
            segment=none_if_all(segment),
            segment_as=segment_as(segment_time),
        )
        return Selection(filters, geo, self._matching_preset(start_day, end_day), notes)

    # -- outputs ----------------------------------------------------------------------------
    def _export(self, view: DashboardView) -> str | None:
        if view.daily.empty:
            return None
        data = export_csv(view).encode()
        digest = hashlib.sha256(data).hexdigest()[:10]
        f = view.filters
        path = self.export_dir / f"bap-daily-{f.start:%Y%m%d}-{f.end:%Y%m%d}-{digest}.csv"
        if not path.exists():
            self.export_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            self._prune_exports()
        return str(path)

    def _prune_exports(self, keep_s: float = 3600.0) -> None:
        cutoff = time.time() - keep_s
        for old in self.export_dir.glob("bap-daily-*.csv"):
            try:
                if old.stat().st_mtime < cutoff:
                    old.unlink()
            except OSError:
                pass

    def _data_docs_ready(self) -> bool:
        return self.data_docs_dir is not None and (self.data_docs_dir / "index.html").is_file()

    def header(self) -> str:
        notice = NOT_INITIALISED if self.queries.not_initialised else None
        return cards.header_html(
            self.queries.freshness(),
            data_docs_url=self.data_docs_url,
            data_docs_ready=self._data_docs_ready(),
            notice=notice,
        )

    def _notes(self, sel: Selection, channels: list[str], segments: list[str]) -> list[str]:
        f, notes = sel.filters, list(sel.notes)
        if f.channel is not None and f.channel not in channels:
            notes.append(f"No channel is called “{f.channel}”.")
        if f.segment is not None and f.segment not in segments:
            notes.append(f"No customer segment is called “{f.segment}”.")
        if f.region is not None and f.region not in sel.cascade.regions:
            notes.append(f"No region is called “{f.region}”.")
        return notes

    def render(self, sel: Selection) -> tuple[Any, ...]:
        """All dashboard outputs for a selection (see OUTPUT_NAMES), from the render cache that
        every session shares; a new data version (a load landed) empties it.

        Speed: Gradio builds a new component (and its config) for every update dict an event
        returns, even gr.skip(), which costs more than drawing the figures; a plain value costs a
        cheap postprocess. So a filter change returns plain values everywhere except the state and
        city dropdowns, whose choices follow the region (see `full_filters` for the page load)."""
        version = self.queries.data_version()
        key = (version, sel.key(), self._data_docs_ready())
        with self._render_lock:
            if version != self._rendered_version:
                self.rendered.clear()
                self._rendered_version = version
            cached = self.rendered.get(key)
            if cached is not None:
                self.render_hits += 1
                return _fresh(cached)
        outputs = self._render(sel)
        with self._render_lock:
            self.render_misses += 1
            self.rendered[key] = outputs
        return _fresh(outputs)

    def _render(self, sel: Selection) -> tuple[Any, ...]:
        view = self.queries.view(sel.filters)
        figures = charts.view_figures(view)
        geo, f = sel.cascade, sel.filters
        channels, segments = self.queries.channels(), self.queries.segments()
        return (
            sel.preset,
            f"{f.start:%Y-%m-%d}",
            f"{f.end:%Y-%m-%d}",
            _chosen(geo.regions, f.region),
            _dropdown(geo.states, f.state),
            _dropdown(geo.cities, f.city),
            _chosen(channels, f.channel),
            _chosen(segments, f.segment),
            f.segment_as,
            self.header(),
            cards.selection_html(view, self._notes(sel, channels, segments)),
            cards.kpi_cards_html(view),
            *(plot(figures[name]) for name in FIGURE_NAMES),
            Later(lambda: table_data(cards.daily_table(view))) if not view.daily.empty else CLOSED_TABLE,
            cards.notice_html("No days with data in this selection.", tone="info") if view.daily.empty else "",
            self._export(view),  # None for an empty view: the button downloads nothing
        )

    def full_filters(self, sel: Selection, outputs: tuple[Any, ...]) -> tuple[Any, ...]:
        """The outputs with every filter widget as an update that also sets its choices: for the
        page load and the auto-refresh (a load may bring a new channel or segment)."""
        geo, f = sel.cascade, sel.filters
        full = (
            gr.update(value=sel.preset),
            gr.update(value=f"{f.start:%Y-%m-%d}"),
            gr.update(value=f"{f.end:%Y-%m-%d}"),
            _dropdown(geo.regions, f.region),
            _dropdown(geo.states, f.state),
            _dropdown(geo.cities, f.city),
            _dropdown(self.queries.channels(), f.channel),
            _dropdown(self.queries.segments(), f.segment),
            gr.update(value=f.segment_as),
        )
        return (*full, *outputs[len(full) :])

    # -- events -----------------------------------------------------------------------------
    def on_filters(self, *values: Any) -> tuple[Any, ...]:
        """Any filter changed (or Refresh): re-resolve the cascade and redraw everything. Takes
        the widgets of FILTER_NAMES in order, then (the page's own state) whether the daily table
        is open: a closed table is not sent."""
        filters, table_open = _split(values)
        with _warehouse_errors():
            return _daily_if(table_open, self.render(self.select(*filters)))

    def on_load(self, *values: Any) -> tuple[Any, ...]:
        """Page load and auto-refresh: a preset period follows the newest loaded day."""
        filters, table_open = _split(values)
        with _warehouse_errors():
            sel = self.select(*filters, follow_preset=True)
            return _daily_if(table_open, self.full_filters(sel, self.render(sel)))

    def on_daily(self, *values: Any) -> tuple[Any, Any, bool]:
        """The daily table opened: its rows for the current filters (from the render cache)."""
        with _warehouse_errors():
            outputs = self.render(self.select(*values[: len(FILTER_NAMES)]))
        outputs = _daily_if(True, outputs)
        return outputs[OUTPUT_NAMES.index("daily_table")], outputs[OUTPUT_NAMES.index("daily_note")], True

    def on_preset(self, preset: str | None, start: Any, end: Any) -> tuple[Any, Any]:
        """A preset picked: set the dates (their change events redraw the dashboard)."""
        if preset not in PRESETS:
            return gr.update(), gr.update()
        first, last = self.preset_range(preset)
        return gr.update(value=f"{first:%Y-%m-%d}"), gr.update(value=f"{last:%Y-%m-%d}")

    def on_quality(self, preset: str | None, start: Any, end: Any, quarantine_day: str | None) -> tuple[Any, ...]:
        """The Quality tab for the selected period (see QUALITY_OUTPUT_NAMES)."""
        with _warehouse_errors():
            s, e = parse_day(start), parse_day(end)
            if s is None or e is None:
                s, e = self.preset_range(preset)
            return self._quality(min(s, e), max(s, e), quarantine_day)

    def _quality(self, s: date, e: date, quarantine_day: str | None) -> tuple[Any, ...]:
        report = self.queries.quality(s, e)
        message = "" if report.available else cards.notice_html(report.message)
        choices = [(f"{d:%Y-%m-%d} · {n} row{'s' if n != 1 else ''}", d.isoformat()) for d, n in report.quarantine_days]
        values = [v for _, v in choices]
        chosen = quarantine_day if quarantine_day in values else (values[0] if values else None)
        failures, failures_note = table(failure_table(report.failures), "No failed expectations recorded.")
        day_note = "" if choices else cards.notice_html("No quarantined rows recorded.", tone="info")
        return (
            message,
            plot(charts.pass_rate_figure(report.pass_rate, period=(s, e))),
            plot(charts.reasons_figure(report.reasons, period=(s, e))),
            failures,
            failures_note,
            gr.update(choices=choices, value=chosen, visible=bool(choices)),
            day_note,
            *self._quarantine(chosen),
        )

    def _quarantine(self, day: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        parsed = parse_day(day)
        if parsed is None:
            return gr.update(value=None, visible=False), gr.update(value=None, visible=False)
        reasons, rows = self.queries.quarantine(parsed)
        return (
            gr.update(value=table_data(reasons.rename(columns=REASON_HEADERS)), visible=not reasons.empty),
            gr.update(value=table_data(rows.rename(columns=QUARANTINE_HEADERS)), visible=not rows.empty),
        )

    def on_quarantine_day(self, day: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        with _warehouse_errors():
            return self._quarantine(day)


def _split(values: tuple[Any, ...]) -> tuple[tuple[Any, ...], bool]:
    """(the filter values, whether the daily table is open): API clients send only the filters."""
    n = len(FILTER_NAMES)
    return values[:n], bool(values[n]) if len(values) > n else True


def _daily_if(table_open: bool, outputs: tuple[Any, ...]) -> tuple[Any, ...]:
    """The outputs, with the daily table's rows (drawn now if no response sent them before) while
    the table is open, and without them while it is closed (a smaller payload; an empty table
    rather than gr.skip(), which would cost Gradio a new component)."""
    table_at, note_at = OUTPUT_NAMES.index("daily_table"), OUTPUT_NAMES.index("daily_note")
    if table_open:
        rows = outputs[table_at]
        return (*outputs[:table_at], rows.value() if isinstance(rows, Later) else rows, *outputs[table_at + 1 :])
    return (*outputs[:table_at], CLOSED_TABLE, "", *outputs[note_at + 1 :])


def failure_table(failures: pd.DataFrame) -> pd.DataFrame:
    """The failed expectations as shown: readable headers, validation time in UTC."""
    failures = failures.copy()
    if not failures.empty:
        failures["validated_at"] = pd.to_datetime(failures["validated_at"], utc=True).dt.strftime("%Y-%m-%d %H:%M UTC")
    return failures.rename(columns=FAILURE_HEADERS)


@contextmanager
def _warehouse_errors() -> Iterator[None]:
    """A warehouse that stops answering becomes a one-line message in the page, not a traceback;
    the next refresh tries again."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError, WarehouseUnavailable) as exc:
        log.warning("dashboard query failed", extra={"error": str(exc).splitlines()[0]})
        raise gr.Error(
            "The warehouse cannot be reached right now; the dashboard retries on its next refresh.",
            print_exception=False,
        ) from None


def _chosen(options: list[str], value: str | None) -> str:
    """A dropdown's value: the selected option, or "All" for none or one it does not offer."""
    return value if value is not None and value in options else ALL


def _dropdown(options: list[str], value: str | None) -> dict[str, Any]:
    return gr.update(choices=[ALL, *options], value=_chosen(options, value))


FAILURE_HEADERS: Final[dict[str, str]] = {
    "run_date": "Day",
    "suite": "Suite",
    "expectation": "Expectation",
    "severity": "Severity",
    "unexpected_count": "Unexpected",
    "element_count": "Checked",
    "observed_value": "Observed",
    "validated_at": "Validated",
}
REASON_HEADERS: Final[dict[str, str]] = {"reject_reason": "Reason", "row_count": "Rows"}
QUARANTINE_HEADERS: Final[dict[str, str]] = {
    "source_file": "File",
    "source_row": "Record",
    "reject_reason": "Reason",
    "transaction_id": "Transaction",
    "raw_record": "Raw record",
}
FILTER_NAMES: Final[tuple[str, ...]] = (
    "preset",
    "start",
    "end",
    "region",
    "state",
    "city",
    "channel",
    "segment",
    "segment_as",  # optional for API clients: the segment at transaction time unless "current"
)
FIGURE_NAMES: Final[tuple[str, ...]] = (
    "trend_revenue",
    "trend_failure_rate",
    "trend_avg_processing_s",
    "compare_failure_rate",
    "compare_avg_processing_s",
)
OUTPUT_NAMES: Final[tuple[str, ...]] = (
    *FILTER_NAMES,
    "header",
    "selection",
    "kpis",
    *FIGURE_NAMES,
    "daily_table",
    "daily_note",
    "csv",
)
QUALITY_OUTPUT_NAMES: Final[tuple[str, ...]] = (
    "quality_message",
    "pass_rate",
    "reasons_chart",
    "failures",
    "failures_note",
    "quarantine_day",
    "quarantine_note",
    "quarantine_reasons",
    "quarantine_rows",
)


# ---------------------------------------------------------------------------------------------
# Blocks: the layout (one function per part of the page) and the wiring
# ---------------------------------------------------------------------------------------------

Widgets = dict[str, Any]


def _filters(c: Widgets, dash: Dashboard) -> None:
    """The period and the dimension dropdowns, with the options and the default period known now
    (each refresh replaces them; a date the page load leaves as it is fires no change event)."""
    queries = dash.queries
    everything = queries.cascade(None, None, None)
    first, last = (f"{d:%Y-%m-%d}" for d in dash.preset_range(DEFAULT_PRESET))
    with gr.Row(equal_height=True, elem_classes="bap-filters"):
        c["preset"] = gr.Dropdown(
            [*PRESETS, CUSTOM], value=DEFAULT_PRESET, label="Period", min_width=210, elem_id="f-preset"
        )
        dates: dict[str, Any] = {"include_time": False, "type": "string", "min_width": 210}
        c["start"] = gr.DateTime(first, label="From", elem_id="f-start", **dates)
        c["end"] = gr.DateTime(last, label="To", elem_id="f-end", **dates)
    with gr.Row(equal_height=True, elem_classes="bap-filters"):
        for name, label, options in (
            ("region", "Region", everything.regions),
            ("state", "State", everything.states),
            ("city", "City", everything.cities),
            ("channel", "Channel", queries.channels()),
            ("segment", "Customer segment", queries.segments()),
        ):
            c[name] = gr.Dropdown([ALL, *options], value=ALL, label=label, min_width=150, elem_id=f"f-{name}")
        c["segment_as"] = gr.Radio(
            list(SEGMENT_AS_CHOICES),
            value="transaction",
            label="Segment: at transaction time or current",
            info="the current segment reads the fact table (slower)",
            min_width=220,
            elem_id="f-segment-as",
        )


def _toolbar(c: Widgets) -> None:
    with gr.Row(equal_height=True, elem_classes="bap-toolbar"):
        c["selection"] = gr.HTML(elem_classes="bap-bare", elem_id="bap-selection", scale=1, min_width=260)
        c["refresh"] = gr.Button(
            "↻ Refresh", variant="secondary", size="sm", min_width=100, scale=0, elem_id="f-refresh"
        )
        c["csv"] = gr.DownloadButton("⇩ CSV", variant="secondary", size="sm", min_width=90, scale=0, elem_id="bap-csv")
    c["kpis"] = gr.HTML(elem_classes="bap-bare", elem_id="bap-kpis")


def _chart(elem_id: str, **kwargs: Any) -> gr.Plot:
    return gr.Plot(show_label=False, elem_classes="bap-chart", elem_id=elem_id, **kwargs)


def _table(**kwargs: Any) -> gr.Dataframe:
    kwargs.setdefault("visible", False)
    return gr.Dataframe(interactive=False, elem_classes="bap-table", show_label=False, **kwargs)


def _overview(c: Widgets) -> None:
    c["trend_revenue"] = _chart("chart-trend-revenue")
    with gr.Row(equal_height=True):
        c["trend_failure_rate"] = _chart("chart-trend-failure", min_width=320)
        c["trend_avg_processing_s"] = _chart("chart-trend-processing", min_width=320)
    with gr.Row(equal_height=True):
        c["compare_failure_rate"] = _chart("chart-compare-failure", min_width=320)
        c["compare_avg_processing_s"] = _chart("chart-compare-processing", min_width=320)
    with gr.Accordion("Daily table", open=False, elem_id="bap-daily") as c["daily"]:
        c["daily_open"] = gr.State(False)
        c["daily_note"] = gr.HTML(elem_classes="bap-bare", elem_id="bap-daily-note")
        c["daily_table"] = _table(max_height=420, visible=True, value=CLOSED_TABLE)


def _section(title: str) -> None:
    gr.HTML(f'<div class="bap-section-title">{title}</div>', elem_classes="bap-bare")


def _quality_tab(c: Widgets, dash: Dashboard, timer: gr.Timer) -> None:
    """The Quality tab's contents, drawn by `gr.render` when the tab is opened (and on each refresh
    or date change after that): a page that opens on the Overview pays nothing for them, which
    takes about 0.2 s off its first paint (bap bench's dashboard_first_paint_ms)."""
    c["quarantine_choice"] = gr.State(None)  # the day picked, kept across re-renders
    triggers = [c["quality_tab"].select, timer.tick, c["start"].change, c["end"].change]
    inputs = [c["preset"], c["start"], c["end"], c["quarantine_choice"]]

    def _draw(preset: str | None, start: Any, end: Any, day: str | None) -> None:
        out = dict(zip(QUALITY_OUTPUT_NAMES, dash.on_quality(preset, start, end, day), strict=True))
        _quality_widgets(c, out)
        day_out = [c["quarantine_reasons"], c["quarantine_rows"]]
        quiet: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden"}
        c["quarantine_day"].input(dash.on_quarantine_day, [c["quarantine_day"]], day_out, **quiet)
        c["quarantine_day"].input(lambda d: d, [c["quarantine_day"]], [c["quarantine_choice"]], **quiet)

    render = gr.render(inputs=inputs, triggers=triggers, concurrency_limit=CONCURRENCY, concurrency_id="warehouse")
    render(_draw)


def _quality_widgets(c: Widgets, out: dict[str, Any]) -> None:
    """The Quality tab's widgets, built with the values of Dashboard.on_quality (`out`)."""

    def table_kwargs(update: Any) -> dict[str, Any]:
        return {k: v for k, v in dict(update).items() if k in ("value", "visible")}

    c["quality_message"] = gr.HTML(out["quality_message"], elem_classes="bap-bare")
    c["pass_rate"] = _chart("chart-pass-rate", value=out["pass_rate"])
    c["reasons_chart"] = _chart("chart-quarantine-reasons", value=out["reasons_chart"])
    _section("Latest failed expectations")
    c["failures_note"] = gr.HTML(out["failures_note"], elem_classes="bap-bare", elem_id="q-failures-note")
    c["failures"] = _table(max_height=360, elem_id="q-failures", **table_kwargs(out["failures"]))
    _section("Quarantined rows")
    c["quarantine_note"] = gr.HTML(out["quarantine_note"], elem_classes="bap-bare", elem_id="q-quarantine-note")
    day = dict(out["quarantine_day"])
    with gr.Row(elem_classes="bap-filters"):
        c["quarantine_day"] = gr.Dropdown(
            day["choices"],
            value=day["value"],
            visible=day["visible"],
            interactive=True,
            label="Day",
            min_width=200,
            elem_id="q-day",
        )
    with gr.Row():
        reasons, rows = table_kwargs(out["quarantine_reasons"]), table_kwargs(out["quarantine_rows"])
        c["quarantine_reasons"] = _table(max_height=260, scale=1, elem_id="q-reasons", **reasons)
        c["quarantine_rows"] = _table(max_height=360, scale=3, wrap=True, elem_id="q-rows", **rows)


def _wire(demo: gr.Blocks, dash: Dashboard, c: Widgets, timer: gr.Timer) -> None:
    """The events. Filter changes are public (`/filters`, what API clients and the load benchmark
    call); everything else is private to the page. The page load runs one event (the Quality tab
    loads when it is opened)."""
    inputs = [*(c[n] for n in FILTER_NAMES), c["daily_open"]]
    outputs = [c[n] for n in OUTPUT_NAMES]
    shared: dict[str, Any] = {"concurrency_limit": CONCURRENCY, "concurrency_id": "warehouse"}
    quiet: dict[str, Any] = {"api_visibility": "private", "show_progress": "hidden", **shared}
    dates = [c["start"].change, c["end"].change]
    dropdowns = [c[n].input for n in ("region", "state", "city", "channel", "segment", "segment_as")]
    gr.on([demo.load, timer.tick], dash.on_load, inputs, outputs, trigger_mode="always_last", **quiet)
    gr.on(
        [*dates, *dropdowns, c["refresh"].click],
        dash.on_filters,
        inputs,
        outputs,
        api_name="filters",
        show_progress="minimal",
        trigger_mode="always_last",
        **shared,
    )
    daily_out = [c["daily_table"], c["daily_note"], c["daily_open"]]
    c["daily"].expand(dash.on_daily, inputs, daily_out, **quiet)
    c["daily"].collapse(lambda: False, None, c["daily_open"], api_visibility="private", show_progress="hidden")
    c["preset"].input(dash.on_preset, [c["preset"], c["start"], c["end"]], [c["start"], c["end"]], **quiet)


def build_app(
    queries: DashboardQueries,
    *,
    refresh_s: float | None = None,
    data_docs_dir: Path | None = None,
    data_docs_url: str | None = DATA_DOCS_PATH + "/",
) -> gr.Blocks:
    """The dashboard as a gr.Blocks (theme and CSS are applied when it is served)."""
    dash = Dashboard(queries, data_docs_url=data_docs_url, data_docs_dir=data_docs_dir)
    c: Widgets = {}
    with gr.Blocks(title="Transactions analytics · batch-analytics-platform", fill_width=True) as demo:
        c["header"] = gr.HTML(dash.header(), elem_classes="bap-bare")
        if queries.notice:
            gr.HTML(cards.notice_html(queries.notice), elem_classes="bap-bare", elem_id="bap-reader-notice")
        _filters(c, dash)
        _toolbar(c)
        timer = gr.Timer(refresh_s or queries.ttl_s)
        with gr.Tabs():
            with gr.Tab("Overview", id="overview"):
                _overview(c)
            with gr.Tab("Quality", id="quality") as c["quality_tab"]:
                _quality_tab(c, dash, timer)
        _wire(demo, dash, c, timer)
    demo.queue(default_concurrency_limit=CONCURRENCY)
    demo.dashboard = dash  # for tests and tooling
    blocks: gr.Blocks = demo
    return blocks


# ---------------------------------------------------------------------------------------------
# Serving
# ---------------------------------------------------------------------------------------------


def default_data_docs_dir(settings: Settings) -> Path:
    """Where the quality step builds the Data Docs (flows.quality.data_docs_index's folder)."""
    from flows.quality import data_docs_index

    return data_docs_index(settings).parent


@dataclass
class DashboardServer:
    """A running dashboard. `close()` stops it (and releases its database connections)."""

    url: str
    app: Any
    blocks: gr.Blocks
    queries: DashboardQueries
    server: Any
    thread: threading.Thread | None

    def close(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
        self.queries.close()
        shutil.rmtree(self.blocks.dashboard.export_dir, ignore_errors=True)  # type: ignore[attr-defined]

    def __enter__(self) -> DashboardServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_queries(settings: Settings) -> DashboardQueries:
    """The query module on the configured warehouse, read-only. The dashboard never migrates:
    `bap warehouse init` (or the pipeline) does; until then the page says so."""
    if settings.dashboard_warehouse_url is not None:
        access = open_reader(settings.dashboard_warehouse_url.get_secret_value(), configured=True)
    else:
        from flows.warehouse.connection import resolve_url

        access = open_reader(resolve_url(settings))
    queries = DashboardQueries(access.engine, ttl_s=settings.dashboard_refresh_s, notice=access.notice)
    queries.data_version()  # learns whether the warehouse is initialised
    if queries.not_initialised:
        log.warning(NOT_INITIALISED)
        queries.notice = None  # the read-only role's notice would only add noise before init
    return queries


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise DashboardConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port") from None
    return sock


def _run_in_thread(handle: DashboardServer, sock: socket.socket) -> DashboardServer:
    thread = threading.Thread(target=handle.server.run, kwargs={"sockets": [sock]}, name="bap-dashboard", daemon=True)
    handle.thread = thread
    thread.start()
    deadline = time.monotonic() + 30
    while not handle.server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            handle.close()
            raise DashboardConfigError(f"the dashboard did not start on {handle.url}")
        time.sleep(0.05)
    return handle


def serve(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    data_docs_dir: Path | None = None,
    block: bool = True,
) -> DashboardServer:
    """Serve the dashboard (and /data-docs/). `port=0` picks a free port. With `block=False` it
    returns once the server answers; otherwise it runs until interrupted."""
    import uvicorn

    host = host or settings.dashboard_host
    port = settings.dashboard_port if port is None else port
    auth = settings.dashboard_auth.get_secret_value() if settings.dashboard_auth is not None else None
    credentials = required_credentials(host, auth)
    docs_dir = Path(data_docs_dir) if data_docs_dir is not None else default_data_docs_dir(settings)
    sock = _listen(host, port)
    try:
        queries = open_queries(settings)
    except BaseException:
        sock.close()
        raise
    if queries.notice:
        log.warning(queries.notice)
    blocks = build_app(queries, refresh_s=settings.dashboard_refresh_s, data_docs_dir=docs_dir)
    app = create_web_app(blocks, data_docs_dir=docs_dir, credentials=credentials)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown_host if ':' not in shown_host else f'[{shown_host}]'}:{sock.getsockname()[1]}"
    handle = DashboardServer(url, app, blocks, queries, uvicorn.Server(config), None)
    log.info("dashboard serving", extra={"url": url, "login": credentials is not None, "data_docs": str(docs_dir)})
    if not block:
        return _run_in_thread(handle, sock)
    print(f"Dashboard: {url}  (Data Docs: {url}{DATA_DOCS_PATH}/)  Ctrl-C to stop", flush=True)
    try:
        handle.server.run(sockets=[sock])
    finally:
        handle.close()
    return handle
