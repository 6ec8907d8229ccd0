"""The trial page context: built once from a Trial, rendered as text, Markdown, HTML or JSON.

The sections, their order, captions and field labels follow the reference page
(``shared/seed/000_02baf3a22c3ac0c0.txt``). Values stay as the registry's enums
(``PHASE1/PHASE2``, ``NON_RANDOMIZED``), which is what the text page shows; each coded value
also carries its plain words (:mod:`trialscope.render.words`), which the HTML page shows. The
block and page shapes are in :mod:`trialscope.render.context`, the results section in
:mod:`trialscope.render.results`.

>>> from trialscope.model import Trial
>>> page = build_page(Trial(nct_id="NCT00000001", brief_title="A trial"))
>>> [s.title for s in page.sections][:3]
['Study Results', 'Basic Information', 'Brief Summary']
"""

from __future__ import annotations

from collections.abc import Sequence

from trialscope.criteria.types import TypedCriterion
from trialscope.eligibility import split_criteria
from trialscope.model import ArmGroup, Intervention, Trial
from trialscope.render.context import (
    Block,
    Bullets,
    Entry,
    Field,
    RelatedTrial,
    Section,
    Subheading,
    Table,
    Text,
    TrialPage,
)
from trialscope.render.results import RESULTS_CAPTION, RESULTS_PENDING, results_section
from trialscope.render.words import words_for
from trialscope.search.geo import canonical_country

__all__ = [
    "CAPTIONS",
    "RESULTS_CAPTION",
    "RESULTS_PENDING",
    "Block",
    "Bullets",
    "Entry",
    "Field",
    "RelatedTrial",
    "Section",
    "Subheading",
    "Table",
    "Text",
    "TrialPage",
    "build_page",
]


CAPTIONS = {
    "results": "",
    "basic": "Get a concise snapshot of the trial, including recruitment status, study phase, enrollment "
    "targets, and key timeline milestones.",
    "summary": "Review the sponsor-provided synopsis that highlights what the study is about and why it is "
    "being conducted.",
    "description": "Dive into the extended narrative that explains the scientific background, objectives, and "
    "procedures in greater depth.",
    "conditions": "See the medical conditions and disease areas that this research is targeting or "
    "investigating.",
    "design": "Understand how the trial is structured, including allocation methods, masking strategies, "
    "primary purpose, and other design elements.",
    "groups": "Review each arm or cohort in the study, along with the interventions and objectives associated "
    "with them.",
    "interventions": "Learn about the drugs, procedures, or behavioral strategies being tested and how they are "
    "applied within this trial.",
    "eligibility": "Check the participation requirements, including inclusion and exclusion rules, age limits, "
    "and whether healthy volunteers are accepted.",
    "sponsors": "Meet the organizations funding or collaborating on the study and learn about their roles.",
    "party": "Identify the individual or organization who holds primary responsibility for the study "
    "information submitted to regulators.",
    "investigators": "Learn about the lead researchers overseeing the trial and their institutional "
    "affiliations.",
    "locations": "Explore where the study is taking place and check the recruitment status at each "
    "participating site.",
    "countries": "Review the countries where the study has at least one active or historical site.",
    "identifiers": "Review additional registry numbers or institutional identifiers associated with this "
    "trial.",
    "related": "Additional clinical trials that may be relevant based on similarity analysis.",
}


def _v(value: object) -> str:
    return "" if value is None else str(value)


def _coded(label: str, code: str | None, vocabulary: str, inline: str | None = None) -> Field:
    """A field whose value is a registry code: the code as written, and its words."""
    return Field(
        label, _v(code), inline=inline, code=code, words=words_for(vocabulary, code) if code else None
    )


def _place(city: str | None, state: str | None, country: str | None) -> Text:
    """A site's place: as the record has it ("Minsk, , Belarus", as the reference page shows
    it), and in words with the empty parts left out and one name for the country."""
    words = ", ".join(p for p in (city, state, canonical_country(country) if country else None) if p)
    return Text(f"{_v(city)}, {_v(state)}, {_v(country)}", words=words)


def _countries(trial: Trial) -> tuple[str, ...]:
    """The trial's countries, one name each however the record spells them."""
    named = [*trial.countries, *(s.country for s in trial.locations if s.country)]
    return tuple(dict.fromkeys(canonical_country(c) for c in named if c))


# The sections in the reference page's order, each with its title.
TITLES = {
    "results": "Study Results", "basic": "Basic Information", "summary": "Brief Summary",
    "description": "Detailed Description", "conditions": "Conditions", "design": "Study Design",
    "groups": "Study Groups", "interventions": "Interventions", "eligibility": "Eligibility Criteria",
    "sponsors": "Sponsors", "party": "Responsible Party", "investigators": "Principal Investigators",
    "locations": "Locations", "countries": "Countries", "identifiers": "Other Identifiers",
    "related": "More Related Trials",
}  # fmt: skip


def _basic_fields(trial: Trial) -> tuple[Block, ...]:
    d = trial.design
    enrollment = f"{d.enrollment_count} participants" if d.enrollment_count is not None else ""
    return (
        _coded("Recruitment Status", trial.overall_status, "status"),
        _coded("Clinical Phase", trial.phase_label or None, "phase"),
        Field("Total Enrollment", enrollment),
        _coded("Study Classification", d.study_type, "study_type"),
        Field("Study Start Date", trial.start_date.date or "" if trial.start_date else ""),
        Field("Study Completion Date", trial.completion_date.date or "" if trial.completion_date else ""),
    )


def _list_blocks(trial: Trial, related: tuple[RelatedTrial, ...]) -> dict[str, tuple[Block, ...]]:
    """The sections that list things: each thing an entry with a few fields."""
    # The reference page lists collaborators before the lead sponsor.
    sponsors = (*trial.collaborators, *((trial.lead_sponsor,) if trial.lead_sponsor else ()))
    ids = ((trial.org_study_id,) if trial.org_study_id else ()) + trial.secondary_ids
    no_class = "Sponsor class not provided"
    return {
        "interventions": tuple(
            Entry(
                i.name,
                (*_text_if(i.description), _coded("Intervention Type", i.type, "intervention_type", " ")),
            )
            for i in trial.interventions
        ),
        "sponsors": tuple(
            Entry(
                s.name,
                (
                    Text(_v(s.sponsor_class), words=words_for("sponsor_class", s.sponsor_class) or no_class),
                    _coded("Sponsor Role", s.role, "sponsor_role", " "),
                ),
            )
            for s in sponsors
        ),
        "investigators": tuple(
            Entry(o.name, (_coded("Role", o.role, "official_role", ": "), *_text_if(o.affiliation)))
            for o in trial.officials
        ),
        "locations": tuple(
            Entry(
                s.facility or "",
                (_place(s.city, s.state, s.country), _coded("Site Status", s.status, "site_status", " ")),
            )
            for s in trial.locations
        ),
        "countries": tuple(Text(c, words=canonical_country(c)) for c in trial.countries),
        "identifiers": tuple(
            Entry(
                i.id,
                (
                    Field("Identifier Type", i.type or "-", inline=": "),
                    Field("Identifier Source", i.source, inline=": "),
                ),
            )
            for i in ids
        ),
        "related": tuple(
            Entry(
                r.title,
                (
                    Field("NCT ID", r.nct_id, inline=": "),
                    _coded("Status", r.status, "status", ": "),
                    _coded("Phase", r.phase, "phase", ": "),
                    Bullets("Why related", r.reasons),
                ),
                subtitle=r.nct_id,
            )
            for r in related
        ),
    }


def _text_if(text: str | None) -> tuple[Text, ...]:
    return (Text(text),) if text else ()


def build_page(
    trial: Trial, related: tuple[RelatedTrial, ...] = (), criteria: Sequence[TypedCriterion] | None = None
) -> TrialPage:
    """The page context of one trial, with its related trials and its typed criteria (read from
    the store's derived index: each criterion line then shows its label) when the caller has them."""
    typed = tuple(criteria or ())
    blocks: dict[str, tuple[Block, ...]] = {
        "basic": _basic_fields(trial),
        "summary": _paragraphs(trial.brief_summary),
        "description": _paragraphs(trial.detailed_description),
        "conditions": tuple(Text(c) for c in trial.conditions),
        "design": _design_fields(trial),
        "groups": tuple(_arm_entry(a, trial) for a in trial.arms),
        "eligibility": _eligibility_blocks(trial, typed),
        "party": _party_blocks(trial),
        **_list_blocks(trial, related),
    }
    sections = [results_section(trial)] + [
        Section(key, title, CAPTIONS[key], blocks[key]) for key, title in TITLES.items() if key != "results"
    ]
    return TrialPage(
        nct_id=trial.nct_id,
        title=trial.title,
        last_updated=trial.last_update,
        sections=tuple(sections),
        related=related,
        summary_only=trial.summary_only,
        source_format=trial.source_format,
        official_title=trial.official_title,
        status=trial.overall_status,
        phase=trial.phase_label or None,
        conditions=trial.conditions,
        countries=_countries(trial),
        site_count=len(trial.locations),
        criteria=typed,
    )


def _paragraphs(text: str | None) -> tuple[Text, ...]:
    if not text:
        return ()
    parts = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n")]
    return tuple(Text(p) for p in parts if p)


def _design_fields(trial: Trial) -> tuple[Field, ...]:
    d = trial.design
    fields = [
        ("Allocation Method", d.allocation, "allocation"),
        ("Intervention Model", d.intervention_model, "intervention_model"),
        ("Primary Study Purpose", d.primary_purpose, "primary_purpose"),
        ("Blinding Strategy", d.masking, "masking"),
    ]
    if d.study_type == "OBSERVATIONAL" or d.observational_model or d.time_perspective:
        fields += [
            ("Observational Model", d.observational_model, "observational_model"),
            ("Time Perspective", d.time_perspective, "time_perspective"),
        ]
    shown = [
        _coded(label, value, vocabulary)
        for label, value, vocabulary in fields
        if value
        or label in {"Allocation Method", "Intervention Model", "Primary Study Purpose", "Blinding Strategy"}
    ]
    if d.who_masked:
        who = ", ".join(d.who_masked)
        words = ", ".join(words_for("who_masked", w) for w in d.who_masked)
        shown.append(Field("Who Is Blinded", who, code=who, words=words))
    return tuple(shown)


def _arm_interventions(arm: ArmGroup, trial: Trial) -> list[Intervention]:
    by_label = [i for i in trial.interventions if arm.label in i.arm_group_labels]
    if by_label:
        return by_label
    names = {n.split(":", 1)[-1].strip().lower() for n in arm.intervention_names}
    return [i for i in trial.interventions if i.name.lower() in names]


def _arm_entry(arm: ArmGroup, trial: Trial) -> Entry:
    blocks: list[Block] = []
    if arm.description:
        blocks.append(Text(arm.description))
    blocks.append(_coded("Group Type", arm.type, "arm_group_type", inline=" "))
    for i in _arm_interventions(arm, trial):
        blocks.append(
            Entry(
                i.name,
                (
                    _coded("Intervention Type", i.type, "intervention_type", inline=" "),
                    *((Text(i.description),) if i.description else ()),
                ),
            )
        )
    return Entry(arm.label, tuple(blocks))


def _says_more(label: str, text: str) -> bool:
    """Whether a label adds to its line: not the line's own words shortened (a line nothing was
    understood in, or whose label is its beginning)."""
    short = " ".join(label.rstrip("…").split()).lower()
    return bool(short) and not " ".join(text.split()).lower().lstrip(" -*•").startswith(short)


def _labels(items: tuple[str, ...], kind: str, typed: tuple[TypedCriterion, ...]) -> tuple[str, ...]:
    """Each criterion line's typed label ("" where it has none, or says nothing more), matched to
    the lines by kind and position; none when the typed criteria are not of these lines."""
    found = {c.line: c for c in typed if c.kind == kind and c.source == "text"}
    labels = []
    for i, item in enumerate(items):
        c = found.get(i)
        if c is None or c.text != item.strip():
            return ()
        labels.append(c.label if c.type != "other" and _says_more(c.label, c.text) else "")
    return tuple(labels) if any(labels) else ()


def _eligibility_blocks(trial: Trial, typed: tuple[TypedCriterion, ...] = ()) -> tuple[Block, ...]:
    e = trial.eligibility
    split = split_criteria(e.criteria)
    blocks: list[Block] = []
    if split.inclusion:
        blocks.append(
            Bullets("Inclusion Criteria", split.inclusion, _labels(split.inclusion, "inclusion", typed))
        )
    if split.exclusion:
        blocks.append(
            Bullets("Exclusion Criteria", split.exclusion, _labels(split.exclusion, "exclusion", typed))
        )
    if split.other:
        heading = "Criteria" if not split.has_headings else "Other Criteria"
        blocks.append(Bullets(heading, split.other, _labels(split.other, "unspecified", typed)))
    hv = "" if e.healthy_volunteers is None else ("Yes" if e.healthy_volunteers else "No")
    blocks += [
        Field("Minimum Eligible Age", _v(e.minimum_age)),
        Field("Maximum Eligible Age", _v(e.maximum_age)),
        _coded("Eligible Sex", e.sex, "sex"),
        Field("Accepts Healthy Volunteers", hv),
    ]
    return tuple(blocks)


def _party_blocks(trial: Trial) -> tuple[Block, ...]:
    party = trial.responsible_party
    if party is None:
        return ()
    blocks: list[Block] = [_coded("Responsibility Role", party.type, "responsible_party", inline=" ")]
    if party.investigator_name:
        blocks.append(Field("Investigator", party.investigator_name, inline=": "))
    if party.investigator_title:
        blocks.append(Field("Title", party.investigator_title, inline=": "))
    if party.investigator_affiliation:
        blocks.append(Field("Affiliation", party.investigator_affiliation, inline=": "))
    return tuple(blocks)
