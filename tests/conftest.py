"""Fixtures for every room: real SQLite and PostgreSQL databases.

PostgreSQL is the server at 127.0.0.1:5432 (user postgres, trust auth)
whenever that port answers, as on CI, where it must be used and a failure to
use it is an error, never a skip. When nothing listens there, a throwaway
cluster is started from the Debian binaries (`/usr/lib/postgresql/*/bin`) in
a temporary directory, as an unprivileged user when the tests run as root,
and stopped when the session ends.

Every database handed out is created fresh under a unique name and dropped
afterwards:

- `postgres_url`: one database for the whole session. It is shared by every
  test that asks for it, so keep your tables in a schema of your own name.
- `fresh_postgres_url`: a new database for one test.
- `postgres_server`: the server itself, to create databases of your own
  (`with postgres_server.database("myroom") as url: ...`).
- `sqlite_url`: a SQLite file in the test's temporary directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

SHARED_HOST = "127.0.0.1"
SHARED_PORT = 5432
SUPERUSER = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    """A PostgreSQL server reachable over TCP as a trusted superuser."""

    host: str
    port: int
    user: str = SUPERUSER

    def url(self, database: str) -> str:
        """The SQLAlchemy URL (psycopg 3) of `database` on this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    @contextmanager
    def database(self, prefix: str = "sbtest") -> Iterator[str]:
        """Create a uniquely named database, yield its URL, then drop it."""
        name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:12]}"
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield self.url(name)
        finally:
            # FORCE: a test that failed may have left connections open.
            with self._admin() as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(name)
                    )
                )

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        )


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        return probe.connect_ex((host, port)) == 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((SHARED_HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _debian_bin_dir() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    for bin_dir in reversed(candidates):
        if (bin_dir / "initdb").exists() and (bin_dir / "pg_ctl").exists():
            return bin_dir
    msg = (
        f"no PostgreSQL listens on {SHARED_HOST}:{SHARED_PORT} and no Debian "
        "PostgreSQL binaries were found to start one: install the `postgresql` "
        "package (./run setup does)"
    )
    raise RuntimeError(msg)


def _unprivileged(root: Path) -> list[str]:
    """The command prefix that runs PostgreSQL as a user it accepts."""
    if os.geteuid() != 0:
        return []
    for user in (SUPERUSER, "nobody"):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            continue
        os.chown(root, entry.pw_uid, entry.pw_gid)
        return ["runuser", "-u", user, "--"]
    msg = "running as root and neither the postgres nor the nobody user exists"
    raise RuntimeError(msg)


def _run(command: list[str], log: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        server_log = log.read_text() if log is not None and log.exists() else ""
        msg = (
            f"{' '.join(command)} failed ({result.returncode}):\n"
            f"{result.stdout}{result.stderr}{server_log}"
        )
        raise RuntimeError(msg)


@contextmanager
def _throwaway_cluster() -> Iterator[PostgresServer]:
    bin_dir = _debian_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="stockbridge-pg-"))
    try:
        as_user = _unprivileged(root)
        data, log, port = root / "data", root / "server.log", _free_port()
        _run(
            [
                *as_user,
                str(bin_dir / "initdb"),
                f"--pgdata={data}",
                f"--username={SUPERUSER}",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ]
        )
        options = f"-p {port} -k {root} -c listen_addresses={SHARED_HOST} -c fsync=off"
        pg_ctl = [*as_user, str(bin_dir / "pg_ctl"), f"--pgdata={data}"]
        _run([*pg_ctl, f"--log={log}", "-o", options, "--wait", "start"], log)
        try:
            yield PostgresServer(SHARED_HOST, port)
        finally:
            _run([*pg_ctl, "--mode=immediate", "--wait", "stop"], log)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The shared server when it listens, else a throwaway cluster."""
    if _listening(SHARED_HOST, SHARED_PORT):
        yield PostgresServer(SHARED_HOST, SHARED_PORT)
    else:
        with _throwaway_cluster() as server:
            yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database shared by the whole session (use your own schema)."""
    with postgres_server.database() as url:
        yield url


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for one test."""
    with postgres_server.database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file (not yet created) in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'store.db'}"
