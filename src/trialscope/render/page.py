"""The trial page context: built once from a Trial, rendered as text, Markdown, HTML or JSON.

The sections, their order, captions and field labels follow the reference page
(``shared/seed/000_02baf3a22c3ac0c0.txt``). Values stay as the registry's enums
(``PHASE1/PHASE2``, ``NON_RANDOMIZED``), which is what the text page shows; the HTML page
adds friendlier words through :func:`plain_words`.

>>> from trialscope.model import Trial
>>> page = build_page(Trial(nct_id="NCT00000001", brief_title="A trial"))
>>> [s.title for s in page.sections][:3]
['Study Results', 'Basic Information', 'Brief Summary']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trialscope.eligibility import split_criteria
from trialscope.model import ArmGroup, Intervention, Results, Trial


@dataclass(frozen=True, slots=True)
class Text:
    """A paragraph of text."""

    text: str


@dataclass(frozen=True, slots=True)
class Field:
    """A labelled value. ``inline`` None puts the label above the value; else it joins them."""

    label: str
    value: str
    inline: str | None = None
    code: str | None = None  # the registry's raw enum, when the value is one


@dataclass(frozen=True, slots=True)
class Bullets:
    heading: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Table:
    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    chart: str | None = None  # "bars" where the rows are counts a chart can show


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of a list section: an arm, an intervention, a site, a sponsor."""

    title: str
    blocks: tuple[Block, ...] = ()
    subtitle: str | None = None


@dataclass(frozen=True, slots=True)
class Subheading:
    text: str


Block = Text | Field | Bullets | Table | Entry | Subheading


@dataclass(frozen=True, slots=True)
class RelatedTrial:
    nct_id: str
    title: str
    status: str | None
    phase: str | None
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    title: str
    caption: str
    blocks: tuple[Block, ...] = ()


@dataclass(frozen=True, slots=True)
class TrialPage:
    nct_id: str
    title: str
    last_updated: str | None
    sections: tuple[Section, ...]
    related: tuple[RelatedTrial, ...] = ()
    summary_only: bool = False
    source_format: str = "v2"
    official_title: str | None = None
    status: str | None = None
    phase: str | None = None
    conditions: tuple[str, ...] = field(default_factory=tuple)

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


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

RESULTS_PENDING = (
    "The study team has not published outcome measurements, participant flow, or safety data for this "
    "trial yet. Check back later for updates."
)
RESULTS_CAPTION = (
    "See what the study found: outcome measurements by group, how participants moved through the study, "
    "who took part, and the adverse events reported."
)

# Friendlier words for registry enums, used by the HTML page; the raw code stays available.
PLAIN_WORDS = {
    "PHASE1": "Phase 1",
    "PHASE2": "Phase 2",
    "PHASE3": "Phase 3",
    "PHASE4": "Phase 4",
    "EARLY_PHASE1": "Early Phase 1",
    "NA": "Not applicable",
    "NON_RANDOMIZED": "Non-randomized",
    "ACTIVE_NOT_RECRUITING": "Active, not recruiting",
    "NOT_YET_RECRUITING": "Not yet recruiting",
    "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "OTHER_GOV": "Other government",
    "FED": "US federal",
    "NIH": "NIH",
    "INDIV": "Individual",
    "ALL": "All",
    "NONE": "None (open label)",
    "SINGLE_GROUP": "Single group",
}


def plain_words(code: str | None) -> str:
    """A registry enum in plain words: ``PHASE1/PHASE2`` -> ``Phase 1 / Phase 2``."""
    if not code:
        return ""
    if "/" in code:
        return " / ".join(plain_words(part) for part in code.split("/"))
    if code in PLAIN_WORDS:
        return PLAIN_WORDS[code]
    if code.isupper() or "_" in code:
        return code.replace("_", " ").capitalize()
    return code


def _v(value: object) -> str:
    return "" if value is None else str(value)


def build_page(trial: Trial, related: tuple[RelatedTrial, ...] = ()) -> TrialPage:
    """The page context of one trial, with its related trials when the caller has them."""
    d = trial.design
    sections = [
        _results_section(trial),
        Section(
            "basic",
            "Basic Information",
            CAPTIONS["basic"],
            (
                Field("Recruitment Status", _v(trial.overall_status), code=trial.overall_status),
                Field("Clinical Phase", trial.phase_label, code=trial.phase_label),
                Field(
                    "Total Enrollment",
                    f"{d.enrollment_count} participants" if d.enrollment_count is not None else "",
                ),
                Field("Study Classification", _v(d.study_type), code=d.study_type),
                Field("Study Start Date", trial.start_date.date or "" if trial.start_date else ""),
                Field(
                    "Study Completion Date", trial.completion_date.date or "" if trial.completion_date else ""
                ),
            ),
        ),
        Section("summary", "Brief Summary", CAPTIONS["summary"], _paragraphs(trial.brief_summary)),
        Section(
            "description",
            "Detailed Description",
            CAPTIONS["description"],
            _paragraphs(trial.detailed_description),
        ),
        Section("conditions", "Conditions", CAPTIONS["conditions"], tuple(Text(c) for c in trial.conditions)),
        Section("design", "Study Design", CAPTIONS["design"], _design_fields(trial)),
        Section(
            "groups", "Study Groups", CAPTIONS["groups"], tuple(_arm_entry(a, trial) for a in trial.arms)
        ),
        Section(
            "interventions",
            "Interventions",
            CAPTIONS["interventions"],
            tuple(
                Entry(
                    i.name,
                    (
                        *((Text(i.description),) if i.description else ()),
                        Field("Intervention Type", _v(i.type), inline=" ", code=i.type),
                    ),
                )
                for i in trial.interventions
            ),
        ),
        Section("eligibility", "Eligibility Criteria", CAPTIONS["eligibility"], _eligibility_blocks(trial)),
        Section(
            "sponsors",
            "Sponsors",
            CAPTIONS["sponsors"],
            tuple(
                Entry(
                    s.name,
                    (Text(_v(s.sponsor_class)), Field("Sponsor Role", s.role, inline=" ")),
                )
                # The reference page lists collaborators before the lead sponsor.
                for s in (*trial.collaborators, *((trial.lead_sponsor,) if trial.lead_sponsor else ()))
            ),
        ),
        Section("party", "Responsible Party", CAPTIONS["party"], _party_blocks(trial)),
        Section(
            "investigators",
            "Principal Investigators",
            CAPTIONS["investigators"],
            tuple(
                Entry(
                    o.name,
                    (
                        Field("Role", _v(o.role), inline=": ", code=o.role),
                        *((Text(o.affiliation),) if o.affiliation else ()),
                    ),
                )
                for o in trial.officials
            ),
        ),
        Section(
            "locations",
            "Locations",
            CAPTIONS["locations"],
            tuple(
                Entry(
                    s.facility or "",
                    (
                        Text(f"{_v(s.city)}, {_v(s.state)}, {_v(s.country)}"),
                        Field("Site Status", _v(s.status), inline=" ", code=s.status),
                    ),
                )
                for s in trial.locations
            ),
        ),
        Section("countries", "Countries", CAPTIONS["countries"], tuple(Text(c) for c in trial.countries)),
        Section(
            "identifiers",
            "Other Identifiers",
            CAPTIONS["identifiers"],
            tuple(
                Entry(
                    i.id,
                    (
                        Field("Identifier Type", i.type or "-", inline=": "),
                        Field("Identifier Source", i.source, inline=": "),
                    ),
                )
                for i in ((trial.org_study_id,) if trial.org_study_id else ()) + trial.secondary_ids
            ),
        ),
        Section(
            "related",
            "More Related Trials",
            CAPTIONS["related"],
            tuple(
                Entry(
                    r.title,
                    (
                        Field("NCT ID", r.nct_id, inline=": "),
                        Field("Status", _v(r.status), inline=": ", code=r.status),
                        Field("Phase", _v(r.phase), inline=": ", code=r.phase),
                        Bullets("Why related", r.reasons),
                    ),
                    subtitle=r.nct_id,
                )
                for r in related
            ),
        ),
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
    )


def _paragraphs(text: str | None) -> tuple[Text, ...]:
    if not text:
        return ()
    parts = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n")]
    return tuple(Text(p) for p in parts if p)


def _design_fields(trial: Trial) -> tuple[Field, ...]:
    d = trial.design
    fields = [
        ("Allocation Method", d.allocation),
        ("Intervention Model", d.intervention_model),
        ("Primary Study Purpose", d.primary_purpose),
        ("Blinding Strategy", d.masking),
    ]
    if d.study_type == "OBSERVATIONAL" or d.observational_model or d.time_perspective:
        fields += [("Observational Model", d.observational_model), ("Time Perspective", d.time_perspective)]
    if d.who_masked:
        fields.append(("Who Is Blinded", ", ".join(d.who_masked)))
    return tuple(
        Field(label, _v(value), code=value)
        for label, value in fields
        if value
        or label in {"Allocation Method", "Intervention Model", "Primary Study Purpose", "Blinding Strategy"}
    )


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
    blocks.append(Field("Group Type", _v(arm.type), inline=" ", code=arm.type))
    for i in _arm_interventions(arm, trial):
        blocks.append(
            Entry(
                i.name,
                (
                    Field("Intervention Type", _v(i.type), inline=" ", code=i.type),
                    *((Text(i.description),) if i.description else ()),
                ),
            )
        )
    return Entry(arm.label, tuple(blocks))


def _eligibility_blocks(trial: Trial) -> tuple[Block, ...]:
    e = trial.eligibility
    split = split_criteria(e.criteria)
    blocks: list[Block] = []
    if split.inclusion:
        blocks.append(Bullets("Inclusion Criteria", split.inclusion))
    if split.exclusion:
        blocks.append(Bullets("Exclusion Criteria", split.exclusion))
    if split.other:
        blocks.append(Bullets("Criteria" if not split.has_headings else "Other Criteria", split.other))
    hv = "" if e.healthy_volunteers is None else ("Yes" if e.healthy_volunteers else "No")
    blocks += [
        Field("Minimum Eligible Age", _v(e.minimum_age)),
        Field("Maximum Eligible Age", _v(e.maximum_age)),
        Field("Eligible Sex", _v(e.sex), code=e.sex),
        Field("Accepts Healthy Volunteers", hv),
    ]
    return tuple(blocks)


def _party_blocks(trial: Trial) -> tuple[Block, ...]:
    party = trial.responsible_party
    if party is None:
        return ()
    blocks: list[Block] = [Field("Responsibility Role", _v(party.type), inline=" ", code=party.type)]
    if party.investigator_name:
        blocks.append(Field("Investigator", party.investigator_name, inline=": "))
    if party.investigator_title:
        blocks.append(Field("Title", party.investigator_title, inline=": "))
    if party.investigator_affiliation:
        blocks.append(Field("Affiliation", party.investigator_affiliation, inline=": "))
    return tuple(blocks)


# --- results ----------------------------------------------------------------------------


def _results_section(trial: Trial) -> Section:
    results = trial.results
    if results is None or not _has_content(results):
        if trial.has_results:
            blocks: tuple[Block, ...] = (
                Subheading("Results posted"),
                Text(
                    "The study team has posted results for this trial, but this record does not carry "
                    "their details. See the trial on ClinicalTrials.gov for the full tables."
                ),
            )
        else:
            blocks = (Subheading("Results pending"), Text(RESULTS_PENDING))
        return Section("results", "Study Results", "", blocks)
    blocks_list: list[Block] = [Text(RESULTS_CAPTION)]
    blocks_list += _outcome_blocks(results)
    blocks_list += _flow_blocks(results)
    blocks_list += _baseline_blocks(results)
    blocks_list += _event_blocks(results)
    return Section("results", "Study Results", "", tuple(blocks_list))


def _has_content(results: Results) -> bool:
    return bool(
        results.outcome_measures or results.participant_flow or results.baseline or results.adverse_events
    )


def _value(
    value: str | None, spread: str | None, lower: str | None, upper: str | None, dispersion: str | None
) -> str:
    text = value or "NA"
    if spread:
        text += f" ({(dispersion or 'spread').replace('_', ' ').lower()} {spread})"
    elif lower or upper:
        text += f" ({(dispersion or 'range').replace('_', ' ').lower()} {lower or '?'} to {upper or '?'})"
    return text


def _outcome_blocks(results: Results) -> list[Block]:
    if not results.outcome_measures:
        return []
    blocks: list[Block] = [Subheading("Outcome Measures")]
    for m in results.outcome_measures:
        inner: list[Block] = []
        if m.type:
            inner.append(Field("Type", m.type, inline=": "))
        if m.time_frame:
            inner.append(Field("Time Frame", m.time_frame, inline=": "))
        if m.description:
            inner.append(Text(m.description))
        if m.population_description:
            inner.append(Field("Population", m.population_description, inline=": "))
        if m.unit_of_measure:
            inner.append(Field("Unit of Measure", m.unit_of_measure, inline=": "))
        if m.param_type:
            inner.append(Field("Measure Type", m.param_type, inline=": "))
        titles = {g.id: g.title or g.id for g in m.groups}
        denoms = {c.group_id: c.value for c in m.denoms}
        rows = []
        for cls in m.classes:
            for cat in cls.categories:
                label = " - ".join(x for x in (cls.title, cat.title) if x)
                for meas in cat.measurements:
                    rows.append(
                        (
                            titles.get(meas.group_id, meas.group_id),
                            denoms.get(meas.group_id) or "",
                            label,
                            _value(
                                meas.value, meas.spread, meas.lower_limit, meas.upper_limit, m.dispersion_type
                            ),
                            m.unit_of_measure or "",
                        )
                    )
        if rows:
            inner.append(
                Table(
                    m.title, ("Group", "Participants", "Category", "Value", "Unit"), tuple(rows), chart="bars"
                )
            )
        for a in m.analyses:
            parts = [f"p-value {a.p_value}" if a.p_value else "", a.statistical_method or ""]
            if a.param_type and a.param_value:
                parts.append(f"{a.param_type} {a.param_value}")
            if a.ci_lower or a.ci_upper:
                parts.append(f"{a.ci_percent or ''}% CI {a.ci_lower or '?'} to {a.ci_upper or '?'}")
            groups = ", ".join(titles.get(g, g) for g in a.group_ids)
            inner.append(
                Field(f"Statistical Analysis ({groups})", "; ".join(p for p in parts if p), inline=": ")
            )
        blocks.append(Entry(m.title, tuple(inner)))
    return blocks


def _flow_blocks(results: Results) -> list[Block]:
    flow = results.participant_flow
    if flow is None or not flow.periods:
        return []
    titles = {g.id: g.title or g.id for g in flow.groups}
    blocks: list[Block] = [Subheading("Participant Flow")]
    if flow.recruitment_details:
        blocks.append(Field("Recruitment Details", flow.recruitment_details, inline=": "))
    if flow.pre_assignment_details:
        blocks.append(Field("Pre-assignment Details", flow.pre_assignment_details, inline=": "))
    group_ids = [g.id for g in flow.groups]
    header = ("Milestone", *(titles[g] for g in group_ids))
    for period in flow.periods:
        rows = []
        for milestone in period.milestones:
            counts = {c.group_id: c.value or "" for c in milestone.counts}
            rows.append((milestone.type, *(counts.get(g, "") for g in group_ids)))
        for reason in period.drop_reasons:
            counts = {c.group_id: c.value or "" for c in reason.counts}
            rows.append((f"Not completed: {reason.type}", *(counts.get(g, "") for g in group_ids)))
        blocks.append(Table(period.title or "Overall Study", header, tuple(rows), chart="bars"))
    return blocks


def _baseline_blocks(results: Results) -> list[Block]:
    base = results.baseline
    if base is None or not base.measures:
        return []
    titles = {g.id: g.title or g.id for g in base.groups}
    group_ids = [g.id for g in base.groups]
    blocks: list[Block] = [Subheading("Baseline Characteristics")]
    if base.population_description:
        blocks.append(Text(base.population_description))
    if base.denoms:
        counts = {c.group_id: c.value or "" for c in base.denoms}
        blocks.append(
            Table(
                "Participants analyzed",
                tuple(titles[g] for g in group_ids),
                ((*(counts.get(g, "") for g in group_ids),),),
            )
        )
    for measure in base.measures:
        rows = []
        for cls in measure.classes:
            for cat in cls.categories:
                values = {
                    m.group_id: _value(
                        m.value, m.spread, m.lower_limit, m.upper_limit, measure.dispersion_type
                    )
                    for m in cat.measurements
                }
                label = " - ".join(x for x in (cls.title, cat.title) if x) or measure.title
                rows.append((label, *(values.get(g, "") for g in group_ids)))
        unit = f" ({measure.unit_of_measure})" if measure.unit_of_measure else ""
        blocks.append(Table(f"{measure.title}{unit}", ("", *(titles[g] for g in group_ids)), tuple(rows)))
    return blocks


def _event_blocks(results: Results) -> list[Block]:
    events = results.adverse_events
    if events is None or not (events.groups or events.serious or events.other):
        return []
    titles = {g.id: g.title or g.id for g in events.groups}
    group_ids = [g.id for g in events.groups]
    blocks: list[Block] = [Subheading("Adverse Events")]
    if events.time_frame:
        blocks.append(Field("Time Frame", events.time_frame, inline=": "))
    if events.description:
        blocks.append(Text(events.description))

    def frac(affected: int | None, at_risk: int | None) -> str:
        if affected is None and at_risk is None:
            return ""
        return f"{'?' if affected is None else affected}/{'?' if at_risk is None else at_risk}"

    if events.groups:
        blocks.append(
            Table(
                "Participants affected by group (affected/at risk)",
                ("Group", "Deaths", "Serious adverse events", "Other adverse events"),
                tuple(
                    (
                        g.title or g.id,
                        frac(g.deaths_affected, g.deaths_at_risk),
                        frac(g.serious_affected, g.serious_at_risk),
                        frac(g.other_affected, g.other_at_risk),
                    )
                    for g in events.groups
                ),
                chart="bars",
            )
        )
    for caption, items in (
        ("Serious Adverse Events", events.serious),
        ("Other Adverse Events", events.other),
    ):
        if not items:
            continue
        rows = []
        for event in items:
            stats = {s.group_id: frac(s.num_affected, s.num_at_risk) for s in event.stats}
            rows.append((event.term, event.organ_system or "", *(stats.get(g, "") for g in group_ids)))
        blocks.append(Table(caption, ("Event", "Organ System", *(titles[g] for g in group_ids)), tuple(rows)))
    return blocks
