"""How well are criteria typed? Chia annotations (precision/recall per type) and the shared records (coverage, speed).

    python eval/criteria_quality.py                      # both parts, Markdown on stdout
    python eval/criteria_quality.py --out docs/criteria_quality.md
    python eval/criteria_quality.py --store /tmp/x.db    # reuse a store instead of ingesting again

(a) Chia (``shared/eval/chia/chia_with_scope.jsonl``: 2,000 criteria sections of 1,000 trials,
    brat entity annotations). Matching is at the LINE level: each non-empty line of a section is
    typed with ``parse_criterion`` (kind from the section, ``inc``/``exc``); its predicted types are
    the types of all its facts; its gold types come from the Chia entities that start on that line,
    mapped onto TrialScope's types (see ``gold_types``). Precision of type t = lines predicted t that
    Chia also marks t / lines predicted t; recall = the same / lines Chia marks t. Chia annotates
    what a line mentions, not what it is mainly about, so a line is counted for every type it holds.
    Attributes are scored the same way: a time window (a Chia Temporal entity with a number and a
    time unit), a negation (a Chia Negation entity that negates: "no", "not", "without" ...; not
    "except" or "other than"), and a bound with a value (a Chia Measurement with a Value).

(b) The shared records (``shared/data/ctgov``) ingested into a temporary store with the real CLI;
    every trial through ``typed_criteria``: the share of criterion lines typed as something other
    than ``other``, the distribution by type, and the time per trial.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CHIA = SHARED / "eval" / "chia" / "chia_with_scope.jsonl"
CTGOV = SHARED / "data" / "ctgov"

from trialscope.criteria import TYPES, parse_criterion, typed_criteria
from trialscope.store import open_store

# Chia has no healthy-volunteer entity, and "other" is what is left
EVALUATED = tuple(t for t in TYPES if t not in ("healthy_volunteers", "other"))
_PREGNANCY = re.compile(
    r"pregnan|breast.?feed|lactat|nursing|childbearing|child-bearing|contracep|birth control|hcg"
)
_THERAPY = re.compile(
    r"therap|treat|chemo|radiat|vaccin|immuni[sz]|medicat|drug|infusion|transfusion|regimen"
)
_PERFORMANCE = re.compile(r"ecog|karnofsky|lansky|performance|zubrod|\bkps\b|who ps")
_AGE = re.compile(
    r"\bage|aged|\bold\b|years|adult|child|infant|newborn|neonat|minor|elder|pediatric|adolescent"
)
_SEX = re.compile(r"\b(?:fe)?males?\b|wom[ae]n|\bm[ae]n\b|\bboys?\b|\bgirls?\b|\bsex|gender")
_NEGATING = re.compile(
    r"^(?:no|not|without|non|absence|absence of|never|free|lack of|negative|none|neither|nor|no history of)$"
)
_DURATION = re.compile(
    r"(?:\d|one|two|three|four|five|six|seven|eight|nine|ten|twelve)\s*-?\s*(?:years?|months?|weeks?|days?|hours?|yrs?|wks?)\b"
)


def gold_types(entity_type: str, text: str) -> set[str]:
    """TrialScope types a Chia entity stands for (an empty set: not evaluated).

    Condition -> condition (pregnancy words -> pregnancy); Drug -> therapy; Procedure -> therapy
    for treatments (chemotherapy, radiotherapy, "treatment"), pregnancy for contraception, else
    procedure; Measurement -> performance_status (ECOG, Karnofsky), pregnancy (pregnancy test)
    or lab; Person -> age or sex by its words; Pregnancy_considerations -> pregnancy;
    Informed_consent, Competing_trial, Subjective_judgement ("in the investigator's opinion") and
    Non-query-able (what no record says) -> administrative; Observation -> pregnancy (breastfeeding,
    childbearing potential), administrative (consent) or lab (life expectancy)."""
    low = text.lower()
    if entity_type == "Condition":
        return {"pregnancy"} if _PREGNANCY.search(low) else {"condition"}
    if entity_type == "Drug":
        return {"therapy"}
    if entity_type == "Procedure":
        if _PREGNANCY.search(low):
            return {"pregnancy"}
        return {"therapy"} if _THERAPY.search(low) else {"procedure"}
    if entity_type == "Measurement":
        if _PERFORMANCE.search(low):
            return {"performance_status"}
        return {"pregnancy"} if _PREGNANCY.search(low) else {"lab"}
    if entity_type == "Person":
        found = set()
        if _AGE.search(low):
            found.add("age")
        if _SEX.search(low):
            found.add("sex")
        return found
    if entity_type == "Pregnancy_considerations":
        return {"pregnancy"}
    if entity_type in ("Informed_consent", "Competing_trial", "Subjective_judgement", "Non-query-able"):
        return {"administrative"}
    if entity_type == "Observation":
        if _PREGNANCY.search(low):
            return {"pregnancy"}
        if "consent" in low:
            return {"administrative"}
        if "life expectancy" in low or "survival" in low:
            return {"lab"}
    return set()


def chia_lines(path: Path) -> list[tuple[str, str, set[str]]]:
    """(kind, line text, gold labels) for every non-empty line of every Chia section; gold
    labels are types plus ``window``, ``negation`` and ``value`` attributes."""
    out: list[tuple[str, str, set[str]]] = []
    for raw in path.read_bytes().splitlines():
        doc = orjson.loads(raw)
        kind = "inclusion" if doc["section"] == "inc" else "exclusion"
        text: str = doc["text"]
        lines: list[tuple[int, int, str]] = []
        offset = 0
        for line in text.split("\n"):
            lines.append((offset, offset + len(line), line))
            offset += len(line) + 1
        gold: list[set[str]] = [set() for _ in lines]
        kinds: list[set[str]] = [set() for _ in lines]
        for ann in doc["ann"].splitlines():
            if not ann.startswith("T"):
                continue
            parts = ann.split("\t")
            if len(parts) < 3:
                continue
            entity_type, spans = parts[1].split(" ", 1)
            start = int(spans.split()[0])
            index = next((i for i, (a, b, _) in enumerate(lines) if a <= start <= b), None)
            if index is None:
                continue
            gold[index] |= gold_types(entity_type, parts[2])
            kinds[index].add(entity_type)
            if entity_type == "Temporal" and _DURATION.search(parts[2].lower()):
                gold[index].add("window")
            if entity_type == "Negation" and _NEGATING.match(parts[2].lower().strip()):
                gold[index].add("negation")
        for (_, _, line), labels, found in zip(lines, gold, kinds, strict=True):
            if not line.strip():
                continue
            if "Measurement" in found and "Value" in found:
                labels.add("value")
            out.append((kind, line.strip(), labels))
    return out


def predicted_labels(kind: str, line: str) -> set[str]:
    criterion = parse_criterion(line, kind)  # type: ignore[arg-type]
    labels: set[str] = {fact.type for fact in criterion.facts}
    if any(f.window_days is not None for f in criterion.facts):
        labels.add("window")
    if any(f.negated for f in criterion.facts if f.type not in ("lab", "age", "performance_status")):
        labels.add("negation")
    if any(f.value is not None for f in criterion.facts if f.type in ("lab", "performance_status")):
        labels.add("value")
    return labels


def chia_table(path: Path) -> str:
    lines = chia_lines(path)
    tp: Counter[str] = Counter()
    predicted: Counter[str] = Counter()
    gold: Counter[str] = Counter()
    for kind, line, labels in lines:
        guess = predicted_labels(kind, line)
        for label in guess:
            predicted[label] += 1
        for label in labels:
            gold[label] += 1
            if label in guess:
                tp[label] += 1
    rows = [
        "| type or attribute | Chia lines | predicted | precision | recall | F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label in (*EVALUATED, "window", "negation", "value"):
        p = tp[label] / predicted[label] if predicted[label] else 0.0
        r = tp[label] / gold[label] if gold[label] else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        rows.append(f"| {label} | {gold[label]:,} | {predicted[label]:,} | {p:.2f} | {r:.2f} | {f1:.2f} |")
    typed = sum(
        1 for kind, line, _ in lines if predicted_labels(kind, line) - {"window", "negation", "value"}
    )
    rows.append("")
    rows.append(f"{len(lines):,} Chia lines; {typed / len(lines):.1%} get a type other than `other`.")
    return "\n".join(rows)


def ingest_store(ctgov: Path, directory: Path) -> Path:
    db = directory / "criteria_eval.db"
    cli = Path(sys.executable).with_name("trialscope")
    command = [str(cli), "ingest", str(ctgov), "--db", str(db)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return db


def records_table(db: Path) -> str:
    store = open_store(db, readonly=True)
    try:
        trials = list(store.iter_trials())
    finally:
        store.close()
    start, cpu = time.perf_counter(), time.process_time()
    typed = [typed_criteria(trial) for trial in trials]
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    by_type: Counter[str] = Counter()
    headings = 0
    for criteria in typed:
        for criterion in criteria:
            if criterion.source == "text":
                by_type[criterion.type] += 1
                if criterion.type == "other" and criterion.text.rstrip().endswith(":"):
                    headings += 1
    lines = sum(by_type.values())
    with_text = sum(1 for t in trials if t.eligibility.criteria)
    rows = [
        (
            f"{len(trials):,} trials ({with_text:,} with criteria text), {lines:,} criterion lines; "
            f"typing took {elapsed * 1000 / len(trials):.3f} ms per trial "
            f"({elapsed * 1000 / max(with_text, 1):.3f} ms per trial with criteria text, "
            f"{elapsed * 1e6 / max(lines, 1):.0f} µs per line) on this machine, "
            f"{cpu * 1000 / len(trials):.3f} ms of CPU per trial; one process, cold cache."
        ),
        "",
        (
            f"Lines typed as something other than `other`: **{1 - by_type['other'] / lines:.1%}** "
            f"({1 - (by_type['other'] - headings) / (lines - headings):.1%} when the {headings:,} `other` "
            "lines that are sub-headings, ending in ':', are left out)."
        ),
        "",
        "| type | lines | share |",
        "|---|---:|---:|",
    ]
    for name in sorted(TYPES, key=lambda t: -by_type[t]):
        rows.append(f"| {name} | {by_type[name]:,} | {by_type[name] / lines:.1%} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chia", type=Path, default=CHIA)
    parser.add_argument("--ctgov", type=Path, default=CTGOV)
    parser.add_argument(
        "--store", type=Path, help="an existing store of the shared records (else ingest one)"
    )
    parser.add_argument("--out", type=Path, help="also write the Markdown here")
    parser.add_argument("--skip-chia", action="store_true")
    parser.add_argument("--skip-records", action="store_true")
    args = parser.parse_args(argv)
    parts = ["# Typed criteria: quality", ""]
    if not args.skip_chia:
        parts += ["## Chia (line level, per type)", "", chia_table(args.chia), ""]
    if not args.skip_records:
        with tempfile.TemporaryDirectory() as tmp:
            db = args.store or ingest_store(args.ctgov, Path(tmp))
            parts += ["## Shared records", "", records_table(db), ""]
    text = "\n".join(parts)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
