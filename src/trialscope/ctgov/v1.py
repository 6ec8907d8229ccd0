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
from collections.abc import Iterator, Sequence
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
    valid_nct_id(_first(row, "NCTId"))
    try:
        study = study_from_fields(row)
    except Exception as exc:  # a row we cannot line up must cost one record, never the batch
        raise ParseError(f"unexpected {type(exc).__name__} while reading the StudyFields row: {exc}") from exc
    trial = _guarded(study, "v1-fields")
    if not trial.has_results and any(k.startswith(_RESULT_PREFIXES) and _all(row, k) for k in row):
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
            lines = [
                line if line.endswith(":") or _LIST_LINE.match(line) else f"* {line}" for line in lines
            ]
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


# --- StudyFields row -> study tree ----------------------------------------------------------------


def _all(row: dict[str, Any], key: str) -> list[str]:
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


def _first(row: dict[str, Any], key: str) -> str | None:
    values = [v for v in _all(row, key) if v.strip()]
    return values[0] if values else None


def _scalars(row: dict[str, Any], keys: Sequence[str]) -> dict[str, str]:
    return {k: v for k in keys if (v := _first(row, k)) is not None}


def _parallel(row: dict[str, Any], keys: Sequence[str], count: int | None = None) -> list[dict[str, Any]]:
    """Items rebuilt from parallel fields: a field counts only when it has one value per item."""
    columns = {k: _all(row, k) for k in keys}
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
    ids = _all(row, id_key)
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
        "ConditionList": {"Condition": _all(row, "Condition")},
        "KeywordList": {"Keyword": _all(row, "Keyword")},
    }
    protocol["DesignModule"] = {
        **_scalars(row, ("StudyType",)),
        "PhaseList": {"Phase": _all(row, "Phase")},
        "DesignInfo": {
            **_scalars(row, ("DesignAllocation", "DesignInterventionModel", "DesignPrimaryPurpose")),
            "DesignObservationalModelList": {
                "DesignObservationalModel": _all(row, "DesignObservationalModel")
            },
            "DesignTimePerspectiveList": {"DesignTimePerspective": _all(row, "DesignTimePerspective")},
            "DesignMaskingInfo": {
                **_scalars(row, ("DesignMasking",)),
                "DesignWhoMaskedList": {"DesignWhoMasked": _all(row, "DesignWhoMasked")},
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
    protocol["EligibilityModule"]["StdAgeList"] = {"StdAge": _all(row, "StdAge")}
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
    arms = _parallel(row, arm_keys, len(_all(row, arm_keys[0])))
    intervention_keys = ("InterventionName", "InterventionType", "InterventionDescription")
    interventions = _parallel(row, intervention_keys, len(_all(row, intervention_keys[0])))
    links = _link_arms(row, arms, interventions)
    if links is not None:
        arm_names, intervention_labels = links
        for arm, names in zip(arms, arm_names):
            arm["ArmGroupInterventionList"] = {"ArmGroupInterventionName": names}
        for intervention, labels in zip(interventions, intervention_labels):
            intervention["InterventionArmGroupLabelList"] = {"InterventionArmGroupLabel": labels}
    if len(interventions) == 1:  # other names are flattened over all interventions
        other_names = _all(row, "InterventionOtherName")
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
    names, labels = _all(row, "ArmGroupInterventionName"), _all(row, "InterventionArmGroupLabel")
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
    count = max(len(_all(row, k)) for k in ("LocationFacility", "LocationCity", "LocationCountry"))
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
                row, ("OverallOfficialName", "OverallOfficialAffiliation", "OverallOfficialRole"),
                len(_all(row, "OverallOfficialName")),
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
_RESULT_PREFIXES = (
    "Flow", "Baseline", "OutcomeMeasure", "OutcomeGroup", "OutcomeDenom", "OutcomeClass", "OutcomeCategory",
    "OutcomeAnalysis", "Event", "SeriousEvent", "OtherEvent",
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
    return {f"{prefix}GroupList": {f"{prefix}Group": _parallel(row, keys, len(_all(row, keys[0])))}}


def _flow_fields(row: dict[str, Any]) -> dict[str, Any]:
    if not _all(row, "FlowGroupId"):
        return {}
    module: dict[str, Any] = {**_scalars(row, ("FlowRecruitmentDetails", "FlowPreAssignmentDetails"))}
    module.update(_group_list(row, "Flow"))
    titles, types = _all(row, "FlowPeriodTitle"), _all(row, "FlowMilestoneType")
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
    drops = _all(row, "FlowDropWithdrawType")
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
    if _all(row, f"{prefix}ClassTitle") or _all(row, f"{prefix}CategoryTitle"):
        return
    keys = [f"{prefix}Measurement{k}" for k in _MEASUREMENT_KEYS]
    chunks = _chunked(row, f"{prefix}MeasurementGroupId", keys, len(measures))
    if chunks is not None:
        for measure, measurements in zip(measures, chunks):
            measure.update(_single_class(prefix, measurements))


def _baseline_fields(row: dict[str, Any]) -> dict[str, Any]:
    if not _all(row, "BaselineGroupId"):
        return {}
    module: dict[str, Any] = {**_scalars(row, ("BaselinePopulationDescription",))}
    module.update(_group_list(row, "Baseline"))
    units = _all(row, "BaselineDenomUnits")
    counts = _chunked(row, "BaselineDenomCountGroupId", ("BaselineDenomCountValue",), len(units))
    if counts is not None:
        module["BaselineDenomList"] = {
            "BaselineDenom": [
                {"BaselineDenomUnits": unit, "BaselineDenomCountList": {"BaselineDenomCount": c}}
                for unit, c in zip(units, counts)
            ]
        }
    keys = ("Title", "ParamType", "DispersionType", "UnitOfMeasure")
    measures = _parallel(row, [f"BaselineMeasure{k}" for k in keys], len(_all(row, "BaselineMeasureTitle")))
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
    titles = _all(row, "OutcomeMeasureTitle")
    if not titles:
        return {}
    measures = _parallel(row, [f"OutcomeMeasure{k}" for k in _OUTCOME_KEYS], len(titles))
    groups = _chunked(row, "OutcomeGroupId", ("OutcomeGroupTitle", "OutcomeGroupDescription"), len(titles))
    denoms = _chunked(row, "OutcomeDenomCountGroupId", ("OutcomeDenomCountValue",), len(titles))
    units = _all(row, "OutcomeDenomUnits")
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
    if not _all(row, "EventGroupId"):
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
    module["EventGroupList"] = {"EventGroup": _parallel(row, keys, len(_all(row, "EventGroupId")))}
    for kind in ("Serious", "Other"):
        prefix = f"{kind}Event"
        terms = _all(row, f"{prefix}Term")
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
