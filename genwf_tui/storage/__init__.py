"""Storage backends behind one protocol; :func:`make_storage` picks one from a URL."""

from __future__ import annotations

from .base import Storage
from .records import OwnershipLost, StorageError
from .url import StorageURL, parse_storage_url, redact

__all__ = ["Storage", "StorageError", "OwnershipLost", "make_storage", "parse_storage_url", "redact", "StorageURL"]


def make_storage(url: str, *, read_only: bool = False, busy_timeout_secs: float | None = None) -> Storage:
    """A not-yet-opened storage for ``url`` (SQLite path, ``:memory:``, ``postgresql://``).

    ``busy_timeout_secs`` bounds how long SQLite waits on a locked file (default 60 s, for
    writers); a reader that must answer quickly (the dashboard) asks for less."""
    try:
        parsed = parse_storage_url(url)
    except ValueError as exc:
        raise StorageError(str(exc)) from None
    if parsed.kind == "postgres":
        try:
            from .postgres import PostgresStorage
        except ImportError:
            raise StorageError("PostgreSQL storage is not available yet in this build") from None
        return PostgresStorage(parsed.target, read_only=read_only)
    from .sqlite import BUSY_TIMEOUT_S, SqliteStorage

    return SqliteStorage(parsed.target, read_only=read_only and parsed.kind != "memory",
                         busy_timeout_secs=busy_timeout_secs or BUSY_TIMEOUT_S)
