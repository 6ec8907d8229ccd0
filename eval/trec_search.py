"""Search quality on TREC Clinical Trials 2021: NDCG@10 and P@10 over 75 patient topics.

    python eval/trec_search.py                      # build the corpus store once, rank, report
    python eval/trec_search.py --write docs/PERFORMANCE.md

The corpus is the judged documents in ``../shared/eval/trec2021``: every partial document of
``partial_docs.jsonl`` (title, brief summary, description sentences) plus, for any judged
trial whose full registry record is in ``../shared/data/ctgov``, that record (it replaces
the partial one). It is ingested into its own store (``--db``), and search's tables are
built as for any store.

A topic is a patient description of a paragraph or more. It is given to the search as it is,
as a coordinator would paste it: the product reads a long text for its salient words (not stop
words, not numbers; those rare in the corpus first, by tf x idf; see
:mod:`trialscope.search.freetext`) joined by OR, so a long description never errors and ranks
by BM25. Abbreviations keep their capitals (``HTN``, ``AVM``), so the synonym table can expand
them. A second run adds the patient's age and sex, read from the description ("a 45-year-old
man"), as filters.

Judgments: 0 not relevant, 1 excluded, 2 eligible. NDCG@10 uses those grades as gains;
P@10 counts eligible trials (grade 2) and, separately, any relevant one (grade >= 1).
Unjudged trials in a top ten count as not relevant.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from trialscope.ctgov.sources import Rejected, iter_source_records, parse_source_record
from trialscope.errors import ParseError
from trialscope.model import Trial
from trialscope.search import SEARCH_INDEX, SearchQuery, search_trials
from trialscope.search.freetext import MAX_SALIENT
from trialscope.store import Store, StoredRecord, open_store, refresh_indexes

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TREC = SHARED / "eval" / "trec2021"
CTGOV = SHARED / "data" / "ctgov"

_AGE = re.compile(
    r"(\d{1,3})\s*(?:-|\s)?\s*(years?|yrs?|y\.?o\.?|y/o|months?|mo|weeks?|days?)(?:[\s-]*old)?\b"
    r"|^\s*(\d{1,3})\s*(?:yo\b|y/o\b|[MF]\b)",
    re.IGNORECASE | re.MULTILINE,
)
_FEMALE = re.compile(r"\b(woman|female|girl|lady|she|her|F)\b")
_MALE = re.compile(r"\b(man|male|boy|gentleman|he|his|him|M)\b")


def load_partial_docs(path: Path) -> dict[str, Trial]:
    trials: dict[str, Trial] = {}
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        doc = orjson.loads(line)
        sentences = doc.get("description_sentences") or []
        trials[doc["nct_id"]] = Trial(
            nct_id=doc["nct_id"],
            brief_title=doc.get("title") or None,
            brief_summary=(doc.get("brief_summary") or "").strip() or None,
            detailed_description=" ".join(sentences) or None,
            source_format="trec-partial",
            summary_only=True,
        )
    return trials


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in path.read_text().splitlines()[1:]:
        if line.strip():
            topic, doc, grade = line.split("\t")
            qrels.setdefault(topic, {})[doc] = int(grade)
    return qrels


def store_of_partials(db: Path, partial: dict[str, Trial]) -> Store:
    """A new store at ``db`` (any old one removed) holding the TREC partial documents."""
    if db.exists():
        db.unlink()
    store = open_store(db)
    store.upsert_trials(
        StoredRecord(t, orjson.dumps({"nct_id": t.nct_id}), "partial_docs.jsonl") for t in partial.values()
    )
    return store


def full_records() -> Iterator[StoredRecord]:
    """Every full (not summary-only) registry record of the shared data that parses, as read."""
    for item in iter_source_records(CTGOV):
        if isinstance(item, Rejected):
            continue
        try:
            trial = parse_source_record(item)
        except ParseError:
            continue
        if not trial.summary_only:
            yield StoredRecord(trial, item.raw, item.source)


def build_store(db: Path, qrels: dict[str, dict[str, int]]) -> dict[str, int]:
    """The corpus store: partial documents, replaced by full records where the shared data has them."""
    judged = {doc for judgments in qrels.values() for doc in judgments}
    partial = load_partial_docs(TREC / "partial_docs.jsonl")
    corpus_ids = judged & (set(partial) | judged)
    store = store_of_partials(db, partial)
    full = {r.trial.nct_id: r for r in full_records() if r.trial.nct_id in corpus_ids}  # the last one read
    store.upsert_trials(full.values())
    refresh_indexes(store, [SEARCH_INDEX], full=True)
    counts = {
        "trials": store.count(),
        "partial": len(partial),
        "full": len(full),
        "full_replacing_partial": len(set(full) & set(partial)),
        "judged": len(judged),
    }
    store.close()
    return counts


def patient_age_sex(text: str) -> tuple[float | None, str | None]:
    """The patient's age in years and sex as a description states them, when it does."""
    age = None
    match = _AGE.search(text)
    if match:
        number = int(match.group(1) or match.group(3))
        unit = (match.group(2) or "year").lower()
        age = (
            number / 12
            if unit.startswith("mo")
            else number / 52
            if unit.startswith("w")
            else (number / 365 if unit.startswith("d") else float(number))
        )
    head = text[:300]
    female, male = len(_FEMALE.findall(head)), len(_MALE.findall(head))
    sex = "FEMALE" if female > male else "MALE" if male > female else None
    return age, sex


def ndcg_at(ranked: list[str], judgments: dict[str, int], k: int = 10) -> float:
    gains = [judgments.get(doc, 0) for doc in ranked[:k]]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(judgments.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def precision_at(ranked: list[str], judgments: dict[str, int], grade: int, k: int = 10) -> float:
    return sum(1 for doc in ranked[:k] if judgments.get(doc, 0) >= grade) / k


def evaluate(
    store: object,
    topics: list[dict],
    qrels: dict[str, dict[str, int]],
    *,
    filters: bool,
    synonyms: bool,
) -> dict[str, float]:
    scores: dict[str, list[float]] = {"ndcg": [], "p_eligible": [], "p_relevant": []}
    for topic in topics:
        judgments = qrels.get(topic["_id"], {})
        age, sex = patient_age_sex(topic["text"]) if filters else (None, None)
        query = SearchQuery(text=topic["text"], age_years=age, sex=sex, limit=10)
        ranked = [h.nct_id for h in search_trials(store, query, timeout_s=30, use_synonyms=synonyms).hits]
        scores["ndcg"].append(ndcg_at(ranked, judgments))
        scores["p_eligible"].append(precision_at(ranked, judgments, 2))
        scores["p_relevant"].append(precision_at(ranked, judgments, 1))
    return {k: statistics.mean(v) for k, v in scores.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--db", default="/tmp/trialscope-eval/trec2021.db", help="the corpus store (built if missing)"
    )
    parser.add_argument("--rebuild", action="store_true", help="build the corpus store again")
    parser.add_argument("--write", help="append the figures to this Markdown file's '## Search' section")
    args = parser.parse_args(argv)

    qrels = load_qrels(TREC / "qrels.tsv")
    topics = [
        orjson.loads(line) for line in (TREC / "queries.jsonl").read_bytes().splitlines() if line.strip()
    ]
    db = Path(args.db)
    db.parent.mkdir(parents=True, exist_ok=True)
    counts = None
    if args.rebuild or not db.exists():
        started = time.perf_counter()
        counts = build_store(db, qrels)
        print(f"corpus store built in {time.perf_counter() - started:.0f} s: {counts}", file=sys.stderr)
    store = open_store(db, readonly=True)
    n_partial = dict(store.count_by("trials", "source_format")).get("trec-partial", 0)
    runs = [
        ("the topic as the search text (its salient words, OR)", False, True),
        ("same, no synonyms", False, False),
        ("same + age and sex filters", True, True),
    ]
    rows = []
    for name, filters, synonyms in runs:
        started = time.perf_counter()
        result = evaluate(store, topics, qrels, filters=filters, synonyms=synonyms)
        ms = (time.perf_counter() - started) * 1000 / len(topics)
        rows.append(
            f"| {name} | {result['ndcg']:.4f} | {result['p_eligible']:.4f} | {result['p_relevant']:.4f} | {ms:.0f} |"
        )
    lines = [
        f"### Search quality — TREC Clinical Trials 2021, {time.strftime('%Y-%m-%d')}",
        "",
        (
            f"`python eval/trec_search.py` — {len(topics)} topics, {sum(len(v) for v in qrels.values()):,} "
            f"judgments; corpus {store.count():,} trials ({store.count() - n_partial:,} full registry records "
            f"from shared/data/ctgov, {n_partial:,} partial documents); the topic given to search as it is "
            f"(read for its {MAX_SALIENT} most salient words, OR)."
        ),
        "",
        "| run | NDCG@10 | P@10 (eligible) | P@10 (eligible or excluded) | ms/topic |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if args.write:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_search import append_report

        append_report(Path(args.write), report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
