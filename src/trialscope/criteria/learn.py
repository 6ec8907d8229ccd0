"""Learn the MeSH term list for criteria from registry records.

    python -m trialscope.criteria.learn /tmp/x.db src/trialscope/criteria/mesh_terms.tsv

ClinicalTrials.gov attaches MeSH terms to every trial (conditions and interventions, with their
ancestors). This collects them, keeps an id wherever any record gave one, and learns extra
names from trials that name one condition (or one drug) and carry exactly one MeSH term for
it ("Breast Cancer" -> Breast Neoplasms). The output is the packaged ``mesh_terms.tsv``:
``category<TAB>mesh_id<TAB>term<TAB>name|name``, sorted, so a rebuild shows as a plain diff.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from trialscope.criteria.terms import variants
from trialscope.model import MeshTerm, Trial

_DRUG_TYPES = frozenset(
    {"DRUG", "BIOLOGICAL", "DIETARY_SUPPLEMENT", "GENETIC", "RADIATION", "COMBINATION_PRODUCT"}
)


def learn_terms(trials: Iterable[Trial]) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(category, mesh_id, term, learnt names) for every MeSH term the trials carry."""
    ids: dict[tuple[str, str], str] = {}
    seen: set[tuple[str, str]] = set()
    names: dict[tuple[str, str], set[str]] = defaultdict(set)

    def note(category: str, meshes: Iterable[MeshTerm]) -> None:
        for mesh in meshes:
            key = (category, mesh.term)
            seen.add(key)
            if mesh.id:
                ids.setdefault(key, mesh.id)

    for trial in trials:
        note("condition", trial.condition_mesh)
        note("condition", trial.condition_ancestors)
        note("drug", [m for m in trial.intervention_mesh if _drug_like(m.term, ancestor=False)])
        note("drug", [m for m in trial.intervention_ancestors if _drug_like(m.term, ancestor=True)])
        if len(trial.conditions) == 1 and len(trial.condition_mesh) == 1:
            _learn_name(names, "condition", trial.condition_mesh[0].term, trial.conditions[0])
        drugs = [i for i in trial.interventions if (i.type or "").upper() in _DRUG_TYPES]
        if len(drugs) == 1 and len(trial.intervention_mesh) == 1:
            for name in (drugs[0].name, *drugs[0].other_names):
                _learn_name(names, "drug", trial.intervention_mesh[0].term, name)
    # a learnt name that is itself another term's name says nothing new about this one
    known = {form for _, term in seen for form in variants(term)}
    rows = [
        (cat, ids.get((cat, term), ""), term, tuple(sorted(n for n in names[(cat, term)] if n not in known)))
        for cat, term in seen
    ]
    rows.sort(key=lambda r: (r[0], r[2].lower()))
    return rows


# Intervention MeSH terms that are not drugs (trials also test diets, exercise, devices, tests).
NOT_DRUGS = frozenset(
    [
        "exercise",
        "diet",
        "counseling",
        "economics",
        "environment",
        "automobiles",
        "food",
        "diagnosis",
        "hygiene",
        "beverages",
        "candy",
        "flour",
        "eggs",
        "biota",
        "biodiversity",
        "ecosystem",
        "defecation",
        "immobilization",
        "homeopathy",
        "auriculotherapy",
        "capsules",
        "elements",
        "cytodiagnosis",
        "cytophotometry",
        "fluorometry",
        "immunoassay",
        "immunoblotting",
        "demography",
        "biopsy",
        "bronchoscopy",
        "endoscopy",
        "behavior",
        "urination",
        "tablets",
        "solutions",
        "water",
        "fats",
        "carbohydrates",
        "alcohols",
        "ethanol",
        "acetates",
        "chlorides",
        "bromides",
        "fluorides",
        "glycerol",
        "ointments",
        "gels",
        "powders",
        "sprays",
        "emulsions",
        "lotions",
    ]
)
_CLASS_ENDINGS = (
    "agents",
    "inhibitors",
    "antagonists",
    "agonists",
    "blockers",
    "drugs",
    "hormones",
    "steroids",
    "corticosteroids",
    "glucocorticoids",
    "antibodies",
    "vaccines",
    "analgesics",
    "anesthetics",
    "antiemetics",
    "anticoagulants",
    "anticonvulsants",
    "antidepressants",
    "antipsychotics",
    "diuretics",
    "antibiotics",
    "statins",
    "opioids",
    "narcotics",
    "immunosuppressants",
    "bronchodilators",
    "insulins",
    "interferons",
    "estrogens",
    "androgens",
    "progestins",
    "contraceptives",
    "vasodilators",
    "antihypertensives",
)


def _drug_like(term: str, ancestor: bool) -> bool:
    """Whether an intervention MeSH term names a drug (or, for an ancestor, a drug class)."""
    low = term.lower()
    if low in NOT_DRUGS or low.split(",")[0] in NOT_DRUGS:
        return False
    if not ancestor:
        return True
    return low.split(",")[0].endswith(_CLASS_ENDINGS)


def _learn_name(names: dict[tuple[str, str], set[str]], category: str, term: str, name: str) -> None:
    """Keep a trial's name for a term when it plausibly names the same thing: it shares a word
    stem with the term (faecal incontinence -> Fecal Incontinence), or it is one word naming the
    only drug of the trial (a brand name: singulair -> Montelukast); never a combination."""
    clean = " ".join(name.replace("|", " ").split()).lower().strip(" -*.,;:")
    if not 3 <= len(clean) <= 60 or clean == term.lower() or "\t" in clean:
        return
    words = clean.split()
    if any(w in _COMBINING for w in words) or "," in clean or "placebo" in clean:
        return
    stems = {w[:5] for w in term.lower().replace(",", " ").split() if len(w) > 3}
    shared = any(w[:5] in stems for w in words if len(w) > 3)
    brand = category == "drug" and len(words) == 1 and clean.isalpha()
    if shared or brand:
        names[(category, term)].add(clean)


_COMBINING = frozenset({"and", "with", "plus", "or", "combined", "versus", "vs", "after", "before", "&", "+"})


def write_terms(rows: Iterable[tuple[str, str, str, tuple[str, ...]]], path: Path) -> int:
    """Write the TSV; returns the number of terms."""
    lines = ["# category\tmesh_id\tterm\tnames (learnt by trialscope.criteria.learn from registry records)"]
    lines += [f"{cat}\t{mesh_id}\t{term}\t{'|'.join(found)}" for cat, mesh_id, term, found in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m trialscope.criteria.learn STORE.db OUT.tsv", file=sys.stderr)
        return 2
    from trialscope.store import open_store

    store = open_store(args[0], readonly=True)
    try:
        count = write_terms(learn_terms(store.iter_trials()), Path(args[1]))
    finally:
        store.close()
    print(f"wrote {count} terms to {args[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
