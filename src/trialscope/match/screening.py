"""Screen a patient against trials: a verdict per criterion with its evidence, one per trial, a ranking.

Each criterion gets ``met``, ``not_met``, ``unknown`` (the patient data does not say) or
``not_applicable`` (pregnancy for a man). For an exclusion criterion ``met`` means the exclusion
applies. A line's facts combine as the registry writes them: an inclusion line needs all of its
bounds ("ANC ≥ 1.5 and platelets ≥ 100"), except alternatives of one kind ("ECOG 0–1 or
Karnofsky ≥ 70"); an exclusion line lists what excludes, any one of them ("pregnant or
breastfeeding").

A trial is ``ineligible`` when an inclusion criterion is not met or an exclusion criterion is
met; ``eligible`` when every decidable inclusion criterion is met (none unknown), one at least
of them about the patient's health (a condition, lab, treatment: age, sex and the conditions
the registry files the trial under do not do alone), and no exclusion is met; else ``maybe``,
with the questions that would decide it. Lines under no heading are
screened and shown but cannot make a trial ineligible (their direction is not known); one left
unknown keeps it from being eligible, as it may be an inclusion. Administrative lines
(consent) and lines nothing was understood in stay ``unknown`` without a question. A trial with
no decidable criterion at all (a record without criteria) is ``maybe``.

>>> from trialscope.criteria import parse_criterion
>>> from trialscope.patient import Patient
>>> from trialscope.patient.profile import Measurement
>>> v = screen([parse_criterion("Age 18 years or older"), parse_criterion("Pregnancy", "exclusion")],
...            Patient(age=45.0, sex="male"))
>>> v.verdict, [c.verdict for c in v.criteria]
('maybe', ['met', 'not_applicable'])
>>> screen([parse_criterion("Age 18 years or older"), parse_criterion("ECOG 0-1")],
...        Patient(age=45.0, measurements=(Measurement("ecog", 1.0),))).verdict
'eligible'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec

from trialscope.criteria import typed_criteria
from trialscope.criteria.scan import scan
from trialscope.criteria.types import Concept, Fact, TypedCriterion
from trialscope.match.facts import NA, Outcome, PatientFacts, State, holds
from trialscope.model import Trial
from trialscope.patient.profile import Evidence, Patient
from trialscope.patient.vocabulary import concept_for

CriterionVerdictName = Literal["met", "not_met", "unknown", "not_applicable"]
TrialVerdictName = Literal["eligible", "maybe", "ineligible"]
_ORDER: dict[str, int] = {"eligible": 0, "maybe": 1, "ineligible": 2}
_UNDECIDABLE = frozenset({"administrative", "other"})
# Who may enrol, not how the patient is: alone they do not make a trial eligible.
_WHO = frozenset({"age", "sex", "healthy_volunteers"})
MAX_QUESTIONS = 5


class CriterionVerdict(msgspec.Struct, frozen=True):
    """One criterion of a trial held against the patient.

    ``evidence`` is the patient facts (note spans, profile fields) that decided it; ``reason``
    says it in words ("creatinine 1.8 mg/dL"); ``question`` is asked when it is ``unknown``."""

    kind: Literal["inclusion", "exclusion", "unspecified"]
    text: str
    type: str
    verdict: CriterionVerdictName
    evidence: tuple[Evidence, ...] = ()
    label: str = ""
    reason: str = ""
    question: str | None = None


class TrialVerdict(msgspec.Struct, frozen=True):
    """A trial screened for the patient: its verdict, ranking score, every criterion's verdict,
    and the questions whose answers would decide a ``maybe``."""

    nct_id: str
    title: str
    verdict: TrialVerdictName
    score: float
    criteria: tuple[CriterionVerdict, ...] = ()
    questions: tuple[str, ...] = ()
    met: int = 0
    not_met: int = 0
    unknown: int = 0


class MatchResult(msgspec.Struct, frozen=True):
    """The answer of a match: trials best first, and the patient as understood; ``note`` says
    how the candidates were found, ``screened`` how many were screened (see :mod:`.find`)."""

    trials: tuple[TrialVerdict, ...]
    patient: Patient
    note: str = ""
    screened: int = 0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A trial to screen: its typed criteria (``criteria.typed_criteria(trial)``), how relevant
    retrieval found it (a search score, any scale; 0 when it was named by id) and the conditions
    it studies as a criterion (:func:`studied_criterion`), shown first and used in ranking."""

    nct_id: str
    title: str
    criteria: tuple[TypedCriterion, ...]
    relevance: float = 0.0
    studied: TypedCriterion | None = None


# --- one criterion ------------------------------------------------------------------------------


def _combine(outcomes: list[Outcome], any_of: bool) -> Outcome:
    """All of the outcomes (``any_of`` False) or any one of them, three-valued."""
    decided = [o for o in outcomes if o.state != NA]
    if not decided:
        return outcomes[0] if outcomes else Outcome(None)
    wanted = any_of
    hit = [o for o in decided if o.state is wanted]
    if hit:
        return _merge(hit, wanted)
    unknown = [o for o in decided if o.state is None]
    if unknown:
        known = [o for o in decided if o.state is not None]
        return _merge(unknown + known, None)
    return _merge(decided, not wanted)


def _merge(outcomes: list[Outcome], state: State) -> Outcome:
    evidence: list[Evidence] = []
    for o in outcomes:
        for e in o.evidence:
            if e not in evidence:
                evidence.append(e)
    reasons = [o.reason for o in outcomes if o.reason]
    question = next((o.question for o in outcomes if o.question), None)
    return Outcome(state, tuple(evidence[:4]), "; ".join(dict.fromkeys(reasons)), question)


def judge(criterion: TypedCriterion, pf: PatientFacts) -> CriterionVerdict:
    """The verdict of one criterion for the indexed patient."""
    facts = [f for f in criterion.facts if f.type not in _UNDECIDABLE]
    if not facts:
        reason = (
            "not decidable from a patient record" if criterion.type == "administrative" else "not understood"
        )
        return _verdict(criterion, Outcome(None, reason=reason))
    outcomes = [holds(f, pf, criterion.text) for f in facts]
    if criterion.kind == "exclusion":
        line = _combine(outcomes, any_of=True)
    else:
        performance = [o for f, o in zip(facts, outcomes, strict=True) if f.type == "performance_status"]
        rest = [o for f, o in zip(facts, outcomes, strict=True) if f.type != "performance_status"]
        parts = rest + ([_combine(performance, any_of=True)] if performance else [])
        line = _combine(parts, any_of=False)
    return _verdict(criterion, line)


def _verdict(criterion: TypedCriterion, outcome: Outcome) -> CriterionVerdict:
    state = outcome.state
    name: CriterionVerdictName
    if state == NA:
        name = "not_applicable"
    elif state is None:
        name = "unknown"
    else:
        name = "met" if state else "not_met"
    return CriterionVerdict(
        kind=criterion.kind,
        text=criterion.text,
        type=criterion.type,
        verdict=name,
        evidence=outcome.evidence,
        label=criterion.label,
        reason=outcome.reason,
        question=outcome.question if name == "unknown" else None,
    )


def _qualified_exclusions(verdicts: list[CriterionVerdict], candidate: Candidate) -> list[CriterionVerdict]:
    """An exclusion that names the very condition the trial studies excludes a kind of it ("stage
    I or IV breast cancer" in a breast cancer trial), which the vocabulary does not read: the
    patient having the condition does not decide it, so it is ``unknown``, not ``met``."""
    assert candidate.studied is not None
    studied = {c.name.lower() for f in candidate.studied.facts for c in f.concepts}
    out = []
    for verdict, criterion in zip(verdicts, candidate.criteria, strict=True):
        if (
            verdict.kind == "exclusion"
            and verdict.verdict == "met"
            and criterion.type == "condition"
            and any(c.name.lower() in studied for f in criterion.facts for c in f.concepts)
        ):
            verdict = msgspec.structs.replace(
                verdict,
                verdict="unknown",
                reason=verdict.reason + "; the trial studies it, the line excludes a kind of it",
                question=f"Does this exclusion apply to the patient: {_short(criterion.text)}?",
            )
        out.append(verdict)
    return out


def _short(text: str, limit: int = 90) -> str:
    clean = " ".join(text.split()).rstrip(" .;")
    return clean if len(clean) <= limit else clean[:limit].rsplit(" ", 1)[0] + " …"


# --- one trial ----------------------------------------------------------------------------------


def screen(
    trial_criteria: Iterable[TypedCriterion],
    patient: Patient | PatientFacts,
    *,
    nct_id: str = "",
    title: str = "",
    relevance: float = 0.0,
) -> TrialVerdict:
    """Every criterion of one trial against the patient, and the trial's verdict (module docstring).

    ``relevance`` becomes the verdict's ``score`` as is; :func:`match_patient` ranks with more."""
    pf = patient if isinstance(patient, PatientFacts) else PatientFacts.of(patient)
    verdicts = tuple(judge(c, pf) for c in trial_criteria)
    return _trial(verdicts, nct_id, title, relevance)


def _trial(
    verdicts: tuple[CriterionVerdict, ...],
    nct_id: str,
    title: str,
    score: float,
    studied: CriterionVerdict | None = None,
) -> TrialVerdict:
    """The trial's verdict from its criteria's; ``studied`` (the conditions it studies) is shown
    first and can make it ineligible or leave it maybe, but never alone makes it eligible."""
    record = verdicts
    if studied is not None:
        verdicts = (studied, *verdicts)
    failed = any(
        (v.kind == "inclusion" and v.verdict == "not_met") or (v.kind == "exclusion" and v.verdict == "met")
        for v in verdicts
    )
    decidable = [v for v in verdicts if v.type not in _UNDECIDABLE and v.kind != "unspecified"]
    # A line under no heading may be an inclusion: left unknown, it leaves the trial open too.
    open_inclusion = any(
        v.kind != "exclusion" and v.verdict == "unknown" for v in verdicts if v.type not in _UNDECIDABLE
    )
    verdict: TrialVerdictName
    if failed:
        verdict = "ineligible"
    elif open_inclusion or not any(
        v.kind == "inclusion" and v.verdict == "met" and v.type not in _UNDECIDABLE | _WHO for v in record
    ):
        verdict = "maybe"
    else:
        verdict = "eligible"
    questions: list[str] = []
    if verdict != "ineligible":
        for kind in ("inclusion", "unspecified", "exclusion"):
            for v in verdicts:
                if v.kind == kind and v.question and v.question not in questions:
                    questions.append(v.question)
    return TrialVerdict(
        nct_id=nct_id,
        title=title,
        verdict=verdict,
        score=round(score, 6),
        criteria=verdicts,
        questions=tuple(questions[:MAX_QUESTIONS]),
        met=sum(v.verdict == "met" for v in verdicts if v.kind == "inclusion"),
        not_met=sum(
            (v.kind == "inclusion" and v.verdict == "not_met")
            or (v.kind == "exclusion" and v.verdict == "met")
            for v in verdicts
        ),
        unknown=sum(v.verdict == "unknown" for v in decidable),
    )


# --- many trials --------------------------------------------------------------------------------


RELEVANT = 0.6
"""A candidate whose retrieval score is below this share of the best candidate's is ranked after
the others: eligibility orders trials that are about the patient, it does not make a trial about
a side condition ("hypertension" in a cancer patient's note) outrank the trials about the disease."""


def match_patient(
    candidates: Sequence[Candidate],
    patient: Patient,
    *,
    limit: int | None = None,
    min_relevance: float = RELEVANT,
) -> MatchResult:
    """Screen every candidate and rank them: eligible, then maybe, then ineligible; within each,
    by :func:`rank_score` (retrieval relevance, the conditions studied, the criteria met).

    Candidates below ``min_relevance`` times the best relevance come after the rest, ranked the
    same way among themselves (0 ranks every candidate by verdict first). A criterion line
    shared by many trials (boilerplate) is judged once."""
    pf = PatientFacts.of(patient)
    memo: dict[tuple[str, str, int], CriterionVerdict] = {}
    top = max((c.relevance for c in candidates), default=0.0) or 1.0
    ranked: list[tuple[tuple[bool, int, float, str], TrialVerdict]] = []
    for candidate in candidates:
        verdicts = []
        for criterion in candidate.criteria:
            key = (criterion.kind, criterion.text, id(criterion.facts))
            verdict = memo.get(key)
            if verdict is None:
                verdict = memo[key] = judge(criterion, pf)
            verdicts.append(verdict)
        studied = None
        if candidate.studied is not None:
            studied = judge(candidate.studied, pf)
            verdicts = _qualified_exclusions(verdicts, candidate)
        trial = _trial(tuple(verdicts), candidate.nct_id, candidate.title, 0.0, studied)
        relevance = candidate.relevance / top
        score = round(rank_score(trial, relevance), 6)
        trial = msgspec.structs.replace(trial, score=score)
        ranked.append(((relevance < min_relevance, _ORDER[trial.verdict], -score, trial.nct_id), trial))
    ranked.sort(key=lambda item: item[0])
    trials = [trial for _, trial in ranked]
    return MatchResult(trials=tuple(trials[:limit] if limit is not None else trials), patient=patient)


def rank_score(trial: TrialVerdict, relevance: float) -> float:
    """Relevance within a verdict: retrieval's score (scaled to 0–1 over the candidates), plus a
    little for each inclusion criterion the patient is known to meet beyond age and sex, the
    conditions studied among them. (A larger weight for the condition studied was tried on TREC
    2021: it lifts trials about a side condition, "hypertension" in a cancer patient's note.)"""
    specific = sum(
        1
        for v in trial.criteria
        if v.kind == "inclusion" and v.verdict == "met" and v.type not in ("age", "sex", "healthy_volunteers")
    )
    return relevance + 0.05 * min(specific, 4)


# --- a trial as a candidate ---------------------------------------------------------------------


def studied_criterion(trial: Trial) -> TypedCriterion | None:
    """The conditions a trial studies as one inclusion criterion, as the structured age and sex
    fields are: a patient trial is for patients with one of them. A record that names no
    condition (a summary-only document) is read for the conditions its title names. None for a
    trial that accepts healthy volunteers or names no condition at all."""
    if trial.eligibility.healthy_volunteers:
        return None
    if not (trial.conditions or trial.condition_mesh):
        return _title_conditions(trial)
    concepts: dict[str, Concept] = {}
    for mesh in trial.condition_mesh:
        concepts.setdefault(mesh.term.lower(), Concept(mesh.term, "condition", mesh.id))
    for name in trial.conditions:
        concept = concept_for(name, "condition") or Concept(name, "condition")
        concepts.setdefault(
            concept.name.lower(), Concept(concept.name, "condition", concept.mesh_id, name.lower())
        )
    names = list(dict.fromkeys(trial.conditions or [m.term for m in trial.condition_mesh]))
    text = "Condition studied: " + "; ".join(names[:6]) + (" …" if len(names) > 6 else "")
    fact = Fact(type="condition", concepts=tuple(concepts.values()))
    label = names[0] if len(names) == 1 else f"{names[0]} or another condition studied"
    return TypedCriterion(
        kind="inclusion", text=text, type="condition", label=label, facts=(fact,), source="field"
    )


def candidate_from_trial(
    trial: Trial, relevance: float = 0.0, criteria: tuple[TypedCriterion, ...] | None = None
) -> Candidate:
    """A candidate with the trial's typed criteria (computed here unless given, e.g. from the
    store's derived index) and the conditions it studies as a criterion."""
    typed = criteria if criteria is not None else typed_criteria(trial)
    return Candidate(trial.nct_id, trial.title, typed, relevance, studied_criterion(trial))


def _title_conditions(trial: Trial) -> TypedCriterion | None:
    title = trial.brief_title or trial.official_title or ""
    found = [
        m.concept
        for m in scan(title.lower())[0]
        if m.concept is not None and m.concept.category == "condition"
    ]
    concepts = list({c.name.lower(): c for c in found}.values())
    if not concepts:
        return None
    fact = Fact(type="condition", concepts=tuple(concepts))
    names = ", ".join(c.mention or c.name for c in concepts[:3])
    return TypedCriterion(
        kind="inclusion",
        text=f"Condition studied (from the title): {names}",
        type="condition",
        label=names,
        facts=(fact,),
        source="field",
    )
