"""The Gradio dashboard: Blocks wiring, the web app around it, and `serve()` for `bap dashboard`.

    serve(settings)                       # blocks; http://127.0.0.1:7860
    server = serve(settings, port=0, block=False); server.url; server.close()
    build_app(queries)                    # the gr.Blocks alone (tests)

One web app serves the dashboard at / and the Great Expectations Data Docs under /data-docs/.
Bound to a loopback address it needs no login (unless BAP_DASHBOARD_AUTH is set); bound to any
other address it refuses to start without BAP_DASHBOARD_AUTH, and then both the dashboard and
/data-docs/ require the login.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import gradio as gr
import pandas as pd
import sqlalchemy as sa

from flows.errors import BapError, WarehouseUnavailable
from flows.settings import Settings
from ui import cards, charts
from ui.queries import (
    ALL,
    Cascade,
    DashboardQueries,
    DashboardView,
    Filters,
    export_frame,
    none_if_all,
    open_reader,
)
from ui.theme import CSS, HEAD, make_theme

log = logging.getLogger("bap.dashboard")

DATA_DOCS_PATH: Final[str] = "/data-docs"
CUSTOM: Final[str] = "Custom"
PRESETS: Final[dict[str, int | None]] = {  # name -> days ending at the last loaded day (None = all)
    "Last 7 days": 7,
    "Last 30 days": 30,
    "Last 90 days": 90,
    "Last 365 days": 365,
    "All time": None,
}
DEFAULT_PRESET: Final[str] = "Last 30 days"
_CONCURRENCY: Final[int] = 6  # dashboard events at once (the reader engine pools 10 connections)


class DashboardConfigError(BapError):
    """The dashboard cannot start as configured (e.g. exposed without credentials)."""


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


@dataclass
class Selection:
    filters: Filters
    cascade: Cascade
    preset: str
    notes: list[str] = field(default_factory=list)


class Dashboard:
    """What each event does. Every method takes the filter widgets' values and returns values
    for the output widgets, in the order of `build_app`'s lists."""

    def __init__(
        self,
        queries: DashboardQueries,
        *,
        data_docs_url: str | None = DATA_DOCS_PATH + "/",
        data_docs_dir: Path | None = None,
        export_dir: Path | None = None,
        today: Callable[[], date] = date.today,
    ):
        self.queries = queries
        self.data_docs_url = data_docs_url
        self.data_docs_dir = data_docs_dir
        self.export_dir = export_dir or Path(tempfile.mkdtemp(prefix="bap-dashboard-"))
        self.today = today

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
        *,
        follow_preset: bool = False,
    ) -> Selection:
        notes: list[str] = []
        preset = preset if preset in PRESETS or preset == CUSTOM else DEFAULT_PRESET
        start_day, end_day = parse_day(start), parse_day(end)
        if (start not in (None, "") and start_day is None) or (end not in (None, "") and end_day is None):
            notes.append("A date could not be read (use YYYY-MM-DD); the period's preset is shown instead.")
            start_day = end_day = None
        if (follow_preset and preset != CUSTOM) or start_day is None or end_day is None:
            start_day, end_day = self.preset_range(preset if preset != CUSTOM else DEFAULT_PRESET)
        if start_day > end_day:
            start_day, end_day = end_day, start_day
            notes.append("The start date was after the end date: the two were swapped.")
        geo = self.queries.cascade(none_if_all(region), none_if_all(state), none_if_all(city))
        filters = Filters(
            start=start_day,
            end=end_day,
            region=geo.region,
            state=geo.state,
            city=geo.city,
            channel=none_if_all(channel),
            segment=none_if_all(segment),
        )
        return Selection(filters, geo, self._matching_preset(start_day, end_day), notes)

    # -- outputs ----------------------------------------------------------------------------
    def _export(self, view: DashboardView) -> str | None:
        frame = export_frame(view)
        if frame.empty:
            return None
        data = frame.to_csv(index=False).encode()
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
        return cards.header_html(
            self.queries.freshness(), data_docs_url=self.data_docs_url, data_docs_ready=self._data_docs_ready()
        )

    def render(self, sel: Selection) -> tuple[Any, ...]:
        """All dashboard outputs for a selection (see OUTPUT_NAMES)."""
        view = self.queries.view(sel.filters)
        figures = charts.view_figures(view)
        geo = sel.cascade
        f = sel.filters
        channels = self.queries.channels()
        segments = self.queries.segments()
        notes = list(sel.notes)
        if f.channel is not None and f.channel not in channels:
            notes.append(f"No channel is called “{f.channel}”.")
        if f.segment is not None and f.segment not in segments:
            notes.append(f"No customer segment is called “{f.segment}”.")
        if f.region is not None and f.region not in geo.regions:
            notes.append(f"No region is called “{f.region}”.")
        return (
            gr.update(value=sel.preset),
            gr.update(value=f"{f.start:%Y-%m-%d}"),
            gr.update(value=f"{f.end:%Y-%m-%d}"),
            _dropdown(geo.regions, f.region),
            _dropdown(geo.states, f.state),
            _dropdown(geo.cities, f.city),
            _dropdown(channels, f.channel),
            _dropdown(segments, f.segment),
            self.header(),
            cards.selection_html(view, notes),
            cards.kpi_cards_html(view),
            figures["trend_revenue"],
            figures["trend_failure_rate"],
            figures["trend_avg_processing_s"],
            figures["compare_failure_rate"],
            figures["compare_avg_processing_s"],
            cards.daily_table(view),
            gr.update(value=self._export(view), interactive=not view.empty),
        )

    # -- events -----------------------------------------------------------------------------
    def on_filters(self, preset, start, end, region, state, city, channel, segment) -> tuple[Any, ...]:
        """Any filter changed (or Refresh): re-resolve the cascade and redraw everything."""
        with _warehouse_errors():
            return self.render(self.select(preset, start, end, region, state, city, channel, segment))

    def on_load(self, preset, start, end, region, state, city, channel, segment) -> tuple[Any, ...]:
        """Page load and auto-refresh: a preset period follows the newest loaded day."""
        with _warehouse_errors():
            return self.render(
                self.select(preset, start, end, region, state, city, channel, segment, follow_preset=True)
            )

    def on_preset(self, preset: str | None, start: Any, end: Any) -> tuple[Any, Any]:
        """A preset picked: set the dates (their change events redraw the dashboard)."""
        if preset not in PRESETS:
            return gr.update(), gr.update()
        first, last = self.preset_range(preset)
        return gr.update(value=f"{first:%Y-%m-%d}"), gr.update(value=f"{last:%Y-%m-%d}")

    def on_quality(self, preset, start, end, quarantine_day) -> tuple[Any, ...]:
        """The Quality tab for the selected period (see QUALITY_OUTPUT_NAMES)."""
        with _warehouse_errors():
            return self._quality(preset, start, end, quarantine_day)

    def _quality(self, preset, start, end, quarantine_day) -> tuple[Any, ...]:
        s, e = parse_day(start), parse_day(end)
        if s is None or e is None:
            s, e = self.preset_range(preset)
        s, e = min(s, e), max(s, e)
        report = self.queries.quality(s, e)
        if not report.available:
            message = cards.notice_html(report.message)
            empty = pd.DataFrame()
            return (
                message,
                charts.empty_figure(
                    "Expectations passed per suite",
                    "No quality history yet",
                    "It appears after the first validated load.",
                ),
                empty,
                gr.update(choices=[], value=None),
                empty,
                empty,
            )
        choices = [(f"{d:%Y-%m-%d} · {n} row{'s' if n != 1 else ''}", d.isoformat()) for d, n in report.quarantine_days]
        values = [v for _, v in choices]
        chosen = quarantine_day if quarantine_day in values else (values[0] if values else None)
        reasons, rows = self._quarantine(chosen)
        failures = report.failures.copy()
        if not failures.empty:
            failures["validated_at"] = pd.to_datetime(failures["validated_at"], utc=True).dt.strftime(
                "%Y-%m-%d %H:%M UTC"
            )
        failures = failures.rename(columns=FAILURE_HEADERS)
        message = "" if choices else cards.notice_html("No quarantined rows recorded.")
        return (
            message,
            charts.pass_rate_figure(report.pass_rate, period=(s, e)),
            failures,
            gr.update(choices=choices, value=chosen),
            reasons,
            rows,
        )

    def _quarantine(self, day: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
        parsed = parse_day(day)
        if parsed is None:
            return pd.DataFrame(columns=list(REASON_HEADERS.values())), pd.DataFrame()
        reasons, rows = self.queries.quarantine(parsed)
        return reasons.rename(columns=REASON_HEADERS), rows.rename(columns=QUARANTINE_HEADERS)

    def on_quarantine_day(self, day: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
        with _warehouse_errors():
            return self._quarantine(day)


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


def _dropdown(options: list[str], value: str | None) -> dict[str, Any]:
    return gr.update(choices=[ALL, *options], value=value if value is not None and value in options else ALL)


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
OUTPUT_NAMES: Final[tuple[str, ...]] = (
    "preset",
    "start",
    "end",
    "region",
    "state",
    "city",
    "channel",
    "segment",
    "header",
    "selection",
    "kpis",
    "trend_revenue",
    "trend_failure_rate",
    "trend_avg_processing_s",
    "compare_failure_rate",
    "compare_avg_processing_s",
    "daily_table",
    "csv",
)
QUALITY_OUTPUT_NAMES: Final[tuple[str, ...]] = (
    "quality_message",
    "pass_rate",
    "failures",
    "quarantine_day",
    "quarantine_reasons",
    "quarantine_rows",
)


# ---------------------------------------------------------------------------------------------
# Blocks
# ---------------------------------------------------------------------------------------------


def build_app(
    queries: DashboardQueries,
    *,
    refresh_s: float | None = None,
    data_docs_dir: Path | None = None,
    data_docs_url: str | None = DATA_DOCS_PATH + "/",
) -> gr.Blocks:
    """The dashboard as a gr.Blocks (theme and CSS are applied when it is served)."""
    dash = Dashboard(queries, data_docs_url=data_docs_url, data_docs_dir=data_docs_dir)
    refresh_s = refresh_s or queries.cache.ttl_s
    # The options known now; each refresh replaces them (API clients see these).
    everything = queries.cascade(None, None, None)
    regions, states, cities = [ALL, *everything.regions], [ALL, *everything.states], [ALL, *everything.cities]
    channels, segments = [ALL, *queries.channels()], [ALL, *queries.segments()]
    with gr.Blocks(title="Transactions analytics · batch-analytics-platform", fill_width=True) as demo:
        c: dict[str, Any] = {}
        c["header"] = gr.HTML(
            cards.header_html(queries.freshness(), data_docs_url=None, data_docs_ready=False), elem_classes="bap-bare"
        )
        if queries.notice:
            gr.HTML(cards.notice_html(queries.notice), elem_classes="bap-bare", elem_id="bap-reader-notice")
        with gr.Row(equal_height=True, elem_classes="bap-filters"):
            c["preset"] = gr.Dropdown(
                [*PRESETS, CUSTOM], value=DEFAULT_PRESET, label="Period", min_width=210, elem_id="f-preset"
            )
            c["start"] = gr.DateTime(include_time=False, type="string", label="From", min_width=210, elem_id="f-start")
            c["end"] = gr.DateTime(include_time=False, type="string", label="To", min_width=210, elem_id="f-end")
        with gr.Row(equal_height=True, elem_classes="bap-filters"):
            c["region"] = gr.Dropdown(regions, value=ALL, label="Region", min_width=150, elem_id="f-region")
            c["state"] = gr.Dropdown(states, value=ALL, label="State", min_width=150, elem_id="f-state")
            c["city"] = gr.Dropdown(cities, value=ALL, label="City", min_width=150, elem_id="f-city")
            c["channel"] = gr.Dropdown(channels, value=ALL, label="Channel", min_width=150, elem_id="f-channel")
            c["segment"] = gr.Dropdown(
                segments, value=ALL, label="Customer segment", min_width=150, elem_id="f-segment"
            )
        with gr.Row(equal_height=True, elem_classes="bap-toolbar"):
            c["selection"] = gr.HTML(elem_classes="bap-bare", elem_id="bap-selection", scale=1, min_width=260)
            refresh = gr.Button(
                "↻ Refresh", variant="secondary", size="sm", min_width=100, scale=0, elem_id="f-refresh"
            )
            c["csv"] = gr.DownloadButton(
                "⇩ CSV", variant="secondary", size="sm", min_width=90, scale=0, elem_id="bap-csv"
            )
        c["kpis"] = gr.HTML(elem_classes="bap-bare", elem_id="bap-kpis")
        with gr.Tabs():
            with gr.Tab("Overview", id="overview"):
                c["trend_revenue"] = gr.Plot(show_label=False, elem_classes="bap-chart", elem_id="chart-trend-revenue")
                with gr.Row(equal_height=True):
                    c["trend_failure_rate"] = gr.Plot(
                        show_label=False, elem_classes="bap-chart", min_width=320, elem_id="chart-trend-failure"
                    )
                    c["trend_avg_processing_s"] = gr.Plot(
                        show_label=False, elem_classes="bap-chart", min_width=320, elem_id="chart-trend-processing"
                    )
                with gr.Row(equal_height=True):
                    c["compare_failure_rate"] = gr.Plot(
                        show_label=False, elem_classes="bap-chart", min_width=320, elem_id="chart-compare-failure"
                    )
                    c["compare_avg_processing_s"] = gr.Plot(
                        show_label=False, elem_classes="bap-chart", min_width=320, elem_id="chart-compare-processing"
                    )
                with gr.Accordion("Daily table", open=False, elem_id="bap-daily"):
                    c["daily_table"] = gr.Dataframe(
                        interactive=False, max_height=420, elem_classes="bap-table", show_label=False
                    )
            with gr.Tab("Quality", id="quality"):
                c["quality_message"] = gr.HTML(elem_classes="bap-bare")
                c["pass_rate"] = gr.Plot(show_label=False, elem_classes="bap-chart", elem_id="chart-pass-rate")
                gr.HTML('<div class="bap-section-title">Latest failed expectations</div>', elem_classes="bap-bare")
                c["failures"] = gr.Dataframe(
                    interactive=False, max_height=360, elem_classes="bap-table", show_label=False
                )
                gr.HTML('<div class="bap-section-title">Quarantined rows</div>', elem_classes="bap-bare")
                with gr.Row(elem_classes="bap-filters"):
                    c["quarantine_day"] = gr.Dropdown([], label="Day", min_width=200, elem_id="q-day")
                with gr.Row():
                    c["quarantine_reasons"] = gr.Dataframe(
                        interactive=False, max_height=260, scale=1, elem_classes="bap-table", show_label=False
                    )
                    c["quarantine_rows"] = gr.Dataframe(
                        interactive=False,
                        max_height=360,
                        scale=3,
                        wrap=True,
                        elem_classes="bap-table",
                        show_label=False,
                    )
        timer = gr.Timer(refresh_s)

        inputs = [c[n] for n in ("preset", "start", "end", "region", "state", "city", "channel", "segment")]
        outputs = [c[n] for n in OUTPUT_NAMES]
        quality_in = [c["preset"], c["start"], c["end"], c["quarantine_day"]]
        quality_out = [c[n] for n in QUALITY_OUTPUT_NAMES]
        common = dict(concurrency_limit=_CONCURRENCY, concurrency_id="warehouse")
        gr.on(
            [demo.load, timer.tick],
            dash.on_load,
            inputs=inputs,
            outputs=outputs,
            api_visibility="private",
            show_progress="hidden",
            trigger_mode="always_last",
            **common,
        )
        gr.on(
            [
                c["start"].change,
                c["end"].change,
                c["region"].input,
                c["state"].input,
                c["city"].input,
                c["channel"].input,
                c["segment"].input,
                refresh.click,
            ],
            dash.on_filters,
            inputs=inputs,
            outputs=outputs,
            api_name="filters",
            show_progress="minimal",
            trigger_mode="always_last",
            **common,
        )
        c["preset"].input(
            dash.on_preset,
            inputs=[c["preset"], c["start"], c["end"]],
            outputs=[c["start"], c["end"]],
            api_visibility="private",
            show_progress="hidden",
        )
        gr.on(
            [demo.load, timer.tick, c["start"].change, c["end"].change],
            dash.on_quality,
            inputs=quality_in,
            outputs=quality_out,
            api_visibility="private",
            show_progress="hidden",
            trigger_mode="always_last",
            **common,
        )
        c["quarantine_day"].input(
            dash.on_quarantine_day,
            inputs=[c["quarantine_day"]],
            outputs=[c["quarantine_reasons"], c["quarantine_rows"]],
            api_visibility="private",
            **common,
        )
    demo.queue(default_concurrency_limit=_CONCURRENCY)
    demo.dashboard = dash  # type: ignore[attr-defined]  # for tests and tooling
    return demo


# ---------------------------------------------------------------------------------------------
# Serving: auth, /data-docs/, the server
# ---------------------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and 'localhost' are loopback; everything else (0.0.0.0 included) is not."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_credentials(auth: str | None) -> tuple[str, str] | None:
    """'user:password' -> (user, password); None when unset. Raises on a malformed value."""
    if auth is None or auth == "":
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise DashboardConfigError("BAP_DASHBOARD_AUTH must look like user:password (both non-empty)")
    return user, password


def required_credentials(host: str, auth: str | None) -> tuple[str, str] | None:
    """The login the dashboard asks for; refuses to expose the warehouse without one."""
    credentials = parse_credentials(auth)
    if credentials is None and not is_loopback(host):
        raise DashboardConfigError(
            f"refusing to serve the dashboard on {host} without a login: set BAP_DASHBOARD_AUTH=user:password, "
            "or bind to 127.0.0.1"
        )
    return credentials


class ProtectedStatic:
    """ASGI wrapper: serve `app` only to a request logged in to the Gradio app (its session
    cookie) or carrying HTTP Basic credentials; otherwise 401 with a link to the login."""

    def __init__(self, app: Any, credentials: tuple[str, str], session_user: Callable[[dict[str, str]], str | None]):
        self.app = app
        self.credentials = credentials
        self.session_user = session_user

    def _basic_ok(self, header: str | None) -> bool:
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        ok_user = secrets.compare_digest(user.encode(), self.credentials[0].encode())
        ok_password = secrets.compare_digest(password.encode(), self.credentials[1].encode())
        return ok_user and ok_password

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[..., Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request
        from starlette.responses import HTMLResponse

        request = Request(scope)
        if self.session_user(dict(request.cookies)) or self._basic_ok(request.headers.get("authorization")):
            await self.app(scope, receive, send)
            return
        body = (
            "<!doctype html><meta charset='utf-8'><title>Sign in</title>"
            "<body style='font-family:system-ui;background:#070b1a;color:#e8edf7;display:grid;place-items:center;height:90vh'>"
            "<div><h2>Sign in to the dashboard first</h2><p><a style='color:#7dd3fc' href='/'>Open the dashboard</a>, "
            "sign in, then follow its Data Docs link.</p></div></body>"
        )
        response = HTMLResponse(body, status_code=401, headers={"WWW-Authenticate": 'Basic realm="bap dashboard"'})
        await response(scope, receive, send)


class DataDocsFiles:
    """ASGI app: the Data Docs folder as static files, or a plain 404 page while the quality step
    has not built them yet (the folder may appear while the dashboard runs)."""

    def __init__(self, directory: Path):
        from starlette.staticfiles import StaticFiles

        self.directory = directory
        self.files = StaticFiles(directory=str(directory), html=True, check_dir=False)

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[..., Awaitable[None]]
    ) -> None:
        if scope["type"] == "http" and not self.directory.is_dir():
            from starlette.responses import HTMLResponse

            body = (
                "<!doctype html><meta charset='utf-8'><title>Data Docs</title>"
                "<body style='font-family:system-ui;background:#070b1a;color:#e8edf7;display:grid;place-items:center;height:90vh'>"
                "<div><h2>No Data Docs yet</h2><p>They are built by the quality step of the daily pipeline.</p></div></body>"
            )
            await HTMLResponse(body, status_code=404)(scope, receive, send)
            return
        await self.files(scope, receive, send)


def default_data_docs_dir(settings: Settings) -> Path:
    """Where the quality step builds the Data Docs: <data_dir>/quality/data_docs when the data dir
    is local, else <state dir>/quality/data_docs."""
    try:
        from flows.quality import data_docs_index
    except ImportError:  # pragma: no cover - the quality package is part of the project
        pass
    else:
        return data_docs_index(settings).parent
    if settings.data_is_local:
        return Path(settings.data_dir.removeprefix("file://")).expanduser().resolve() / "quality" / "data_docs"
    return settings.local_state_dir / "quality" / "data_docs"


def create_web_app(
    blocks: gr.Blocks,
    *,
    data_docs_dir: Path,
    credentials: tuple[str, str] | None,
) -> Any:
    """FastAPI app: /data-docs/ (static, protected like the dashboard) and the dashboard at /."""
    from fastapi import FastAPI
    from fastapi.responses import RedirectResponse
    from gradio.routes import App as GradioApp

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    static: Any = DataDocsFiles(data_docs_dir)
    holder: dict[str, Any] = {}

    def session_user(cookies: dict[str, str]) -> str | None:
        gradio_app = holder.get("app")
        if gradio_app is None:
            return None
        token = cookies.get(f"access-token-{gradio_app.cookie_id}") or cookies.get(
            f"access-token-unsecure-{gradio_app.cookie_id}"
        )
        return gradio_app.tokens.get(token) if token else None

    if credentials is not None:
        static = ProtectedStatic(static, credentials, session_user)

    @app.get(DATA_DOCS_PATH, include_in_schema=False)
    def _data_docs_root() -> RedirectResponse:
        return RedirectResponse(DATA_DOCS_PATH + "/")

    app.mount(DATA_DOCS_PATH, static, name="data-docs")
    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        auth=credentials,
        auth_message="Transactions analytics: sign in with the dashboard login (BAP_DASHBOARD_AUTH).",
        theme=make_theme(),
        css=CSS,
        head=HEAD,
        footer_links=[],
        show_error=True,
    )
    for route in app.routes:
        if isinstance(getattr(route, "app", None), GradioApp):
            holder["app"] = route.app
    return app


@dataclass
class DashboardServer:
    """A running dashboard. `close()` stops it (and releases its database connections)."""

    url: str
    app: Any
    blocks: gr.Blocks
    queries: DashboardQueries
    _server: Any
    _thread: threading.Thread | None

    def close(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self.queries.close()
        shutil.rmtree(self.blocks.dashboard.export_dir, ignore_errors=True)  # type: ignore[attr-defined]

    def __enter__(self) -> DashboardServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_queries(settings: Settings) -> DashboardQueries:
    """The query module on the configured warehouse, through the read-only role."""
    if settings.dashboard_warehouse_url is not None:
        access = open_reader(settings.dashboard_warehouse_url.get_secret_value(), configured=True)
    else:
        from flows.warehouse.connection import check_connection, make_engine, resolve_url
        from flows.warehouse.migrate import apply_migrations

        url = resolve_url(settings)
        writer = make_engine(url, pool_size=1)
        try:  # reachable and migrated (migration 003 creates the read-only role)
            check_connection(writer)
            apply_migrations(writer)
        finally:
            writer.dispose()
        access = open_reader(url)
    return DashboardQueries(access.engine, ttl_s=settings.dashboard_refresh_s, notice=access.notice)


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
    queries = open_queries(settings)
    if queries.notice:
        log.warning(queries.notice)
    blocks = build_app(queries, refresh_s=settings.dashboard_refresh_s, data_docs_dir=docs_dir)
    app = create_web_app(blocks, data_docs_dir=docs_dir, credentials=credentials)

    sock = socket.socket(socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        queries.engine.dispose()
        raise DashboardConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another --port") from None
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown_host if ':' not in shown_host else f'[{shown_host}]'}:{bound_port}"
    handle = DashboardServer(url, app, blocks, queries, server, None)
    log.info("dashboard serving", extra={"url": url, "login": credentials is not None, "data_docs": str(docs_dir)})
    if block:
        print(f"Dashboard: {url}  (Data Docs: {url}{DATA_DOCS_PATH}/)  Ctrl-C to stop", flush=True)
        try:
            server.run(sockets=[sock])
        finally:
            handle.close()
        return handle
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="bap-dashboard", daemon=True)
    handle._thread = thread
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            handle.close()
            raise DashboardConfigError(f"the dashboard did not start on {url}")
        time.sleep(0.05)
    return handle
