"""Loader processes forked from a server that has already imported the pipeline.

A loader started with `python -c` spends most of its life importing (Great Expectations alone takes
seconds) before it reaches the load the fault tests break. Forked from a `forkserver` that preloaded
the pipeline, each loader is still a process of its own: its own pid and session, its own
PostgreSQL connection, its own environment, and it dies of the real signal the test sends. Only the
imports are shared, and they are not what these tests are about.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import subprocess
from datetime import date
from pathlib import Path

_SERVER = multiprocessing.get_context("forkserver")
_SERVER.set_forkserver_preload(["great_expectations", "flows.steps", "flows.quality.gx_project", "tests.faults.forked"])
_serial = itertools.count()


def _run_day(env: dict[str, str], cwd: str, day: str, input_path: str | None, out: str, err: str) -> None:
    """In the forked child: a session of its own, the site's environment and output files, then
    one day end to end, exactly as a backfill task runs it."""
    os.setsid()
    for fd, path in ((1, out), (2, err)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(handle, fd)
        os.close(handle)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    from flows import steps
    from flows.settings import get_settings

    get_settings.cache_clear()
    steps._engine_for.cache_clear()
    steps.run_day(get_settings(), date.fromisoformat(day), input_path=input_path)


class ForkedLoader:
    """One loader process; answers the subprocess.Popen calls the fault tests make."""

    def __init__(self, env: dict[str, str], cwd: Path, day: date, input_path: Path | None) -> None:
        n = next(_serial)
        self._out, self._err = cwd / f"loader-{os.getpid()}-{n}.out", cwd / f"loader-{os.getpid()}-{n}.err"
        args = (env, str(cwd), day.isoformat(), str(input_path) if input_path else None, str(self._out), str(self._err))
        self._process = _SERVER.Process(target=_run_day, args=args, name="bap-fault-loader")
        self._process.start()
        self.pid: int = self._process.pid  # type: ignore[assignment]

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def send_signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired("bap-fault-loader", timeout or 0)
        return self._out.read_text(errors="replace"), self._err.read_text(errors="replace")
