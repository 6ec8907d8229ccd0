"""The ``<clinical_results>`` of legacy XML -> the API v2 ``resultsSection``.

The XML says most of what API v2 says about results, in other places: counts are attributes
(``<participants group_id="P1" count="8">``), the participants analysed are ``analyzed_list``,
and the totals of adverse events are written as events of a "Total" category. Records written
before 2017 also differ: a measure's categories stand without classes, and an outcome holds a
list of measures, the first of them the number of participants analysed. The tables and
functions here put each in its API v2 place.
"""

from __future__ import annotations

from typing import Any

from trialscope import vocab
from trialscope.ctgov.translate import Calc, Many, Obj, Text, Texts, apply, compact, enum, to_int
from trialscope.ctgov.xml_text import XML

_GROUPS = Many("group_list/group", {"id": "@group_id", "title": "title", "description": "description"})
_PARTICIPANTS = Many(
    "participants_list/participants", {"groupId": "@group_id", "numSubjects": "@count", "comment": ""}
)
_DENOMS = Many(
    "analyzed_list/analyzed",
    {
        "units": "units",
        "counts": Many("count_list/count", {"groupId": "@group_id", "value": "@value", "comment": ""}),
    },
)
_CATEGORIES = Many(
    "category_list/category",
    {
        "title": Text(("title", "sub_title")),
        "measurements": Many(
            "measurement_list/measurement",
            {
                "groupId": "@group_id",
                "value": "@value",
                "spread": "@spread",
                "lowerLimit": "@lower_limit",
                "upperLimit": "@upper_limit",
                "comment": "",
            },
        ),
    },
)


def _classes(measure: Any) -> list[dict[str, Any]]:
    if measure is None:
        return []
    classes = apply(measure, Many("class_list/class", {"title": "title", "categories": _CATEGORIES}), XML)
    if classes:
        return classes
    # Before 2017 a measure held its categories directly, without classes.
    categories = apply(measure, _CATEGORIES, XML)
    return [{"categories": categories}] if categories else []


def _counts_participants(denoms: list[dict[str, Any]]) -> bool:
    """Whether the first denominator that counts participants has counts (as parse_study reads it)."""
    for denom in denoms:
        if (denom.get("units") or "participants").lower() == "participants":
            return bool(denom["counts"])
    return False


def _outcome_measure(el: Any) -> dict[str, Any]:
    measure = el.find("measure")
    counted: list[dict[str, Any]] = []
    if measure is None:
        # Before 2017: a list of measures, the first counting the participants analysed.
        listed = el.findall("measure_list/measure")
        number = [m for m in listed if (XML.text(m, "title") or "").lower() == "number of participants"]
        data = [m for m in listed if m not in number]
        measure = data[0] if data else None
        if number:
            counted = [
                compact({"groupId": m.get("groupId"), "value": m.get("value")})
                for c in _classes(number[0])
                for category in c["categories"]
                for m in category["measurements"]
            ]
    denoms = apply(measure, _DENOMS, XML)
    if counted and not _counts_participants(denoms):
        denoms = [{"counts": counted}]
    return compact(
        {
            "title": XML.text(el, "title") or XML.text(measure, "title"),
            "type": vocab.to_enum("outcome_type", XML.text(el, "type")),
            "description": XML.text(el, "description") or XML.text(measure, "description"),
            "populationDescription": XML.text(el, "population") or XML.text(measure, "population"),
            "paramType": vocab.to_enum("param_type", XML.text(measure, "param")),
            "dispersionType": XML.text(measure, "dispersion"),
            "unitOfMeasure": XML.text(measure, "units"),
            "timeFrame": XML.text(el, "time_frame"),
            "groups": apply(el, _GROUPS, XML),
            "denoms": denoms,
            "classes": _classes(measure),
            "analyses": apply(el, _ANALYSES, XML),
        }
    )


_ANALYSES = Many(
    "analysis_list/analysis",
    {
        "groupIds": Texts("group_id_list/group_id"),
        "pValue": "p_value",
        "statisticalMethod": "method",
        "paramType": "param_type",
        "paramValue": "param_value",
        "ciPctValue": "ci_percent",
        "ciLowerLimit": "ci_lower_limit",
        "ciUpperLimit": "ci_upper_limit",
        "nonInferiorityType": Text("non_inferiority_type", enum("non_inferiority_type")),
        "statisticalComment": "method_desc",
        # API v2 keeps the estimate's description apart; the model's one description falls back on it.
        "groupDescription": Text(("groups_desc", "estimate_desc")),
    },
)

# The totals the XML lists as events of a "Total" category, by the v2 event group keys they fill.
_TOTALS = {
    "total, all-cause mortality": ("deathsNumAffected", "deathsNumAtRisk"),
    "total, serious adverse events": ("seriousNumAffected", "seriousNumAtRisk"),
    "total, other adverse events": ("otherNumAffected", "otherNumAtRisk"),
}
_STATS = Many(
    "counts",
    {
        "groupId": "@group_id",
        "numEvents": Text("@events", to_int),
        "numAffected": Text("@subjects_affected", to_int),
        "numAtRisk": Text("@subjects_at_risk", to_int),
    },
)


def _events(el: Any, totals: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of one list; the "Total, ..." rows go into ``totals`` by group instead."""
    if el is None:
        return []
    vocabulary, assessment = XML.text(el, "default_vocab"), XML.text(el, "default_assessment")
    found: list[dict[str, Any]] = []
    for category in el.findall("category_list/category"):
        organ_system = XML.text(category, "title")
        for event in category.findall("event_list/event"):
            term = XML.text(event, "sub_title") or ""
            total = _TOTALS.get(term.lower()) if organ_system in (None, "Total") else None
            if total:
                for count in apply(event, _STATS, XML):
                    group = totals.setdefault(count.get("groupId") or "", {})
                    group[total[0]], group[total[1]] = count.get("numAffected"), count.get("numAtRisk")
                continue
            found.append(
                compact(
                    {
                        "term": term,
                        "organSystem": organ_system,
                        "sourceVocabulary": XML.text(event, "sub_title@vocab") or vocabulary,
                        "assessmentType": vocab.to_enum(
                            "assessment_type", XML.text(event, "assessment") or assessment
                        ),
                        "stats": apply(event, _STATS, XML),
                    }
                )
            )
    return found


def _adverse_events(results: Any) -> dict[str, Any] | None:
    el = results.find("reported_events")
    if el is None:
        return None
    totals: dict[str, dict[str, Any]] = {}
    serious = _events(el.find("serious_events"), totals)
    other = _events(el.find("other_events"), totals)
    groups = [{**g, **compact(totals.get(g.get("id") or "", {}))} for g in apply(el, _GROUPS, XML)]
    return compact(
        {
            "frequencyThreshold": XML.text(el, "other_events/frequency_threshold"),
            "timeFrame": XML.text(el, "time_frame"),
            "description": XML.text(el, "desc"),
            "eventGroups": groups,
            "seriousEvents": serious,
            "otherEvents": other,
        }
    )


RESULTS: dict[str, Any] = {
    "participantFlowModule": Obj(
        "participant_flow",
        {
            "recruitmentDetails": "recruitment_details",
            "preAssignmentDetails": "pre_assignment_details",
            "groups": _GROUPS,
            "periods": Many(
                "period_list/period",
                {
                    "title": "title",
                    "milestones": Many(
                        "milestone_list/milestone", {"type": "title", "achievements": _PARTICIPANTS}
                    ),
                    "dropWithdraws": Many(
                        "drop_withdraw_reason_list/drop_withdraw_reason",
                        {"type": "title", "reasons": _PARTICIPANTS},
                    ),
                },
            ),
        },
    ),
    "baselineCharacteristicsModule": Obj(
        "baseline",
        {
            "populationDescription": "population",
            "groups": _GROUPS,
            "denoms": _DENOMS,
            "measures": Many(
                "measure_list/measure",
                {
                    "title": "title",
                    "paramType": Text("param", enum("param_type")),
                    "dispersionType": "dispersion",
                    "unitOfMeasure": "units",
                    "classes": Calc(_classes),
                },
            ),
        },
    ),
    "outcomeMeasuresModule": Obj("", {"outcomeMeasures": Many("outcome_list/outcome", _outcome_measure)}),
    "adverseEventsModule": Calc(_adverse_events),
}
