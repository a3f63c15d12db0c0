"""Errors a user can cause or fix; the CLI prints their message as one line, without traceback."""


class BapError(Exception):
    """An expected failure: the message says what failed and what to do."""


class WarehouseUnavailable(BapError):
    pass


class ContractError(BapError):
    """A landed file is not a CSV of the raw contract at all (wrong columns, binary, empty)."""


class QualityGateFailed(BapError):
    """A critical data-quality expectation failed; the day was not loaded."""


class MigrationChanged(BapError):
    """A migration already applied to the warehouse was edited afterwards: migrations are immutable."""
