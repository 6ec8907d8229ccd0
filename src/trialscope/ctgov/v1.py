"""Retired ClinicalTrials.gov classic API (v1) JSON -> the API v2 study dictionary.

Two shapes came out of the classic API:

* ``FullStudies``: ``{"FullStudiesResponse": {"FullStudies": [{"Study": {...}}]}}``, each Study a
  tree of PascalCase modules (``ProtocolSection.StatusModule.OverallStatus``), values as words
  (``Phase 1``, ``Non-Randomized``, ``December 31, 2020``). :func:`study_from_v1` translates one
  into the API v2 dictionary through the tables below, key by key and word by word.
* ``StudyFields``: one flat row per study, every field a list of strings (``"LocationCity":
  ["Minsk"]``). :func:`trialscope.ctgov.v1_fields.study_from_fields` rebuilds the FullStudies
  tree wherever the parallel lists line up, and the same tables translate that.

Either way :func:`trialscope.ctgov.parse.parse_study` builds the Trial. The classic API also
dropped the list markup of eligibility text (``* item`` became ``item``);
:func:`restore_list_markers` puts it back where a block of lines is plainly a list.

A v1 key is mostly the v2 key with its item's name before it (``ArmGroupLabel`` for an arm
group's ``label``): :func:`_named` writes those, and the tables spell out the others.

>>> parse_v1_fields({"NCTId": ["NCT04184258"], "Phase": ["Phase 1", "Phase 2"]}).design.phases
('PHASE1', 'PHASE2')
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from trialscope import vocab
from trialscope.ctgov.parse import parse_converted
from trialscope.ctgov.translate import (
    JSON,
    Calc,
    Many,
    Obj,
    Text,
    Texts,
    compact,
    date,
    enum,
    first,
    to_int,
    translate,
)
from trialscope.ctgov.v1_fields import RESULT_PREFIXES, all_values, study_from_fields
from trialscope.errors import NotAStudyError
from trialscope.model import Trial

# --- documents ----------------------------------------------------------------------------


def _as_list(obj: Any, list_key: str, item_key: str) -> list[Any]:
    """``obj[list_key][item_key]`` as a list (a lone item counts as a list of one)."""
    inner = obj.get(list_key) if isinstance(obj, dict) else None
    value = inner.get(item_key) if isinstance(inner, dict) else None
    return value if isinstance(value, list) else [] if value is None else [value]


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
        for entry in _as_list(obj, "FullStudiesResponse", "FullStudies"):
            yield "study", entry if isinstance(entry, dict) else {"Study": entry}
    elif "StudyFieldsResponse" in obj:
        for row in _as_list(obj, "StudyFieldsResponse", "StudyFields"):
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
    return parse_converted(study, study_from_v1, "v1")


def parse_v1_fields(row: dict[str, Any]) -> Trial:
    """Parse one StudyFields row (every field a list of strings) into a Trial."""
    return parse_converted(row, study_from_v1_fields, "v1-fields")


def study_from_v1(study: Any) -> dict[str, Any]:
    """One FullStudies ``Study`` (or its wrapper) as the API v2 study dictionary."""
    if isinstance(study, dict) and "ProtocolSection" not in study and "Study" in study:
        study = study["Study"]
    if not isinstance(study, dict) or not isinstance(study.get("ProtocolSection"), dict):
        keys = ", ".join(sorted(map(str, study))[:4]) if isinstance(study, dict) else type(study).__name__
        raise NotAStudyError(f"not a v1 study (no ProtocolSection; found {keys or 'nothing'})")
    found = translate(study, STUDY, JSON)
    found.setdefault("protocolSection", {})  # an empty one: the record is rejected for its NCT id
    return found


def study_from_v1_fields(row: Any) -> dict[str, Any]:
    """One StudyFields row as the API v2 study dictionary, as far as its lists line up."""
    if not isinstance(row, dict) or "NCTId" not in row:
        keys = ", ".join(sorted(map(str, row))[:4]) if isinstance(row, dict) else type(row).__name__
        raise NotAStudyError(f"not a v1 StudyFields row (no NCTId; found {keys or 'nothing'})")
    study = study_from_v1(study_from_fields(row))
    # Results fields that could not be lined up again still say the study has results.
    if any(k.startswith(RESULT_PREFIXES) and all_values(row, k) for k in row):
        study["hasResults"] = True
    return study


# --- words and texts of v1 ------------------------------------------------------------------

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


def _named(prefix: str, *keys: str) -> dict[str, str]:
    """v2 keys read from v1 keys spelled ``prefix`` + the key with a capital: ``title`` -> ``FlowGroupTitle``."""
    return {key: prefix + key[0].upper() + key[1:] for key in keys}


def _list(name: str) -> str:
    """The path of a v1 list of ``name`` items: ``ArmGroup`` -> ``ArmGroupList.ArmGroup``."""
    return f"{name}List.{name}"


def _phone(prefix: str) -> Calc:
    def phone(node: Any) -> str | None:
        number, ext = JSON.text(node, f"{prefix}Phone"), JSON.text(node, f"{prefix}PhoneExt")
        return f"{number} ext. {ext}" if number and ext else number

    return Calc(phone)


def _contact(prefix: str) -> dict[str, Any]:
    return {
        **_named(prefix, "name"),
        "role": Text(f"{prefix}Role", enum("official_role")),
        "phone": _phone(prefix),
        "email": f"{prefix}EMail",
    }


def _date_struct(name: str) -> Obj:
    """``StartDateStruct: {StartDate, StartDateType}`` for ``name`` "Start"."""
    return Obj(
        f"{name}DateStruct",
        {"date": Text(f"{name}Date", date), "type": Text(f"{name}DateType", enum("date_type"))},
    )


def _masking(info: Any) -> dict[str, Any]:
    masking_info = JSON.node(info, "DesignMaskingInfo")
    masking, who_in_words = vocab.parse_masking(JSON.text(masking_info, "DesignMasking"))
    listed = JSON.texts(masking_info, "DesignWhoMaskedList.DesignWhoMasked")
    who = [w for w in (vocab.to_enum("who_masked", x) for x in listed) if w]
    return compact({"masking": masking, "whoMasked": who or list(who_in_words)})


def _std_ages(module: Any) -> list[str]:
    listed = [a for a in (vocab.to_enum("std_age", x) for x in JSON.texts(module, "StdAgeList.StdAge")) if a]
    if listed:
        return listed
    low, high = (
        vocab.age_to_days(vocab.age_bound(JSON.text(module, k))) for k in ("MinimumAge", "MaximumAge")
    )
    return list(vocab.derive_std_ages(low, high))


def _has_results(study: Any) -> bool:
    posted = "ProtocolSection.StatusModule.ResultsFirstPostDateStruct.ResultsFirstPostDate"
    return JSON.node(study, "ResultsSection") is not None or JSON.text(study, posted) is not None


def _browse(prefix: str) -> Obj:
    return Obj(
        f"{prefix}BrowseModule",
        {
            key: Many(
                _list(f"{prefix}{kind}"),
                {"term": f"{prefix}{kind}Term", "id": Text(f"{prefix}{kind}Id", mesh_id)},
                needs=("term",),
            )
            for key, kind in (("meshes", "Mesh"), ("ancestors", "Ancestor"))
        },
    )


# --- the tables: v2 key -> where v1 keeps it --------------------------------------------------

PROTOCOL: dict[str, Any] = {
    "identificationModule": Obj(
        "IdentificationModule",
        {
            "nctId": "NCTId",
            **_named("", "briefTitle", "officialTitle", "acronym"),
            "orgStudyIdInfo": Obj(
                "OrgStudyIdInfo", {"id": "OrgStudyId", **_named("OrgStudyId", "type", "domain", "link")}
            ),
            "secondaryIdInfos": Many(
                _list("SecondaryIdInfo"),
                {
                    "id": "SecondaryId",
                    "type": Text("SecondaryIdType", enum("secondary_id_type")),
                    **_named("SecondaryId", "domain", "link"),
                },
            ),
            "organization": Obj("Organization", {"fullName": "OrgFullName", "class": "OrgClass"}),
        },
    ),
    "statusModule": Obj(
        "StatusModule",
        {
            "overallStatus": Text("OverallStatus", enum("status")),
            **_named("", "whyStopped"),
            **{
                key: Text(key[0].upper() + key[1:], date)
                for key in ("statusVerifiedDate", "studyFirstSubmitDate", "lastUpdateSubmitDate")
            },
            **{
                f"{name[0].lower()}{name[1:]}DateStruct": _date_struct(name)
                for name in (
                    "Start",
                    "PrimaryCompletion",
                    "Completion",
                    "StudyFirstPost",
                    "ResultsFirstPost",
                    "LastUpdatePost",
                )
            },
        },
    ),
    "sponsorCollaboratorsModule": Obj(
        "SponsorCollaboratorsModule",
        {
            "leadSponsor": Obj(
                "LeadSponsor",
                {"name": "LeadSponsorName", "class": Text("LeadSponsorClass", enum("sponsor_class"))},
            ),
            "collaborators": Many(
                _list("Collaborator"),
                {"name": "CollaboratorName", "class": Text("CollaboratorClass", enum("sponsor_class"))},
                needs=("name",),
            ),
            "responsibleParty": Obj(
                "ResponsibleParty",
                {
                    "type": Text("ResponsiblePartyType", enum("responsible_party")),
                    **_named(
                        "ResponsibleParty",
                        "investigatorFullName",
                        "investigatorTitle",
                        "investigatorAffiliation",
                        "oldNameTitle",
                        "oldOrganization",
                    ),
                },
            ),
        },
    ),
    "descriptionModule": Obj("DescriptionModule", _named("", "briefSummary", "detailedDescription")),
    "conditionsModule": Obj(
        "ConditionsModule",
        {"conditions": Texts(_list("Condition")), "keywords": Texts(_list("Keyword"))},
    ),
    "designModule": Obj(
        "DesignModule",
        {
            "studyType": Text("StudyType", enum("study_type")),
            "phases": Texts(_list("Phase"), lambda words: list(vocab.phases_from_words(words))),
            "designInfo": Obj(
                "DesignInfo",
                {
                    "allocation": Text("DesignAllocation", enum("allocation")),
                    "interventionModel": Text("DesignInterventionModel", enum("intervention_model")),
                    "primaryPurpose": Text("DesignPrimaryPurpose", enum("primary_purpose")),
                    "maskingInfo": Calc(_masking),
                    # The model holds one observational model and one time perspective: the first listed.
                    "observationalModel": Texts(
                        _list("DesignObservationalModel"), first(enum("observational_model"))
                    ),
                    "timePerspective": Texts(_list("DesignTimePerspective"), first(enum("time_perspective"))),
                },
            ),
            "enrollmentInfo": Obj(
                "EnrollmentInfo",
                {
                    "count": Text("EnrollmentCount", to_int),
                    "type": Text("EnrollmentType", enum("enrollment_type")),
                },
            ),
        },
    ),
    "armsInterventionsModule": Obj(
        "ArmsInterventionsModule",
        {
            "armGroups": Many(
                _list("ArmGroup"),
                {
                    **_named("ArmGroup", "label", "description"),
                    "type": Text("ArmGroupType", enum("arm_type")),
                    "interventionNames": Texts("ArmGroupInterventionList.ArmGroupInterventionName"),
                },
                needs=("label",),
            ),
            "interventions": Many(
                _list("Intervention"),
                {
                    **_named("Intervention", "name", "description"),
                    "type": Text("InterventionType", enum("intervention_type")),
                    "armGroupLabels": Texts(_list("InterventionArmGroupLabel")),
                    "otherNames": Texts(_list("InterventionOtherName")),
                },
                needs=("name",),
            ),
        },
    ),
    "outcomesModule": Obj(
        "OutcomesModule",
        {
            f"{kind.lower()}Outcomes": Many(
                _list(f"{kind}Outcome"),
                _named(f"{kind}Outcome", "measure", "description", "timeFrame"),
                needs=("measure",),
            )
            for kind in ("Primary", "Secondary", "Other")
        },
    ),
    # Built even when v1 has no module: the age groups of "no age limits" are all three.
    "eligibilityModule": Calc(
        lambda protocol: translate(JSON.node(protocol, "EligibilityModule") or {}, ELIGIBILITY, JSON)
    ),
    "contactsLocationsModule": Obj(
        "ContactsLocationsModule",
        {
            "centralContacts": Many(_list("CentralContact"), _contact("CentralContact")),
            "overallOfficials": Many(
                _list("OverallOfficial"),
                {
                    **_named("OverallOfficial", "name", "affiliation"),
                    "role": Text("OverallOfficialRole", enum("official_role")),
                },
                needs=("name",),
            ),
            "locations": Many(
                _list("Location"),
                {
                    **_named("Location", "facility", "city", "state", "zip", "country"),
                    "status": Text("LocationStatus", enum("status")),
                    "contacts": Many(_list("LocationContact"), _contact("LocationContact")),
                },
            ),
        },
    ),
    "referencesModule": Obj(
        "ReferencesModule",
        {
            "references": Many(
                _list("Reference"),
                {
                    "citation": "ReferenceCitation",
                    "pmid": "ReferencePMID",
                    "type": Text("ReferenceType", enum("reference_type")),
                },
                needs=("citation", "pmid"),
            )
        },
    ),
}

ELIGIBILITY: dict[str, Any] = {
    "eligibilityCriteria": Text("EligibilityCriteria", restore_list_markers),
    "healthyVolunteers": Text("HealthyVolunteers", vocab.parse_bool),
    "sex": Text("Gender", enum("sex")),
    "genderBased": Text("GenderBased", vocab.parse_bool),
    "minimumAge": Text("MinimumAge", vocab.age_bound),
    "maximumAge": Text("MaximumAge", vocab.age_bound),
    "stdAges": Calc(_std_ages),
    "studyPopulation": "StudyPopulation",
    "samplingMethod": Text("SamplingMethod", enum("sampling_method")),
}


def _groups(prefix: str) -> Many:
    return Many(_list(f"{prefix}Group"), _named(f"{prefix}Group", "id", "title", "description"))


def _counts(prefix: str, value: str) -> Many:
    return Many(_list(prefix), _named(prefix, "groupId", value, "comment"))


def _denoms(prefix: str) -> Many:
    return Many(
        _list(f"{prefix}Denom"),
        {"units": f"{prefix}DenomUnits", "counts": _counts(f"{prefix}DenomCount", "value")},
    )


def _classes(prefix: str) -> Many:
    measurement = _named(
        f"{prefix}Measurement", "groupId", "value", "spread", "lowerLimit", "upperLimit", "comment"
    )
    category = {
        "title": f"{prefix}CategoryTitle",
        "measurements": Many(_list(f"{prefix}Measurement"), measurement),
    }
    return Many(
        _list(f"{prefix}Class"),
        {"title": f"{prefix}ClassTitle", "categories": Many(_list(f"{prefix}Category"), category)},
    )


def _events(kind: str) -> Many:
    prefix = f"{kind}Event"
    stats = {
        "groupId": f"{prefix}StatsGroupId",
        **{
            key: Text(f"{prefix}Stats{key[0].upper()}{key[1:]}", to_int)
            for key in ("numEvents", "numAffected", "numAtRisk")
        },
    }
    return Many(
        _list(prefix),
        {
            **_named(prefix, "term", "organSystem", "sourceVocabulary"),
            "assessmentType": Text(f"{prefix}AssessmentType", enum("assessment_type")),
            "stats": Many(_list(f"{prefix}Stats"), stats),
        },
    )


_EVENT_COUNTS = [f"{kind}Num{n}" for kind in ("deaths", "serious", "other") for n in ("Affected", "AtRisk")]

RESULTS: dict[str, Any] = {
    "participantFlowModule": Obj(
        "ParticipantFlowModule",
        {
            **_named("Flow", "recruitmentDetails", "preAssignmentDetails"),
            "groups": _groups("Flow"),
            "periods": Many(
                _list("FlowPeriod"),
                {
                    "title": "FlowPeriodTitle",
                    "milestones": Many(
                        _list("FlowMilestone"),
                        {
                            "type": "FlowMilestoneType",
                            "achievements": _counts("FlowAchievement", "numSubjects"),
                        },
                    ),
                    "dropWithdraws": Many(
                        _list("FlowDropWithdraw"),
                        {"type": "FlowDropWithdrawType", "reasons": _counts("FlowReason", "numSubjects")},
                    ),
                },
            ),
        },
    ),
    "baselineCharacteristicsModule": Obj(
        "BaselineCharacteristicsModule",
        {
            "populationDescription": "BaselinePopulationDescription",
            "groups": _groups("Baseline"),
            "denoms": _denoms("Baseline"),
            "measures": Many(
                _list("BaselineMeasure"),
                {
                    **_named("BaselineMeasure", "title", "dispersionType", "unitOfMeasure"),
                    "paramType": Text("BaselineMeasureParamType", enum("param_type")),
                    "classes": _classes("Baseline"),
                },
            ),
        },
    ),
    # A module without measures is no result: v1 pages carry empty ones.
    "outcomeMeasuresModule": Obj(
        "OutcomeMeasuresModule",
        {
            "outcomeMeasures": Many(
                _list("OutcomeMeasure"),
                {
                    **_named(
                        "OutcomeMeasure",
                        "title",
                        "description",
                        "populationDescription",
                        "dispersionType",
                        "unitOfMeasure",
                        "timeFrame",
                    ),
                    "type": Text("OutcomeMeasureType", enum("outcome_type")),
                    "reportingStatus": Text("OutcomeMeasureReportingStatus", enum("reporting_status")),
                    "paramType": Text("OutcomeMeasureParamType", enum("param_type")),
                    "groups": _groups("Outcome"),
                    "denoms": _denoms("Outcome"),
                    "classes": _classes("Outcome"),
                    "analyses": Many(
                        _list("OutcomeAnalysis"),
                        {
                            "groupIds": Texts(_list("OutcomeAnalysisGroupId")),
                            **_named(
                                "OutcomeAnalysis",
                                "pValue",
                                "statisticalMethod",
                                "paramType",
                                "paramValue",
                                "statisticalComment",
                                "groupDescription",
                            ),
                            "ciPctValue": "OutcomeAnalysisCIPctValue",
                            "ciLowerLimit": "OutcomeAnalysisCILowerLimit",
                            "ciUpperLimit": "OutcomeAnalysisCIUpperLimit",
                            "nonInferiorityType": Text(
                                "OutcomeAnalysisNonInferiorityType", enum("non_inferiority_type")
                            ),
                        },
                    ),
                },
            )
        },
        keep=lambda module: bool(module["outcomeMeasures"]),
    ),
    "adverseEventsModule": Obj(
        "AdverseEventsModule",
        {
            **_named("Events", "frequencyThreshold", "timeFrame", "description"),
            "eventGroups": Many(
                _list("EventGroup"),
                {
                    **_named("EventGroup", "id", "title", "description"),
                    **{key: Text("EventGroup" + key[0].upper() + key[1:], to_int) for key in _EVENT_COUNTS},
                },
            ),
            "seriousEvents": _events("Serious"),
            "otherEvents": _events("Other"),
        },
    ),
}

STUDY: dict[str, Any] = {
    "protocolSection": Obj("ProtocolSection", PROTOCOL),
    "derivedSection": Obj(
        "DerivedSection",
        {"conditionBrowseModule": _browse("Condition"), "interventionBrowseModule": _browse("Intervention")},
    ),
    "hasResults": Calc(_has_results),
    "resultsSection": Obj("ResultsSection", RESULTS),
}
