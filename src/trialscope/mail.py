"""Alert e-mails of saved searches, sent through an SMTP server (the ``smtp_*`` settings).

    mail = MailSettings.resolve()                      # TRIALSCOPE_SMTP_HOST and the rest
    check_watches(store, deliver=deliver_by_mail(mail))   # each watch's news e-mailed as it is found

One plain-text message per watch that found something: a line per trial (what happened, its
title and a link), to the watch's own address or else to ``smtp_to``. Delivered from inside a
check, an e-mail that cannot be sent leaves the check unrecorded, so no alert is lost. STARTTLS and a login are
used when the settings ask for them; any failure is one :class:`~trialscope.errors.WatchError`
sentence naming the server.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from trialscope import settings
from trialscope.errors import WatchError
from trialscope.search.hits import STUDY_URL
from trialscope.watch import EVENT_WORDS, Watch, WatchReport

TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Where and how alerts are sent; ``host`` empty means no e-mail at all."""

    host: str
    port: int = 25
    starttls: bool = False
    user: str = ""
    password: str = ""
    sender: str = "trialscope@localhost"
    to: tuple[str, ...] = ()
    site_url: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    @classmethod
    def resolve(cls, environ: Mapping[str, str] | None = None) -> MailSettings:
        """The settings from TRIALSCOPE_SMTP_* variables and their defaults."""

        def get(name: str) -> str:
            return settings.resolve(name, None, environ).strip()

        port = get("smtp_port")
        if not port.isdigit():
            raise WatchError(f"TRIALSCOPE_SMTP_PORT must be a port number, not {port!r}.")
        return cls(
            host=get("smtp_host"),
            port=int(port),
            starttls=get("smtp_starttls").lower() in {"yes", "true", "1", "on"},
            user=get("smtp_user"),
            password=settings.resolve("smtp_password", None, environ),
            sender=get("smtp_from"),
            to=tuple(a.strip() for a in get("smtp_to").split(",") if a.strip()),
            site_url=get("site_url").rstrip("/"),
        )


def trial_link(nct_id: str, site_url: str = "") -> str:
    """The page of a trial: on this TrialScope when its address is known, else on the registry.

    >>> trial_link("NCT04184258", "https://trials.example.org")
    'https://trials.example.org/trials/NCT04184258'
    """
    return f"{site_url}/trials/{nct_id}" if site_url else STUDY_URL.format(nct_id)


def report_message(report: WatchReport, watch: Watch, mail: MailSettings) -> EmailMessage:
    """The e-mail of one check of a watch."""
    recipients = [watch.email] if watch.email else list(mail.to)
    if not recipients:
        raise WatchError(
            f"No one to send the alerts of watch {watch.name!r} to: set TRIALSCOPE_SMTP_TO or add the watch "
            "with --email."
        )
    n = len(report.events)
    message = EmailMessage()
    message["Subject"] = f"TrialScope: {n} {'change' if n == 1 else 'changes'} for {watch.name!r}"
    message["From"] = mail.sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="trialscope")
    since = f" since {report.since}" if report.since else ""
    lines = [f"Your saved search {watch.name!r} ({report.matches:,} trials match now) found{since}:", ""]
    for event in report.events:
        lines.append(f"* {event.nct_id}: {event.title}")
        lines.append(f"  {EVENT_WORDS[event.kind]}" + (f": {event.summary}" if event.summary else ""))
        lines.append(f"  {trial_link(event.nct_id, mail.site_url)}")
        lines.append("")
    if mail.site_url:
        lines.append(f"The search: {mail.site_url}/{watch.search_url}")
    lines.append(
        "You receive this because the watch was saved in TrialScope; `trialscope watch remove` stops it."
    )
    message.set_content("\n".join(lines) + "\n")
    return message


def check_recipients(mail: MailSettings, watches: Sequence[Watch]) -> None:
    """WatchError when a watch's alerts would have no one to go to (said before any check runs)."""
    for watch in watches:
        if not watch.email and not mail.to:
            raise WatchError(
                f"No one to send the alerts of watch {watch.name!r} to: set TRIALSCOPE_SMTP_TO or add the "
                "watch with --email (or check with --no-email)."
            )


def deliver_by_mail(mail: MailSettings) -> Callable[[Watch, WatchReport], None]:
    """A ``deliver`` for :func:`trialscope.watch.check_watch`: the report e-mailed, or WatchError."""

    def deliver(watch: Watch, report: WatchReport) -> None:
        send_reports(mail, [report], {watch.name: watch})

    return deliver


def send_reports(mail: MailSettings, reports: Sequence[WatchReport], watches: Mapping[str, Watch]) -> int:
    """E-mail each report that found something; how many e-mails were sent."""
    messages = [report_message(r, watches[r.name], mail) for r in reports if r.events]
    if not messages:
        return 0
    where = f"{mail.host}:{mail.port}"
    try:
        with smtplib.SMTP(mail.host, mail.port, timeout=TIMEOUT_S) as smtp:
            if mail.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if mail.user:
                smtp.login(mail.user, mail.password)
            for message in messages:
                smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        said = exc.smtp_error
        text = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
        reason = f"the server answered {exc.smtp_code} {text}"
        raise WatchError(f"Could not send the alert e-mail through {where}: {reason}.") from None
    except (smtplib.SMTPException, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        raise WatchError(f"Could not send the alert e-mail through {where}: {reason}.") from None
    return len(messages)
