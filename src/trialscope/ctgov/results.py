"""The ``resultsSection`` of an API v2 study -> :class:`trialscope.model.Results`.

Outcome measures with their groups, denominators, classes, categories, measurements and
statistical analyses; the participant flow in periods with milestones and drop reasons; the
baseline characteristics; the adverse events by organ system with counts per group.
"""

from __future__ import annotations

from typing import Any

from trialscope.ctgov.readers import _d, _i, _l, _s, _strs
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


def parse_results(section: dict[str, Any]) -> Results:
    """The resultsSection of an API v2 study."""
    flow = _d(section, "participantFlowModule")
    baseline = _d(section, "baselineCharacteristicsModule")
    outcomes = _d(section, "outcomeMeasuresModule")
    events = _d(section, "adverseEventsModule")
    return Results(
        participant_flow=_flow(flow) if flow else None,
        baseline=_baseline(baseline) if baseline else None,
        outcome_measures=tuple(
            _outcome_measure(m) for m in _l(outcomes, "outcomeMeasures") if isinstance(m, dict)
        ),
        adverse_events=_adverse_events(events) if events else None,
    )


def _groups(obj: dict[str, Any]) -> tuple[ResultGroup, ...]:
    return tuple(
        ResultGroup(id=_s(g, "id") or "", title=_s(g, "title"), description=_s(g, "description"))
        for g in _l(obj, "groups")
        if isinstance(g, dict)
    )


def _counts(items: list[Any], value_key: str = "value") -> tuple[Count, ...]:
    return tuple(
        Count(group_id=_s(c, "groupId") or "", value=_s(c, value_key), comment=_s(c, "comment"))
        for c in items
        if isinstance(c, dict)
    )


def _denoms(obj: dict[str, Any]) -> tuple[Count, ...]:
    for denom in _l(obj, "denoms"):
        if isinstance(denom, dict) and (_s(denom, "units") or "participants").lower() == "participants":
            return _counts(_l(denom, "counts"))
    return ()


def _classes(obj: dict[str, Any]) -> tuple[MeasureClass, ...]:
    return tuple(
        MeasureClass(
            title=_s(c, "title"),
            categories=tuple(
                MeasureCategory(
                    title=_s(cat, "title"),
                    measurements=tuple(
                        Measurement(
                            group_id=_s(m, "groupId") or "",
                            value=_s(m, "value"),
                            spread=_s(m, "spread"),
                            lower_limit=_s(m, "lowerLimit"),
                            upper_limit=_s(m, "upperLimit"),
                            comment=_s(m, "comment"),
                        )
                        for m in _l(cat, "measurements")
                        if isinstance(m, dict)
                    ),
                )
                for cat in _l(c, "categories")
                if isinstance(cat, dict)
            ),
        )
        for c in _l(obj, "classes")
        if isinstance(c, dict)
    )


def _flow(module: dict[str, Any]) -> ParticipantFlow:
    return ParticipantFlow(
        recruitment_details=_s(module, "recruitmentDetails"),
        pre_assignment_details=_s(module, "preAssignmentDetails"),
        groups=_groups(module),
        periods=tuple(
            FlowPeriod(
                title=_s(p, "title"),
                milestones=tuple(
                    FlowMilestone(
                        type=_s(m, "type") or "", counts=_counts(_l(m, "achievements"), "numSubjects")
                    )
                    for m in _l(p, "milestones")
                    if isinstance(m, dict)
                ),
                drop_reasons=tuple(
                    FlowDropReason(type=_s(d, "type") or "", counts=_counts(_l(d, "reasons"), "numSubjects"))
                    for d in _l(p, "dropWithdraws")
                    if isinstance(d, dict)
                ),
            )
            for p in _l(module, "periods")
            if isinstance(p, dict)
        ),
    )


def _baseline(module: dict[str, Any]) -> Baseline:
    return Baseline(
        population_description=_s(module, "populationDescription"),
        groups=_groups(module),
        denoms=_denoms(module),
        measures=tuple(
            BaselineMeasure(
                title=_s(m, "title") or "",
                param_type=_s(m, "paramType"),
                dispersion_type=_s(m, "dispersionType"),
                unit_of_measure=_s(m, "unitOfMeasure"),
                classes=_classes(m),
            )
            for m in _l(module, "measures")
            if isinstance(m, dict)
        ),
    )


def _outcome_measure(m: dict[str, Any]) -> OutcomeMeasure:
    return OutcomeMeasure(
        title=_s(m, "title") or "",
        type=_s(m, "type"),
        description=_s(m, "description"),
        population_description=_s(m, "populationDescription"),
        reporting_status=_s(m, "reportingStatus"),
        param_type=_s(m, "paramType"),
        dispersion_type=_s(m, "dispersionType"),
        unit_of_measure=_s(m, "unitOfMeasure"),
        time_frame=_s(m, "timeFrame"),
        groups=_groups(m),
        denoms=_denoms(m),
        classes=_classes(m),
        analyses=tuple(
            Analysis(
                group_ids=_strs(a, "groupIds"),
                p_value=_s(a, "pValue"),
                statistical_method=_s(a, "statisticalMethod"),
                param_type=_s(a, "paramType"),
                param_value=_s(a, "paramValue"),
                ci_percent=_s(a, "ciPctValue"),
                ci_lower=_s(a, "ciLowerLimit"),
                ci_upper=_s(a, "ciUpperLimit"),
                non_inferiority_type=_s(a, "nonInferiorityType"),
                description=_s(a, "statisticalComment") or _s(a, "groupDescription"),
            )
            for a in _l(m, "analyses")
            if isinstance(a, dict)
        ),
    )


def _events(items: list[Any]) -> tuple[AdverseEvent, ...]:
    return tuple(
        AdverseEvent(
            term=_s(e, "term") or "",
            organ_system=_s(e, "organSystem"),
            source_vocabulary=_s(e, "sourceVocabulary"),
            assessment_type=_s(e, "assessmentType"),
            stats=tuple(
                EventStat(
                    group_id=_s(st, "groupId") or "",
                    num_events=_i(st, "numEvents"),
                    num_affected=_i(st, "numAffected"),
                    num_at_risk=_i(st, "numAtRisk"),
                )
                for st in _l(e, "stats")
                if isinstance(st, dict)
            ),
        )
        for e in items
        if isinstance(e, dict)
    )


def _adverse_events(module: dict[str, Any]) -> AdverseEvents:
    return AdverseEvents(
        frequency_threshold=_s(module, "frequencyThreshold"),
        time_frame=_s(module, "timeFrame"),
        description=_s(module, "description"),
        groups=tuple(
            EventGroup(
                id=_s(g, "id") or "",
                title=_s(g, "title"),
                description=_s(g, "description"),
                deaths_affected=_i(g, "deathsNumAffected"),
                deaths_at_risk=_i(g, "deathsNumAtRisk"),
                serious_affected=_i(g, "seriousNumAffected"),
                serious_at_risk=_i(g, "seriousNumAtRisk"),
                other_affected=_i(g, "otherNumAffected"),
                other_at_risk=_i(g, "otherNumAtRisk"),
            )
            for g in _l(module, "eventGroups")
            if isinstance(g, dict)
        ),
        serious=_events(_l(module, "seriousEvents")),
        other=_events(_l(module, "otherEvents")),
    )
