"""Retired classic API v1 StudyFields rows -> the FullStudies study tree that ``v1`` parses.

A StudyFields row is flat: every field is a list of strings, and lists that belong together
(a site's facility, city and country) are parallel lists. ``study_from_fields`` rebuilds the
nested study only where the lists line up; what cannot be aligned is dropped, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# --- StudyFields row -> study tree ----------------------------------------------------------------


def all_values(row: dict[str, Any], key: str) -> list[str]:
    """A StudyFields field as a list of strings (a lone string counts as a list of one)."""
    value = row.get(key)
    values = value if isinstance(value, list) else [] if value is None else [value]
    found = []
    for item in values:
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, (int, float)):
            item = str(item)
        if isinstance(item, str):
            found.append(item)
    return found


def first_value(row: dict[str, Any], key: str) -> str | None:
    values = [v for v in all_values(row, key) if v.strip()]
    return values[0] if values else None


def _scalars(row: dict[str, Any], keys: Sequence[str]) -> dict[str, str]:
    return {k: v for k in keys if (v := first_value(row, k)) is not None}


def _parallel(row: dict[str, Any], keys: Sequence[str], count: int | None = None) -> list[dict[str, Any]]:
    """Items rebuilt from parallel fields: a field counts only when it has one value per item."""
    columns = {k: all_values(row, k) for k in keys}
    count = max((len(v) for v in columns.values()), default=0) if count is None else count
    aligned = {k: v for k, v in columns.items() if len(v) == count}
    return [{k: v[i] for k, v in aligned.items()} for i in range(count)]


def _chunks(group_ids: list[str]) -> list[list[int]]:
    """Positions of a flattened list of group ids, cut where the ids start again (EG000, EG001, EG000...)."""
    chunks: list[list[int]] = []
    for index, group_id in enumerate(group_ids):
        if not chunks or group_id <= group_ids[index - 1]:
            chunks.append([])
        chunks[-1].append(index)
    return chunks


def _chunked(
    row: dict[str, Any], id_key: str, keys: Sequence[str], expected: int
) -> list[list[dict[str, Any]]] | None:
    """Per-item lists of sub-items (stats of events, counts of milestones); None if they do not line up."""
    ids = all_values(row, id_key)
    chunks = _chunks(ids)
    if not ids or len(chunks) != expected:
        return None
    items = _parallel(row, [id_key, *keys], len(ids))
    return [[items[i] for i in chunk] for chunk in chunks]


_PROTOCOL_SCALARS = {
    "IdentificationModule": ("NCTId", "BriefTitle", "OfficialTitle", "Acronym"),
    "StatusModule": (
        "StatusVerifiedDate",
        "OverallStatus",
        "WhyStopped",
        "StudyFirstSubmitDate",
        "LastUpdateSubmitDate",
    ),
    "DescriptionModule": ("BriefSummary", "DetailedDescription"),
    "EligibilityModule": (
        "EligibilityCriteria",
        "HealthyVolunteers",
        "Gender",
        "GenderBased",
        "MinimumAge",
        "MaximumAge",
        "StudyPopulation",
        "SamplingMethod",
    ),
}
_DATES = ("Start", "PrimaryCompletion", "Completion", "StudyFirstPost", "ResultsFirstPost", "LastUpdatePost")


def study_from_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A StudyFields row rebuilt into the FullStudies ``Study`` tree, as far as its lists line up."""
    protocol: dict[str, Any] = {name: _scalars(row, keys) for name, keys in _PROTOCOL_SCALARS.items()}
    ident, status = protocol["IdentificationModule"], protocol["StatusModule"]
    ident["OrgStudyIdInfo"] = _scalars(
        row, ("OrgStudyId", "OrgStudyIdType", "OrgStudyIdDomain", "OrgStudyIdLink")
    )
    ident["Organization"] = _scalars(row, ("OrgFullName", "OrgClass"))
    ident["SecondaryIdInfoList"] = {
        "SecondaryIdInfo": _parallel(
            row, ("SecondaryId", "SecondaryIdType", "SecondaryIdDomain", "SecondaryIdLink")
        )
    }
    for name in _DATES:
        status[f"{name}DateStruct"] = _scalars(row, (f"{name}Date", f"{name}DateType"))
    protocol["SponsorCollaboratorsModule"] = {
        "LeadSponsor": _scalars(row, ("LeadSponsorName", "LeadSponsorClass")),
        "CollaboratorList": {"Collaborator": _parallel(row, ("CollaboratorName", "CollaboratorClass"))},
        "ResponsibleParty": _scalars(
            row,
            (
                "ResponsiblePartyType",
                "ResponsiblePartyInvestigatorFullName",
                "ResponsiblePartyInvestigatorTitle",
                "ResponsiblePartyInvestigatorAffiliation",
                "ResponsiblePartyOldNameTitle",
                "ResponsiblePartyOldOrganization",
            ),
        ),
    }
    protocol["ConditionsModule"] = {
        "ConditionList": {"Condition": all_values(row, "Condition")},
        "KeywordList": {"Keyword": all_values(row, "Keyword")},
    }
    protocol["DesignModule"] = {
        **_scalars(row, ("StudyType",)),
        "PhaseList": {"Phase": all_values(row, "Phase")},
        "DesignInfo": {
            **_scalars(row, ("DesignAllocation", "DesignInterventionModel", "DesignPrimaryPurpose")),
            "DesignObservationalModelList": {
                "DesignObservationalModel": all_values(row, "DesignObservationalModel")
            },
            "DesignTimePerspectiveList": {"DesignTimePerspective": all_values(row, "DesignTimePerspective")},
            "DesignMaskingInfo": {
                **_scalars(row, ("DesignMasking",)),
                "DesignWhoMaskedList": {"DesignWhoMasked": all_values(row, "DesignWhoMasked")},
            },
        },
        "EnrollmentInfo": _scalars(row, ("EnrollmentCount", "EnrollmentType")),
    }
    protocol["ArmsInterventionsModule"] = _arms_interventions(row)
    protocol["OutcomesModule"] = {
        f"{kind}OutcomeList": {
            f"{kind}Outcome": _parallel(
                row, (f"{kind}OutcomeMeasure", f"{kind}OutcomeDescription", f"{kind}OutcomeTimeFrame")
            )
        }
        for kind in ("Primary", "Secondary", "Other")
    }
    protocol["EligibilityModule"]["StdAgeList"] = {"StdAge": all_values(row, "StdAge")}
    protocol["ContactsLocationsModule"] = _contacts_locations(row)
    protocol["ReferencesModule"] = {
        "ReferenceList": {
            "Reference": _parallel(row, ("ReferenceCitation", "ReferencePMID", "ReferenceType"))
        }
    }
    study: dict[str, Any] = {"ProtocolSection": protocol, "DerivedSection": _derived(row)}
    results = _results_from_fields(row)
    if results:
        study["ResultsSection"] = results
    return study


def _arms_interventions(row: dict[str, Any]) -> dict[str, Any]:
    arm_keys = ("ArmGroupLabel", "ArmGroupType", "ArmGroupDescription")
    arms = _parallel(row, arm_keys, len(all_values(row, arm_keys[0])))
    intervention_keys = ("InterventionName", "InterventionType", "InterventionDescription")
    interventions = _parallel(row, intervention_keys, len(all_values(row, intervention_keys[0])))
    links = _link_arms(row, arms, interventions)
    if links is not None:
        arm_names, intervention_labels = links
        for arm, names in zip(arms, arm_names):
            arm["ArmGroupInterventionList"] = {"ArmGroupInterventionName": names}
        for intervention, labels in zip(interventions, intervention_labels):
            intervention["InterventionArmGroupLabelList"] = {"InterventionArmGroupLabel": labels}
    if len(interventions) == 1:  # other names are flattened over all interventions
        other_names = all_values(row, "InterventionOtherName")
        interventions[0]["InterventionOtherNameList"] = {"InterventionOtherName": other_names}
    return {"ArmGroupList": {"ArmGroup": arms}, "InterventionList": {"Intervention": interventions}}


def _link_arms(
    row: dict[str, Any], arms: list[dict[str, Any]], interventions: list[dict[str, Any]]
) -> tuple[list[list[str]], list[list[str]]] | None:
    """Which arm gets which intervention, from the two flattened link lists, when they agree.

    ``ArmGroupInterventionName`` lists each arm's interventions arm after arm, and
    ``InterventionArmGroupLabel`` each intervention's arms intervention after intervention. How
    often a label occurs in the second says how many names of the first belong to that arm, and
    the other way round; the two readings must give the same links, or none are kept.
    """
    names, labels = all_values(row, "ArmGroupInterventionName"), all_values(row, "InterventionArmGroupLabel")
    arm_labels = [a.get("ArmGroupLabel", "") for a in arms]
    named = [_typed_name(x) for x in interventions]
    if not names or len(names) != len(labels):
        return None
    if len(set(arm_labels)) != len(arm_labels) or len(set(named)) != len(named):
        return None
    arm_sizes = [labels.count(label) for label in arm_labels]
    intervention_sizes = [_count_name(names, name) for name in named]
    if sum(arm_sizes) != len(names) or sum(intervention_sizes) != len(labels):
        return None
    arm_names = _cut(names, arm_sizes)
    intervention_labels = _cut(labels, intervention_sizes)
    from_arms = {(label, _name_key(n)) for label, ns in zip(arm_labels, arm_names) for n in ns}
    from_interventions = {(label, _name_key(n)) for n, ls in zip(named, intervention_labels) for label in ls}
    return (arm_names, intervention_labels) if from_arms == from_interventions else None


def _typed_name(intervention: dict[str, Any]) -> str:
    kind, name = intervention.get("InterventionType"), intervention.get("InterventionName", "")
    return f"{kind}: {name}" if kind else name


def _name_key(name: str) -> str:
    return " ".join(name.lower().split())


def _count_name(names: list[str], name: str) -> int:
    key = _name_key(name)
    # An intervention without a type is written "Type: Name" in the arm list all the same.
    return sum(1 for n in names if _name_key(n) == key or _name_key(n).endswith(": " + key))


def _cut(values: list[str], sizes: list[int]) -> list[list[str]]:
    cut, start = [], 0
    for size in sizes:
        cut.append(values[start : start + size])
        start += size
    return cut


_LOCATION_KEYS = (
    "LocationFacility",
    "LocationCity",
    "LocationState",
    "LocationZip",
    "LocationCountry",
    "LocationStatus",
)
_CONTACT_KEYS = ("Name", "Role", "Phone", "PhoneExt", "EMail")


def _contacts_locations(row: dict[str, Any]) -> dict[str, Any]:
    count = max(len(all_values(row, k)) for k in ("LocationFacility", "LocationCity", "LocationCountry"))
    locations = _parallel(row, _LOCATION_KEYS, count)
    if len(locations) == 1:  # site contacts are flattened over all sites
        contacts = _parallel(row, [f"LocationContact{k}" for k in _CONTACT_KEYS])
        locations[0]["LocationContactList"] = {"LocationContact": contacts}
    return {
        "CentralContactList": {
            "CentralContact": _parallel(row, [f"CentralContact{k}" for k in _CONTACT_KEYS])
        },
        "OverallOfficialList": {
            "OverallOfficial": _parallel(
                row,
                ("OverallOfficialName", "OverallOfficialAffiliation", "OverallOfficialRole"),
                len(all_values(row, "OverallOfficialName")),
            )
        },
        "LocationList": {"Location": locations},
    }


def _derived(row: dict[str, Any]) -> dict[str, Any]:
    derived: dict[str, Any] = {}
    for prefix in ("Condition", "Intervention"):
        derived[f"{prefix}BrowseModule"] = {
            f"{prefix}{kind}List": {
                f"{prefix}{kind}": _parallel(row, (f"{prefix}{kind}Id", f"{prefix}{kind}Term"))
            }
            for kind in ("Mesh", "Ancestor")
        }
    return derived


# --- StudyFields results -------------------------------------------------------------------------

# StudyFields names of results fields start with these (protocol outcomes are "PrimaryOutcome...").
RESULT_PREFIXES = (
    "Flow",
    "Baseline",
    "OutcomeMeasure",
    "OutcomeGroup",
    "OutcomeDenom",
    "OutcomeClass",
    "OutcomeCategory",
    "OutcomeAnalysis",
    "Event",
    "SeriousEvent",
    "OtherEvent",
)


def _results_from_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The ResultsSection, with only the parts whose flattened lists can be lined up again."""
    section: dict[str, Any] = {}
    for name, build in (
        ("ParticipantFlowModule", _flow_fields),
        ("BaselineCharacteristicsModule", _baseline_fields),
        ("OutcomeMeasuresModule", _outcome_fields),
        ("AdverseEventsModule", _events_fields),
    ):
        module = build(row)
        if module:
            section[name] = module
    return section


def _group_list(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    keys = (f"{prefix}GroupId", f"{prefix}GroupTitle", f"{prefix}GroupDescription")
    return {f"{prefix}GroupList": {f"{prefix}Group": _parallel(row, keys, len(all_values(row, keys[0])))}}


def _flow_fields(row: dict[str, Any]) -> dict[str, Any]:
    if not all_values(row, "FlowGroupId"):
        return {}
    module: dict[str, Any] = {**_scalars(row, ("FlowRecruitmentDetails", "FlowPreAssignmentDetails"))}
    module.update(_group_list(row, "Flow"))
    titles, types = all_values(row, "FlowPeriodTitle"), all_values(row, "FlowMilestoneType")
    achievements = _chunked(
        row, "FlowAchievementGroupId", ("FlowAchievementNumSubjects", "FlowAchievementComment"), len(types)
    )
    if not titles or achievements is None:
        return module
    milestones = [
        {"FlowMilestoneType": kind, "FlowAchievementList": {"FlowAchievement": counts}}
        for kind, counts in zip(types, achievements)
    ]
    # Each period's milestones start with STARTED; with one period there is nothing to cut.
    starts = [i for i, kind in enumerate(types) if kind.upper() == "STARTED"]
    if len(titles) > 1 and (len(starts) != len(titles) or starts[0] != 0):
        return module
    bounds = (starts if len(titles) > 1 else [0]) + [len(milestones)]
    periods = [
        {
            "FlowPeriodTitle": title,
            "FlowMilestoneList": {"FlowMilestone": milestones[bounds[i] : bounds[i + 1]]},
        }
        for i, title in enumerate(titles)
    ]
    drops = all_values(row, "FlowDropWithdrawType")
    reasons = _chunked(row, "FlowReasonGroupId", ("FlowReasonNumSubjects", "FlowReasonComment"), len(drops))
    if len(periods) == 1 and reasons is not None:  # drop reasons cannot be told apart by period
        periods[0]["FlowDropWithdrawList"] = {
            "FlowDropWithdraw": [
                {"FlowDropWithdrawType": kind, "FlowReasonList": {"FlowReason": counts}}
                for kind, counts in zip(drops, reasons)
            ]
        }
    module["FlowPeriodList"] = {"FlowPeriod": periods}
    return module


def _single_class(prefix: str, measurements: list[dict[str, Any]]) -> dict[str, Any]:
    category = {f"{prefix}MeasurementList": {f"{prefix}Measurement": measurements}}
    single = {f"{prefix}CategoryList": {f"{prefix}Category": [category]}}
    return {f"{prefix}ClassList": {f"{prefix}Class": [single]}}


_MEASUREMENT_KEYS = ("Value", "Spread", "LowerLimit", "UpperLimit", "Comment")


def _measures_with_values(row: dict[str, Any], prefix: str, measures: list[dict[str, Any]]) -> None:
    """Give each measure its measurements when every measure has exactly one class and category."""
    if all_values(row, f"{prefix}ClassTitle") or all_values(row, f"{prefix}CategoryTitle"):
        return
    keys = [f"{prefix}Measurement{k}" for k in _MEASUREMENT_KEYS]
    chunks = _chunked(row, f"{prefix}MeasurementGroupId", keys, len(measures))
    if chunks is not None:
        for measure, measurements in zip(measures, chunks):
            measure.update(_single_class(prefix, measurements))


def _baseline_fields(row: dict[str, Any]) -> dict[str, Any]:
    if not all_values(row, "BaselineGroupId"):
        return {}
    module: dict[str, Any] = {**_scalars(row, ("BaselinePopulationDescription",))}
    module.update(_group_list(row, "Baseline"))
    units = all_values(row, "BaselineDenomUnits")
    counts = _chunked(row, "BaselineDenomCountGroupId", ("BaselineDenomCountValue",), len(units))
    if counts is not None:
        module["BaselineDenomList"] = {
            "BaselineDenom": [
                {"BaselineDenomUnits": unit, "BaselineDenomCountList": {"BaselineDenomCount": c}}
                for unit, c in zip(units, counts)
            ]
        }
    keys = ("Title", "ParamType", "DispersionType", "UnitOfMeasure")
    measures = _parallel(
        row, [f"BaselineMeasure{k}" for k in keys], len(all_values(row, "BaselineMeasureTitle"))
    )
    _measures_with_values(row, "Baseline", measures)
    module["BaselineMeasureList"] = {"BaselineMeasure": measures}
    return module


_OUTCOME_KEYS = (
    "Title",
    "Type",
    "Description",
    "PopulationDescription",
    "ReportingStatus",
    "ParamType",
    "DispersionType",
    "UnitOfMeasure",
    "TimeFrame",
)


def _outcome_fields(row: dict[str, Any]) -> dict[str, Any]:
    titles = all_values(row, "OutcomeMeasureTitle")
    if not titles:
        return {}
    measures = _parallel(row, [f"OutcomeMeasure{k}" for k in _OUTCOME_KEYS], len(titles))
    groups = _chunked(row, "OutcomeGroupId", ("OutcomeGroupTitle", "OutcomeGroupDescription"), len(titles))
    denoms = _chunked(row, "OutcomeDenomCountGroupId", ("OutcomeDenomCountValue",), len(titles))
    units = all_values(row, "OutcomeDenomUnits")
    for index, measure in enumerate(measures):
        if groups is not None:
            measure["OutcomeGroupList"] = {"OutcomeGroup": groups[index]}
        if denoms is not None:
            unit = {"OutcomeDenomUnits": units[index]} if len(units) == len(titles) else {}
            measure["OutcomeDenomList"] = {
                "OutcomeDenom": [{**unit, "OutcomeDenomCountList": {"OutcomeDenomCount": denoms[index]}}]
            }
    _measures_with_values(row, "Outcome", measures)
    return {"OutcomeMeasureList": {"OutcomeMeasure": measures}}


def _events_fields(row: dict[str, Any]) -> dict[str, Any]:
    if not all_values(row, "EventGroupId"):
        return {}
    module: dict[str, Any] = {
        **_scalars(row, ("EventsFrequencyThreshold", "EventsTimeFrame", "EventsDescription"))
    }
    keys = [
        "EventGroupId",
        "EventGroupTitle",
        "EventGroupDescription",
        *(f"EventGroup{k}Num{n}" for k in ("Deaths", "Serious", "Other") for n in ("Affected", "AtRisk")),
    ]
    module["EventGroupList"] = {"EventGroup": _parallel(row, keys, len(all_values(row, "EventGroupId")))}
    for kind in ("Serious", "Other"):
        prefix = f"{kind}Event"
        terms = all_values(row, f"{prefix}Term")
        event_keys = [f"{prefix}{k}" for k in ("Term", "OrganSystem", "SourceVocabulary", "AssessmentType")]
        events = _parallel(row, event_keys, len(terms))
        stat_keys = [f"{prefix}StatsNum{k}" for k in ("Events", "Affected", "AtRisk")]
        stats = _chunked(row, f"{prefix}StatsGroupId", stat_keys, len(terms))
        if stats is None:
            continue  # events without their counts per group would mislead
        for event, counts in zip(events, stats):
            event[f"{prefix}StatsList"] = {f"{prefix}Stats": counts}
        module[f"{prefix}List"] = {prefix: events}
    return module
