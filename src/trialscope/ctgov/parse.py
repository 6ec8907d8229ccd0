"""The one parser of the model: an API v2 study dictionary -> :class:`trialscope.model.Trial`.

Every shape of record ends here. API v2 JSON is read as it is; the older shapes (v1 FullStudies
and StudyFields JSON, legacy XML, CSV exports) are first converted into the API v2 dictionary by
their own modules, and :func:`parse_converted` runs the conversion and this parser under the one
guard that makes a bad record cost that record only.

The records come from many hands: every field may be missing or of the wrong type; the
readers of :mod:`trialscope.ctgov.readers` coerce gently, so only a missing NCT id (or an object
that is not a study at all) rejects a record. Each model class is built by a table of where its
fields are in API v2 (:mod:`trialscope.ctgov.build`): :data:`TRIAL` and the tables below it here,
the results section's in :mod:`trialscope.ctgov.results`.

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
from trialscope.ctgov.build import Spec, always, build, many, named, one, under
from trialscope.ctgov.readers import _b, _d, _date, _f, _get, _plain_date, _s, _strs, enum, strict_int
from trialscope.ctgov.results import RESULTS
from trialscope.ctgov.translate import DESIGN_INFO
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
    nct_id = _nct_id(_d(study["protocolSection"], "identificationModule"), "nctId")
    if not NCT_ID.match(nct_id):
        raise ParseError(f"study has no valid NCT id (got {nct_id or 'none'!r})")
    return build(TRIAL, study, source_format=source_format, summary_only=summary_only)


# --- the readers no table can name ------------------------------------------------------------


def _nct_id(obj: Any, key: str) -> str:
    return (_s(obj, key) or "").strip().upper()


def _phases(obj: Any, key: str) -> tuple[str, ...]:
    return tuple(vocab.phase_enum(p) for p in _strs(obj, key))


def _who_masked(obj: Any, key: str) -> tuple[str, ...]:
    # A word of no letters or digits (no enum at all) is kept as written.
    return tuple(vocab.to_enum("who_masked", w) or w for w in _strs(obj, key))


def _days(obj: Any, key: str) -> float | None:
    return vocab.age_to_days(_s(obj, key))


def _geo(obj: Any, key: str) -> GeoPoint | None:
    geo = _d(obj, key)
    lat, lon = _f(geo, "lat"), _f(geo, "lon")
    return GeoPoint(lat, lon) if lat is not None and lon is not None else None


def _has_results(study: Any, key: str) -> bool:
    return _get(study, key) is True or bool(_d(study, "resultsSection"))


# --- the tables: where each field of the model is in an API v2 study ---------------------------

IDENTIFIER = Spec(Identifier, named("id type domain link"), needs="id")
SPONSOR = Spec(Sponsor, {"name": "name", "sponsor_class": ("class", enum("sponsor_class"))}, needs="name")
RESPONSIBLE_PARTY = Spec(
    ResponsibleParty,
    {
        "type": ("type", enum("responsible_party")),
        "investigator_name": (("investigatorFullName", "oldNameTitle"), _s),
        **named("investigatorTitle"),
        "investigator_affiliation": (("investigatorAffiliation", "oldOrganization"), _s),
    },
)
OFFICIAL = Spec(
    Official, {**named("name affiliation"), "role": ("role", enum("official_role"))}, needs="name"
)
CONTACT = Spec(Contact, named("name role phone email"))

DESIGN = Spec(
    Design,
    {
        "study_type": ("studyType", enum("study_type")),
        "phases": ("phases", _phases),
        # designInfo's words, each of the vocabulary its field is named after (the older shapes'
        # translations write designInfo by the same table)
        **{field: (f"designInfo.{key}", enum(field)) for field, key in DESIGN_INFO.items()},
        "masking": ("designInfo.maskingInfo.masking", enum("masking")),
        "who_masked": ("designInfo.maskingInfo.whoMasked", _who_masked),
        "enrollment_count": ("enrollmentInfo.count", strict_int("enrollmentInfo.count")),
        "enrollment_type": ("enrollmentInfo.type", enum("enrollment_type")),
    },
)
ARM = Spec(
    ArmGroup,
    {**named("label description"), **named("interventionNames", _strs), "type": ("type", enum("arm_type"))},
)
INTERVENTION = Spec(
    Intervention,
    {
        **named("name description"),
        **named("armGroupLabels otherNames", _strs),
        "type": ("type", enum("intervention_type")),
    },
)

OUTCOME = Spec(Outcome, {"measure": "measure", **named("description timeFrame")}, needs="measure")
# Each list of outcomes gives its outcomes their kind; ``unspecifiedOutcomes`` is TrialScope's own.
OUTCOME_LISTS = tuple(
    (f"{kind}Outcomes", many(OUTCOME.given(kind=kind)))
    for kind in ("primary", "secondary", "other", "unspecified")
)


def _outcomes(obj: Any, key: str) -> tuple[Outcome, ...]:
    module = _d(obj, key)
    return tuple(outcome for list_key, outcomes in OUTCOME_LISTS for outcome in outcomes(module, list_key))


ELIGIBILITY = Spec(
    Eligibility,
    {
        "criteria": "eligibilityCriteria",
        **named("healthyVolunteers genderBased", _b),
        "sex": ("sex", enum("sex")),
        **named("minimumAge maximumAge"),
        "minimum_age_days": ("minimumAge", _days),
        "maximum_age_days": ("maximumAge", _days),
        "std_ages": ("stdAges", _strs),
        **named("studyPopulation"),
        "sampling_method": ("samplingMethod", enum("sampling_method")),
    },
)
SITE = Spec(
    Site,
    {
        **named("facility city state zip country"),
        "status": ("status", enum("status")),
        "geo": ("geoPoint", _geo),
        "contacts": ("contacts", many(CONTACT)),
    },
)
REFERENCE = Spec(Reference, named("citation pmid type"))
MESH = Spec(MeshTerm, named("term id"), needs="term")

TRIAL = Spec(
    Trial,
    {
        **under(
            "protocolSection.identificationModule",
            {
                "nct_id": ("nctId", _nct_id),
                **named("briefTitle officialTitle acronym"),
                "org_study_id": ("orgStudyIdInfo", one(IDENTIFIER.given(source="org_study_id"))),
                "secondary_ids": ("secondaryIdInfos", many(IDENTIFIER.given(source="secondary_id"))),
                "organization": "organization.fullName",
            },
        ),
        **under(
            "protocolSection.statusModule",
            {
                "overall_status": ("overallStatus", enum("status")),
                **named("whyStopped"),
                **named("statusVerifiedDate lastUpdateSubmitDate", _plain_date),
                "start_date": ("startDateStruct", _date),
                "primary_completion_date": ("primaryCompletionDateStruct", _date),
                "completion_date": ("completionDateStruct", _date),
                "first_submit_date": ("studyFirstSubmitDate", _plain_date),
                "first_post_date": ("studyFirstPostDateStruct", _date),
                "results_first_post_date": ("resultsFirstPostDateStruct", _date),
                "last_update_post_date": ("lastUpdatePostDateStruct", _date),
            },
        ),
        **under(
            "protocolSection.sponsorCollaboratorsModule",
            {
                "lead_sponsor": ("leadSponsor", one(SPONSOR.given(role="lead"))),
                "collaborators": ("collaborators", many(SPONSOR.given(role="collaborator"))),
                "responsible_party": ("responsibleParty", one(RESPONSIBLE_PARTY)),
            },
        ),
        **under(
            "protocolSection.contactsLocationsModule",
            {
                "officials": ("overallOfficials", many(OFFICIAL)),
                "central_contacts": ("centralContacts", many(CONTACT)),
                "locations": ("locations", many(SITE)),
            },
        ),
        **under(
            "protocolSection",
            {
                "brief_summary": "descriptionModule.briefSummary",
                "detailed_description": "descriptionModule.detailedDescription",
                "conditions": ("conditionsModule.conditions", _strs),
                "keywords": ("conditionsModule.keywords", _strs),
                "design": ("designModule", always(DESIGN)),
                "arms": ("armsInterventionsModule.armGroups", many(ARM)),
                "interventions": ("armsInterventionsModule.interventions", many(INTERVENTION)),
                "outcomes": ("outcomesModule", _outcomes),
                "eligibility": ("eligibilityModule", always(ELIGIBILITY)),
                "references": ("referencesModule.references", many(REFERENCE)),
            },
        ),
        **under(
            "derivedSection",
            {
                "condition_mesh": ("conditionBrowseModule.meshes", many(MESH)),
                "condition_ancestors": ("conditionBrowseModule.ancestors", many(MESH)),
                "intervention_mesh": ("interventionBrowseModule.meshes", many(MESH)),
                "intervention_ancestors": ("interventionBrowseModule.ancestors", many(MESH)),
            },
        ),
        "has_results": ("hasResults", _has_results),
        "results": ("resultsSection", one(RESULTS)),
    },
)
