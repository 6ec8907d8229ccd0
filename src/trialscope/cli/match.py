"""match: the trials a patient may join, each criterion judged with its evidence.

    trialscope match --note "58-year-old woman with lupus nephritis, creatinine 1.8 mg/dL ..."
    trialscope match --note-file note.txt --status recruiting --near Boston --within 100mi
    trialscope match --patient profile.json --nct NCT02513394 --format json
    trialscope match --patient bundle.json --candidates 0 --nct NCT02513394   # only the trials named

``--patient`` reads a JSON profile or a FHIR R4 Bundle (told apart by its content). The filter
options are the search's (the filter table), applied to the candidates; trials named with
``--nct`` are screened whatever the filters. The text output shows the patient as understood
first, so a misreading can be corrected (in a JSON profile: ``--format json`` prints the
profile read, which ``--patient`` reads back).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import TextIO

from trialscope import settings
from trialscope.cli import add_command, add_db_argument
from trialscope.cli.core import check_nct_id, open_for_reading
from trialscope.cli.search import add_filter_options, cli_query_error, filters_from_args
from trialscope.errors import QueryError
from trialscope.ingest import plural

MAX_FILE_BYTES = 10_000_000  # a note or a FHIR bundle larger than this is not a patient's


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "match", cmd_match)
    given = p.add_argument_group("the patient (one of)").add_mutually_exclusive_group(required=True)
    given.add_argument("--note", help="the patient described in words (a clinical note, a summary)")
    given.add_argument("--note-file", metavar="FILE", help="a text file holding the note (- for stdin)")
    given.add_argument("--patient", metavar="FILE", help="a JSON profile or a FHIR R4 Bundle (- for stdin)")
    # --nct names trials to screen besides the candidates (not the search filter "only these ids").
    add_filter_options(p, leave_out=("nct",))
    o = p.add_argument_group("trials and output")
    o.add_argument(
        "--nct", action="append", default=[], metavar="ID", help="also screen this trial (repeatable)"
    )
    o.add_argument("--limit", "-n", type=int, default=10, help="trials shown (default 10)")
    o.add_argument(
        "--candidates", type=int, default=200, help="trials screened besides those named (default 200)"
    )
    o.add_argument("--format", "-f", choices=("text", "json"), default="text")
    o.add_argument("--all-criteria", action="store_true", help="text: list undecidable lines one by one too")
    o.add_argument(
        "--timeout", type=float, help="seconds the search may run (default $TRIALSCOPE_QUERY_TIMEOUT or 5)"
    )
    add_db_argument(p)


def read_input(path: str, what: str) -> bytes:
    """A file's bytes (``-``: standard input), or a clear error naming the file."""
    from trialscope.patient import PatientError

    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            with Path(path).open("rb") as stream:
                data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise PatientError(f"Cannot read the {what} {path}: {exc.strerror or exc}.") from None
    if len(data) > MAX_FILE_BYTES:
        raise PatientError(
            f"The {what} {path} is larger than {MAX_FILE_BYTES // 1_000_000} MB; give one patient's."
        )
    return data


def note_text(data: bytes, path: str) -> str:
    from trialscope.patient import PatientError

    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PatientError(
            f"The note file {path} is not UTF-8 text; save it as UTF-8 and try again."
        ) from None


def cmd_match(args: argparse.Namespace) -> int:
    """screen a patient (note, JSON profile or FHIR bundle) against trials, criterion by criterion

    Find trials for a patient: candidates by the note's telling words and the patient's conditions (with
    any search filter), then every criterion of each judged met, not met, unknown or not applicable, with
    the evidence; trials ranked eligible, maybe, ineligible.
    """
    import msgspec

    from trialscope.indexes import refresh_all
    from trialscope.match import find_matches
    from trialscope.match.find import check_note
    from trialscope.patient import patient_from_document, patient_from_note
    from trialscope.search import SearchQuery, normalize_query

    if args.limit < 1:
        raise QueryError("--limit must be at least 1.")
    nct_ids = [check_nct_id(n) for n in args.nct]
    try:
        query = normalize_query(SearchQuery(**filters_from_args(args)))
    except QueryError as error:
        raise cli_query_error(error) from None
    text = None
    if args.patient:
        patient = patient_from_document(read_input(args.patient, "patient file"))
    else:
        text = (
            args.note
            if args.note is not None
            else note_text(read_input(args.note_file, "note file"), args.note_file)
        )
        patient = patient_from_note(check_note(text))
    store = open_for_reading(args)
    if not store.readonly:
        refresh_all(store, names=["search", "criteria"], progress=sys.stderr.isatty())
    timeout = args.timeout if args.timeout is not None else float(settings.resolve("query_timeout", None))
    try:
        result = find_matches(
            store, patient, text=text, query=query, nct_ids=nct_ids, candidates=args.candidates,
            limit=args.limit, timeout_s=timeout,
        )  # fmt: skip
    except QueryError as error:
        raise cli_query_error(error) from None
    if args.format == "json":
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(result), indent=2).decode() + "\n")
    else:
        write_match_text(result, sys.stdout, all_criteria=args.all_criteria)
    return 0


_MARK = {"met": "met", "not_met": "NOT MET", "unknown": "unknown", "not_applicable": "n/a"}
_UNDECIDABLE = ("administrative", "other")


def _criterion_line(c: object) -> list[str]:
    from trialscope.match import CriterionVerdict

    assert isinstance(c, CriterionVerdict)
    label = c.label or c.text
    head = f"      {_MARK[c.verdict]:<8} {c.kind:<11} {label}"
    lines = [head]
    if c.evidence:
        quotes = "; ".join(e.quote() for e in c.evidence)
        lines += textwrap.wrap(quotes, 100, initial_indent=" " * 27 + "← ", subsequent_indent=" " * 29)
    elif c.reason and c.verdict != "unknown":
        lines.append(" " * 27 + f"({c.reason})")
    return lines


def write_match_text(result: object, out: TextIO, *, all_criteria: bool = False) -> None:
    """A match for a person at a terminal: the patient as understood, then each trial with its
    verdict, score, criteria (verdict, label, evidence) and the questions that would decide it."""
    from trialscope.match import MatchResult
    from trialscope.patient import describe

    assert isinstance(result, MatchResult)
    out.write("The patient as understood (check it; a JSON profile can correct it):\n")
    out.writelines(f"  {line}\n" for line in describe(result.patient).splitlines())
    out.write("\n")
    if result.note:
        out.writelines(line + "\n" for line in textwrap.wrap(result.note, 110))
    counts = {v: sum(t.verdict == v for t in result.trials) for v in ("eligible", "maybe", "ineligible")}
    if not result.trials:
        out.write(f"No trial to show ({plural(result.screened, 'trial')} screened).\n")
        return
    out.write(
        f"{plural(len(result.trials), 'trial')} shown of {result.screened:,} screened: "
        + ", ".join(f"{n} {v}" for v, n in counts.items())
        + ".\n"
    )
    for rank, trial in enumerate(result.trials, 1):
        out.write(f"\n{rank:>2}. {trial.nct_id}  {trial.title}\n")
        out.write(
            f"    {trial.verdict.upper()} · score {trial.score:.3f} · inclusion criteria met {trial.met}, "
            f"failed {trial.not_met}, unknown {trial.unknown}\n"
        )
        hidden = 0
        for c in trial.criteria:
            if c.verdict == "unknown" and c.type in _UNDECIDABLE and not all_criteria:
                hidden += 1
                continue
            out.writelines(line + "\n" for line in _criterion_line(c))
        if hidden:
            out.write(
                f"      … and {plural(hidden, 'line')} no record can decide (consent, or not understood)\n"
            )
        if trial.questions:
            out.write("    To decide it:\n")
            out.writelines(f"      - {q}\n" for q in trial.questions)
