"""The on-demand local Prefect server: one per port even under concurrent commands, reused, stopped cleanly."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from flows.errors import BapError
from flows.orchestration.local_server import (
    _recorded_pid,
    is_healthy,
    server_env,
    server_home,
    start_local_server,
    stop_local_server,
)
from flows.settings import Settings
from tests.orchestration.conftest import free_port

ENSURE = (
    "import sys, time; from flows.settings import Settings; "
    "from flows.orchestration.local_server import ensure_local_server; "
    "t = time.monotonic(); url = ensure_local_server(Settings()); print(url, time.monotonic() - t)"
)


def _settings(tmp_path: Path, port: int) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), log_dir=str(tmp_path / "logs"), prefect_port=port)


def _servers_on(port: int) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "server" in cmd and "start" in cmd and str(port) in cmd:
            found.append(proc)
    return found


@pytest.mark.prefect_server
@pytest.mark.slow
def test_two_commands_at_once_start_one_server_that_later_commands_reuse_and_stop_ends(tmp_path: Path) -> None:
    port = free_port()
    settings = _settings(tmp_path, port)
    env = {
        **os.environ,
        "BAP_DATA_DIR": settings.data_dir,
        "BAP_LOG_DIR": settings.log_dir,
        "BAP_PREFECT_PORT": str(port),
    }
    env.pop("PREFECT_API_URL", None)
    commands = [
        subprocess.Popen(
            [sys.executable, "-c", ENSURE], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [c.communicate(timeout=180) for c in commands]
    try:
        assert [c.returncode for c in commands] == [0, 0], outputs
        urls = {out.split()[0] for out, _ in outputs}
        assert urls == {f"http://127.0.0.1:{port}/api"}
        assert sum("Starting the local Prefect server" in err for _, err in outputs) == 1, (
            "exactly one command starts it"
        )
        assert len(_servers_on(port)) == 1
        cold_s = max(float(out.split()[1]) for out, _ in outputs)

        started = time.monotonic()
        again = start_local_server(settings)
        warm_call_s = time.monotonic() - started
        assert not again.started and again.pid == _servers_on(port)[0].pid
        assert warm_call_s < 1.0, "the everyday path is one health request"
        assert (server_home(settings) / "prefect.db").exists(), "the server's database lives in the state dir"
        assert server_home(settings).is_relative_to(Path(settings.data_dir).resolve())

        assert stop_local_server(settings)
        assert _servers_on(port) == [] and not is_healthy(again.api_url)
        assert not stop_local_server(settings), "nothing left to stop"

        started = time.monotonic()
        restarted = start_local_server(settings)
        restart_s = time.monotonic() - started
        assert restarted.started and is_healthy(restarted.api_url)
        print(
            f"\nlocal Prefect server: cold start {cold_s:.1f} s, "
            f"reuse {warm_call_s * 1000:.0f} ms, restart {restart_s:.1f} s"
        )
    finally:
        stop_local_server(settings)
    assert _servers_on(port) == []


def test_a_stale_or_reused_pid_is_not_taken_for_the_server(tmp_path: Path) -> None:
    home = tmp_path / "prefect"
    home.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for pid, port in [(dead.pid, 4200), (os.getpid(), 4200)]:  # gone; alive but not a Prefect server
        (home / "server.pid").write_text(json.dumps({"pid": pid, "port": port}))
        assert _recorded_pid(home, 4200) is None
    (home / "server.pid").write_text("not json")
    assert _recorded_pid(home, 4200) is None


def test_a_port_held_by_something_else_is_a_clear_error(tmp_path: Path) -> None:
    class NotPrefect(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    squatter = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotPrefect)
    threading.Thread(target=squatter.serve_forever, daemon=True).start()
    try:
        with pytest.raises(
            BapError, match="in use by something that is not a healthy Prefect server.*BAP_PREFECT_PORT"
        ):
            start_local_server(_settings(tmp_path, squatter.server_port))
    finally:
        squatter.shutdown()
        squatter.server_close()


@pytest.mark.slow
def test_a_server_that_cannot_start_fails_with_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    settings = _settings(tmp_path, free_port())
    with pytest.raises(BapError, match="exited before it was ready|did not become healthy") as error:
        start_local_server(settings, timeout_s=60)
    assert "prefect-server.log" in str(error.value)
    assert _servers_on(settings.prefect_port) == []
    assert not (server_home(settings) / "server.pid").exists()


def test_the_server_gets_its_own_home_and_no_client_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://elsewhere:4200/api")
    monkeypatch.setenv("PREFECT_PROFILE", "cloud")
    env = server_env(tmp_path / "prefect")
    assert env["PREFECT_HOME"] == str(tmp_path / "prefect")
    assert "PREFECT_API_URL" not in env and "PREFECT_PROFILE" not in env
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
