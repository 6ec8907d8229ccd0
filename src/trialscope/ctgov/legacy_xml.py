"""Legacy ClinicalTrials.gov XML (``<clinical_study>``, public.xsd) -> the API v2 study dictionary.

Research corpora (TREC, AACT fixtures, old bulk downloads) hold one study per XML file in the
retired public.xsd layout. :func:`study_from_xml` translates one document into the dictionary an
API v2 study would be, through the tables below (v2 key -> XML element), with the words of the
XML (``Phase 1/Phase 2``, ``Non-Randomized``) mapped onto the API v2 enums by
:mod:`trialscope.vocab` and the hard-wrapped text blocks unwrapped into the Markdown-ish text API
v2 gives; :func:`trialscope.ctgov.parse.parse_study` builds the Trial.

Only :class:`~trialscope.errors.ParseError` (or a subclass) ever leaves :func:`parse_xml_study`:
malformed XML (said in plain words), a root that is not ``<clinical_study>`` or a missing NCT
id reject the record, anything else that cannot be read becomes None.

>>> trial = parse_xml_study(b"<clinical_study><id_info><nct_id>NCT00000102</nct_id></id_info>"
...                         b"<phase>Phase 1/Phase 2</phase></clinical_study>")
>>> trial.nct_id, trial.design.phases
('NCT00000102', ('PHASE1', 'PHASE2'))
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from trialscope import vocab
from trialscope.ctgov.parse import parse_converted
from trialscope.ctgov.translate import (
    Calc,
    Join,
    Many,
    Obj,
    Text,
    Texts,
    apply,
    date,
    design_info,
    enum,
    invalid_utf8,
    listed,
    to_int,
    translate,
)
from trialscope.ctgov.xml_results import RESULTS
from trialscope.ctgov.xml_text import XML, block, oneline
from trialscope.errors import NotAStudyError, ParseError
from trialscope.model import Trial

# --- the document ----------------------------------------------------------------------------


def parse_xml_study(data: bytes) -> Trial:
    """Parse one legacy ``<clinical_study>`` XML document into a Trial.

    Raises ParseError for malformed XML or a study without an NCT id, NotAStudyError for a
    well-formed document of another kind; never anything else.
    """
    return parse_converted(data, study_from_xml, "xml")


def study_from_xml(data: bytes | str) -> dict[str, Any]:
    """One ``<clinical_study>`` document as the API v2 study dictionary."""
    root = read_xml(data)
    if not isinstance(root.tag, str) or root.tag != "clinical_study":
        tag = root.tag if isinstance(root.tag, str) else "nothing"
        raise NotAStudyError(
            f"not a ClinicalTrials.gov study: the root element is <{tag}>, not <clinical_study>"
        )
    return translate(root, STUDY, XML)


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True, remove_pis=True
    )


# What libxml2's errors mean, in words a person reading a reject report can act on.
_XML_ERRORS = {
    "ERR_RESOURCE_LIMIT": "XML entity expansion refused: the document's entities expand to too much text",
    "ERR_ENTITY_LOOP": "XML entity expansion refused: the document's entities refer to themselves",
    "ERR_UNDECLARED_ENTITY": "malformed XML: it uses an entity (&name;) it does not declare",
    "ERR_UNSUPPORTED_ENCODING": "unreadable XML: it declares a character encoding that is not supported",
    "ERR_TAG_NOT_FINISHED": "malformed XML: the document ends before its elements are closed (cut off?)",
    "ERR_DOCUMENT_EMPTY": "not XML: the file holds no XML element",
    "ERR_DOCUMENT_END": "malformed XML: there is more after the end of the document's root element",
    "ERR_TAG_NAME_MISMATCH": "malformed XML: an element is closed by the end tag of another",
}
_ERROR_NAMES = {code: name for name, code in vars(etree.ErrorTypes).items() if name.startswith("ERR_")}


def read_xml(data: bytes | str) -> Any:
    """The root element of an XML document, or ParseError saying in plain words what is wrong.

    Entities are never fetched, and a document that declares entities of its own is refused:
    ClinicalTrials.gov records declare none, and expanding them is how XML bombs work.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray)) or not data.strip():
        raise ParseError("empty XML document; expected one <clinical_study>")
    data = bytes(data)
    try:
        root = etree.fromstring(data, _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ParseError(_xml_error(data, exc)) from None
    except (ValueError, TypeError, etree.LxmlError) as exc:
        raise ParseError(f"unreadable XML: {exc}") from None
    if root is None:
        raise ParseError("not XML: the file holds no XML element")
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ParseError("XML entity declarations refused: a ClinicalTrials.gov record declares none")
    return root


_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)")


def _xml_error(data: bytes, exc: etree.XMLSyntaxError) -> str:
    line, column = exc.position
    where = f" (line {line}, column {column})"
    declared = _DECLARED_ENCODING.match(data)
    if declared is None or declared.group(1).lower().replace(b"_", b"-") in (b"utf-8", b"utf8"):
        bad = invalid_utf8(data)
        if bad:
            return bad + where
    words = _XML_ERRORS.get(_ERROR_NAMES.get(exc.code, ""))
    if words:
        return words + where
    message = (exc.msg or str(exc)).split(", line ")[0]
    return f"malformed XML{where}: {message}"


# --- values that no table can say ----------------------------------------------------------


def _last_update_posted(root: Any) -> dict[str, Any] | None:
    # Records written before 2017 carry only <lastchanged_date> (renamed last_update_submitted
    # later). The old site showed it as the last update, so it also stands in for the posted date
    # (with no type): without it these records would have no last update at all.
    if XML.text(root, "last_update_posted") is not None:
        return translate(root.find("last_update_posted"), _DATE, XML)
    changed = XML.text(root, "lastchanged_date")
    return {"date": date(changed)} if changed else None


def _phone(el: Any) -> str | None:
    phone, ext = XML.text(el, "phone"), XML.text(el, "phone_ext")
    return f"{phone} ext. {ext}" if phone and ext else phone


_DESIGN_PAIR = re.compile(r",\s*(?=[A-Z][A-Za-z ]+:)")


def split_design_line(text: str | None) -> dict[str, str]:
    """``"Allocation:  Randomized, Masking:  Double Blind (Subject, Caregiver)"`` -> a dict by model field."""
    return vocab.design_words(_DESIGN_PAIR.split(text or ""))


def _design_info(root: Any) -> dict[str, Any]:
    # Old records (before 2010) had one <study_design> line instead of <study_design_info>.
    info = root.find("study_design_info")
    if info is None:
        words = split_design_line(XML.text(root, "study_design"))
    else:
        words = {name: text for name in vocab.DESIGN_KEYS.values() if (text := XML.text(info, name))}
    for many in ("observational_model", "time_perspective"):
        if many in words:  # "Defined Population, Natural History": the model holds one value, the first
            words[many] = words[many].split(",")[0]
    return design_info(words)


def _arm_groups(root: Any) -> list[dict[str, Any]]:
    """Arm groups, each with its interventions named as API v2 names them (``Drug: Aspirin``)."""
    named: dict[str, list[str]] = {}
    for x in root.findall("intervention"):
        name = XML.text(x, "intervention_name")
        if name:
            kind = XML.text(x, "intervention_type")
            for label in XML.texts(x, "arm_group_label"):
                named.setdefault(label, []).append(f"{kind}: {name}" if kind else name)
    arms = apply(root, Many("arm_group", _ARM, needs=("label",)), XML)
    return [{**arm, "interventionNames": named.get(arm["label"], [])} for arm in arms]


def _std_ages(el: Any) -> list[str]:
    low, high = (
        vocab.age_to_days(vocab.age_bound(XML.text(el, tag))) for tag in ("minimum_age", "maximum_age")
    )
    return list(vocab.derive_std_ages(low, high))


# --- the tables: v2 key -> where the XML keeps it --------------------------------------------

_DATE = {"date": Text("", date), "type": Text("@type", enum("date_type"))}
_SPONSOR = {"name": "agency", "class": Text("agency_class", enum("sponsor_class"))}
_CONTACT = {"name": "last_name", "role": Calc(lambda _: "CONTACT"), "phone": Calc(_phone), "email": "email"}
_ARM = {
    "label": "arm_group_label",
    "type": Text("arm_group_type", enum("arm_type")),
    "description": "description",
}


def _reference(kind: str) -> Many:
    return Many(
        "reference" if kind == "BACKGROUND" else "results_reference",
        {"citation": "citation", "pmid": "PMID", "type": Calc(lambda _: kind)},
        needs=("citation", "pmid"),
    )


def _mesh_terms(tag: str) -> Obj:
    return Obj("", {"meshes": Texts(f"{tag}/mesh_term", listed("term"))})


PROTOCOL: dict[str, Any] = {
    "identificationModule": Obj(
        "",
        {
            "nctId": "id_info/nct_id",
            "briefTitle": Text("brief_title", oneline),
            "officialTitle": Text("official_title", oneline),
            "acronym": "acronym",
            "orgStudyIdInfo": Obj("id_info", {"id": "org_study_id"}),
            "secondaryIdInfos": Texts("id_info/secondary_id", listed("id")),
            "organization": Obj("", {"fullName": "source"}),
        },
    ),
    "statusModule": Obj(
        "",
        {
            "overallStatus": Text("overall_status", enum("status")),
            "whyStopped": Text("why_stopped", oneline),
            "statusVerifiedDate": Text("verification_date", date),
            "startDateStruct": Obj("start_date", _DATE),
            "primaryCompletionDateStruct": Obj("primary_completion_date", _DATE),
            "completionDateStruct": Obj("completion_date", _DATE),
            "studyFirstSubmitDate": Text(("study_first_submitted", "firstreceived_date"), date),
            "studyFirstPostDateStruct": Obj("study_first_posted", _DATE),
            "resultsFirstPostDateStruct": Obj("results_first_posted", _DATE),
            "lastUpdateSubmitDate": Text(("last_update_submitted", "lastchanged_date"), date),
            "lastUpdatePostDateStruct": Calc(_last_update_posted),
        },
    ),
    "sponsorCollaboratorsModule": Obj(
        "",
        {
            "leadSponsor": Obj("sponsors/lead_sponsor", _SPONSOR),
            "collaborators": Many("sponsors/collaborator", _SPONSOR, needs=("name",)),
            "responsibleParty": Obj(
                "responsible_party",
                {
                    "type": Text("responsible_party_type", enum("responsible_party")),
                    "investigatorFullName": "investigator_full_name",
                    "oldNameTitle": "name_title",
                    "investigatorTitle": "investigator_title",
                    "investigatorAffiliation": "investigator_affiliation",
                    "oldOrganization": "organization",
                },
            ),
        },
    ),
    "descriptionModule": Obj(
        "", {"briefSummary": block("brief_summary"), "detailedDescription": block("detailed_description")}
    ),
    "conditionsModule": Obj("", {"conditions": Texts("condition"), "keywords": Texts("keyword")}),
    "designModule": Obj(
        "",
        {
            "studyType": Text("study_type", enum("study_type")),
            "phases": Texts("phase", lambda words: list(vocab.phases_from_words(words))),
            "designInfo": Calc(_design_info),
            "enrollmentInfo": Obj(
                "enrollment", {"count": Text("", to_int), "type": Text("@type", enum("enrollment_type"))}
            ),
        },
    ),
    "armsInterventionsModule": Obj(
        "",
        {
            "armGroups": Calc(_arm_groups),
            "interventions": Many(
                "intervention",
                {
                    "name": "intervention_name",
                    "type": Text("intervention_type", enum("intervention_type")),
                    "description": "description",
                    "armGroupLabels": Texts("arm_group_label"),
                    "otherNames": Texts("other_name"),
                },
                needs=("name",),
            ),
        },
    ),
    "outcomesModule": Obj(
        "",
        {
            f"{kind}Outcomes": Many(
                f"{kind}_outcome",
                {"measure": "measure", "description": "description", "timeFrame": "time_frame"},
                needs=("measure",),
            )
            for kind in ("primary", "secondary", "other")
        },
    ),
    "eligibilityModule": Obj(
        "eligibility",
        {
            "eligibilityCriteria": block("criteria"),
            "healthyVolunteers": Text("healthy_volunteers", vocab.parse_bool),
            "sex": Text("gender", enum("sex")),
            "genderBased": Text("gender_based", vocab.parse_bool),
            "minimumAge": Text("minimum_age", vocab.age_bound),
            "maximumAge": Text("maximum_age", vocab.age_bound),
            "stdAges": Calc(_std_ages),
            "studyPopulation": block("study_pop"),
            "samplingMethod": Text("sampling_method", enum("sampling_method")),
        },
    ),
    "contactsLocationsModule": Obj(
        "",
        {
            "centralContacts": Many(("overall_contact", "overall_contact_backup"), _CONTACT),
            "overallOfficials": Many(
                "overall_official",
                {
                    "name": "last_name",
                    "role": Text("role", enum("official_role")),
                    "affiliation": "affiliation",
                },
                needs=("name",),
            ),
            "locations": Many(
                "location",
                {
                    "facility": "facility/name",
                    **{key: f"facility/address/{key}" for key in ("city", "state", "zip", "country")},
                    "status": Text("status", enum("status")),
                    "contacts": Join(
                        Many(("contact", "contact_backup"), _CONTACT),
                        Many(
                            "investigator",
                            {"name": "last_name", "role": Text("role", enum("official_role"))},
                            needs=("name",),
                        ),
                    ),
                },
            ),
        },
    ),
    "referencesModule": Obj("", {"references": Join(_reference("BACKGROUND"), _reference("RESULT"))}),
}

STUDY: dict[str, Any] = {
    "protocolSection": Obj("", PROTOCOL),
    "derivedSection": Obj(
        "",
        {
            "conditionBrowseModule": _mesh_terms("condition_browse"),
            "interventionBrowseModule": _mesh_terms("intervention_browse"),
        },
    ),
    "hasResults": Calc(lambda root: root.find("clinical_results") is not None),
    "resultsSection": Obj("clinical_results", RESULTS),
}
