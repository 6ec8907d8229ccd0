"""Matching quality on TREC Clinical Trials 2021: each topic as a patient note, screened and ranked.

    python eval/trec_match.py                       # build the corpus store once, match, report
    python eval/trec_match.py --write docs/PERFORMANCE.md

What a user would do, for each of the 75 topics: paste the description as a note, which is
``trialscope match --note TEXT`` (and the web page /match): :func:`trialscope.match.match_note`
reads it into a patient profile, finds candidates by the product search (the note's salient words
as the search box picks them from a long text, each searched as written, and the conditions read
from it, OR-ed; the top ``--candidates``), screens each candidate's typed criteria (from the store's derived index)
against the profile and ranks them eligible, maybe, ineligible. The evaluation builds no query:
it passes the topic's text, as a user would.

Corpus (the issue's): every full record in ``../shared/data/ctgov`` (API v2, v1, legacy XML)
plus the TREC 2021 partial documents (title, summary, description; no criteria), a full record
replacing the partial document of the same trial. The store's derived indexes (search, typed
criteria) are built as an ingest builds them.

Reported: NDCG@10 (gains 0/1/2), P@10 on eligible (grade 2), P@10 on any relevant (grade >= 1),
and how often an eligible trial is ranked above an excluded one (grade 1) among the pairs of a
topic's judged trials that were retrieved; for the topic typed in the search box, for the
candidates in search order, and for the match.
Also the speed of screening: one patient against 10,000 candidates' typed criteria, one core.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trec_search import (
    TREC,
    full_records,
    load_partial_docs,
    load_qrels,
    ndcg_at,
    precision_at,
    store_of_partials,
)

from trialscope.criteria.index import CRITERIA_INDEX, criteria_of
from trialscope.errors import TrialScopeError
from trialscope.match import Candidate, candidate_from_trial, find_candidates, match_note, match_patient
from trialscope.match.find import DEFAULT_CANDIDATES
from trialscope.patient import Patient, patient_from_json, patient_from_note
from trialscope.search import SEARCH_INDEX, SearchQuery, search_trials
from trialscope.store import StoredRecord, open_store, refresh_indexes


def build_corpus(db: Path) -> dict[str, int]:
    """Every full record of the shared data plus the TREC partial documents, in a fresh store."""
    partial = load_partial_docs(TREC / "partial_docs.jsonl")
    store = store_of_partials(db, partial)
    full: dict[str, StoredRecord] = {}
    for record in full_records():
        known = full.get(record.trial.nct_id)
        if known is None or (record.trial.last_update or "") > (known.trial.last_update or ""):
            full[record.trial.nct_id] = record
    store.upsert_trials(full.values())
    refresh_indexes(store, [SEARCH_INDEX, CRITERIA_INDEX], full=True)
    counts = {"trials": store.count(), "partial": len(partial), "full": len(full)}
    store.close()
    return counts


def current_corpus(db: Path) -> bool:
    """Whether a corpus store can serve this TrialScope: its indexes brought up to date (a store
    made by an older TrialScope, whose tables no longer fit, is built again instead)."""
    try:
        with open_store(db) as store:
            refresh_indexes(store, [SEARCH_INDEX, CRITERIA_INDEX])
    except (TrialScopeError, sqlite3.Error) as exc:
        print(f"the corpus store {db} is from another TrialScope ({exc}); building it again", file=sys.stderr)
        return False
    return True


def type_corpus(store: object) -> tuple[dict[str, Candidate], float]:
    """Every trial as a candidate, its typed criteria read from the store's derived index
    (:func:`trialscope.match.candidate_from_trial`), and the CPU seconds it took (for the
    screening-speed figure)."""
    started = time.process_time()
    ids = store.trial_ids()  # type: ignore[attr-defined]
    trials = store.trials_by_id(ids, results=False)  # type: ignore[attr-defined]
    typed = criteria_of(store, ids, trials=trials)  # type: ignore[arg-type]
    out = {t.nct_id: candidate_from_trial(t, 0.0, typed[i]) for i, t in trials.items()}
    return out, time.process_time() - started


def eligible_above_excluded(
    ranked: Sequence[str], judgments: dict[str, int], among: set[str] | None = None
) -> tuple[int, int]:
    """(pairs in order, pairs) over a topic's eligible x excluded trials of which at least one was
    ranked; an unranked trial counts as ranked last. ``among``: only the judged trials in it
    (those with criteria to screen).

    >>> eligible_above_excluded(["a", "x", "b"], {"a": 2, "b": 2, "x": 1, "y": 1})
    (3, 4)
    >>> eligible_above_excluded(["a", "x", "b"], {"a": 2, "b": 2, "x": 1, "y": 1}, among={"b", "x"})
    (0, 1)
    """
    position = {doc: i for i, doc in enumerate(ranked)}
    last = len(ranked)
    judged = [(d, g) for d, g in judgments.items() if among is None or d in among]
    eligible = [position.get(d, last) for d, g in judged if g == 2]
    excluded = [position.get(d, last) for d, g in judged if g == 1]
    good = total = 0
    for e in eligible:
        for x in excluded:
            if e == last and x == last:
                continue
            total += 1
            good += e < x
    return good, total


def evaluate(
    store: object,
    topics: list[dict[str, str]],
    qrels: dict[str, dict[str, int]],
    *,
    candidates: int,
    screenable: set[str],
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Mean metrics per run and the verdict counts. Each run is a product call given the
    topic's text: the search box (``search``), the match's candidates in search order, the
    match (``trialscope match --note``). ``screenable``: the trials with criteria, for the pairs
    of which both can be screened."""
    runs: dict[str, dict[str, list[float]]] = {
        name: {
            "ndcg": [],
            "p_eligible": [],
            "p_relevant": [],
            "pairs_good": [],
            "pairs": [],
            "full_good": [],
            "full": [],
        }
        for name in ("words", "search", "match", "demote")
    }
    verdicts: dict[str, float] = {"eligible": 0, "maybe": 0, "ineligible": 0, "ms_note": 0.0, "ms_match": 0.0}
    for topic in topics:
        judgments = qrels.get(topic["_id"], {})
        text = topic["text"]
        started = time.perf_counter()
        patient = patient_from_note(text)
        verdicts["ms_note"] += (time.perf_counter() - started) * 1000
        plain = search_trials(store, SearchQuery(text=text, limit=10), timeout_s=60).hits  # type: ignore[arg-type]
        found = find_candidates(store, patient, text=text, candidates=candidates, timeout_s=60)  # type: ignore[arg-type]
        started = time.perf_counter()
        result = match_note(store, text, candidates=candidates, timeout_s=60)  # type: ignore[arg-type]
        verdicts["ms_match"] += (time.perf_counter() - started) * 1000
        for trial in result.trials:
            verdicts[trial.verdict] += 1
        demoted = sorted(result.trials, key=lambda t: (t.verdict == "ineligible", -t.score))
        for name, ranked in (
            ("words", [h.nct_id for h in plain]),
            ("search", [c.nct_id for c in found.candidates]),
            ("match", [t.nct_id for t in result.trials]),
            ("demote", [t.nct_id for t in demoted]),
        ):
            run = runs[name]
            run["ndcg"].append(ndcg_at(ranked, judgments))
            run["p_eligible"].append(precision_at(ranked, judgments, 2))
            run["p_relevant"].append(precision_at(ranked, judgments, 1))
            good, total = eligible_above_excluded(ranked, judgments)
            run["pairs_good"].append(good)
            run["pairs"].append(total)
            good, total = eligible_above_excluded(ranked, judgments, screenable)
            run["full_good"].append(good)
            run["full"].append(total)
    out = {}
    for name, run in runs.items():
        out[name] = {k: statistics.mean(run[k]) for k in ("ndcg", "p_eligible", "p_relevant")}
        out[name]["above"] = sum(run["pairs_good"]) / max(1, sum(run["pairs"]))
        out[name]["above_full"] = sum(run["full_good"]) / max(1, sum(run["full"]))
        out[name]["full_pairs"] = sum(run["full"])
    for key in ("ms_note", "ms_match"):
        verdicts[key] /= len(topics)
    return out, verdicts


SPEED_PATIENT = {
    "age": 62,
    "sex": "female",
    "conditions": ["breast cancer", "hypertension", {"name": "diabetes", "negated": True}],
    "measurements": [
        {"variable": "ecog", "value": 1},
        {"variable": "creatinine", "value": 1.1, "unit": "mg/dL"},
        {"variable": "anc", "value": 2100, "unit": "/uL"},
        {"variable": "platelets", "value": 180000, "unit": "/uL"},
        {"variable": "hemoglobin", "value": 11.2, "unit": "g/dL"},
        {"variable": "lvef", "value": 55, "unit": "%"},
    ],
    "medications": ["tamoxifen", {"name": "paclitaxel", "end": "2021-01-10"}],
    "pregnant": False,
    "as_of": "2021-06-01",
}


def screening_speed(
    typed: dict[str, Candidate], patients: list[Patient], n: int = 10_000
) -> list[tuple[float, int]]:
    """CPU seconds to screen each patient against ``n`` candidates (the trials with criteria,
    cycled when fewer), and the number of criteria screened."""
    pool = [c for c in typed.values() if c.criteria]
    chosen = [pool[i % len(pool)] for i in range(n)]
    count = sum(len(c.criteria) for c in chosen)
    out = []
    for patient in patients:
        gc.collect()
        started = time.process_time()
        match_patient(chosen, patient)
        out.append((time.process_time() - started, count))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default="/tmp/trialscope-eval/trec2021-all.db", help="the corpus store")
    parser.add_argument("--rebuild", action="store_true", help="build the corpus store again")
    parser.add_argument(
        "--candidates",
        type=int,
        default=DEFAULT_CANDIDATES,
        help="candidates screened per topic (as the CLI)",
    )
    parser.add_argument("--topics", type=int, default=0, help="only the first N topics (0: all)")
    parser.add_argument("--write", help="append the figures to this Markdown file's '## Search' section")
    args = parser.parse_args(argv)

    qrels = load_qrels(TREC / "qrels.tsv")
    topics = [
        orjson.loads(line) for line in (TREC / "queries.jsonl").read_bytes().splitlines() if line.strip()
    ]
    if args.topics:
        topics = topics[: args.topics]
    db = Path(args.db)
    db.parent.mkdir(parents=True, exist_ok=True)
    if args.rebuild or not db.exists() or not current_corpus(db):
        started = time.perf_counter()
        counts = build_corpus(db)
        print(f"corpus store built in {time.perf_counter() - started:.0f} s: {counts}", file=sys.stderr)
    store = open_store(db, readonly=True)
    n_partial = dict(store.count_by("trials", "source_format")).get("trec-partial", 0)
    typed, reading_s = type_corpus(store)
    lines_typed = sum(len(c.criteria) for c in typed.values())
    print(
        f"read {sum(1 for c in typed.values() if c.criteria):,} trials' typed criteria ({lines_typed:,}) "
        f"in {reading_s:.1f} s CPU",
        file=sys.stderr,
    )

    speed = screening_speed(
        typed, [patient_from_json(orjson.dumps(SPEED_PATIENT)), patient_from_note(topics[0]["text"])]
    )
    screenable = {c.nct_id for c in typed.values() if c.criteria}
    results, verdicts = evaluate(store, topics, qrels, candidates=args.candidates, screenable=screenable)
    rows = [
        f"| {name} | {r['ndcg']:.4f} | {r['p_eligible']:.4f} | {r['p_relevant']:.4f} | {r['above']:.3f} "
        f"| {r['above_full']:.3f} ({r['full_pairs']:,.0f}) |"
        for name, r in (
            ("`search` with the topic as text (its salient words, OR)", results["words"]),
            (
                "`match` candidates in search order (salient words as written + the note's conditions)",
                results["search"],
            ),
            (
                "`match`: candidates screened, eligible / maybe / ineligible (relevance gate 0.6)",
                results["match"],
            ),
            ("candidates screened, only ineligible moved last", results["demote"]),
        )
    ]
    total = verdicts["eligible"] + verdicts["maybe"] + verdicts["ineligible"]
    report = "\n".join(
        [
            f"### Matching quality — TREC Clinical Trials 2021, {time.strftime('%Y-%m-%d')}",
            "",
            (
                f"`python eval/trec_match.py` — {len(topics)} topics, {sum(len(v) for v in qrels.values()):,} "
                f"judgments; corpus {store.count():,} trials ({store.count() - n_partial:,} full registry records "
                f"from shared/data/ctgov, {n_partial:,} TREC partial documents without criteria); each topic "
                f"given to `trialscope match --note` as it is (`match_note`): candidates the top {args.candidates} "
                "of the search for the note's salient words (as written) and its conditions, OR-ed, then screened and ranked. "
                "Eligible-above-excluded "
                "counts the pairs (eligible, excluded) of a topic's judged trials of which one at least was "
                "ranked; the last column only those pairs of which both trials have criteria to screen "
                "(full registry records; their number in brackets). Issue baseline on this corpus (whole topic as one BM25 query): NDCG@10 0.2178, "
                "P@10 0.3133; target NDCG@10 ≥ 0.44."
            ),
            "",
            (
                "| ranking | NDCG@10 | P@10 (eligible) | P@10 (eligible or excluded) | eligible above excluded "
                "| the same, both screenable (pairs) |"
            ),
            "|---|---|---|---|---|---|",
            *rows,
            "",
            (
                f"Verdicts over the {total:,.0f} screened candidates: {verdicts['eligible']:,.0f} eligible, "
                f"{verdicts['maybe']:,.0f} maybe, {verdicts['ineligible']:,.0f} ineligible. Per topic: note read "
                f"in {verdicts['ms_note']:.0f} ms; the whole match (note read, candidates found, their criteria "
                f"read, screened, ranked) in {verdicts['ms_match']:.0f} ms."
            ),
            "",
            (
                f"Screening speed (one core, CPU time): the typed criteria of all {store.count():,} trials read from "
                f"the store's index in {reading_s:.1f} s ({lines_typed:,} criteria); one patient against 10,000 candidates "
                f"({speed[0][1]:,} criteria): "
                + ", ".join(f"{s:.2f} s" for s, _ in speed)
                + " (a JSON profile with labs; the note of topic 1)."
            ),
            "",
        ]
    )
    print(report)
    if args.write:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
        from bench_search import append_report

        append_report(Path(args.write), report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
