"""watch: saved searches that alert (run `watch check` after each daily `sync`; docs/SYNC.md).

    trialscope watch add "lupus stem cells" mesenchymal --condition lupus --status recruiting
    trialscope watch add sle --condition "Lupus Erythematosus, Systemic" --email me@example.org
    trialscope watch list
    trialscope watch check                 # every watch: what is new or changed since its last check
    trialscope watch check sle --no-email
    trialscope watch remove sle

A check e-mails what it found when TRIALSCOPE_SMTP_HOST is set (TRIALSCOPE_SMTP_PORT,
_STARTTLS, _USER, _PASSWORD, _FROM, _TO; TRIALSCOPE_SITE_URL for links to this TrialScope).
"""

from __future__ import annotations

import argparse
import sys

import msgspec

from trialscope.cli import add_command, add_db_argument
from trialscope.cli.core import open_from_args
from trialscope.cli.search import add_filter_arguments, filters_from_args
from trialscope.errors import QueryError
from trialscope.search.filters import FILTERS
from trialscope.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("watch", help="saved searches that alert: add, list, check, remove")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    a = add_command(actions, "add", cmd_add)
    a.add_argument("name", help="the watch's name (quote it if it has spaces)")
    add_filter_arguments(a)
    a.add_argument("--email", help="send this watch's alerts here (default: $TRIALSCOPE_SMTP_TO)")
    add_db_argument(a)

    a = add_command(actions, "list", cmd_list)
    a.add_argument("--format", "-f", choices=("text", "json"), default="text")
    add_db_argument(a)

    a = add_command(actions, "remove", cmd_remove)
    a.add_argument("name")
    add_db_argument(a)

    a = add_command(actions, "check", cmd_check)
    a.add_argument("names", nargs="*", metavar="NAME", help="the watches to check (default: all)")
    a.add_argument("--format", "-f", choices=("text", "json"), default="text")
    a.add_argument("--no-email", action="store_true", help="do not e-mail, even with SMTP settings")
    add_db_argument(a)


def _search_ready(store: Store) -> None:
    """Watches search the store: bring the search index up to date with the trials first."""
    from trialscope.indexes import refresh_all

    refresh_all(store, names=["search"], progress=False)


def cmd_add(args: argparse.Namespace) -> int:
    """save a search under a name (search words and the same filter options as search)

    Save a search; the next check reports what changes after now.
    """
    from trialscope.search import SearchQuery, normalize_query
    from trialscope.watch import add_watch

    try:
        query = normalize_query(SearchQuery(**filters_from_args(args)))
    except QueryError as error:
        raise QueryError(error.render(lambda name: FILTERS[name].cli if name in FILTERS else name)) from None
    store = open_from_args(args)
    _search_ready(store)
    watch, matches = add_watch(store, args.name, query, email=args.email)
    print(f"Watch {watch.name!r} saved: {watch.search_url or '(every trial)'}; {matches:,} trials match now.")
    print("`trialscope watch check` reports what changes from now on.")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """every watch, its search and when it was last checked"""
    from trialscope.watch import list_watches

    store = open_from_args(args, readonly=True)
    watches = list_watches(store)
    if args.format == "json":
        rows = [
            {"name": w.name, "search": w.params, "email": w.email, "created_at": w.created_at,
             "checked_at": w.checked_at}
            for w in watches
        ]  # fmt: skip
        print(msgspec.json.format(msgspec.json.encode(rows), indent=2).decode())
        return 0
    if not watches:
        print("No watches yet; save one with `trialscope watch add NAME [search words] [filters]`.")
    for w in watches:
        to = f" -> {w.email}" if w.email else ""
        print(f"{w.name}  {w.search_url or '(every trial)'}{to}  (checked {w.checked_at or 'never'})")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    """forget a watch and what it reported"""
    from trialscope.watch import remove_watch

    watch = remove_watch(open_from_args(args), args.name)
    print(f"Watch {watch.name!r} removed.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """what is new or changed for each watch since its last check (and e-mail it)

    New matching trials, status changes, results posted, other updates and removals since each watch's
    last check; the check keeps what it saw, so the next reports only what is newer.
    """
    from trialscope.mail import MailSettings, check_recipients, deliver_by_mail
    from trialscope.watch import EVENT_WORDS, check_watches, get_watch, list_watches

    mail = MailSettings.resolve()
    email = mail.enabled and not args.no_email
    store = open_from_args(args)
    if email:
        check_recipients(
            mail, [get_watch(store, n) for n in args.names] if args.names else list_watches(store)
        )
    _search_ready(store)
    reports = check_watches(store, args.names or None, deliver=deliver_by_mail(mail) if email else None)
    if args.format == "json":
        print(msgspec.json.format(msgspec.json.encode(reports), indent=2).decode())
    else:
        if not reports:
            print("No watches yet; save one with `trialscope watch add NAME [search words] [filters]`.")
        for report in reports:
            n = len(report.events)
            since = f" since {report.since}" if report.since else ""
            print(
                f"{report.name}: {n} {'change' if n == 1 else 'changes'}{since} ({report.matches:,} trials match)."
            )
            for event in report.events:
                detail = f": {event.summary}" if event.summary else ""
                print(f"  {event.nct_id}  {EVENT_WORDS[event.kind]}{detail}")
    if email:
        sent = sum(1 for r in reports if r.events)
        print(
            f"{sent} alert e-mail{'s' if sent != 1 else ''} sent through {mail.host}:{mail.port}.",
            file=sys.stderr,
        )
    return 0
