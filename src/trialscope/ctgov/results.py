"""The ``resultsSection`` of an API v2 study -> :class:`trialscope.model.Results`, as tables.

Outcome measures with their groups, denominators, classes, categories, measurements and
statistical analyses; the participant flow in periods with milestones and drop reasons; the
baseline characteristics; the adverse events by organ system with counts per group. Each model
class has its table (see :mod:`trialscope.ctgov.build`), and :data:`RESULTS` is the whole section:
``build(RESULTS, study["resultsSection"])``.
"""

from __future__ import annotations

from typing import Any

from trialscope.ctgov.build import Spec, many, named, one
from trialscope.ctgov.readers import _i, _l, _s, _strs
from trialscope.model import (
    AdverseEvent,
    AdverseEvents,
    Analysis,
    Baseline,
    BaselineMeasure,
    Count,
    EventGroup,
    EventStat,
    FlowDropReason,
    FlowMilestone,
    FlowPeriod,
    MeasureCategory,
    MeasureClass,
    Measurement,
    OutcomeMeasure,
    ParticipantFlow,
    ResultGroup,
    Results,
)

GROUP = Spec(ResultGroup, named("id title description"))

COUNT = Spec(Count, {"group_id": "groupId", **named("value comment")})
# The participant flow counts its participants under another key.
SUBJECTS = Spec(Count, {**COUNT.rules, "value": "numSubjects"})
_counts = many(COUNT)


def _denoms(obj: Any, key: str) -> tuple[Count, ...]:
    """The counts of the first denominator in participants (the unit when none is named)."""
    for denom in _l(obj, key):
        if isinstance(denom, dict) and (_s(denom, "units") or "participants").lower() == "participants":
            return _counts(denom, "counts")
    return ()


MEASUREMENT = Spec(
    Measurement, {"group_id": "groupId", **named("value spread lowerLimit upperLimit comment")}
)
CATEGORY = Spec(MeasureCategory, {**named("title"), "measurements": ("measurements", many(MEASUREMENT))})
CLASS = Spec(MeasureClass, {**named("title"), "categories": ("categories", many(CATEGORY))})

ANALYSIS = Spec(
    Analysis,
    {
        "group_ids": ("groupIds", _strs),
        **named("pValue statisticalMethod paramType paramValue nonInferiorityType"),
        "ci_percent": "ciPctValue",
        "ci_lower": "ciLowerLimit",
        "ci_upper": "ciUpperLimit",
        "description": (("statisticalComment", "groupDescription"), _s),
    },
)

OUTCOME_MEASURE = Spec(
    OutcomeMeasure,
    {
        **named("title type description populationDescription reportingStatus"),
        **named("paramType dispersionType unitOfMeasure timeFrame"),
        "groups": ("groups", many(GROUP)),
        "denoms": ("denoms", _denoms),
        "classes": ("classes", many(CLASS)),
        "analyses": ("analyses", many(ANALYSIS)),
    },
)

BASELINE_MEASURE = Spec(
    BaselineMeasure,
    {
        **named("title paramType dispersionType unitOfMeasure"),
        "classes": ("classes", many(CLASS)),
    },
)
BASELINE = Spec(
    Baseline,
    {
        **named("populationDescription"),
        "groups": ("groups", many(GROUP)),
        "denoms": ("denoms", _denoms),
        "measures": ("measures", many(BASELINE_MEASURE)),
    },
)

EVENT_STAT = Spec(EventStat, {"group_id": "groupId", **named("numEvents numAffected numAtRisk", _i)})
EVENT = Spec(
    AdverseEvent,
    {
        **named("term organSystem sourceVocabulary assessmentType"),
        "stats": ("stats", many(EVENT_STAT)),
    },
)
# A group's participants affected and at risk, of deaths, serious and other events: the field
# deaths_affected is the key deathsNumAffected, other_at_risk is otherNumAtRisk.
EVENT_COUNTS = {
    f"{kind}_{field}": (f"{kind}Num{key}", _i)
    for kind in ("deaths", "serious", "other")
    for field, key in (("affected", "Affected"), ("at_risk", "AtRisk"))
}
EVENT_GROUP = Spec(EventGroup, {**GROUP.rules, **EVENT_COUNTS})
ADVERSE_EVENTS = Spec(
    AdverseEvents,
    {
        **named("frequencyThreshold timeFrame description"),
        "groups": ("eventGroups", many(EVENT_GROUP)),
        "serious": ("seriousEvents", many(EVENT)),
        "other": ("otherEvents", many(EVENT)),
    },
)

MILESTONE = Spec(FlowMilestone, {"type": "type", "counts": ("achievements", many(SUBJECTS))})
DROP_REASON = Spec(FlowDropReason, {"type": "type", "counts": ("reasons", many(SUBJECTS))})
PERIOD = Spec(
    FlowPeriod,
    {
        "title": "title",
        "milestones": ("milestones", many(MILESTONE)),
        "drop_reasons": ("dropWithdraws", many(DROP_REASON)),
    },
)
FLOW = Spec(
    ParticipantFlow,
    {
        **named("recruitmentDetails preAssignmentDetails"),
        "groups": ("groups", many(GROUP)),
        "periods": ("periods", many(PERIOD)),
    },
)

RESULTS = Spec(
    Results,
    {
        "participant_flow": ("participantFlowModule", one(FLOW)),
        "baseline": ("baselineCharacteristicsModule", one(BASELINE)),
        "outcome_measures": ("outcomeMeasuresModule.outcomeMeasures", many(OUTCOME_MEASURE)),
        "adverse_events": ("adverseEventsModule", one(ADVERSE_EVENTS)),
    },
)
