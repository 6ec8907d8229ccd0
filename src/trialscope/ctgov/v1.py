"""Retired ClinicalTrials.gov classic API (v1) JSON -> :class:`~trialscope.model.Trial`.

Two shapes came out of the classic API:

* ``FullStudies``: ``{"FullStudiesResponse": {"FullStudies": [{"Study": {...}}]}}``, each Study a
  tree of PascalCase modules (``ProtocolSection.StatusModule.OverallStatus``), values as words
  (``Phase 1``, ``Non-Randomized``, ``December 31, 2020``). :func:`parse_v1_study` reads one.
* ``StudyFields``: one flat row per study, every field a list of strings (``"LocationCity":
  ["Minsk"]``). The leaf names are the same as in FullStudies, but lists of things (arms,
  sites, results) are flattened field by field, so what belonged together is lost when some
  items lack a field. :func:`parse_v1_fields` rebuilds the FullStudies tree wherever the
  parallel lists line up (same length) and leaves out what cannot be lined up reliably, then
  reads the tree with the same code.

The classic API also dropped the list markup of eligibility text (``* item`` became ``item``);
:func:`restore_list_markers` puts it back where a block of lines is plainly a list.

Only :class:`~trialscope.errors.ParseError` (or a subclass) leaves the public functions; values
of the wrong type (a list where a string belongs, a number where a word belongs) become None.

>>> parse_v1_fields({"NCTId": ["NCT04184258"], "Phase": ["Phase 1", "Phase 2"]}).design.phases
('PHASE1', 'PHASE2')
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from trialscope import vocab
from trialscope.ctgov.legacy_xml import (
    age_bound,
    derive_std_ages,
    enum_word,
    parse_masking,
    phases_from_words,
    to_int,
    valid_nct_id,
)
from trialscope.ctgov.v1_fields import RESULT_PREFIXES, all_values, first_value, study_from_fields
from trialscope.errors import NotAStudyError, ParseError
from trialscope.model import (
    AdverseEvent,
    AdverseEvents,
    Analysis,
    ArmGroup,
    Baseline,
    BaselineMeasure,
    Contact,
    Count,
    DateStruct,
    Design,
    Eligibility,
    EventGroup,
    EventStat,
    FlowDropReason,
    FlowMilestone,
    FlowPeriod,
    Identifier,
    Intervention,
    MeasureCategory,
    MeasureClass,
    Measurement,
    MeshTerm,
    Official,
    Outcome,
    OutcomeMeasure,
    ParticipantFlow,
    Reference,
    ResponsibleParty,
    ResultGroup,
    Results,
    Site,
    Sponsor,
    Trial,
)

# --- gentle readers ---------------------------------------------------------------------


def _d(obj: Any, key: str) -> dict[str, Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _s(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]  # a one-item list where a string belongs
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _items(obj: Any, list_key: str, item_key: str) -> list[Any]:
    """``obj[list_key][item_key]`` as a list (a lone item counts as a list of one)."""
    value = _d(obj, list_key).get(item_key)
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _dicts(obj: Any, list_key: str, item_key: str) -> list[dict[str, Any]]:
    return [x for x in _items(obj, list_key, item_key) if isinstance(x, dict)]


def _words(obj: Any, list_key: str, item_key: str) -> tuple[str, ...]:
    found = (str(x).strip() if isinstance(x, (int, float)) else x for x in _items(obj, list_key, item_key))
    return tuple(x.strip() for x in found if isinstance(x, str) and x.strip())


def _enum(vocabulary: str, obj: Any, key: str) -> str | None:
    return enum_word(vocabulary, _s(obj, key))


def _plain_date(obj: Any, key: str) -> str | None:
    raw = _s(obj, key)
    return vocab.iso_date(raw) or raw if raw else None


def _date(status: dict[str, Any], name: str) -> DateStruct | None:
    """``StartDateStruct: {StartDate, StartDateType}`` for ``name`` "Start"."""
    struct = _d(status, f"{name}DateStruct")
    raw = _s(struct, f"{name}Date")
    if raw is None:
        return None
    return DateStruct(date=vocab.iso_date(raw) or raw, type=_enum("date_type", struct, f"{name}DateType"))


def _int(obj: Any, key: str) -> int | None:
    return to_int(_s(obj, key))


# --- documents ----------------------------------------------------------------------------


def iter_v1_document(obj: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """The records of a decoded v1 document, as ``("study", Study)`` or ``("fields", row)`` pairs.

    Takes a FullStudiesResponse, a StudyFieldsResponse, a bare ``{"Study": ...}``, a bare Study
    or StudyFields row, or a list of these. An entry of a response that is not a record is still
    yielded (as a study), so its parser rejects that one record and the others go on.
    Raises NotAStudyError when the document itself is of no known v1 shape.
    """
    if isinstance(obj, list):
        for item in obj:
            yield from iter_v1_document(item)
        return
    if not isinstance(obj, dict):
        raise NotAStudyError(f"not a v1 document (a JSON {type(obj).__name__})")
    if "FullStudiesResponse" in obj:
        for entry in _items(obj, "FullStudiesResponse", "FullStudies"):
            yield "study", entry if isinstance(entry, dict) else {"Study": entry}
    elif "StudyFieldsResponse" in obj:
        for row in _items(obj, "StudyFieldsResponse", "StudyFields"):
            yield "fields", row if isinstance(row, dict) else {"NCTId": row}
    elif "Study" in obj or "ProtocolSection" in obj:
        yield "study", obj
    elif "NCTId" in obj:
        yield "fields", obj
    else:
        keys = ", ".join(sorted(map(str, obj))[:4]) or "no keys"
        raise NotAStudyError(f"not a v1 document (an object with {keys})")


def parse_v1_study(study: dict[str, Any]) -> Trial:
    """Parse one FullStudies ``Study`` (or its ``{"Study": ...}`` wrapper) into a Trial."""
    if isinstance(study, dict) and "ProtocolSection" not in study and "Study" in study:
        study = study["Study"]
    if not isinstance(study, dict) or not isinstance(study.get("ProtocolSection"), dict):
        keys = ", ".join(sorted(map(str, study))[:4]) if isinstance(study, dict) else type(study).__name__
        raise NotAStudyError(f"not a v1 study (no ProtocolSection; found {keys or 'nothing'})")
    return _guarded(study, "v1")


def parse_v1_fields(row: dict[str, Any]) -> Trial:
    """Parse one StudyFields row (every field a list of strings) into a Trial."""
    if not isinstance(row, dict) or "NCTId" not in row:
        keys = ", ".join(sorted(map(str, row))[:4]) if isinstance(row, dict) else type(row).__name__
        raise NotAStudyError(f"not a v1 StudyFields row (no NCTId; found {keys or 'nothing'})")
    valid_nct_id(first_value(row, "NCTId"))
    try:
        study = study_from_fields(row)
    except Exception as exc:  # a row we cannot line up must cost one record, never the batch
        raise ParseError(f"unexpected {type(exc).__name__} while reading the StudyFields row: {exc}") from exc
    trial = _guarded(study, "v1-fields")
    if not trial.has_results and any(k.startswith(RESULT_PREFIXES) and all_values(row, k) for k in row):
        trial = replace(trial, has_results=True)  # results fields that could not be lined up
    return trial


def _guarded(study: dict[str, Any], source_format: str) -> Trial:
    nct_id = valid_nct_id(_s(_d(study["ProtocolSection"], "IdentificationModule"), "NCTId"))
    try:
        return _trial(study, nct_id, source_format)
    except ParseError:
        raise
    except Exception as exc:
        reason = f"unexpected {type(exc).__name__} while reading the v1 record: {exc}"
        raise ParseError(f"{nct_id}: {reason}") from exc


# --- the study tree -> Trial ----------------------------------------------------------------


def _trial(study: dict[str, Any], nct_id: str, source_format: str) -> Trial:
    protocol = study["ProtocolSection"]
    ident = _d(protocol, "IdentificationModule")
    status = _d(protocol, "StatusModule")
    sponsors = _d(protocol, "SponsorCollaboratorsModule")
    description = _d(protocol, "DescriptionModule")
    conditions = _d(protocol, "ConditionsModule")
    arms_module = _d(protocol, "ArmsInterventionsModule")
    contacts = _d(protocol, "ContactsLocationsModule")
    derived = _d(study, "DerivedSection")
    results = _d(study, "ResultsSection")
    org_id = _s(_d(ident, "OrgStudyIdInfo"), "OrgStudyId")
    lead = _d(sponsors, "LeadSponsor")
    return Trial(
        nct_id=nct_id,
        brief_title=_s(ident, "BriefTitle"),
        official_title=_s(ident, "OfficialTitle"),
        acronym=_s(ident, "Acronym"),
        org_study_id=_org_study_id(_d(ident, "OrgStudyIdInfo")) if org_id else None,
        secondary_ids=tuple(
            Identifier(
                id=value,
                source="secondary_id",
                type=_enum("secondary_id_type", x, "SecondaryIdType"),
                domain=_s(x, "SecondaryIdDomain"),
                link=_s(x, "SecondaryIdLink"),
            )
            for x in _dicts(ident, "SecondaryIdInfoList", "SecondaryIdInfo")
            if (value := _s(x, "SecondaryId"))
        ),
        organization=_s(_d(ident, "Organization"), "OrgFullName"),
        overall_status=_enum("status", status, "OverallStatus"),
        why_stopped=_s(status, "WhyStopped"),
        status_verified_date=_plain_date(status, "StatusVerifiedDate"),
        start_date=_date(status, "Start"),
        primary_completion_date=_date(status, "PrimaryCompletion"),
        completion_date=_date(status, "Completion"),
        first_submit_date=_plain_date(status, "StudyFirstSubmitDate"),
        first_post_date=_date(status, "StudyFirstPost"),
        results_first_post_date=_date(status, "ResultsFirstPost"),
        last_update_submit_date=_plain_date(status, "LastUpdateSubmitDate"),
        last_update_post_date=_date(status, "LastUpdatePost"),
        lead_sponsor=Sponsor(name, _enum("sponsor_class", lead, "LeadSponsorClass"), "lead")
        if (name := _s(lead, "LeadSponsorName"))
        else None,
        collaborators=tuple(
            Sponsor(name, _enum("sponsor_class", c, "CollaboratorClass"), "collaborator")
            for c in _dicts(sponsors, "CollaboratorList", "Collaborator")
            if (name := _s(c, "CollaboratorName"))
        ),
        responsible_party=_responsible_party(_d(sponsors, "ResponsibleParty")),
        officials=tuple(
            Official(
                name, _enum("official_role", o, "OverallOfficialRole"), _s(o, "OverallOfficialAffiliation")
            )
            for o in _dicts(contacts, "OverallOfficialList", "OverallOfficial")
            if (name := _s(o, "OverallOfficialName"))
        ),
        central_contacts=tuple(
            _contact(c, "CentralContact") for c in _dicts(contacts, "CentralContactList", "CentralContact")
        ),
        brief_summary=_s(description, "BriefSummary"),
        detailed_description=_s(description, "DetailedDescription"),
        conditions=_words(conditions, "ConditionList", "Condition"),
        keywords=_words(conditions, "KeywordList", "Keyword"),
        design=_design(_d(protocol, "DesignModule")),
        arms=tuple(
            ArmGroup(
                label=label,
                type=_enum("arm_type", a, "ArmGroupType"),
                description=_s(a, "ArmGroupDescription"),
                intervention_names=_words(a, "ArmGroupInterventionList", "ArmGroupInterventionName"),
            )
            for a in _dicts(arms_module, "ArmGroupList", "ArmGroup")
            if (label := _s(a, "ArmGroupLabel"))
        ),
        interventions=tuple(
            Intervention(
                name=name,
                type=_enum("intervention_type", x, "InterventionType"),
                description=_s(x, "InterventionDescription"),
                arm_group_labels=_words(x, "InterventionArmGroupLabelList", "InterventionArmGroupLabel"),
                other_names=_words(x, "InterventionOtherNameList", "InterventionOtherName"),
            )
            for x in _dicts(arms_module, "InterventionList", "Intervention")
            if (name := _s(x, "InterventionName"))
        ),
        outcomes=_outcomes(_d(protocol, "OutcomesModule")),
        eligibility=_eligibility(_d(protocol, "EligibilityModule")),
        locations=tuple(_site(x) for x in _dicts(contacts, "LocationList", "Location")),
        references=tuple(
            Reference(
                citation=_s(r, "ReferenceCitation"),
                pmid=_s(r, "ReferencePMID"),
                type=_enum("reference_type", r, "ReferenceType"),
            )
            for r in _dicts(_d(protocol, "ReferencesModule"), "ReferenceList", "Reference")
            if _s(r, "ReferenceCitation") or _s(r, "ReferencePMID")
        ),
        condition_mesh=_mesh(_d(derived, "ConditionBrowseModule"), "ConditionMesh"),
        condition_ancestors=_mesh(_d(derived, "ConditionBrowseModule"), "ConditionAncestor"),
        intervention_mesh=_mesh(_d(derived, "InterventionBrowseModule"), "InterventionMesh"),
        intervention_ancestors=_mesh(_d(derived, "InterventionBrowseModule"), "InterventionAncestor"),
        has_results=bool(results) or _date(status, "ResultsFirstPost") is not None,
        results=_results(results) if results else None,
        source_format=source_format,
    )


def _org_study_id(info: dict[str, Any]) -> Identifier:
    return Identifier(
        id=_s(info, "OrgStudyId") or "",
        source="org_study_id",
        type=_s(info, "OrgStudyIdType"),
        domain=_s(info, "OrgStudyIdDomain"),
        link=_s(info, "OrgStudyIdLink"),
    )


def _responsible_party(party: dict[str, Any]) -> ResponsibleParty | None:
    found = ResponsibleParty(
        type=_enum("responsible_party", party, "ResponsiblePartyType"),
        investigator_name=_s(party, "ResponsiblePartyInvestigatorFullName")
        or _s(party, "ResponsiblePartyOldNameTitle"),
        investigator_title=_s(party, "ResponsiblePartyInvestigatorTitle"),
        investigator_affiliation=_s(party, "ResponsiblePartyInvestigatorAffiliation")
        or _s(party, "ResponsiblePartyOldOrganization"),
    )
    return found if found != ResponsibleParty() else None


def _contact(obj: dict[str, Any], prefix: str) -> Contact:
    phone, ext = _s(obj, f"{prefix}Phone"), _s(obj, f"{prefix}PhoneExt")
    return Contact(
        name=_s(obj, f"{prefix}Name"),
        role=_enum("official_role", obj, f"{prefix}Role"),
        phone=f"{phone} ext. {ext}" if phone and ext else phone,
        email=_s(obj, f"{prefix}EMail"),
    )


def _design(module: dict[str, Any]) -> Design:
    info = _d(module, "DesignInfo")
    masking_info = _d(info, "DesignMaskingInfo")
    masking, who_in_words = parse_masking(_s(masking_info, "DesignMasking"))
    listed = _words(masking_info, "DesignWhoMaskedList", "DesignWhoMasked")
    who = tuple(w for w in (enum_word("who_masked", x) for x in listed) if w)
    observational = _words(info, "DesignObservationalModelList", "DesignObservationalModel")
    perspective = _words(info, "DesignTimePerspectiveList", "DesignTimePerspective")
    enrollment = _d(module, "EnrollmentInfo")
    return Design(
        study_type=_enum("study_type", module, "StudyType"),
        phases=phases_from_words(_words(module, "PhaseList", "Phase")),
        allocation=_enum("allocation", info, "DesignAllocation"),
        intervention_model=_enum("intervention_model", info, "DesignInterventionModel"),
        primary_purpose=_enum("primary_purpose", info, "DesignPrimaryPurpose"),
        masking=masking,
        who_masked=who or who_in_words,
        # The model holds one observational model and one time perspective: the first listed.
        observational_model=enum_word("observational_model", observational[0]) if observational else None,
        time_perspective=enum_word("time_perspective", perspective[0]) if perspective else None,
        enrollment_count=_int(enrollment, "EnrollmentCount"),
        enrollment_type=_enum("enrollment_type", enrollment, "EnrollmentType"),
    )


def _outcomes(module: dict[str, Any]) -> tuple[Outcome, ...]:
    found: list[Outcome] = []
    for kind, name in (("primary", "Primary"), ("secondary", "Secondary"), ("other", "Other")):
        for o in _dicts(module, f"{name}OutcomeList", f"{name}Outcome"):
            if measure := _s(o, f"{name}OutcomeMeasure"):
                found.append(
                    Outcome(
                        measure=measure,
                        kind=kind,
                        description=_s(o, f"{name}OutcomeDescription"),
                        time_frame=_s(o, f"{name}OutcomeTimeFrame"),
                    )
                )
    return tuple(found)


def _eligibility(module: dict[str, Any]) -> Eligibility:
    minimum, maximum = age_bound(_s(module, "MinimumAge")), age_bound(_s(module, "MaximumAge"))
    minimum_days, maximum_days = vocab.age_to_days(minimum), vocab.age_to_days(maximum)
    listed = _words(module, "StdAgeList", "StdAge")
    std_ages = tuple(a for a in (enum_word("std_age", x) for x in listed) if a)
    return Eligibility(
        criteria=restore_list_markers(_s(module, "EligibilityCriteria")),
        healthy_volunteers=vocab.parse_bool(_s(module, "HealthyVolunteers")),
        sex=_enum("sex", module, "Gender"),
        gender_based=vocab.parse_bool(_s(module, "GenderBased")),
        minimum_age=minimum,
        maximum_age=maximum,
        minimum_age_days=minimum_days,
        maximum_age_days=maximum_days,
        std_ages=std_ages or derive_std_ages(minimum_days, maximum_days),
        study_population=_s(module, "StudyPopulation"),
        sampling_method=_enum("sampling_method", module, "SamplingMethod"),
    )


def _site(obj: dict[str, Any]) -> Site:
    return Site(
        facility=_s(obj, "LocationFacility"),
        city=_s(obj, "LocationCity"),
        state=_s(obj, "LocationState"),
        zip=_s(obj, "LocationZip"),
        country=_s(obj, "LocationCountry"),
        status=_enum("status", obj, "LocationStatus"),
        contacts=tuple(
            _contact(c, "LocationContact") for c in _dicts(obj, "LocationContactList", "LocationContact")
        ),
    )


_PADDED_MESH_ID = re.compile(r"^D000(\d{6})$")
_LAST_SHORT_MESH_ID = 66500  # MeSH descriptor ids were D + 6 digits up to about D066xxx, then D + 9 digits


def mesh_id(text: str | None) -> str | None:
    """A MeSH id in the API v2 spelling: v1 padded the old 6-digit ids (``D000008180`` -> ``D008180``)."""
    if not text:
        return None
    match = _PADDED_MESH_ID.match(text)
    if match and int(match.group(1)) < _LAST_SHORT_MESH_ID:
        return "D" + match.group(1)
    return text


def _mesh(module: dict[str, Any], name: str) -> tuple[MeshTerm, ...]:
    return tuple(
        MeshTerm(term=term, id=mesh_id(_s(m, f"{name}Id")))
        for m in _dicts(module, f"{name}List", name)
        if (term := _s(m, f"{name}Term"))
    )


_LIST_LINE = re.compile(r"^\s*(?:[*•-]|\d{1,3}[.)])\s")


def restore_list_markers(text: str | None) -> str | None:
    """Put back the ``* `` markers the classic API dropped from list items.

    The classic API wrote each list item as a bare line, items of one list separated by a single
    newline and paragraphs by a blank line; it never wrapped lines. So in a block of several
    lines, every line that is not a heading (ending with ``:``) and has no marker yet is an item.

    >>> restore_list_markers("Inclusion Criteria:\\n\\nadults;\\nconsent.")
    'Inclusion Criteria:\\n\\n* adults;\\n* consent.'
    """
    if text is None:
        return None
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    restored = []
    for block in blocks:
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if len(lines) > 1:
            lines = [line if line.endswith(":") or _LIST_LINE.match(line) else f"* {line}" for line in lines]
        restored.append("\n".join(lines))
    return "\n\n".join(b for b in restored if b) or None


# --- results --------------------------------------------------------------------------------


def _results(section: dict[str, Any]) -> Results | None:
    flow = _d(section, "ParticipantFlowModule")
    baseline = _d(section, "BaselineCharacteristicsModule")
    outcomes = _d(section, "OutcomeMeasuresModule")
    events = _d(section, "AdverseEventsModule")
    found = Results(
        participant_flow=_flow(flow) if flow else None,
        baseline=_baseline(baseline) if baseline else None,
        outcome_measures=tuple(
            _outcome_measure(m) for m in _dicts(outcomes, "OutcomeMeasureList", "OutcomeMeasure")
        ),
        adverse_events=_adverse_events(events) if events else None,
    )
    return found if found != Results() else None


def _groups(obj: dict[str, Any], prefix: str) -> tuple[ResultGroup, ...]:
    return tuple(
        ResultGroup(
            id=_s(g, f"{prefix}GroupId") or "",
            title=_s(g, f"{prefix}GroupTitle"),
            description=_s(g, f"{prefix}GroupDescription"),
        )
        for g in _dicts(obj, f"{prefix}GroupList", f"{prefix}Group")
    )


def _counts(items: list[dict[str, Any]], prefix: str, value: str) -> tuple[Count, ...]:
    return tuple(
        Count(
            group_id=_s(c, f"{prefix}GroupId") or "",
            value=_s(c, f"{prefix}{value}"),
            comment=_s(c, f"{prefix}Comment"),
        )
        for c in items
    )


def _denoms(obj: dict[str, Any], prefix: str) -> tuple[Count, ...]:
    """The counts of the first denominator that counts participants."""
    for denom in _dicts(obj, f"{prefix}DenomList", f"{prefix}Denom"):
        if (_s(denom, f"{prefix}DenomUnits") or "participants").lower() == "participants":
            counts = _dicts(denom, f"{prefix}DenomCountList", f"{prefix}DenomCount")
            return _counts(counts, f"{prefix}DenomCount", "Value")
    return ()


def _classes(obj: dict[str, Any], prefix: str) -> tuple[MeasureClass, ...]:
    return tuple(
        MeasureClass(
            title=_s(c, f"{prefix}ClassTitle"),
            categories=tuple(
                MeasureCategory(
                    title=_s(cat, f"{prefix}CategoryTitle"),
                    measurements=tuple(
                        Measurement(
                            group_id=_s(m, f"{prefix}MeasurementGroupId") or "",
                            value=_s(m, f"{prefix}MeasurementValue"),
                            spread=_s(m, f"{prefix}MeasurementSpread"),
                            lower_limit=_s(m, f"{prefix}MeasurementLowerLimit"),
                            upper_limit=_s(m, f"{prefix}MeasurementUpperLimit"),
                            comment=_s(m, f"{prefix}MeasurementComment"),
                        )
                        for m in _dicts(cat, f"{prefix}MeasurementList", f"{prefix}Measurement")
                    ),
                )
                for cat in _dicts(c, f"{prefix}CategoryList", f"{prefix}Category")
            ),
        )
        for c in _dicts(obj, f"{prefix}ClassList", f"{prefix}Class")
    )


def _flow(module: dict[str, Any]) -> ParticipantFlow:
    return ParticipantFlow(
        recruitment_details=_s(module, "FlowRecruitmentDetails"),
        pre_assignment_details=_s(module, "FlowPreAssignmentDetails"),
        groups=_groups(module, "Flow"),
        periods=tuple(
            FlowPeriod(
                title=_s(p, "FlowPeriodTitle"),
                milestones=tuple(
                    FlowMilestone(_s(m, "FlowMilestoneType") or "", _achievements(m))
                    for m in _dicts(p, "FlowMilestoneList", "FlowMilestone")
                ),
                drop_reasons=tuple(
                    FlowDropReason(
                        _s(d, "FlowDropWithdrawType") or "",
                        _counts(_dicts(d, "FlowReasonList", "FlowReason"), "FlowReason", "NumSubjects"),
                    )
                    for d in _dicts(p, "FlowDropWithdrawList", "FlowDropWithdraw")
                ),
            )
            for p in _dicts(module, "FlowPeriodList", "FlowPeriod")
        ),
    )


def _achievements(milestone: dict[str, Any]) -> tuple[Count, ...]:
    achieved = _dicts(milestone, "FlowAchievementList", "FlowAchievement")
    return _counts(achieved, "FlowAchievement", "NumSubjects")


def _baseline(module: dict[str, Any]) -> Baseline:
    return Baseline(
        population_description=_s(module, "BaselinePopulationDescription"),
        groups=_groups(module, "Baseline"),
        denoms=_denoms(module, "Baseline"),
        measures=tuple(
            BaselineMeasure(
                title=_s(m, "BaselineMeasureTitle") or "",
                param_type=_enum("param_type", m, "BaselineMeasureParamType"),
                dispersion_type=_s(m, "BaselineMeasureDispersionType"),
                unit_of_measure=_s(m, "BaselineMeasureUnitOfMeasure"),
                classes=_classes(m, "Baseline"),
            )
            for m in _dicts(module, "BaselineMeasureList", "BaselineMeasure")
        ),
    )


def _outcome_measure(m: dict[str, Any]) -> OutcomeMeasure:
    return OutcomeMeasure(
        title=_s(m, "OutcomeMeasureTitle") or "",
        type=_enum("outcome_type", m, "OutcomeMeasureType"),
        description=_s(m, "OutcomeMeasureDescription"),
        population_description=_s(m, "OutcomeMeasurePopulationDescription"),
        reporting_status=_enum("reporting_status", m, "OutcomeMeasureReportingStatus"),
        param_type=_enum("param_type", m, "OutcomeMeasureParamType"),
        dispersion_type=_s(m, "OutcomeMeasureDispersionType"),
        unit_of_measure=_s(m, "OutcomeMeasureUnitOfMeasure"),
        time_frame=_s(m, "OutcomeMeasureTimeFrame"),
        groups=_groups(m, "Outcome"),
        denoms=_denoms(m, "Outcome"),
        classes=_classes(m, "Outcome"),
        analyses=tuple(
            Analysis(
                group_ids=_words(a, "OutcomeAnalysisGroupIdList", "OutcomeAnalysisGroupId"),
                p_value=_s(a, "OutcomeAnalysisPValue"),
                statistical_method=_s(a, "OutcomeAnalysisStatisticalMethod"),
                param_type=_s(a, "OutcomeAnalysisParamType"),
                param_value=_s(a, "OutcomeAnalysisParamValue"),
                ci_percent=_s(a, "OutcomeAnalysisCIPctValue"),
                ci_lower=_s(a, "OutcomeAnalysisCILowerLimit"),
                ci_upper=_s(a, "OutcomeAnalysisCIUpperLimit"),
                non_inferiority_type=_enum("non_inferiority_type", a, "OutcomeAnalysisNonInferiorityType"),
                description=_s(a, "OutcomeAnalysisStatisticalComment")
                or _s(a, "OutcomeAnalysisGroupDescription"),
            )
            for a in _dicts(m, "OutcomeAnalysisList", "OutcomeAnalysis")
        ),
    )


def _adverse_events(module: dict[str, Any]) -> AdverseEvents:
    return AdverseEvents(
        frequency_threshold=_s(module, "EventsFrequencyThreshold"),
        time_frame=_s(module, "EventsTimeFrame"),
        description=_s(module, "EventsDescription"),
        groups=tuple(
            EventGroup(
                id=_s(g, "EventGroupId") or "",
                title=_s(g, "EventGroupTitle"),
                description=_s(g, "EventGroupDescription"),
                deaths_affected=_int(g, "EventGroupDeathsNumAffected"),
                deaths_at_risk=_int(g, "EventGroupDeathsNumAtRisk"),
                serious_affected=_int(g, "EventGroupSeriousNumAffected"),
                serious_at_risk=_int(g, "EventGroupSeriousNumAtRisk"),
                other_affected=_int(g, "EventGroupOtherNumAffected"),
                other_at_risk=_int(g, "EventGroupOtherNumAtRisk"),
            )
            for g in _dicts(module, "EventGroupList", "EventGroup")
        ),
        serious=_events(module, "Serious"),
        other=_events(module, "Other"),
    )


def _events(module: dict[str, Any], kind: str) -> tuple[AdverseEvent, ...]:
    prefix = f"{kind}Event"
    return tuple(
        AdverseEvent(
            term=_s(e, f"{prefix}Term") or "",
            organ_system=_s(e, f"{prefix}OrganSystem"),
            source_vocabulary=_s(e, f"{prefix}SourceVocabulary"),
            assessment_type=_enum("assessment_type", e, f"{prefix}AssessmentType"),
            stats=tuple(
                EventStat(
                    group_id=_s(st, f"{prefix}StatsGroupId") or "",
                    num_events=_int(st, f"{prefix}StatsNumEvents"),
                    num_affected=_int(st, f"{prefix}StatsNumAffected"),
                    num_at_risk=_int(st, f"{prefix}StatsNumAtRisk"),
                )
                for st in _dicts(e, f"{prefix}StatsList", f"{prefix}Stats")
            ),
        )
        for e in _dicts(module, f"{prefix}List", prefix)
    )
