"""Bad PostgreSQL input: a one-line StorageError naming host:port and database, never the password.

Wrong password and missing database need the test server (marker ``postgres``); an
unreachable port and a malformed URL do not.
"""

from __future__ import annotations

import socket
import subprocess
from urllib.parse import urlsplit, urlunsplit

import pytest

from genwf_tui.storage import StorageError, make_storage

from ..conftest import ROOT, genwf_cmd, postgres_dsn

SECRET = "Sup3r-Secret-pw"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_parts(dsn: str, *, password: str | None = None, db: str | None = None) -> str:
    parts = urlsplit(dsn)
    user = parts.username or "genwf"
    netloc = f"{user}:{password if password is not None else parts.password}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit((parts.scheme, netloc, "/" + (db or parts.path.lstrip("/")), parts.query, ""))


def bad_urls() -> list[tuple[str, str, str, str]]:
    """(case, url, host it must name, database it must name) — server-free cases."""
    port = closed_port()
    return [
        ("unreachable", f"postgresql://genwf:{SECRET}@127.0.0.1:{port}/genwf_test", f"127.0.0.1:{port}", "genwf_test"),
        ("malformed-port", f"postgresql://genwf:{SECRET}@127.0.0.1:notaport/genwf_test", "127.0.0.1", "genwf_test"),
        ("no-database", f"postgres://genwf:{SECRET}@db.example.invalid:5432/", "db.example.invalid", ""),
    ]


def server_urls() -> list[tuple[str, str, str, str]]:
    dsn = postgres_dsn()
    parts = urlsplit(dsn)
    where = f"{parts.hostname}:{parts.port or 5432}"
    return [
        ("wrong-password", with_parts(dsn, password=SECRET), where, parts.path.lstrip("/")),
        ("missing-database", with_parts(dsn, password=SECRET + "x", db="genwf_no_such_db")
         .replace(SECRET + "x", parts.password or ""), where, "genwf_no_such_db"),
    ]


async def assert_open_fails(url: str, host: str, db: str, reason: str | None = None) -> str:
    storage = None
    with pytest.raises(StorageError) as info:
        storage = make_storage(url)
        await storage.open()
    msg = str(info.value)
    assert "\n" not in msg
    assert host in msg, msg
    if db:
        assert db in msg, msg
    assert SECRET not in msg
    if storage is not None:
        assert SECRET not in repr(storage) and SECRET not in storage.display_url
    if reason:
        assert reason in msg, msg
    return msg


@pytest.mark.parametrize("case", [c[0] for c in bad_urls()])
async def test_bad_url_without_server(case):
    _, url, host, db = next(c for c in bad_urls() if c[0] == case)
    msg = await assert_open_fails(url, host, db)
    if case == "unreachable":
        assert "refused" in msg


@pytest.mark.postgres
async def test_wrong_password():
    _, url, host, db = server_urls()[0]
    await assert_open_fails(url, host, db, "password authentication failed")


@pytest.mark.postgres
async def test_missing_database():
    # the real password: the only thing wrong is the database name
    _, url, host, db = server_urls()[1]
    real = urlsplit(postgres_dsn()).password or ""
    msg = await assert_open_fails(url, host, db, "does not exist")
    assert not real or real not in msg


def run_cli(url: str, tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run(genwf_cmd("list", "--storage", url), cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})


def check_cli(proc: subprocess.CompletedProcess, host: str, db: str, secret: str = SECRET) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("genwf: error:")
    assert host in lines[0] and db in lines[0], lines[0]
    assert secret not in proc.stdout + proc.stderr


def test_cli_unreachable_and_malformed(tmp_path):
    for case, url, host, db in bad_urls():
        check_cli(run_cli(url, tmp_path), host, db)
    assert not (tmp_path / "workflow.db").exists()  # never a silent fall-back


@pytest.mark.postgres
def test_cli_wrong_password_and_missing_database(tmp_path):
    real = urlsplit(postgres_dsn()).password or SECRET
    for case, url, host, db in server_urls():
        proc = run_cli(url, tmp_path)
        check_cli(proc, host, db)
        assert real not in proc.stdout + proc.stderr
