"""The app's event functions and web app: outputs, cascade, hostile filter values, login."""

from __future__ import annotations

import base64
import socket
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from flows.settings import Settings
from tests.ui.conftest import figure
from ui import cards
from ui.app import (
    OUTPUT_NAMES,
    QUALITY_OUTPUT_NAMES,
    Dashboard,
    DashboardConfigError,
    build_app,
    is_loopback,
    parse_day,
    required_credentials,
    serve,
)
from ui.queries import DashboardQueries, open_reader

ALL = "All"
HOSTILE = [
    "UPI' OR '1'='1",
    "'; DROP TABLE fact_transactions; --",
    "UPI'); DELETE FROM load_audit; --",
    'x" OR 1=1 /* comment */',
    "South'::text) OR (1=1",
    "Retail\\'; SELECT pg_sleep(5); --",
]


@pytest.fixture(scope="module")
def dashboard(small_warehouse: str) -> Iterator[Dashboard]:
    access = open_reader(small_warehouse)
    queries = DashboardQueries(access.engine, ttl_s=600)
    blocks = build_app(queries)
    yield blocks.dashboard  # type: ignore[attr-defined]
    access.engine.dispose()


def out(result: tuple, name: str):
    return result[OUTPUT_NAMES.index(name)]


def _table_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        counts = {
            t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
            for t in (
                "fact_transactions",
                "agg_daily_city",
                "agg_daily_region",
                "dim_channel",
                "dim_city",
                "dim_customer",
                "load_audit",
            )
        }
    engine.dispose()
    return counts


def test_page_load_follows_the_preset_to_the_last_loaded_day(dashboard: Dashboard) -> None:
    result = dashboard.on_load("Last 30 days", None, None, ALL, ALL, ALL, ALL, ALL)
    assert len(result) == len(OUTPUT_NAMES)
    assert out(result, "start")["value"] == "2023-12-12" and out(result, "end")["value"] == "2024-01-10"
    assert out(result, "preset")["value"] == "Last 30 days"
    kpis = out(result, "kpis")
    assert 'data-kpi="txn_count" data-value="36"' in kpis  # every fact of the 10 days
    assert 'data-kpi="revenue" data-value="142.50"' in kpis  # 27.5 + 115
    assert out(result, "region")["choices"] == [ALL, "South", "West"]
    assert out(result, "channel")["choices"] == [ALL, "Credit Card", "Debit Card", "UPI", "Net Banking"]
    assert "Data as of <b>10 Jan 2024</b>" in out(result, "header")
    assert figure(out(result, "trend_revenue")).layout.title.text.startswith("Revenue per day by channel")
    assert len(out(result, "daily_table")["data"]) == 10 and out(result, "daily_note") == ""
    assert Path(out(result, "csv")).read_text().startswith("date,transactions,failed")


def test_changing_the_channel_changes_kpis_and_charts(dashboard: Dashboard) -> None:
    before = dashboard.on_filters("Custom", "2024-01-06", "2024-01-10", ALL, ALL, ALL, ALL, ALL)
    after = dashboard.on_filters("Custom", "2024-01-06", "2024-01-10", ALL, ALL, ALL, "UPI", ALL)
    assert 'data-kpi="txn_count" data-value="21"' in out(before, "kpis")
    assert 'data-kpi="txn_count" data-value="6"' in out(after, "kpis")
    assert figure(out(after, "compare_failure_rate")).layout.title.text.startswith("Failure rate by region · UPI")
    assert figure(out(after, "trend_failure_rate")).layout.title.text.startswith("Failure rate per day by region")
    assert out(after, "preset") == "Custom"  # 6-10 January is no preset's period


def test_the_cascade_narrows_and_a_parent_change_resets_impossible_children(dashboard: Dashboard) -> None:
    west = dashboard.on_filters("Last 30 days", "2023-12-12", "2024-01-10", "West", ALL, ALL, ALL, ALL)
    assert out(west, "state")["choices"] == [ALL, "Gujarat", "Maharashtra"]
    assert out(west, "city")["choices"] == [ALL, "Ahmedabad", "Mumbai", "Pune"]
    pune = dashboard.on_filters("Last 30 days", "2023-12-12", "2024-01-10", "West", "Maharashtra", "Pune", ALL, ALL)
    assert out(pune, "city")["choices"] == [ALL, "Mumbai", "Pune"] and out(pune, "city")["value"] == "Pune"
    south = dashboard.on_filters("Last 30 days", "2023-12-12", "2024-01-10", "South", "Maharashtra", "Pune", ALL, ALL)
    assert out(south, "state")["value"] == ALL and out(south, "city")["value"] == ALL
    assert out(south, "state")["choices"] == [ALL, "Karnataka", "Tamil Nadu"]
    assert 'data-kpi="txn_count" data-value="15"' in out(south, "kpis")  # T2 x 10 + T4 x 5


def test_a_selection_without_rows_shows_the_no_data_state(dashboard: Dashboard) -> None:
    result = dashboard.on_filters("Custom", "2024-01-06", "2024-01-10", "South", ALL, ALL, "Debit Card", ALL)
    assert 'data-empty="true"' in out(result, "kpis")
    for name in ("trend_revenue", "compare_failure_rate"):
        assert "No data for this selection" in figure(out(result, name)).layout.annotations[0].text
    assert out(result, "csv") is None  # nothing to download


def test_dates_are_swapped_or_rejected_rather_than_trusted(dashboard: Dashboard) -> None:
    swapped = dashboard.on_filters("Custom", "2024-01-10", "2024-01-06", ALL, ALL, ALL, ALL, ALL)
    assert out(swapped, "start") == "2024-01-06" and "swapped" in out(swapped, "selection")
    crafted = dashboard.on_filters(
        "Custom", "2024-01-06'; DROP TABLE load_audit; --", "2024-01-10", ALL, ALL, ALL, ALL, ALL
    )
    assert "could not be read" in out(crafted, "selection")
    assert parse_day("2024-01-06 00:00:00") is not None and parse_day("2024-01-06 OR 1=1") is None


@pytest.mark.parametrize("field", ["region", "state", "city", "channel", "segment"])
@pytest.mark.parametrize("value", HOSTILE)
def test_a_filter_value_crafted_as_sql_is_a_plain_value(
    dashboard: Dashboard, small_warehouse: str, field: str, value: str
) -> None:
    before = _table_counts(small_warehouse)
    filters = {"region": ALL, "state": ALL, "city": ALL, "channel": ALL, "segment": ALL, field: value}
    result = dashboard.on_filters(
        "Custom",
        "2024-01-01",
        "2024-01-10",
        filters["region"],
        filters["state"],
        filters["city"],
        filters["channel"],
        filters["segment"],
    )
    # matched as a value it is not: no rows (never "everything", never an error)
    assert 'data-empty="true"' in out(result, "kpis")
    assert 'data-kpi="txn_count" data-value=""' in out(result, "kpis")
    assert _table_counts(small_warehouse) == before


def test_quality_tab_without_history_says_so(dashboard: Dashboard) -> None:
    result = dashboard.on_quality("Last 30 days", "2023-12-12", "2024-01-10", None)
    assert len(result) == len(QUALITY_OUTPUT_NAMES)
    assert "No quality history yet" in result[0]
    assert "No quality history" in figure(result[1]).layout.annotations[0].text


# --- the served app: API, login, /data-docs/ ----------------------------------------------------------


def _settings(url: str, tmp_path: Path, **extra: object) -> Settings:
    return Settings(warehouse_url=url, data_dir=str(tmp_path / "data"), dashboard_refresh_s=600, **extra)


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.html").write_text("<h1>Data Docs index</h1>")
    return docs


def test_the_api_rejects_or_neutralises_crafted_values(small_warehouse: str, tmp_path: Path, docs_dir: Path) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    before = _table_counts(small_warehouse)
    with serve(_settings(small_warehouse, tmp_path), port=0, data_docs_dir=docs_dir, block=False) as server:
        client = Client(server.url + "/", verbose=False)
        result = client.predict(
            "Last 30 days", "2023-12-12", "2024-01-10", ALL, ALL, ALL, "UPI", ALL, api_name="/filters"
        )
        assert 'data-kpi="txn_count" data-value="11"' in result[OUTPUT_NAMES.index("kpis")]
        for value in HOSTILE:
            with pytest.raises(AppError, match="not in the list of choices"):
                client.predict(
                    "Last 30 days", "2023-12-12", "2024-01-10", ALL, ALL, ALL, value, ALL, api_name="/filters"
                )
        crafted_date = client.predict(
            "Custom", "2024-01-01' OR '1'='1", "2024-01-10", ALL, ALL, ALL, ALL, ALL, api_name="/filters"
        )
        assert "could not be read" in crafted_date[OUTPUT_NAMES.index("selection")]
    assert _table_counts(small_warehouse) == before


@pytest.mark.parametrize(
    "host, auth, expected",
    [
        ("127.0.0.1", None, None),
        ("localhost", None, None),
        ("::1", None, None),
        ("127.0.0.1", "ana:secret", ("ana", "secret")),
        ("0.0.0.0", "ana:s:e:c", ("ana", "s:e:c")),
        ("0.0.0.0", None, DashboardConfigError),
        ("192.168.1.20", None, DashboardConfigError),
        ("::", None, DashboardConfigError),
        ("0.0.0.0", "no-password", DashboardConfigError),
        ("0.0.0.0", ":secret", DashboardConfigError),
    ],
)
def test_credentials_are_required_beyond_loopback(host: str, auth: str | None, expected: object) -> None:
    if expected is DashboardConfigError:
        with pytest.raises(DashboardConfigError):
            required_credentials(host, auth)
    else:
        assert required_credentials(host, auth) == expected


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_refuses_a_public_address_without_credentials(small_warehouse: str, tmp_path: Path) -> None:
    with pytest.raises(DashboardConfigError, match="BAP_DASHBOARD_AUTH"):
        serve(_settings(small_warehouse, tmp_path), host="0.0.0.0", port=0, block=False)


def test_login_protects_the_dashboard_and_the_data_docs(small_warehouse: str, tmp_path: Path, docs_dir: Path) -> None:
    settings = _settings(small_warehouse, tmp_path, dashboard_auth="ana:s3cret")
    with serve(settings, host="0.0.0.0", port=0, data_docs_dir=docs_dir, block=False) as server:
        base = server.url
        with httpx.Client(base_url=base, timeout=20) as anonymous:
            assert anonymous.get("/config").status_code == 401
            assert anonymous.get("/gradio_api/info").status_code == 401
            docs = anonymous.get("/data-docs/")
            assert docs.status_code == 401 and "Data Docs index" not in docs.text
            assert anonymous.get("/data-docs/index.html").status_code == 401
            wrong = base64.b64encode(b"ana:nope").decode()
            assert anonymous.get("/data-docs/", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
            right = base64.b64encode(b"ana:s3cret").decode()
            basic = anonymous.get("/data-docs/", headers={"Authorization": f"Basic {right}"})
            assert basic.status_code == 200 and "Data Docs index" in basic.text
        with httpx.Client(base_url=base, timeout=20) as browser:
            assert browser.post("/login", data={"username": "ana", "password": "wrong"}).status_code == 400
            assert browser.post("/login", data={"username": "ana", "password": "s3cret"}).status_code == 200
            assert browser.get("/config").status_code == 200
            page = browser.get("/data-docs/")
            assert page.status_code == 200 and "Data Docs index" in page.text


def test_loopback_without_credentials_serves_openly(small_warehouse: str, tmp_path: Path, docs_dir: Path) -> None:
    with serve(_settings(small_warehouse, tmp_path), port=0, data_docs_dir=docs_dir, block=False) as server:
        assert server.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=server.url, timeout=20) as client:
            assert client.get("/config").status_code == 200
            assert "Data Docs index" in client.get("/data-docs/").text
            assert client.get("/data-docs/missing.html").status_code == 404


def test_data_docs_not_built_yet_is_a_plain_404(small_warehouse: str, tmp_path: Path) -> None:
    missing = tmp_path / "not-built"
    with serve(_settings(small_warehouse, tmp_path), port=0, data_docs_dir=missing, block=False) as server:
        with httpx.Client(base_url=server.url, timeout=20) as client:
            page = client.get("/data-docs/")
            assert page.status_code == 404 and "No Data Docs yet" in page.text
            missing.mkdir()  # the quality step builds them while the dashboard runs
            (missing / "index.html").write_text("<h1>Data Docs index</h1>")
            assert "Data Docs index" in client.get("/data-docs/").text


def test_serve_says_which_port_is_taken(small_warehouse: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(DashboardConfigError, match="cannot listen"):
            serve(_settings(small_warehouse, tmp_path), port=port, block=False)


# --- the read-only role where the warehouse user may not create roles ---------------------------------


def test_migrations_and_dashboard_work_for_a_user_without_createrole(pg_admin_url: str, tmp_path: Path) -> None:
    from flows.warehouse.connection import make_engine
    from flows.warehouse.migrate import apply_migrations

    role = f"bap_test_plain_{uuid.uuid4().hex[:8]}"
    database = f"bap_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        try:
            conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN NOCREATEROLE NOSUPERUSER')
        except sa.exc.ProgrammingError:
            pytest.skip("the test server does not let this user create roles")
        conn.exec_driver_sql(f'CREATE DATABASE "{database}" OWNER "{role}"')
    url = make_url(pg_admin_url).set(database=database, username=role, password=None)
    url_text = url.render_as_string(hide_password=False)
    try:
        engine = make_engine(url_text)
        apply_migrations(engine)  # migration 003 must not fail
        engine.dispose()
        access = open_reader(url_text)
        assert access.mode == "read_only_transactions"
        assert role in access.notice
        with access.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only"):
            conn.exec_driver_sql("DELETE FROM load_audit")
        access.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        admin.dispose()


def test_an_empty_warehouse_shows_an_empty_dashboard(engine: sa.Engine, warehouse_url: str) -> None:
    access = open_reader(warehouse_url)
    dash = build_app(DashboardQueries(access.engine)).dashboard  # type: ignore[attr-defined]
    result = dash.on_load("Last 30 days", None, None, ALL, ALL, ALL, ALL, ALL)
    assert 'data-empty="true"' in out(result, "kpis")
    assert "No day loaded yet" in out(result, "header")
    assert "No data for this selection" in figure(out(result, "trend_revenue")).layout.annotations[0].text
    assert "No quality history yet" in dash.on_quality("Last 30 days", None, None, None)[0]
    access.engine.dispose()


def test_auto_refresh_ticks_every_refresh_period(dashboard: Dashboard) -> None:
    import gradio as gr

    blocks = build_app(dashboard.queries, refresh_s=42)
    timers = [b for b in blocks.blocks.values() if isinstance(b, gr.Timer)]
    assert [t.value for t in timers] == [42]
    assert dashboard.queries.ttl_s == 600  # the cache TTL comes from the same setting in serve()


def test_an_unreachable_warehouse_is_one_clear_message(dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio as gr

    def down(*_args: object, **_kwargs: object) -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(dashboard.queries, "view", down)
    with pytest.raises(gr.Error, match="cannot be reached"):
        dashboard.on_filters("Custom", "2024-01-01", "2024-01-02", ALL, ALL, ALL, "Debit Card", ALL)


# --- empty tables are said in words -------------------------------------------------------------------


def test_an_empty_table_says_so_in_words_never_with_placeholder_headers(dashboard: Dashboard) -> None:
    result = dashboard.on_filters("Custom", "2024-01-06", "2024-01-10", "South", ALL, ALL, "Debit Card", ALL)
    assert out(result, "daily_table") == {"headers": list(cards.DAILY_COLUMNS), "data": []}  # real headers, no rows
    assert "No days with data in this selection." in out(result, "daily_note")
    quality = dict(
        zip(QUALITY_OUTPUT_NAMES, dashboard.on_quality("Custom", "2024-01-01", "2024-01-10", None), strict=True)
    )
    for name in ("failures", "quarantine_reasons", "quarantine_rows"):
        assert quality[name]["visible"] is False, name
    assert "No failed expectations recorded." in quality["failures_note"]
    assert "No quarantined rows recorded." in quality["quarantine_note"]
    assert quality["quarantine_day"]["visible"] is False


# --- the render cache shared by every session -----------------------------------------------------------


def test_a_second_identical_view_from_another_session_is_served_from_the_render_cache(
    warehouse_url: str, tmp_path: Path, docs_dir: Path
) -> None:
    from gradio_client import Client

    from tests.ui.conftest import build_small_warehouse

    build_small_warehouse(warehouse_url)
    args = ("Last 30 days", "2023-12-12", "2024-01-10", "West", ALL, ALL, ALL, ALL)
    with serve(_settings(warehouse_url, tmp_path), port=0, data_docs_dir=docs_dir, block=False) as server:
        dash = server.blocks.dashboard  # type: ignore[attr-defined]
        first = Client(server.url + "/", verbose=False).predict(*args, api_name="/filters")
        views, hits = server.queries.misses, dash.render_hits
        second = Client(server.url + "/", verbose=False).predict(*args, api_name="/filters")  # another session
        assert dash.render_hits == hits + 1  # rendered once, served twice
        assert server.queries.misses == views  # not even the view's data was looked up again
        assert second[OUTPUT_NAMES.index("kpis")] == first[OUTPUT_NAMES.index("kpis")]
        other = ("Last 30 days", "2023-12-12", "2024-01-10", "South", ALL, ALL, ALL, ALL)
        Client(server.url + "/", verbose=False).predict(*other, api_name="/filters")
        assert dash.render_misses == 2  # a different selection is a different view


def test_the_render_cache_drops_when_a_load_lands(warehouse_url: str) -> None:
    from tests.ui.conftest import Fact, add_day, build_small_warehouse

    build_small_warehouse(warehouse_url)
    access = open_reader(warehouse_url)
    dash = build_app(DashboardQueries(access.engine, version_check_s=0)).dashboard  # type: ignore[attr-defined]
    args = ("Custom", "2024-01-01", "2024-01-11", ALL, ALL, ALL, ALL, ALL)
    first, again = dash.on_filters(*args), dash.on_filters(*args)
    assert 'data-kpi="txn_count" data-value="36"' in out(first, "kpis")
    assert out(again, "kpis") == out(first, "kpis")
    assert (dash.render_misses, dash.render_hits) == (1, 1)
    assert out(again, "trend_revenue") is out(first, "trend_revenue")  # serialised once, sent twice
    writer = sa.create_engine(warehouse_url, poolclass=sa.pool.NullPool)
    with writer.begin() as conn:  # the pipeline loads 11 January
        add_day(conn, date(2024, 1, 11), [Fact("T9", "UPI", 1, 1, "SUCCESS", 10.0, 0.05, 1.0)])
    writer.dispose()
    assert 'data-kpi="txn_count" data-value="37"' in out(dash.on_filters(*args), "kpis")
    assert dash.render_misses == 2 and len(dash.rendered) == 1  # the old data's renders are gone
    access.engine.dispose()


# --- the dashboard reads and never writes ----------------------------------------------------------------


def test_an_uninitialised_warehouse_is_said_and_left_untouched(warehouse_url: str, tmp_path: Path) -> None:
    with serve(_settings(warehouse_url, tmp_path), port=0, block=False) as server:
        dash = server.blocks.dashboard  # type: ignore[attr-defined]
        result = dash.on_load("Last 30 days", None, None, ALL, ALL, ALL, ALL, ALL)
        assert "bap warehouse init" in out(result, "header")
        assert 'data-empty="true"' in out(result, "kpis")
        with httpx.Client(base_url=server.url, timeout=20) as client:
            assert client.get("/config").status_code == 200
    engine = sa.create_engine(warehouse_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        tables = conn.exec_driver_sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").scalar()
    engine.dispose()
    assert tables == 0  # no migration ran: only the pipeline and `bap warehouse init` create the schema


def test_a_closed_daily_table_is_not_sent_with_each_change(dashboard: Dashboard) -> None:
    args = ("Last 30 days", "2023-12-12", "2024-01-10", ALL, ALL, ALL, ALL, ALL, "transaction")
    closed = dashboard.on_filters(*args, False)
    assert out(closed, "daily_table")["data"] == [] and out(closed, "daily_note") == ""  # no rows sent
    table, note, is_open = dashboard.on_daily(*args, False)
    assert len(table["data"]) == 10 and note == "" and is_open is True


def test_a_filter_change_returns_plain_values_except_the_cascading_dropdowns(dashboard: Dashboard) -> None:
    """Gradio rebuilds a component for every update dict (gr.skip() included): a filter change
    sends updates only for the state and city dropdowns, whose choices follow the region; the
    page load also refreshes every dropdown's choices."""
    args = ("Last 30 days", "2023-12-12", "2024-01-10", "West", ALL, ALL, ALL, ALL, "transaction")
    changed = dashboard.on_filters(*args, False)
    updates = [name for name, value in zip(OUTPUT_NAMES, changed, strict=True) if isinstance(value, dict)]
    assert updates == ["state", "city", "daily_table"]  # the table's value is a plain {"headers", "data"}
    assert "__type__" not in out(changed, "daily_table")
    loaded = dashboard.on_load(*args, False)
    assert all(out(loaded, name)["__type__"] == "update" for name in ("preset", "region", "channel", "segment"))
    assert out(loaded, "kpis") is out(changed, "kpis")  # one render serves both


def test_the_segment_radio_is_part_of_the_selection_and_of_the_render_cache_key(dashboard: Dashboard) -> None:
    args = ("Custom", "2024-01-06", "2024-01-10", ALL, ALL, "Pune", "UPI", ALL)
    then, now = dashboard.select(*args, "transaction"), dashboard.select(*args, "current")
    assert (then.filters.segment_as, now.filters.segment_as) == ("transaction", "current")
    assert dashboard.select(*args).filters.segment_as == "transaction"  # API clients that do not send it
    assert dashboard.select(*args, "<crafted>").filters.segment_as == "transaction"
    assert then.key() != now.key()
    misses = dashboard.render_misses
    shown_then, shown_now = dashboard.on_filters(*args, "transaction"), dashboard.on_filters(*args, "current")
    assert dashboard.render_misses == misses + 2  # two views, rendered once each
    assert "by current segment" in figure(out(shown_now, "trend_revenue")).layout.title.text
    assert "by segment at transaction time" in figure(out(shown_then, "trend_revenue")).layout.title.text
    assert out(shown_now, "segment_as") == "current"
