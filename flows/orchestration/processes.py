"""Child processes that can be stopped completely: each in its own session, stopped as a tree.

A service (Prefect server, worker, dashboard) is started in a new session so a Ctrl-C in the
terminal reaches only `bap`, which then stops the services in order. Stopping a service signals
its whole process group and every descendant found by psutil (a worker's flow-run processes may
sit in groups of their own), waits, and kills what is left: nothing is orphaned.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil


def spawn_detached(
    argv: Sequence[str], *, env: Mapping[str, str], log_path: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start `argv` in a session of its own, stdout and stderr appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:  # the child keeps its own descriptor
        kwargs: dict[str, object] = {}
        if sys.platform == "win32":  # pragma: no cover - POSIX is the supported platform
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
        else:
            kwargs["start_new_session"] = True
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=str(cwd) if cwd else None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            close_fds=True,
            **kwargs,  # type: ignore[arg-type]
        )


def is_running(pid: int) -> bool:
    """True while `pid` is a live process (a zombie counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def terminate_tree(pid: int, *, timeout_s: float = 10.0) -> None:
    """SIGTERM the process, its group and all its descendants; SIGKILL whatever outlives `timeout_s`."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    if sys.platform != "win32":
        try:
            if os.getpgid(pid) == pid:  # a session leader we started: its whole group
                os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass
    for proc in procs:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout_s)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file ('' when there is none), to show why a service failed."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
