"""Settings: one table of (name, default, help). Precedence: CLI flag, TRIALSCOPE_* variable, default.

Nothing reads the environment at import; ``resolve`` does, when asked.

>>> resolve("port", None, environ={"TRIALSCOPE_PORT": "9000"})
'9000'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs


def default_db_path() -> str:
    return str(Path(platformdirs.user_data_dir("trialscope")) / "trials.db")


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str


def default_workers() -> str:
    """One web worker per core: a worker serves one search at a time, and on a 2-core
    machine two workers answer searches at twice the rate of one, with far shorter tails
    (docs/PERFORMANCE.md, section Web)."""
    return str(os.cpu_count() or 1)


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "db", default_db_path, "the store: a SQLite file path (or sqlite:///path) or postgresql://..."
        ),
        Setting("host", "127.0.0.1", "address the web server listens on"),
        Setting("port", "8000", "port the web server listens on"),
        Setting("workers", default_workers, "number of web server worker processes (default: one per core)"),
        Setting("query_timeout", "5.0", "seconds a search may run before it is stopped"),
        Setting("search_cache", "256", "searches each web worker keeps answered in memory"),
        Setting(
            "api_url", "https://clinicaltrials.gov", "the ClinicalTrials.gov site root a sync reads from"
        ),
        # Alerts of saved searches (trialscope watch check): e-mail through this SMTP server.
        Setting("smtp_host", "", "SMTP server that sends watch alerts (none: no e-mail)"),
        Setting("smtp_port", "25", "its port (587 with STARTTLS, usually)"),
        Setting("smtp_starttls", "no", "yes: switch to TLS with STARTTLS before sending"),
        Setting("smtp_user", "", "user name to log in with (none: no login)"),
        Setting("smtp_password", "", "password to log in with (set it in the environment)"),
        Setting("smtp_from", "trialscope@localhost", "the sender of watch alerts"),
        Setting("smtp_to", "", "where watch alerts go (comma list), unless a watch names its own"),
        Setting(
            "site_url", "", "this TrialScope's web address, for links in alerts (none: ClinicalTrials.gov)"
        ),
    )
}


def resolve(name: str, flag: object, environ: Mapping[str, str] | None = None) -> str:
    """The value of a setting: the flag if given, else TRIALSCOPE_<NAME>, else the default."""
    if flag is not None:
        return str(flag)
    env = os.environ if environ is None else environ
    value = env.get(f"TRIALSCOPE_{name.upper()}")
    if value:
        return value
    default = SETTINGS[name].default
    return str(default() if callable(default) else default)
