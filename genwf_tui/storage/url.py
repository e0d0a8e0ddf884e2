"""Storage URLs: a SQLite path, ``:memory:``, ``sqlite:///path`` or ``postgresql://``.

Passwords never leave this module in clear: :func:`redact` is what every message shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

_PG_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class StorageURL:
    kind: str  # "sqlite" | "memory" | "postgres"
    target: str  # file path, ":memory:", or the full DSN (with password, never printed)
    display: str  # what messages show: password removed

    def __str__(self) -> str:  # str() of a URL is always the redacted form
        return self.display


def redact(url: str) -> str:
    """``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``; anything else unchanged."""
    return re.sub(r"(://[^:/@\s]*):[^@/\s]*@", r"\1:***@", url)


def parse_storage_url(url: str) -> StorageURL:
    """Classify ``url``; raises ValueError (message without any password) when unusable."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("storage is empty")
    url = url.strip()
    if url == ":memory:":
        return StorageURL("memory", ":memory:", ":memory:")
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if not m:
        return StorageURL("sqlite", url, url)
    scheme = m.group(1).lower()
    if scheme == "sqlite":
        path = url[len("sqlite://"):]
        if path.startswith("/") and not path.startswith("//"):
            path = path[1:]  # sqlite:///rel.db -> rel.db ; sqlite:////abs.db -> /abs.db
        if not path:
            raise ValueError("sqlite URL has no file path")
        return StorageURL("sqlite", path, url)
    if scheme in _PG_SCHEMES:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise ValueError(f"malformed PostgreSQL URL {redact(url)!r}") from None
        if not parts.hostname and "host=" not in parts.query:
            raise ValueError(f"PostgreSQL URL {redact(url)!r} names no host")
        if not parts.path.strip("/"):
            raise ValueError(f"PostgreSQL URL {redact(url)!r} names no database")
        return StorageURL("postgres", url, redact(url))
    raise ValueError(f"unknown storage scheme {scheme + '://'!r} (use a SQLite path, sqlite:///path or postgresql://)")


def pg_host_and_db(url: str) -> tuple[str, str]:
    """Host:port and database name of a PostgreSQL URL, for error messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    return f"{host}:{port}", unquote(parts.path.lstrip("/"))
