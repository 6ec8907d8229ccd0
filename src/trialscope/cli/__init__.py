"""The ``trialscope`` command: a thin shell over the library.

Each sub-command lives in a module of this package that defines ``register(subparsers)``;
its handler (:func:`add_command`) gets the parsed arguments and returns an exit code, and its
docstring is the command's help. A TrialScopeError
becomes one line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from collections.abc import Callable, Sequence

from trialscope import __version__
from trialscope.errors import TrialScopeError

COMMAND_MODULES = ("core", "search", "match", "related", "sync", "history", "watch", "web")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trialscope",
        description="Explore ClinicalTrials.gov records: ingest, trial pages, search, related trials, web app.",
    )
    parser.add_argument("--version", action="version", version=f"trialscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"trialscope.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"trialscope.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def add_command(
    sub: argparse._SubParsersAction,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    *,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """The sub-command ``name`` that runs ``handler``, with the handler's docstring as its help:
    the first paragraph is its line in the list of commands, the rest (or ``description``) the
    text of its own ``--help``. What a command does is written once, where it is done.

    >>> def cmd_hello(args: argparse.Namespace) -> int:
    ...     \"\"\"say hello
    ...
    ...     Print a greeting and stop.\"\"\"
    ...     return 0
    >>> sub = argparse.ArgumentParser(prog="t").add_subparsers()
    >>> add_command(sub, "hello", cmd_hello).description
    'Print a greeting and stop.'
    """
    line, _, rest = inspect.cleandoc(handler.__doc__ or "").partition("\n\n")
    parser = sub.add_parser(name, help=line, description=description or rest or None)
    parser.set_defaults(handler=handler)
    return parser


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        help="the store: a SQLite file path or postgresql://user@host/dbname "
        "(default: $TRIALSCOPE_DB or the user data dir)",
    )


def _join_dashed_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``--within -5km`` as ``--within=-5km``: argparse takes a value that starts with a dash
    for an option and stops with its usage; joined, the value reaches its check, which says
    what is wrong with it in a sentence."""
    takes_value = {
        option
        for action in parser._subparsers._group_actions[0].choices.values()  # type: ignore[union-attr]
        for sub in action._actions
        if sub.option_strings and sub.nargs is None and not isinstance(sub, argparse._StoreConstAction)
        for option in sub.option_strings
    } if parser._subparsers else set()  # fmt: skip
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        following = argv[i + 1] if i + 1 < len(argv) else None
        if token in takes_value and following and following.startswith("-") and following not in takes_value:
            out.append(f"{token}={following}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_join_dashed_values(parser, list(sys.argv[1:] if argv is None else argv)))
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except TrialScopeError as exc:
        print(f"trialscope: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "trialscope: interrupted; stored batches are kept, run the command again to finish.",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
