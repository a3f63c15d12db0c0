"""Structured logs: JSON lines in logs/ (one file per stage) and, inside a run, Prefect's log.

Prefect forwards the `bap` logger to its API when PREFECT_LOGGING_EXTRA_LOGGERS names it, so
every record lands both in the files here and in the Prefect UI of the run.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from flows.settings import Settings

# logger name -> file it goes to
STAGE_FILES = {
    "bap.ingestion": "ingestion.log",
    "bap.processing": "processing.log",
    "bap.quality": "processing.log",
    "bap.load": "load.log",
    "bap.warehouse": "load.log",
    "bap.pipeline": "pipeline.log",
    "bap.orchestration": "pipeline.log",
    "bap.dashboard": "dashboard.log",
}
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


_configured: set[str] = set()


def configure_logging(settings: Settings) -> Path:
    """Attach one JSON file handler per stage file (idempotent); returns the log folder."""
    log_dir = Path(settings.log_dir).expanduser().resolve()
    if str(log_dir) in _configured:
        return log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    handlers: dict[str, logging.Handler] = {}
    for name, filename in STAGE_FILES.items():
        if filename not in handlers:
            handler = logging.FileHandler(log_dir / filename, encoding="utf-8")
            handler.setFormatter(JsonFormatter())
            handlers[filename] = handler
        logger = logging.getLogger(name)
        logger.addHandler(handlers[filename])
    root = logging.getLogger("bap")
    root.setLevel(logging.INFO)
    _configured.add(str(log_dir))
    return log_dir


def route_to_prefect() -> None:
    """Ask Prefect (before it is imported) to forward the `bap` logger to the run's log."""
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "bap")
    # Outside a flow run (connecting, migrating, a plain benchmark) the records stay in logs/.
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")


def tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file ('' when there is none), to show why a child process failed."""
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
