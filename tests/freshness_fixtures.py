"""Fixtures of the freshness tests (history, changes, watches): a store synced from the stand-in
registry (tests/ctgov_server.py), ways to post new versions of its real records, and a real SMTP
server on loopback (aiosmtpd).

Test modules use them with ``pytest_plugins = ["ctgov_server", "freshness_fixtures"]``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import orjson
import pytest

from trialscope.ctgov.client import CtgovClient
from trialscope.indexes import refresh_all
from trialscope.store import SqliteStore, open_store
from trialscope.sync import sync

# The day the tests' new versions are posted: after every real record's date, so a sync takes them.
POSTED = "2030-04-02"


def client_of(server: Any) -> CtgovClient:
    return CtgovClient(server.url, rate=None, retries=4, backoff=0.05, backoff_max=0.2)


@pytest.fixture(scope="session")
def synced_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store synced once from an empty start (the stand-in's bulk zip of every shared v2 study),
    its search index built; tests copy it (:func:`synced`)."""
    from ctgov_server import CtgovStandIn

    path = tmp_path_factory.mktemp("fresh") / "synced.db"
    with CtgovStandIn() as server:
        store = open_store(path)
        with client_of(server) as client:
            sync(store, client, stale=0)
        refresh_all(store, names=["search"])
        store.close()
    return path


@pytest.fixture
def synced(synced_path: Path, tmp_path: Path) -> Iterator[SqliteStore]:
    """A writable copy of the synced store, for one test."""
    path = tmp_path / "trials.db"
    shutil.copy(synced_path, path)
    store = open_store(path)
    yield store
    store.close()


def study(server: Any, nct_id: str) -> dict[str, Any]:
    """The stand-in's current version of a study, as a dictionary to change."""
    return orjson.loads(server.study_bytes(nct_id))


def find(server: Any, test: Callable[[dict[str, Any]], bool], *, skip: int = 0) -> str:
    """The NCT id of a served study that passes a test (the ``skip``-th such)."""
    for nct_id in server.nct_ids():
        if test(study(server, nct_id)):
            if skip == 0:
                return nct_id
            skip -= 1
    raise AssertionError("no served study passes the test")


def post(server: Any, record: dict[str, Any], *, on: str = POSTED) -> dict[str, Any]:
    """Post a new version of a study to the stand-in, dated ``on``."""
    record["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {"date": on, "type": "ACTUAL"}
    server.add_version(record)
    return record


def sync_changes(store: SqliteStore, server: Any, **options: Any) -> None:
    with client_of(server) as client:
        sync(store, client, stale=0, **options)
    refresh_all(store, names=["search"])


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


# --- a real SMTP server on loopback ---------------------------------------------------------------


@dataclass
class Inbox:
    """What a loopback SMTP server received."""

    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., Inbox]]:
    """Start real SMTP servers (aiosmtpd) on loopback: ``smtp_server()`` takes any mail;
    ``smtp_server(login=("user", "secret"))`` asks for that login (AUTH PLAIN/LOGIN, no TLS)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    started: list[Controller] = []

    def start(login: tuple[str, str] | None = None) -> Inbox:
        inbox = Inbox("127.0.0.1", _free_port())
        options: dict[str, Any] = {}
        if login is not None:

            def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
                user, password = data.login.decode(), data.password.decode()
                if (user, password) == login:
                    inbox.logins.append(user)
                    return AuthResult(success=True)
                return AuthResult(success=False, handled=False)

            options = {"authenticator": check, "auth_require_tls": False, "auth_required": True}
        controller = Controller(inbox, hostname=inbox.host, port=inbox.port, **options)
        controller.start()
        started.append(controller)
        return inbox

    yield start
    for controller in started:
        controller.stop()
