"""Fixtures of the orchestration tests: a local webhook receiver and a real Prefect server."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from flows.settings import Settings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Webhook:
    """A local HTTP endpoint that records the JSON bodies POSTed to it."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0  # answer 503 to this many requests first

    def wait_for(self, count: int = 1, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.received


@contextmanager
def serve_webhook() -> Iterator[Webhook]:
    hook = Webhook(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if hook.fail_first > 0:
                hook.fail_first -= 1
                self.send_response(503)
                self.end_headers()
                return
            hook.received.append(json.loads(body or b"null"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_port}/hooks/bap"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    with serve_webhook() as hook:
        yield hook


@pytest.fixture(scope="module")
def prefect_server(
    tmp_path_factory: pytest.TempPathFactory, seed_prefect_home: Callable[[Path], Path]
) -> Iterator[tuple[Settings, str]]:
    """A real Prefect server (SQLite, own PREFECT_HOME, its database already migrated) on a free port,
    started the way `bap` starts it."""
    from flows.orchestration.local_stack import ensure_local_server, local_api_url, server_home, stop_local_server

    root: Path = tmp_path_factory.mktemp("prefect-server")
    settings = Settings(data_dir=str(root / "state"), log_dir=str(root / "logs"), prefect_port=free_port())
    seed_prefect_home(server_home(settings))
    assert ensure_local_server(settings, timeout_s=180)
    yield settings, local_api_url(settings)
    stop_local_server(settings)
