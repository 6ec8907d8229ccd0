"""The one parser of the model: an API v2 study dictionary -> :class:`trialscope.model.Trial`.

Every shape of record ends here. API v2 JSON is read as it is; the older shapes (v1 FullStudies
and StudyFields JSON, legacy XML, CSV exports) are first converted into the API v2 dictionary by
their own modules, and :func:`parse_converted` runs the conversion and this parser under the one
guard that makes a bad record cost that record only.

The records come from many hands: every field may be missing or of the wrong type; the
readers of :mod:`trialscope.ctgov.readers` coerce gently, so only a missing NCT id (or an object
that is not a study at all) rejects a record. The results section is read by
:mod:`trialscope.ctgov.results`.

TrialScope's converters add one key API v2 does not have: ``outcomesModule.unspecifiedOutcomes``,
the outcomes of a classic CSV export, which does not say which are primary.

>>> trial = parse_study({"protocolSection": {"identificationModule": {"nctId": "NCT00000102"}}})
>>> trial.nct_id
'NCT00000102'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from trialscope import vocab
from trialscope.ctgov.readers import _b, _d, _date, _enum, _f, _l, _plain_date, _s, _strict_int, _strs
from trialscope.ctgov.results import parse_results
from trialscope.errors import NotAStudyError, ParseError
from trialscope.model import (
    ArmGroup,
    Contact,
    Design,
    Eligibility,
    GeoPoint,
    Identifier,
    Intervention,
    MeshTerm,
    Official,
    Outcome,
    Reference,
    ResponsibleParty,
    Site,
    Sponsor,
    Trial,
)

NCT_ID = re.compile(r"^NCT\d{8}$")

# How a reject reason names each source format.
FORMAT_NAMES = {
    "v2": "API v2",
    "v1": "v1 FullStudies",
    "v1-fields": "v1 StudyFields",
    "xml": "legacy XML",
    "csv": "CSV export",
}

Record = TypeVar("Record")


def parse_study(study: Any) -> Trial:
    """Parse one API v2 study object (as decoded from JSON) into a Trial.

    Raises NotAStudyError for an object that is not a study and ParseError for a study
    without a usable NCT id; never anything else.
    """
    return parse_converted(study, _as_is, "v2")


def _as_is(study: Any) -> Any:
    return study


def parse_converted(
    record: Record, convert: Callable[[Record], Any], source_format: str, *, summary_only: bool = False
) -> Trial:
    """``convert`` a record of an older shape into the API v2 dictionary, and parse that.

    This is the one guard of every parser: whatever fails while one record is converted or
    parsed becomes a ParseError with a reason a person can read, so the record is reported
    and the batch goes on. Converters raise ParseError (or NotAStudyError) themselves for
    what they know is wrong with a record; anything else they raise is a bug of ours, and is
    reported as such rather than stopping an ingest.
    """
    study: Any = None
    try:
        study = convert(record)
        return _trial(study, source_format, summary_only)
    except ParseError:
        raise
    except Exception as exc:
        name = FORMAT_NAMES.get(source_format, source_format)
        nct_id = _s(_d(_d(study, "protocolSection"), "identificationModule"), "nctId")
        who = f"{nct_id}: " if nct_id else ""
        raise ParseError(
            f"{who}cannot read this {name} record: unexpected {type(exc).__name__} ({exc})"
        ) from exc


def _trial(study: Any, source_format: str, summary_only: bool) -> Trial:
    if not isinstance(study, dict) or not isinstance(study.get("protocolSection"), dict):
        keys = ", ".join(sorted(map(str, study))[:5]) if isinstance(study, dict) else type(study).__name__
        raise NotAStudyError(f"not an API v2 study (no protocolSection; found {keys or 'nothing'})")
    protocol = study["protocolSection"]
    ident = _d(protocol, "identificationModule")
    nct_id = (_s(ident, "nctId") or "").strip().upper()
    if not NCT_ID.match(nct_id):
        raise ParseError(f"study has no valid NCT id (got {nct_id or 'none'!r})")

    status = _d(protocol, "statusModule")
    sponsors = _d(protocol, "sponsorCollaboratorsModule")
    description = _d(protocol, "descriptionModule")
    conditions = _d(protocol, "conditionsModule")
    contacts = _d(protocol, "contactsLocationsModule")
    derived = _d(study, "derivedSection")
    results_section = _d(study, "resultsSection")

    lead = _d(sponsors, "leadSponsor")
    org = _d(ident, "orgStudyIdInfo")
    party = _d(sponsors, "responsibleParty")

    return Trial(
        nct_id=nct_id,
        brief_title=_s(ident, "briefTitle"),
        official_title=_s(ident, "officialTitle"),
        acronym=_s(ident, "acronym"),
        org_study_id=_identifier(org, "org_study_id") if _s(org, "id") else None,
        secondary_ids=tuple(
            _identifier(x, "secondary_id") for x in _l(ident, "secondaryIdInfos") if _s(x, "id")
        ),
        organization=_s(_d(ident, "organization"), "fullName"),
        overall_status=_enum("status", status, "overallStatus"),
        why_stopped=_s(status, "whyStopped"),
        status_verified_date=_plain_date(status, "statusVerifiedDate"),
        start_date=_date(status, "startDateStruct"),
        primary_completion_date=_date(status, "primaryCompletionDateStruct"),
        completion_date=_date(status, "completionDateStruct"),
        first_submit_date=_plain_date(status, "studyFirstSubmitDate"),
        first_post_date=_date(status, "studyFirstPostDateStruct"),
        results_first_post_date=_date(status, "resultsFirstPostDateStruct"),
        last_update_submit_date=_plain_date(status, "lastUpdateSubmitDate"),
        last_update_post_date=_date(status, "lastUpdatePostDateStruct"),
        lead_sponsor=Sponsor(_s(lead, "name") or "", _enum("sponsor_class", lead, "class"), "lead")
        if _s(lead, "name")
        else None,
        collaborators=tuple(
            Sponsor(_s(c, "name") or "", _enum("sponsor_class", c, "class"), "collaborator")
            for c in _l(sponsors, "collaborators")
            if _s(c, "name")
        ),
        responsible_party=ResponsibleParty(
            type=_enum("responsible_party", party, "type"),
            investigator_name=_s(party, "investigatorFullName") or _s(party, "oldNameTitle"),
            investigator_title=_s(party, "investigatorTitle"),
            investigator_affiliation=_s(party, "investigatorAffiliation") or _s(party, "oldOrganization"),
        )
        if party
        else None,
        officials=tuple(
            Official(_s(o, "name") or "", _enum("official_role", o, "role"), _s(o, "affiliation"))
            for o in _l(contacts, "overallOfficials")
            if _s(o, "name")
        ),
        central_contacts=tuple(_contact(c) for c in _l(contacts, "centralContacts") if isinstance(c, dict)),
        brief_summary=_s(description, "briefSummary"),
        detailed_description=_s(description, "detailedDescription"),
        conditions=_strs(conditions, "conditions"),
        keywords=_strs(conditions, "keywords"),
        design=_design(_d(protocol, "designModule")),
        arms=_arms(_d(protocol, "armsInterventionsModule")),
        interventions=_interventions(_d(protocol, "armsInterventionsModule")),
        outcomes=_outcomes(_d(protocol, "outcomesModule")),
        eligibility=_eligibility(_d(protocol, "eligibilityModule")),
        locations=tuple(_site(x) for x in _l(contacts, "locations") if isinstance(x, dict)),
        references=tuple(
            Reference(citation=_s(r, "citation"), pmid=_s(r, "pmid"), type=_s(r, "type"))
            for r in _l(_d(protocol, "referencesModule"), "references")
            if isinstance(r, dict)
        ),
        condition_mesh=_mesh(_d(derived, "conditionBrowseModule"), "meshes"),
        condition_ancestors=_mesh(_d(derived, "conditionBrowseModule"), "ancestors"),
        intervention_mesh=_mesh(_d(derived, "interventionBrowseModule"), "meshes"),
        intervention_ancestors=_mesh(_d(derived, "interventionBrowseModule"), "ancestors"),
        has_results=bool(study.get("hasResults") is True or results_section),
        results=parse_results(results_section) if results_section else None,
        source_format=source_format,
        summary_only=summary_only,
    )


def _identifier(obj: dict[str, Any], source: str) -> Identifier:
    return Identifier(
        id=_s(obj, "id") or "",
        source=source,
        type=_s(obj, "type"),
        domain=_s(obj, "domain"),
        link=_s(obj, "link"),
    )


def _contact(obj: dict[str, Any]) -> Contact:
    return Contact(name=_s(obj, "name"), role=_s(obj, "role"), phone=_s(obj, "phone"), email=_s(obj, "email"))


def _design(module: dict[str, Any]) -> Design:
    info = _d(module, "designInfo")
    masking = _d(info, "maskingInfo")
    enrollment = _d(module, "enrollmentInfo")
    return Design(
        study_type=_enum("study_type", module, "studyType"),
        phases=tuple(vocab.phase_enum(p) for p in _strs(module, "phases")),
        allocation=_enum("allocation", info, "allocation"),
        intervention_model=_enum("intervention_model", info, "interventionModel"),
        primary_purpose=_enum("primary_purpose", info, "primaryPurpose"),
        masking=_enum("masking", masking, "masking"),
        who_masked=tuple(vocab.to_enum("who_masked", w) or w for w in _strs(masking, "whoMasked")),
        observational_model=_enum("observational_model", info, "observationalModel"),
        time_perspective=_enum("time_perspective", info, "timePerspective"),
        enrollment_count=_strict_int(enrollment, "count", "enrollmentInfo.count"),
        enrollment_type=_enum("enrollment_type", enrollment, "type"),
    )


def _arms(module: dict[str, Any]) -> tuple[ArmGroup, ...]:
    return tuple(
        ArmGroup(
            label=_s(a, "label") or "",
            type=_enum("arm_type", a, "type"),
            description=_s(a, "description"),
            intervention_names=_strs(a, "interventionNames"),
        )
        for a in _l(module, "armGroups")
        if isinstance(a, dict)
    )


def _interventions(module: dict[str, Any]) -> tuple[Intervention, ...]:
    return tuple(
        Intervention(
            name=_s(x, "name") or "",
            type=_enum("intervention_type", x, "type"),
            description=_s(x, "description"),
            arm_group_labels=_strs(x, "armGroupLabels"),
            other_names=_strs(x, "otherNames"),
        )
        for x in _l(module, "interventions")
        if isinstance(x, dict)
    )


def _outcomes(module: dict[str, Any]) -> tuple[Outcome, ...]:
    found: list[Outcome] = []
    for kind in ("primary", "secondary", "other", "unspecified"):
        for o in _l(module, f"{kind}Outcomes"):
            if isinstance(o, dict) and _s(o, "measure"):
                found.append(
                    Outcome(
                        measure=_s(o, "measure") or "",
                        kind=kind,
                        description=_s(o, "description"),
                        time_frame=_s(o, "timeFrame"),
                    )
                )
    return tuple(found)


def _eligibility(module: dict[str, Any]) -> Eligibility:
    minimum = _s(module, "minimumAge")
    maximum = _s(module, "maximumAge")
    return Eligibility(
        criteria=_s(module, "eligibilityCriteria"),
        healthy_volunteers=_b(module, "healthyVolunteers"),
        sex=_enum("sex", module, "sex"),
        gender_based=_b(module, "genderBased"),
        minimum_age=minimum,
        maximum_age=maximum,
        minimum_age_days=vocab.age_to_days(minimum),
        maximum_age_days=vocab.age_to_days(maximum),
        std_ages=_strs(module, "stdAges"),
        study_population=_s(module, "studyPopulation"),
        sampling_method=_enum("sampling_method", module, "samplingMethod"),
    )


def _site(obj: dict[str, Any]) -> Site:
    geo = _d(obj, "geoPoint")
    lat, lon = _f(geo, "lat"), _f(geo, "lon")
    return Site(
        facility=_s(obj, "facility"),
        city=_s(obj, "city"),
        state=_s(obj, "state"),
        zip=_s(obj, "zip"),
        country=_s(obj, "country"),
        status=_enum("status", obj, "status"),
        geo=GeoPoint(lat, lon) if lat is not None and lon is not None else None,
        contacts=tuple(_contact(c) for c in _l(obj, "contacts") if isinstance(c, dict)),
    )


def _mesh(module: dict[str, Any], key: str) -> tuple[MeshTerm, ...]:
    return tuple(
        MeshTerm(term=_s(m, "term") or "", id=_s(m, "id"))
        for m in _l(module, key)
        if isinstance(m, dict) and _s(m, "term")
    )
