"""Finding the trials for a patient: the one matching call the CLI, the web page, the API and the eval share.

    from trialscope.match.find import match_note
    result = match_note(store, "58-year-old woman with lupus nephritis on dialysis ...",
                        query=SearchQuery(statuses=("recruiting",)), limit=20)

Two steps. :func:`find_candidates` searches the store as the search box reads a long text: the
note's most telling words (:func:`trialscope.search.freetext.salient_words`, the engine's own
reading), each searched as written, and the patient's conditions in the registry's words
(:func:`~trialscope.match.retrieval.condition_phrases`), OR-ed, ranked by BM25, with every
search filter of ``query`` applied; the trials named by NCT id are added whatever the filters.
The words are not widened by the search's abbreviation table: in a note "ASD" next to
"pulmonary hypertension" is an atrial septal defect, not also autism, and the abbreviations the
note reader understood are searched as the conditions they name (on TREC 2021 this lifts the
candidates' NDCG@10 from 0.41 to 0.44; docs/PERFORMANCE.md).
Then each candidate's typed criteria, from the store's derived index
(:func:`trialscope.criteria.index.criteria_of`, typed on the fly where the index is behind), are
screened against the patient and the trials ranked (:func:`~trialscope.match.match_patient`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypedDict, Unpack

import msgspec

from trialscope.criteria.index import criteria_of
from trialscope.errors import QueryError, TrialNotFoundError
from trialscope.match.retrieval import condition_phrases
from trialscope.match.screening import Candidate, MatchResult, candidate_from_trial, match_patient
from trialscope.patient import Patient, PatientError, patient_from_note
from trialscope.search import SearchQuery, normalize_query, search_reader, search_trials
from trialscope.search.freetext import MAX_CHARS, MAX_SALIENT, salient_words
from trialscope.store import Store

DEFAULT_CANDIDATES = 200  # trials screened per patient, besides those named
MAX_CANDIDATES = 1000
MAX_NAMED = 100  # trials a match may name by NCT id
MAX_NOTE_CHARS = MAX_CHARS
SHOWN_WORDS = 12
NOTE_WORDS = MAX_SALIENT  # salient words of a note searched for candidates (the search box's number)


@dataclass(frozen=True, slots=True)
class Candidates:
    """The trials to screen, best first (the named ones last, unless found), and how they were found."""

    candidates: tuple[Candidate, ...]
    note: str
    named: tuple[str, ...] = ()


def check_note(text: str) -> str:
    """The note, or a clear error when it holds nothing to read.

    >>> check_note("  ")
    Traceback (most recent call last):
    ...
    trialscope.patient.profile.PatientError: The patient note is empty; describe the patient in a few sentences (age, sex, conditions, treatments, labs).
    """
    if not text or not text.strip():
        raise PatientError(
            "The patient note is empty; describe the patient in a few sentences "
            "(age, sex, conditions, treatments, labs)."
        )
    if len(text) > MAX_NOTE_CHARS:
        raise PatientError(
            f"The patient note is {len(text):,} characters long; at most {MAX_NOTE_CHARS:,} are read, "
            "so shorten it to the patient's history."
        )
    return text


def _search_text(store: Store, patient: Patient, text: str | None) -> tuple[str, str]:
    """The candidate search's text (OR-ed words and phrases) and a sentence on how it was made."""
    words: list[str] = []
    if text:
        reader = search_reader(store)
        words = salient_words(text, reader.doc_freq, max(reader.n_docs, 1), NOTE_WORDS)
    phrases = condition_phrases(patient)
    parts = []
    if words:
        shown = ", ".join(words[:SHOWN_WORDS]) + (" …" if len(words) > SHOWN_WORDS else "")
        parts.append(f"the note's {len(words)} most telling words ({shown})")
    if phrases:
        parts.append(f"the patient's conditions ({', '.join(p.strip(chr(34)) for p in phrases)})")
    # Each word quoted, so searched as written: the search's abbreviation table would read "ASD"
    # in a cardiac note as autism spectrum disorder too; what the profile understood of the
    # note ("HTN" as Hypertension) is searched by its conditions instead.
    return " OR ".join([f'"{w}"' for w in words] + phrases), " and ".join(parts)


class FindOptions(TypedDict, total=False):
    """How the candidates of a match are found (every key optional): ``query`` carries the
    search filters (its text, sort and page are ignored); ``nct_ids`` are trials to screen
    whatever the search finds; ``candidates`` how many trials the search gives (0: only those
    named; :data:`DEFAULT_CANDIDATES`); ``timeout_s`` the search's time limit (5 s)."""

    query: SearchQuery | None
    nct_ids: Sequence[str]
    candidates: int
    timeout_s: float


def find_candidates(
    store: Store, patient: Patient, *, text: str | None = None, **options: Unpack[FindOptions]
) -> Candidates:
    """The trials to screen for a patient (see the module's description), each with its typed criteria.

    ``text`` is the note the patient was read from (None for a JSON or FHIR profile); the
    options are :class:`FindOptions`. Raises TrialNotFoundError for a named trial not stored,
    QueryError when there is nothing to search by or a filter cannot be read.
    """
    candidates = options.get("candidates", DEFAULT_CANDIDATES)
    query, nct_ids = options.get("query"), options.get("nct_ids", ())
    if not 0 <= candidates <= MAX_CANDIDATES:
        raise QueryError(
            f"The number of candidates must be from 0 to {MAX_CANDIDATES:,}, not {candidates:,}."
        )
    named = tuple(dict.fromkeys(n.strip().upper() for n in nct_ids if n.strip()))
    if len(named) > MAX_NAMED:
        raise QueryError(
            f"{len(named):,} trials are named; at most {MAX_NAMED} can be screened by id at once."
        )
    ids = store.ids_of(named)
    for nct_id in named:
        if nct_id not in ids:
            raise TrialNotFoundError(nct_id)
    filters = normalize_query(replace(query or SearchQuery(), text="", page=1, cursor=None, facets=()))
    hits: list[tuple[str, float]] = []
    note = f"Screened the {len(named)} trials named." if named else ""
    if candidates:
        search_text, how = _search_text(store, patient, text)
        if not search_text and not filters.shown_filters() and not named:
            raise QueryError(
                "Nothing to find trials by: the note has no words any trial holds and the patient no "
                "condition; describe the patient's conditions, or name trials to screen."
            )
        search = replace(filters, text=search_text, limit=candidates, sort="relevance")
        found = search_trials(store, search, timeout_s=options.get("timeout_s", 5.0)).hits
        hits = [(h.nct_id, h.score) for h in found]
        what = (
            f"Candidates: the {len(hits):,} trials best matching {how}"
            if how
            else (f"Candidates: {len(hits):,} trials matching the filters")
        )
        filtered = filters.shown_filters()
        note = what + (
            f", with {len(filtered)} search filter{'s' if len(filtered) != 1 else ''}" if filtered else ""
        )
        note += "." + (f" Also screened: the {len(named)} trials named." if named else "")
    relevance = dict(hits)
    order = list(relevance) + [n for n in named if n not in relevance]
    by_nct = store.ids_of(order)
    trials = store.trials_by_id(by_nct.values(), results=False)
    typed = criteria_of(store, by_nct.values(), trials=trials)
    top = max(relevance.values(), default=1.0)
    out = []
    for nct_id in order:
        trial_id = by_nct.get(nct_id)
        if trial_id is None or trial_id not in trials:
            continue
        # A trial the user names is as relevant as the best found: it is ranked by its verdict.
        score = relevance.get(nct_id, top if nct_id in named else 0.0)
        out.append(candidate_from_trial(trials[trial_id], score, typed[trial_id]))
    return Candidates(tuple(out), note, named)


def find_matches(
    store: Store,
    patient: Patient,
    *,
    text: str | None = None,
    limit: int | None = None,
    **options: Unpack[FindOptions],
) -> MatchResult:
    """The trials for a patient, screened and ranked: eligible, maybe, ineligible (the best
    ``limit`` of them, and every trial named in ``nct_ids`` whatever its rank), with the
    patient as understood and a sentence on how the candidates were found (``note``)."""
    found = find_candidates(store, patient, text=text, **options)
    result = match_patient(found.candidates, patient)
    trials = result.trials
    if limit is not None:
        shown = trials[:limit]
        trials = shown + tuple(t for t in trials[limit:] if t.nct_id in found.named)
    return msgspec.structs.replace(result, trials=trials, note=found.note, screened=len(found.candidates))


def match_note(
    store: Store, text: str, *, limit: int | None = None, **options: Unpack[FindOptions]
) -> MatchResult:
    """A free-text note read into a patient (:func:`~trialscope.patient.patient_from_note`) and
    matched with :func:`find_matches`: what ``trialscope match --note`` runs, and the eval too."""
    patient = patient_from_note(check_note(text))
    return find_matches(store, patient, text=text, limit=limit, **options)
