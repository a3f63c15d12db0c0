"""The local Prefect server: Prefect's own background server, one per state folder, reused, stopped cleanly."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from flows.errors import BapError
from flows.orchestration.local_stack import (
    ensure_local_server,
    is_healthy,
    local_api_url,
    server_home,
    server_process,
    stop_local_server,
)
from flows.settings import Settings
from tests.orchestration.conftest import free_port

ENSURE = (
    "import time; from flows.settings import Settings; "
    "from flows.orchestration.local_stack import ensure_local_server; "
    "t = time.monotonic(); started = ensure_local_server(Settings()); print(started, time.monotonic() - t)"
)


def _settings(tmp_path: Path, port: int) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), log_dir=str(tmp_path / "logs"), prefect_port=port)


def _servers_on(port: int) -> list[psutil.Process]:
    return [
        proc
        for proc in psutil.process_iter(["cmdline"])
        if "prefect.server.api.server:create_app" in (cmd := proc.info["cmdline"] or []) and str(port) in cmd
    ]


@contextmanager
def _http_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


class _Answer(http.server.BaseHTTPRequestHandler):
    healthy = False

    def do_GET(self) -> None:
        body = b"true" if self.healthy and self.path == "/api/health" else b"no"
        self.send_response(200 if self.healthy else 404)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _HealthyPrefect(_Answer):
    healthy = True


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
        assert sorted(out.split()[0] for out, _ in outputs) == ["False", "True"], "exactly one command starts it"
        assert len(_servers_on(port)) == 1 and is_healthy(local_api_url(settings))
        proc = server_process(settings)
        assert proc is not None and proc.pid == _servers_on(port)[0].pid, "Prefect's server.pid in the state folder"
        assert (server_home(settings) / "prefect.db").exists(), "the server's database lives in the state folder"
        cold_s = max(float(out.split()[1]) for out, _ in outputs)

        started = time.monotonic()
        assert not ensure_local_server(settings)
        warm_s = time.monotonic() - started

        assert stop_local_server(settings)
        assert _servers_on(port) == [] and not is_healthy(local_api_url(settings))
        assert not stop_local_server(settings), "nothing left to stop"
        print(f"\nlocal Prefect server: cold start {cold_s:.1f} s, reuse {warm_s * 1000:.0f} ms")
    finally:
        stop_local_server(settings)
    assert _servers_on(port) == []


def test_a_stale_pid_file_is_not_taken_for_the_server(tmp_path: Path) -> None:
    settings = _settings(tmp_path, 4200)
    server_home(settings).mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for content in (str(dead.pid), str(os.getpid()), "not a pid"):  # gone; alive but not a Prefect server; junk
        (server_home(settings) / "server.pid").write_text(content)
        assert server_process(settings) is None
    assert not stop_local_server(settings, echo=lambda _: None), "nothing is signalled"
    assert not (server_home(settings) / "server.pid").exists(), "the stale file is cleaned up"


def test_a_server_of_another_state_folder_is_not_used_silently(tmp_path: Path) -> None:
    with _http_server(_HealthyPrefect) as port:
        with pytest.raises(BapError) as error:
            ensure_local_server(_settings(tmp_path, port))
    message = str(error.value)
    assert "\n" not in message and f"PREFECT_API_URL=http://127.0.0.1:{port}/api" in message
    assert "BAP_PREFECT_PORT" in message


def test_a_port_held_by_something_else_is_a_clear_error(tmp_path: Path) -> None:
    with _http_server(_Answer) as port:
        with pytest.raises(BapError, match=f"prefect server start.*failed.*{port}"):
            ensure_local_server(_settings(tmp_path, port))


@pytest.mark.slow
def test_a_server_that_cannot_start_fails_clearly_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    settings = _settings(tmp_path, free_port())
    with pytest.raises(BapError, match="did not come up.*prefect server start") as error:
        ensure_local_server(settings, timeout_s=60)
    assert "\n" not in str(error.value)
    assert _servers_on(settings.prefect_port) == []
    assert not (server_home(settings) / "server.pid").exists()


def test_a_shutdown_ignores_ctrl_c_and_then_gives_it_back() -> None:
    """Ignored only while stopping: a SIGINT left ignored would be inherited by every process started
    later, and a `bap` started after it would not stop on Ctrl-C."""
    import signal

    from flows.orchestration.local_stack import signals_ignored

    before = signal.getsignal(signal.SIGINT)
    with signals_ignored():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is before
