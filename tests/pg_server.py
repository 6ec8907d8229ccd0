"""A throwaway PostgreSQL 15 server for the tests and benchmarks: initdb into a temporary
folder, start on a free loopback port, stop and delete at the end.

PostgreSQL refuses to run as root, and the tests run as root in CI: then the server runs as
the ``postgres`` user that Debian's package creates (scripts/setup.sh installs it), in a
folder that user owns. As any other user it runs as that user.

    python tests/pg_server.py      # start one, print its address, stop on Enter

The pytest fixture ``postgres_server`` (session scope) starts one for the whole run.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BIN = Path(os.environ.get("TRIALSCOPE_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user(user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--"] if user else []


@contextmanager
def running_postgres(*, fsync: bool = False, settings: dict[str, str] | None = None) -> Iterator[str]:
    """A running server; yields the address of its ``postgres`` database (user ``trialscope``)."""
    if not (BIN / "initdb").exists():
        raise RuntimeError(f"PostgreSQL 15 is not installed ({BIN}); run scripts/setup.sh as root.")
    user = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="trialscope-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data = folder / "data"
    port = _free_port()
    run = _as_user(user)
    subprocess.run(
        [*run, str(BIN / "initdb"), "-D", str(data), "-U", "trialscope", "--auth=trust", "-E", "UTF8",
         "--locale=C.UTF-8", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    options = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{folder}'",
        "max_connections": "200",
        "shared_buffers": "256MB",
        "fsync": "on" if fsync else "off",
        "synchronous_commit": "on" if fsync else "off",
        "full_page_writes": "on" if fsync else "off",
        **(settings or {}),
    }
    with open(data / "postgresql.conf", "a") as conf:
        conf.writelines(f"{k} = {v}\n" for k, v in options.items())
    log = folder / "server.log"
    subprocess.run(
        [*run, str(BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql://trialscope@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run, str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(folder, ignore_errors=True)


def create_database(server: str, name: str) -> str:
    """A new empty database on the server (dropped first if it exists); its address."""
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL 15 server for the whole test run (address of its ``postgres`` database)."""
    with running_postgres() as url:
        yield url


_counter = iter(range(1, 1_000_000))


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """The address of a new, empty database for one test."""
    return create_database(postgres_server, f"t{os.getpid()}_{next(_counter)}")


if __name__ == "__main__":
    with running_postgres() as url:
        print(url, flush=True)
        try:
            input("Enter stops the server. ")
        except EOFError:
            while True:
                time.sleep(3600)
