"""Legacy ClinicalTrials.gov XML (``<clinical_study>``, public.xsd) -> :class:`~trialscope.model.Trial`.

Research corpora (TREC, AACT fixtures, old bulk downloads) hold one study per XML file in the
retired public.xsd layout. Values are words (``Phase 1/Phase 2``, ``Non-Randomized``) mapped onto
the API v2 enums through :mod:`trialscope.vocab`; text blocks are hard-wrapped at 99 columns and
indented, so they are unwrapped here into the Markdown-ish text API v2 gives (``* `` bullets).

The word helpers at the top (:func:`enum_word`, :func:`parse_masking`, :func:`derive_std_ages`)
are shared with the v1 and CSV parsers, which read the same vocabulary of words.

Only :class:`~trialscope.errors.ParseError` (or a subclass) ever leaves :func:`parse_xml_study`:
malformed XML, a root that is not ``<clinical_study>`` or a missing NCT id reject the record,
anything else that cannot be read becomes None.

>>> trial = parse_xml_study(b"<clinical_study><id_info><nct_id>NCT00000102</nct_id></id_info>"
...                         b"<phase>Phase 1/Phase 2</phase></clinical_study>")
>>> trial.nct_id, trial.design.phases
('NCT00000102', ('PHASE1', 'PHASE2'))
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml import etree

from trialscope import vocab
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

NCT_ID = re.compile(r"^NCT\d{8}$")

# --- words shared by the older shapes ----------------------------------------------------

# Words of the older shapes whose enum vocab.to_enum does not give yet (after its own tables).
EXTRA_ENUMS: dict[str, dict[str, str]] = {
    "date_type": {"ESTIMATE": "ESTIMATED"},
    "enrollment_type": {"ESTIMATE": "ESTIMATED"},
    "primary_purpose": {"EDUCATIONAL_COUNSELING_TRAINING": "ECT"},
    "masking": {
        "OPEN_LABEL": "NONE",
        "NO_MASKING": "NONE",
        "SINGLE_BLIND": "SINGLE",
        "DOUBLE_BLIND": "DOUBLE",
        "TRIPLE_BLIND": "TRIPLE",
        "QUADRUPLE_BLIND": "QUADRUPLE",
    },
    "who_masked": {"CAREGIVER": "CARE_PROVIDER", "OUTCOMES_ASSESSORS": "OUTCOMES_ASSESSOR"},
    "phase": {"NOT_APPLICABLE": "NA"},
    "secondary_id_type": {
        "OTHER_IDENTIFIER": "OTHER",
        "U_S_NIH_GRANT_CONTRACT": "NIH",
        "U_S_FDA_GRANT_CONTRACT": "FDA",
        "OTHER_GRANT_FUNDING_NUMBER": "OTHER_GRANT",
        "REGISTRY_IDENTIFIER": "REGISTRY",
    },
}

WHO_MASKED = frozenset({"PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"})

# The registry's age groups, in days (vocab.age_to_days spelling): child < 18 years <= adult < 65.
_ADULT_DAYS = 18 * 365.25
_OLDER_DAYS = 65 * 365.25

_NOT_APPLICABLE = re.compile(r"\bN\s*/\s*A\b", re.IGNORECASE)
_MASKING = re.compile(r"^\s*([^()]*?)\s*(?:\((.*)\))?\s*$")


def enum_word(vocabulary: str, word: str | None) -> str | None:
    """The API v2 enum for a word of an older shape: vocab.to_enum plus :data:`EXTRA_ENUMS`."""
    value = vocab.to_enum(vocabulary, word)
    if value is None:
        return None
    return EXTRA_ENUMS.get(vocabulary, {}).get(value, value)


def phases_from_words(words: Iterable[str]) -> tuple[str, ...]:
    """``["Phase 1/Phase 2"]`` or ``["Phase 1", "Phase 2"]`` -> ``("PHASE1", "PHASE2")``."""
    phases: list[str] = []
    for word in words:
        # vocab.split_phases splits on "/", which would make "N/A" two phases.
        for phase in vocab.split_phases(_NOT_APPLICABLE.sub("NA", word)):
            phase = EXTRA_ENUMS["phase"].get(phase, phase)
            if phase not in phases:
                phases.append(phase)
    return tuple(phases)


def parse_masking(text: str | None) -> tuple[str | None, tuple[str, ...]]:
    """``"Double (Participant, Investigator)"`` -> ``("DOUBLE", ("PARTICIPANT", "INVESTIGATOR"))``.

    The words in parentheses count only when they name who is masked: ``None (Open Label)``
    is masking NONE with nobody masked.
    """
    if not text or not text.strip():
        return None, ()
    match = _MASKING.match(text)
    level, inside = (match.group(1), match.group(2)) if match else (text, None)
    who: list[str] = []
    for word in (inside or "").split(","):
        role = enum_word("who_masked", word)
        if role in WHO_MASKED and role not in who:
            who.append(role)
    return enum_word("masking", level or text), tuple(who)


def derive_std_ages(minimum_days: float | None, maximum_days: float | None) -> tuple[str, ...]:
    """The registry's age groups (CHILD, ADULT, OLDER_ADULT) an age range overlaps."""
    low = minimum_days or 0.0
    groups: list[str] = []
    if low < _ADULT_DAYS:
        groups.append("CHILD")
    if low < _OLDER_DAYS and (maximum_days is None or maximum_days >= _ADULT_DAYS):
        groups.append("ADULT")
    if maximum_days is None or maximum_days >= _OLDER_DAYS:
        groups.append("OLDER_ADULT")
    return tuple(groups)


def age_bound(text: str | None) -> str | None:
    """An age as the registry writes it, with the no-bound words (``N/A``, ``None``) as None."""
    if not text or not text.strip():
        return None
    return text.strip() if vocab.age_to_days(text) is not None else None


def valid_nct_id(text: str | None) -> str:
    """The upper-cased NCT id, or ParseError when there is none."""
    nct_id = (text or "").strip().upper()
    if not NCT_ID.match(nct_id):
        raise ParseError(f"study has no valid NCT id (got {nct_id or 'none'!r})")
    return nct_id


def to_int(text: str | None) -> int | None:
    """``"1,206"`` -> 1206; text that is no whole number -> None."""
    if text is None:
        return None
    try:
        number = float(str(text).strip().replace(",", ""))
    except ValueError:
        return None
    return int(number) if number.is_integer() and abs(number) < 2**63 else None


# --- text blocks ---------------------------------------------------------------------------

# The registry wrapped XML text blocks at 98-99 columns: a line is a wrapped one when the next
# line's first word would have taken it past 98 (measured over all the legacy XML we hold).
_WRAP_WIDTH = 98
_DASH = re.compile(r"^-\s+")


def unwrap_textblock(raw: str | None) -> str | None:
    """Hard-wrapped, indented XML text -> Markdown-ish text as API v2 writes it.

    Common indentation goes, lines the registry broke at 99 columns are joined again,
    paragraph breaks stay, and the XML's ``-  item`` lists become ``* item`` (nested lists
    indented by two spaces per level).

    >>> unwrap_textblock("\\n        Inclusion:\\n\\n          -  adults\\n\\n          -  consent\\n      ")
    'Inclusion:\\n\\n* adults\\n* consent'
    """
    if not raw or not raw.strip():
        return None
    # Some records carry carriage returns as character references (&#13;).
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    units: list[list] = []  # [kind, depth, lines, text_indent]; kind "p" or "item"
    dashes: list[int] = []  # indentation of the dashes of the open list levels
    previous: str | None = None  # the previous raw line, None after a blank one
    for line in raw.replace("\r\n", "\n").replace("\r", "\n").expandtabs().split("\n"):
        text = line.strip()
        if not text:
            previous = None
            continue
        indent = len(line) - len(line.lstrip())
        dash = _DASH.match(text)
        last = units[-1] if units else None
        if dash:
            while dashes and dashes[-1] > indent:
                dashes.pop()
            if not dashes or dashes[-1] < indent:
                dashes.append(indent)
            units.append(["item", len(dashes) - 1, [text[dash.end() :]], indent + dash.end()])
        elif (
            last
            and previous is not None
            and ((last[0] == "item" and indent >= last[3] - 1) or _was_wrapped(previous, text))
        ):
            last[2][-1] += " " + text
        elif last and last[0] == "p" and previous is not None:
            last[2].append(text)  # a line break the author made inside a paragraph
        else:
            while dashes and dashes[-1] >= indent:
                dashes.pop()
            units.append(["p", 0, [text], indent])
        previous = line.rstrip()
    parts: list[str] = []
    for index, (kind, depth, lines, _) in enumerate(units):
        if index:
            parts.append("\n" if kind == "item" and units[index - 1][0] == "item" else "\n\n")
        parts.append("  " * depth + "* " + lines[0] if kind == "item" else "\n".join(lines))
    return "".join(parts) or None


def _was_wrapped(previous: str, text: str) -> bool:
    """Whether the registry broke ``previous`` only because ``text``'s first word did not fit."""
    return len(previous) + 1 + len(text.split(None, 1)[0]) > _WRAP_WIDTH


# --- reading elements ---------------------------------------------------------------------

_Element = etree._Element


def _text(el: _Element | None, path: str | None = None) -> str | None:
    node = el.find(path) if el is not None and path else el
    if node is None:
        return None
    value = (
        "".join(t for t in node.itertext() if isinstance(t, str))
        .replace("\r\n", "\n")
        .replace("\r", "\n")
        .strip()
    )
    return value or None


def _texts(el: _Element, path: str) -> tuple[str, ...]:
    return tuple(t for t in (_text(node) for node in el.findall(path)) if t)


def _block(el: _Element, path: str) -> str | None:
    node = el.find(path)
    if node is None:
        return None
    block = node.find("textblock")
    return unwrap_textblock("".join(t for t in (block if block is not None else node).itertext()))


def _oneline(el: _Element, path: str) -> str | None:
    value = _text(el, path)
    return " ".join(value.split()) if value else None


def _enum(vocabulary: str, el: _Element, path: str) -> str | None:
    return enum_word(vocabulary, _text(el, path))


def _date(el: _Element, path: str) -> DateStruct | None:
    node = el.find(path)
    raw = _text(node)
    if raw is None:
        return None
    return DateStruct(date=vocab.iso_date(raw) or raw, type=enum_word("date_type", node.get("type")))


def _plain_date(el: _Element, path: str) -> str | None:
    raw = _text(el, path)
    return vocab.iso_date(raw) or raw if raw else None


def _attr(el: _Element, name: str) -> str | None:
    value = el.get(name)
    return value.strip() if value and value.strip() else None


# --- the study -----------------------------------------------------------------------------


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True, remove_pis=True
    )


def parse_xml_study(data: bytes) -> Trial:
    """Parse one legacy ``<clinical_study>`` XML document into a Trial.

    Raises ParseError for malformed XML or a study without an NCT id, NotAStudyError for a
    well-formed document of another kind; never anything else.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not isinstance(data, (bytes, bytearray)) or not data.strip():
        raise ParseError("empty XML document; expected one <clinical_study>")
    try:
        root = etree.fromstring(bytes(data), _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"malformed XML: {exc}") from exc
    except (ValueError, TypeError, etree.LxmlError) as exc:
        raise ParseError(f"unreadable XML: {exc}") from exc
    if root is None or not isinstance(root.tag, str) or root.tag != "clinical_study":
        tag = root.tag if root is not None and isinstance(root.tag, str) else "nothing"
        raise NotAStudyError(
            f"not a ClinicalTrials.gov study: the root element is <{tag}>, not <clinical_study>"
        )
    nct_id = valid_nct_id(_text(root, "id_info/nct_id"))
    try:
        return _trial(root, nct_id)
    except ParseError:
        raise
    except Exception as exc:  # a record we cannot read must cost one record, never the batch
        raise ParseError(f"{nct_id}: unexpected {type(exc).__name__} while reading the XML: {exc}") from exc


def _trial(root: _Element, nct_id: str) -> Trial:
    org_id = _text(root, "id_info/org_study_id")
    lead = root.find("sponsors/lead_sponsor")
    results = root.find("clinical_results")
    # Records written before 2017 carry only <lastchanged_date> (renamed last_update_submitted
    # later). The old site showed it as the last update, so it also stands in for the posted date
    # (with no type): without it these records would have no last update at all.
    last_changed = _plain_date(root, "lastchanged_date")
    return Trial(
        nct_id=nct_id,
        brief_title=_oneline(root, "brief_title"),
        official_title=_oneline(root, "official_title"),
        acronym=_text(root, "acronym"),
        org_study_id=Identifier(org_id, source="org_study_id") if org_id else None,
        secondary_ids=tuple(
            Identifier(s, source="secondary_id") for s in _texts(root, "id_info/secondary_id")
        ),
        organization=_text(root, "source"),
        overall_status=_enum("status", root, "overall_status"),
        why_stopped=_oneline(root, "why_stopped"),
        status_verified_date=_plain_date(root, "verification_date"),
        start_date=_date(root, "start_date"),
        primary_completion_date=_date(root, "primary_completion_date"),
        completion_date=_date(root, "completion_date"),
        first_submit_date=_plain_date(root, "study_first_submitted")
        or _plain_date(root, "firstreceived_date"),
        first_post_date=_date(root, "study_first_posted"),
        results_first_post_date=_date(root, "results_first_posted"),
        last_update_submit_date=_plain_date(root, "last_update_submitted") or last_changed,
        last_update_post_date=_date(root, "last_update_posted")
        or (DateStruct(last_changed) if last_changed else None),
        lead_sponsor=_sponsor(lead, "lead") if lead is not None else None,
        collaborators=tuple(
            s for s in (_sponsor(c, "collaborator") for c in root.findall("sponsors/collaborator")) if s
        ),
        responsible_party=_responsible_party(root.find("responsible_party")),
        officials=tuple(
            Official(name, _enum("official_role", o, "role"), _text(o, "affiliation"))
            for o in root.findall("overall_official")
            if (name := _text(o, "last_name"))
        ),
        central_contacts=tuple(
            _contact(c, "CONTACT")
            for c in root.findall("overall_contact") + root.findall("overall_contact_backup")
        ),
        brief_summary=_block(root, "brief_summary"),
        detailed_description=_block(root, "detailed_description"),
        conditions=_texts(root, "condition"),
        keywords=_texts(root, "keyword"),
        design=_design(root),
        arms=_arms(root),
        interventions=tuple(
            Intervention(
                name=name,
                type=_enum("intervention_type", x, "intervention_type"),
                description=_text(x, "description"),
                arm_group_labels=_texts(x, "arm_group_label"),
                other_names=_texts(x, "other_name"),
            )
            for x in root.findall("intervention")
            if (name := _text(x, "intervention_name"))
        ),
        outcomes=_outcomes(root),
        eligibility=_eligibility(root.find("eligibility")),
        locations=tuple(_site(loc) for loc in root.findall("location")),
        references=_references(root, "reference", "BACKGROUND")
        + _references(root, "results_reference", "RESULT"),
        condition_mesh=tuple(MeshTerm(t) for t in _texts(root, "condition_browse/mesh_term")),
        intervention_mesh=tuple(MeshTerm(t) for t in _texts(root, "intervention_browse/mesh_term")),
        has_results=results is not None,
        results=_results(results) if results is not None else None,
        source_format="xml",
    )


def _arms(root: _Element) -> tuple[ArmGroup, ...]:
    """Arm groups, each with its interventions named as API v2 names them (``Drug: Aspirin``)."""
    named: dict[str, list[str]] = {}
    for x in root.findall("intervention"):
        name = _text(x, "intervention_name")
        if name:
            kind = _text(x, "intervention_type")
            for label in _texts(x, "arm_group_label"):
                named.setdefault(label, []).append(f"{kind}: {name}" if kind else name)
    return tuple(
        ArmGroup(
            label=label,
            type=_enum("arm_type", a, "arm_group_type"),
            description=_text(a, "description"),
            intervention_names=tuple(named.get(label, ())),
        )
        for a in root.findall("arm_group")
        if (label := _text(a, "arm_group_label"))
    )


def _sponsor(el: _Element, role: str) -> Sponsor | None:
    name = _text(el, "agency")
    return Sponsor(name, _enum("sponsor_class", el, "agency_class"), role) if name else None


def _responsible_party(el: _Element | None) -> ResponsibleParty | None:
    if el is None:
        return None
    party = ResponsibleParty(
        type=_enum("responsible_party", el, "responsible_party_type"),
        investigator_name=_text(el, "investigator_full_name") or _text(el, "name_title"),
        investigator_title=_text(el, "investigator_title"),
        investigator_affiliation=_text(el, "investigator_affiliation") or _text(el, "organization"),
    )
    return party if party != ResponsibleParty() else None


def _phone(el: _Element) -> str | None:
    phone, ext = _text(el, "phone"), _text(el, "phone_ext")
    return f"{phone} ext. {ext}" if phone and ext else phone


def _contact(el: _Element, role: str | None) -> Contact:
    return Contact(name=_text(el, "last_name"), role=role, phone=_phone(el), email=_text(el, "email"))


# Old records (before 2010) had one <study_design> line instead of <study_design_info>.
_DESIGN_KEYS = {
    "allocation": "allocation",
    "intervention model": "intervention_model",
    "primary purpose": "primary_purpose",
    "masking": "masking",
    "observational model": "observational_model",
    "time perspective": "time_perspective",
}
_DESIGN_PAIR = re.compile(r",\s*(?=[A-Z][A-Za-z ]+:)")


def split_design_line(text: str | None) -> dict[str, str]:
    """``"Allocation:  Randomized, Masking:  Double Blind (Subject, Caregiver)"`` -> a dict by model field."""
    found: dict[str, str] = {}
    for pair in _DESIGN_PAIR.split(text or ""):
        key, _, value = pair.partition(":")
        field = _DESIGN_KEYS.get(" ".join(key.lower().split()))
        if field and value.strip():
            found[field] = value.strip()
    return found


def _first_word_list(text: str | None) -> str | None:
    """``"Defined Population, Natural History"`` -> its first entry: the model holds one value."""
    return text.split(",")[0] if text else None


def _design(root: _Element) -> Design:
    info = root.find("study_design_info")
    words: dict[str, str] = split_design_line(_text(root, "study_design")) if info is None else {}
    if info is not None:
        for tag in _DESIGN_KEYS.values():
            if (value := _text(info, tag)) is not None:
                words[tag] = value
    masking, who = parse_masking(words.get("masking"))
    enrollment = root.find("enrollment")
    return Design(
        study_type=_enum("study_type", root, "study_type"),
        phases=phases_from_words(_texts(root, "phase")),
        allocation=enum_word("allocation", words.get("allocation")),
        intervention_model=enum_word("intervention_model", words.get("intervention_model")),
        primary_purpose=enum_word("primary_purpose", words.get("primary_purpose")),
        masking=masking,
        who_masked=who,
        observational_model=enum_word(
            "observational_model", _first_word_list(words.get("observational_model"))
        ),
        time_perspective=enum_word("time_perspective", _first_word_list(words.get("time_perspective"))),
        enrollment_count=to_int(_text(enrollment)),
        enrollment_type=enum_word("enrollment_type", enrollment.get("type"))
        if enrollment is not None
        else None,
    )


def _outcomes(root: _Element) -> tuple[Outcome, ...]:
    return tuple(
        Outcome(
            measure=measure,
            kind=kind,
            description=_text(o, "description"),
            time_frame=_text(o, "time_frame"),
        )
        for kind in ("primary", "secondary", "other")
        for o in root.findall(f"{kind}_outcome")
        if (measure := _text(o, "measure"))
    )


def _eligibility(el: _Element | None) -> Eligibility:
    if el is None:
        return Eligibility()
    minimum, maximum = age_bound(_text(el, "minimum_age")), age_bound(_text(el, "maximum_age"))
    minimum_days, maximum_days = vocab.age_to_days(minimum), vocab.age_to_days(maximum)
    return Eligibility(
        criteria=_block(el, "criteria"),
        healthy_volunteers=vocab.parse_bool(_text(el, "healthy_volunteers")),
        sex=_enum("sex", el, "gender"),
        gender_based=vocab.parse_bool(_text(el, "gender_based")),
        minimum_age=minimum,
        maximum_age=maximum,
        minimum_age_days=minimum_days,
        maximum_age_days=maximum_days,
        std_ages=derive_std_ages(minimum_days, maximum_days),
        study_population=_block(el, "study_pop"),
        sampling_method=_enum("sampling_method", el, "sampling_method"),
    )


def _site(el: _Element) -> Site:
    address = el.find("facility/address")
    contacts = [_contact(c, "CONTACT") for c in el.findall("contact") + el.findall("contact_backup")]
    contacts += [
        Contact(name=name, role=_enum("official_role", i, "role"))
        for i in el.findall("investigator")
        if (name := _text(i, "last_name"))
    ]
    return Site(
        facility=_text(el, "facility/name"),
        city=_text(address, "city") if address is not None else None,
        state=_text(address, "state") if address is not None else None,
        zip=_text(address, "zip") if address is not None else None,
        country=_text(address, "country") if address is not None else None,
        status=_enum("status", el, "status"),
        contacts=tuple(contacts),
    )


def _references(root: _Element, tag: str, kind: str) -> tuple[Reference, ...]:
    return tuple(
        Reference(citation=_text(r, "citation"), pmid=_text(r, "PMID"), type=kind)
        for r in root.findall(tag)
        if _text(r, "citation") or _text(r, "PMID")
    )


# --- results -------------------------------------------------------------------------------


def _results(el: _Element) -> Results:
    flow, baseline, events = el.find("participant_flow"), el.find("baseline"), el.find("reported_events")
    return Results(
        participant_flow=_flow(flow) if flow is not None else None,
        baseline=_baseline(baseline) if baseline is not None else None,
        outcome_measures=tuple(_outcome_measure(o) for o in el.findall("outcome_list/outcome")),
        adverse_events=_adverse_events(events) if events is not None else None,
    )


def _groups(el: _Element) -> tuple[ResultGroup, ...]:
    return tuple(
        ResultGroup(
            id=_attr(g, "group_id") or "", title=_text(g, "title"), description=_text(g, "description")
        )
        for g in el.findall("group_list/group")
    )


def _counts(nodes: Iterable[_Element], value_attr: str) -> tuple[Count, ...]:
    return tuple(
        Count(group_id=_attr(n, "group_id") or "", value=_attr(n, value_attr), comment=_text(n))
        for n in nodes
    )


def _participants(el: _Element) -> tuple[Count, ...]:
    return _counts(el.findall("participants_list/participants"), "count")


def _denoms(measure: _Element | None) -> tuple[Count, ...]:
    """The counts of participants analysed (the first analyzed list that counts participants)."""
    if measure is None:
        return ()
    for analyzed in measure.findall("analyzed_list/analyzed"):
        if (_text(analyzed, "units") or "participants").lower() == "participants":
            return _counts(analyzed.findall("count_list/count"), "value")
    return ()


def _category(el: _Element) -> MeasureCategory:
    return MeasureCategory(
        title=_text(el, "title") or _text(el, "sub_title"),
        measurements=tuple(
            Measurement(
                group_id=_attr(m, "group_id") or "",
                value=_attr(m, "value"),
                spread=_attr(m, "spread"),
                lower_limit=_attr(m, "lower_limit"),
                upper_limit=_attr(m, "upper_limit"),
                comment=_text(m),
            )
            for m in el.findall("measurement_list/measurement")
        ),
    )


def _classes(measure: _Element | None) -> tuple[MeasureClass, ...]:
    if measure is None:
        return ()
    classes = tuple(
        MeasureClass(
            title=_text(c, "title"),
            categories=tuple(_category(x) for x in c.findall("category_list/category")),
        )
        for c in measure.findall("class_list/class")
    )
    if classes:
        return classes
    # Before 2017 a measure held its categories directly, without classes.
    categories = tuple(_category(x) for x in measure.findall("category_list/category"))
    return (MeasureClass(categories=categories),) if categories else ()


def _flow(el: _Element) -> ParticipantFlow:
    return ParticipantFlow(
        recruitment_details=_text(el, "recruitment_details"),
        pre_assignment_details=_text(el, "pre_assignment_details"),
        groups=_groups(el),
        periods=tuple(
            FlowPeriod(
                title=_text(p, "title"),
                milestones=tuple(
                    FlowMilestone(_text(m, "title") or "", _participants(m))
                    for m in p.findall("milestone_list/milestone")
                ),
                drop_reasons=tuple(
                    FlowDropReason(_text(d, "title") or "", _participants(d))
                    for d in p.findall("drop_withdraw_reason_list/drop_withdraw_reason")
                ),
            )
            for p in el.findall("period_list/period")
        ),
    )


def _baseline(el: _Element) -> Baseline:
    return Baseline(
        population_description=_text(el, "population"),
        groups=_groups(el),
        denoms=_denoms(el),
        measures=tuple(
            BaselineMeasure(
                title=_text(m, "title") or "",
                param_type=_enum("param_type", m, "param"),
                dispersion_type=_text(m, "dispersion"),
                unit_of_measure=_text(m, "units"),
                classes=_classes(m),
            )
            for m in el.findall("measure_list/measure")
        ),
    )


def _outcome_measure(el: _Element) -> OutcomeMeasure:
    measure = el.find("measure")
    denoms: tuple[Count, ...] = ()
    if measure is None:
        # Before 2017: a list of measures, the first counting the participants analysed.
        listed = el.findall("measure_list/measure")
        counted = [m for m in listed if (_text(m, "title") or "").lower() == "number of participants"]
        data = [m for m in listed if m not in counted]
        measure = data[0] if data else None
        if counted:
            denoms = tuple(
                Count(group_id=m.group_id, value=m.value)
                for c in _classes(counted[0])
                for cat in c.categories
                for m in cat.measurements
            )
    return OutcomeMeasure(
        title=_text(el, "title") or _text(measure, "title") or "",
        type=_enum("outcome_type", el, "type"),
        description=_text(el, "description") or _text(measure, "description"),
        population_description=_text(el, "population") or _text(measure, "population"),
        param_type=enum_word("param_type", _text(measure, "param")),
        dispersion_type=_text(measure, "dispersion"),
        unit_of_measure=_text(measure, "units"),
        time_frame=_text(el, "time_frame"),
        groups=_groups(el),
        denoms=_denoms(measure) or denoms,
        classes=_classes(measure),
        analyses=tuple(_analysis(a) for a in el.findall("analysis_list/analysis")),
    )


def _analysis(el: _Element) -> Analysis:
    return Analysis(
        group_ids=_texts(el, "group_id_list/group_id"),
        p_value=_text(el, "p_value"),
        statistical_method=_text(el, "method"),
        param_type=_text(el, "param_type"),
        param_value=_text(el, "param_value"),
        ci_percent=_text(el, "ci_percent"),
        ci_lower=_text(el, "ci_lower_limit"),
        ci_upper=_text(el, "ci_upper_limit"),
        non_inferiority_type=_enum("non_inferiority_type", el, "non_inferiority_type"),
        description=_text(el, "method_desc") or _text(el, "groups_desc") or _text(el, "estimate_desc"),
    )


# The totals the XML lists as events of a "Total" category, by the EventGroup fields they fill.
_TOTALS = {
    "total, all-cause mortality": ("deaths_affected", "deaths_at_risk"),
    "total, serious adverse events": ("serious_affected", "serious_at_risk"),
    "total, other adverse events": ("other_affected", "other_at_risk"),
}


def _adverse_events(el: _Element) -> AdverseEvents:
    totals: dict[str, dict[str, int | None]] = {}
    serious = _events(el.find("serious_events"), totals)
    other = _events(el.find("other_events"), totals)
    return AdverseEvents(
        frequency_threshold=_text(el, "other_events/frequency_threshold"),
        time_frame=_text(el, "time_frame"),
        description=_text(el, "desc"),
        groups=tuple(
            EventGroup(
                id=g.id,
                title=g.title,
                description=g.description,
                **totals.get(g.id, {}),  # type: ignore[arg-type]
            )
            for g in _groups(el)
        ),
        serious=serious,
        other=other,
    )


def _events(el: _Element | None, totals: dict[str, dict[str, int | None]]) -> tuple[AdverseEvent, ...]:
    """The events of one list; the "Total, ..." rows go into ``totals`` by group instead."""
    if el is None:
        return ()
    vocabulary, assessment = _text(el, "default_vocab"), _text(el, "default_assessment")
    found: list[AdverseEvent] = []
    for category in el.findall("category_list/category"):
        organ_system = _text(category, "title")
        for event in category.findall("event_list/event"):
            term = _text(event, "sub_title") or ""
            total = _TOTALS.get(term.lower()) if organ_system in (None, "Total") else None
            if total:
                for c in event.findall("counts"):
                    fields = totals.setdefault(_attr(c, "group_id") or "", {})
                    fields[total[0]] = to_int(c.get("subjects_affected"))
                    fields[total[1]] = to_int(c.get("subjects_at_risk"))
                continue
            sub_title = event.find("sub_title")
            found.append(
                AdverseEvent(
                    term=term,
                    organ_system=organ_system,
                    source_vocabulary=(_attr(sub_title, "vocab") if sub_title is not None else None)
                    or vocabulary,
                    assessment_type=enum_word("assessment_type", _text(event, "assessment") or assessment),
                    stats=tuple(
                        EventStat(
                            group_id=_attr(c, "group_id") or "",
                            num_events=to_int(c.get("events")),
                            num_affected=to_int(c.get("subjects_affected")),
                            num_at_risk=to_int(c.get("subjects_at_risk")),
                        )
                        for c in event.findall("counts")
                    ),
                )
            )
    return tuple(found)
