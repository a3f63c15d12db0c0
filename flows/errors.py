"""Errors a user can cause or fix; the CLI prints their message as one line, without traceback."""

from __future__ import annotations


class BapError(Exception):
    """An expected failure: the message says what failed and what to do."""


class WarehouseUnavailable(BapError):
    pass


class ContractError(BapError):
    """A landed file is not a CSV of the raw contract at all (wrong columns, binary, empty)."""


class QualityGateFailed(BapError):
    """A critical data-quality expectation failed; the day was not loaded."""


def expected_failure(exc: BaseException) -> BapError | None:
    """The expected failure `exc` is, as a BapError whose message is the one line to show; None for
    anything else (a programming error keeps its traceback).

    Besides BapError: the warehouse failing during a run. The load speaks to PostgreSQL through raw
    DB-API cursors, so a dropped connection arrives as psycopg2's own error there, and as
    SQLAlchemy's (wrapping it) everywhere else."""
    import psycopg2
    import sqlalchemy as sa

    if isinstance(exc, BapError):
        return exc
    if isinstance(exc, sa.exc.OperationalError | psycopg2.OperationalError | psycopg2.InterfaceError):
        orig = getattr(exc, "orig", None) or exc
        reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
        return WarehouseUnavailable(
            f"the warehouse failed during the run ({reason}); re-run the command once it is back"
        )
    return None


class MigrationChanged(BapError):
    """A migration already applied to the warehouse was edited afterwards: migrations are immutable."""
