"""Bad input: one line on stderr naming what was wrong, exit 2, nothing created or changed."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess

import pytest

from genwf_tui.storage import make_storage

from ..conftest import genwf_cmd


def digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def existing_db(tmp_path):
    path = tmp_path / "workflow.db"

    async def make():
        s = make_storage(str(path))
        await s.open()
        await s.save_definition("wf", 1, "x", "{}")
        await s.close()

    asyncio.run(make())
    return path


def run_genwf(args, cwd, env, **kw):
    return subprocess.run(genwf_cmd(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=60, **kw)


@pytest.mark.parametrize("args, needle", [
    (["-5"], "positive whole number"),
    (["0"], "positive whole number"),
    (["abc"], "'abc'"),
    (["--frobnicate", "10"], "--frobnicate"),
    (["10", "--chunk-size", "0"], "--chunk-size"),
    (["10", "--crash-at", "nowhere"], "--crash-at"),
    ([], "nothing to do"),
    (["--resume", "does-not-exist"], "does-not-exist"),
    (["show", "nope"], "nope"),
    (["--storage", "ftp://x/y", "10"], "unknown storage scheme"),
])
def test_usage_errors(tmp_path, existing_db, genwf_env, args, needle):
    before = digest(existing_db)
    storage_args = [] if "--storage" in args else ["--storage", str(existing_db)]
    p = run_genwf(storage_args + args if args[:1] != ["show"] else args + storage_args, tmp_path, genwf_env)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in p.stderr
    assert digest(existing_db) == before
    assert not (tmp_path / "pipeline_results.json").exists()


def test_no_database_created_for_bad_usage(tmp_path, genwf_env):
    p = run_genwf(["-5"], tmp_path, genwf_env)
    assert p.returncode == 2
    assert not (tmp_path / "workflow.db").exists()


def test_unopenable_storage_paths(tmp_path, genwf_env):
    for target in ["/nonexistent/dir/x.db", str(tmp_path)]:
        p = run_genwf(["--storage", target, "10"], tmp_path, genwf_env)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert "cannot open SQLite database" in p.stderr


def test_random_bytes_file_is_not_a_database(tmp_path, genwf_env):
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(8192))
    before = digest(junk)
    p = run_genwf(["--storage", str(junk), "10"], tmp_path, genwf_env)
    assert p.returncode == 2 and "not a database" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert digest(junk) == before
    assert not (tmp_path / "junk.db-wal").exists() or (tmp_path / "junk.db-wal").stat().st_size == 0


def test_bad_toml_names_the_file(tmp_path, existing_db, genwf_env):
    cfg = tmp_path / "release.toml"
    cfg.write_text("[genomic_pipeline\ntarget = ")
    before = digest(existing_db)
    p = run_genwf(["--storage", str(existing_db), "10"], tmp_path, genwf_env)
    assert p.returncode == 2 and "release.toml" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert digest(existing_db) == before


@pytest.mark.parametrize("name, value, needle", [
    ("GENOMIC_PIPELINE__RECOVERY__STALE_THRESHOLD_SECS", "abc", "recovery.stale_threshold_secs"),
    ("GENOMIC_PIPELINE__RECOVERY__STALE_THRESHOLD_SECS", "-5", "must be greater than 0"),
    ("GENOMIC_PIPELINE__PIPELINE__CHUNK_SIZE", "1.5", "pipeline.chunk_size"),
    ("GENOMIC_PIPELINE__NO_SUCH_KEY", "1", "GENOMIC_PIPELINE__NO_SUCH_KEY"),
])
def test_bad_env_value_names_key_and_source(tmp_path, existing_db, genwf_env, name, value, needle):
    env = dict(genwf_env, **{name: value})
    p = run_genwf(["--storage", str(existing_db), "10"], tmp_path, env)
    assert p.returncode == 2 and needle in p.stderr and "env" in p.stderr.lower(), p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
