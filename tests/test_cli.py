"""The `bap` command as a user runs it: exit codes, one-line errors, no leaked secrets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.conftest import write_csv


@pytest.fixture
def cli_env(tmp_path: Path, prefect_api: None) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {k: v for k, v in os.environ.items() if not k.startswith("BAP_")}
    env.update(
        BAP_DATA_DIR=str(tmp_path / "data"),
        BAP_LOG_DIR=str(tmp_path / "logs"),
        BAP_RETRY_DELAY_S="0",
        BAP_RETRY_ATTEMPTS="2",
        BAP_EXPECTED_ROWS_PER_DAY="0",
        BAP_QUARANTINE_THRESHOLD="1",
        PREFECT_API_URL=PREFECT_API_URL.value(),
    )
    return env


def bap(env: dict[str, str], *args: str, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


def test_bad_date_is_one_clear_line(cli_env: dict[str, str]) -> None:
    result = bap(cli_env, "run", "--date", "2024-13-01")
    assert result.returncode == 1
    assert "YYYY-MM-DD" in _one_line(result.stderr)


def test_unreachable_warehouse_fails_clearly_without_leaking_the_password(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(cli_env, BAP_WAREHOUSE_URL="postgresql://loader:s3cr3t-pw@127.0.0.1:1/warehouse")
    result = bap(env, "run", "--date", "2024-03-05")
    assert result.returncode == 1
    line = _one_line(result.stderr)
    assert "cannot reach the warehouse" in line and "BAP_WAREHOUSE_URL" in line
    assert "s3cr3t-pw" not in result.stdout + result.stderr
    for log_file in (tmp_path / "logs").glob("*.log"):
        assert "s3cr3t-pw" not in log_file.read_text(), f"password leaked into {log_file.name}"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"a;b;c\n1;2;3\n", "another delimiter"),
        (b"\x00\x01\x02binary", "binary"),
    ],
)
def test_a_file_that_is_not_the_contract_fails_the_day(
    cli_env: dict[str, str], warehouse_url: str, tmp_path: Path, content: bytes, message: str
) -> None:
    landed = tmp_path / "landed.csv"
    landed.write_bytes(content)
    result = bap(dict(cli_env, BAP_WAREHOUSE_URL=warehouse_url), "run", "--date", "2024-03-05", "--input", str(landed))
    assert result.returncode == 1
    assert message in _one_line(result.stderr)


def test_run_then_status_reports_the_accounting(cli_env: dict[str, str], warehouse_url: str, tmp_path: Path) -> None:
    env = dict(cli_env, BAP_WAREHOUSE_URL=warehouse_url)
    rows = [
        {
            "transaction_id": "A1",
            "transaction_ts": "2024-03-05T01:00:00Z",
            "customer_id": "C1",
            "city": "Pune",
            "state": "Maharashtra",
            "channel": "UPI",
            "amount": "10.00",
            "status": "SUCCESS",
            "processing_time_s": "1",
        },
        {
            "transaction_id": "A2",
            "transaction_ts": "2024-03-05T01:00:00Z",
            "customer_id": "C1",
            "city": "Pune",
            "state": "Maharashtra",
            "channel": "UPI",
            "amount": "-1",
            "status": "SUCCESS",
            "processing_time_s": "1",
        },
    ]
    landed = write_csv(tmp_path / "in.csv", rows)
    result = bap(env, "run", "--date", "2024-03-05", "--input", str(landed))
    assert result.returncode == 0, result.stderr
    assert "2 received, 1 loaded, 1 quarantined (amount_not_positive: 1)" in result.stdout
    status = bap(env, "status", "--start", "2024-03-04", "--end", "2024-03-05")
    assert status.returncode == 0, status.stderr
    assert "2024-03-05" in status.stdout and "amount_not_positive: 1" in status.stdout
    assert "1 day(s) in the range have never been run" in status.stdout
    assert (tmp_path / "logs" / "load.log").read_text().count('"day loaded"') == 1


def _postgres_for(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(cmdline):
            found.append(proc)
    return found


def test_embedded_default_warehouse_starts_on_demand_is_reused_and_not_orphaned(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(cli_env)
    env.pop("BAP_WAREHOUSE_URL", None)
    result = bap(env, "run", "--date", "2024-03-05")
    assert result.returncode == 0, result.stderr
    pgdata = (tmp_path / "data" / "warehouse" / "pgdata").resolve()
    assert (pgdata / "PG_VERSION").exists(), "the embedded warehouse keeps its data under the data directory"

    status = bap(env, "status", "--start", "2024-03-05", "--end", "2024-03-05")
    assert status.returncode == 0, status.stderr
    assert "500" in status.stdout, "a later command sees the same warehouse"
    url = bap(env, "warehouse", "url")
    assert "host=" in url.stdout and str(pgdata) in url.stdout
    assert _postgres_for(pgdata) == [], "no embedded server is left running after the commands exit"


def test_a_password_in_the_warehouse_url_never_reaches_output_or_logs(
    cli_env: dict[str, str], warehouse_url: str, tmp_path: Path
) -> None:
    from sqlalchemy.engine import make_url

    secret = "pw-Never-Print-Me-42"
    url = make_url(warehouse_url).set(password=secret).render_as_string(hide_password=False)
    env = dict(cli_env, BAP_WAREHOUSE_URL=url)  # the local server's trust auth ignores the password
    run = bap(env, "run", "--date", "2024-03-05")
    assert run.returncode == 0, run.stderr
    shown = bap(env, "warehouse", "url")
    assert "***" in shown.stdout
    status = bap(env, "status", "--start", "2024-03-05", "--end", "2024-03-05")
    texts = [run.stdout, run.stderr, shown.stdout, shown.stderr, status.stdout, status.stderr]
    texts += [p.read_text(errors="replace") for p in (tmp_path / "logs").rglob("*") if p.is_file()]
    assert not [t for t in texts if secret in t], "the password leaked"


def test_secrets_files_are_never_committed() -> None:
    root = Path(__file__).resolve().parents[1]
    ignored = subprocess.run(["git", "check-ignore", ".env", ".env.production"], capture_output=True, cwd=root)
    assert ignored.returncode == 0 and ignored.stdout.split() == [b".env", b".env.production"], (
        ".env files are ignored by git"
    )
    assert (root / ".env.example").exists(), "an example file documents the variables"
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True).stdout.split()
    assert not [f for f in tracked if Path(f).name.startswith(".env") and f != ".env.example"]


def test_a_user_killed_without_exit_hooks_does_not_keep_the_embedded_warehouse_alive(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(cli_env)
    env.pop("BAP_WAREHOUSE_URL", None)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from flows.settings import get_settings; from flows.steps import engine_of; "
            "engine_of(get_settings()); print('ready', flush=True); time.sleep(600)",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
    pgdata = (tmp_path / "data" / "warehouse" / "pgdata").resolve()
    assert _postgres_for(pgdata), "the embedded server runs while a user holds it"
    holder.kill()  # SIGKILL: its exit hooks never run
    holder.wait()
    status = bap(env, "status", "--start", "2024-03-05", "--end", "2024-03-05")
    assert status.returncode == 0, status.stderr
    assert _postgres_for(pgdata) == [], "the last live user stops the server"


def test_sigterm_stops_the_dashboard_and_releases_the_embedded_warehouse(tmp_path: Path) -> None:
    from tests.orchestration.conftest import free_port
    from tests.orchestration.test_stack import Bap, postgres_for

    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAP_", "PREFECT_"))}
    env.update(BAP_DATA_DIR=str(tmp_path / "data"), BAP_LOG_DIR=str(tmp_path / "logs"))
    assert bap(env, "warehouse", "init").returncode == 0
    port = free_port()
    dashboard = Bap(env, "dashboard", "--port", str(port))
    dashboard.wait_for(f"http://127.0.0.1:{port}", timeout_s=120)
    procs = dashboard.everything_started(tmp_path / "data")
    assert postgres_for(tmp_path / "data" / "warehouse" / "pgdata"), "the dashboard holds the embedded warehouse"
    assert dashboard.stop(signal.SIGTERM, timeout_s=60) == 0, dashboard.output
    assert [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == [], dashboard.output
    assert "Dashboard stopped." in dashboard.output


def test_bap_docs_builds_the_data_docs_and_says_where_the_dashboard_serves_them(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAP_", "PREFECT_"))}
    env.update(BAP_DATA_DIR=str(tmp_path / "data"), BAP_LOG_DIR=str(tmp_path / "logs"), BAP_DASHBOARD_PORT="7999")
    result = bap(env, "docs")
    assert result.returncode == 0, result.stderr
    assert "http://127.0.0.1:7999/data-docs/" in result.stdout
    assert Path(result.stdout.split("Data Docs built: ")[1].split()[0]).exists()
