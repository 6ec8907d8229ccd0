"""What a patient profile adds to the search for candidate trials: its conditions, as phrases.

A note's salient words find trials by what is written; the conditions read from it find them by
what the patient has, in the registry's words (the MeSH term "Astrocytoma" for "anaplastic
astrocytoma", "Hypertension" for "HTN"). Added to the salient words as OR-ed phrases they lift
TREC 2021 NDCG@10 of the candidate search (see docs/PERFORMANCE.md, matching).

>>> from trialscope.patient import patient_from_note
>>> condition_phrases(patient_from_note("48 M with HTN and severe aortic valve stenosis; denies chest pain."))
['"Hypertension"', '"Aortic Valve Stenosis"']
"""

from __future__ import annotations

from trialscope.patient.profile import Patient

MAX_PHRASES = 10


def condition_phrases(patient: Patient, limit: int = MAX_PHRASES) -> list[str]:
    """The patient's present conditions as quoted search phrases, in the order the profile gives
    them (a note's first), each once; a MeSH term "Neoplasms, Breast" is said "Breast Neoplasms"."""
    out: list[str] = []
    seen: set[str] = set()
    for condition in patient.conditions:
        if not condition.present:
            continue
        name = condition.term or condition.name
        if name.count(", ") == 1:
            head, qualifier = name.split(", ")
            name = f"{qualifier} {head}"
        name = " ".join(name.replace('"', " ").split())
        if name and name.lower() not in seen:
            seen.add(name.lower())
            out.append(f'"{name}"')
        if len(out) >= limit:
            break
    return out
