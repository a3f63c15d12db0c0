"""A Prefect home whose SQLite database is already migrated, built once per test run.

A Prefect server started on a fresh PREFECT_HOME spends most of its first start (about 15 s of CPU)
migrating its empty database and registering its block types. The tests that start servers of
their own (`bap up`, `bap demo`, the deployments, the UI) are about what happens after that, so they
start from a copy of this database: Prefect finds it at the head revision and its block types
registered, exactly as on a machine where the server has run before. The shared test server and
`tests/orchestration/test_local_server.py` still start from nothing, so the first start stays
covered.

Run as a script (`python tests/prefect_template.py FOLDER`): start a server on FOLDER/home, wait for
it, stop it, fold its write-ahead log into the database file, then write FOLDER/ready (or
FOLDER/failed with the reason).
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from flows.orchestration.local_stack import is_healthy


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build(folder: Path) -> None:
    home, port = folder / "home", _free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_SERVER_UI_ENABLED="false")
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with (folder / "server.log").open("ab") as log:
        server = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 300
        while not is_healthy(f"http://127.0.0.1:{port}/api"):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the template server did not come up (see {folder / 'server.log'})")
            time.sleep(0.2)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    with sqlite3.connect(home / "prefect.db") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def seed(folder: Path, home: Path, *, timeout_s: float = 300.0) -> Path:
    """Copy the template's database (and Prefect's memo of its registered blocks) into `home`, once
    the template is ready; raises with the template's log if it could not be built."""
    deadline = time.monotonic() + timeout_s
    while not (folder / "ready").exists():
        if (folder / "failed").exists() or time.monotonic() > deadline:
            log = (
                (folder / "server.log").read_text(errors="replace")[-3000:] if (folder / "server.log").exists() else ""
            )
            reason = (folder / "failed").read_text() if (folder / "failed").exists() else "timed out"
            raise RuntimeError(f"the migrated Prefect home was not built: {reason}\n{log}")
        time.sleep(0.2)
    home.mkdir(parents=True, exist_ok=True)
    source, target = sqlite3.connect(folder / "home" / "prefect.db"), sqlite3.connect(home / "prefect.db")
    with target:
        source.backup(target)
    source.close()
    target.close()
    memo = folder / "home" / "memo_store.toml"
    if memo.exists():
        (home / "memo_store.toml").write_bytes(memo.read_bytes())
    return home


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored (CI)
    target = Path(sys.argv[1])
    try:
        build(target)
    except BaseException as exc:
        (target / "failed").write_text(f"{type(exc).__name__}: {exc}")
        raise
    (target / "ready").write_text("ok")
