"""The typed model of a clinical trial: frozen dataclasses, no I/O.

Every source shape (API v2 JSON, retired v1 JSON, legacy XML, CSV summaries) is parsed
into a :class:`Trial`. Registry vocabularies are kept as the API v2 enum spelling
(``PHASE1``, ``NON_RANDOMIZED``); parsers of older shapes map their words onto it through
the tables in :mod:`trialscope.vocab`, and keep nothing else of the raw spelling here,
because the raw record itself is stored beside the trial.

Dates are ISO strings as precise as the source gives them: ``2021-01-22`` or ``2021-01``.
Ages are kept as written (``"18 Years"``) and as a number of days for filtering.

This module imports nothing from the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Strs = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DateStruct:
    """A registry date and its type (``ACTUAL`` or ``ESTIMATED``)."""

    date: str | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Sponsor:
    """A lead sponsor or a collaborator; ``role`` is ``lead`` or ``collaborator``."""

    name: str
    sponsor_class: str | None = None
    role: str = "lead"


@dataclass(frozen=True, slots=True)
class ResponsibleParty:
    type: str | None = None
    investigator_name: str | None = None
    investigator_title: str | None = None
    investigator_affiliation: str | None = None


@dataclass(frozen=True, slots=True)
class Identifier:
    """An organisation's or another registry's id; ``source`` is ``org_study_id`` or ``secondary_id``."""

    id: str
    source: str = "secondary_id"
    type: str | None = None
    domain: str | None = None
    link: str | None = None


@dataclass(frozen=True, slots=True)
class Design:
    study_type: str | None = None
    phases: Strs = ()
    allocation: str | None = None
    intervention_model: str | None = None
    primary_purpose: str | None = None
    masking: str | None = None
    who_masked: Strs = ()
    observational_model: str | None = None
    time_perspective: str | None = None
    enrollment_count: int | None = None
    enrollment_type: str | None = None


@dataclass(frozen=True, slots=True)
class ArmGroup:
    label: str
    type: str | None = None
    description: str | None = None
    intervention_names: Strs = ()


@dataclass(frozen=True, slots=True)
class Intervention:
    name: str
    type: str | None = None
    description: str | None = None
    arm_group_labels: Strs = ()
    other_names: Strs = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """A registered outcome; ``kind`` is ``primary``, ``secondary``, ``other``, or ``unspecified``
    where the source (the classic CSV export) does not say."""

    measure: str
    kind: str = "primary"
    description: str | None = None
    time_frame: str | None = None


@dataclass(frozen=True, slots=True)
class Eligibility:
    criteria: str | None = None
    healthy_volunteers: bool | None = None
    sex: str | None = None
    gender_based: bool | None = None
    minimum_age: str | None = None
    maximum_age: str | None = None
    minimum_age_days: float | None = None
    maximum_age_days: float | None = None
    std_ages: Strs = ()
    study_population: str | None = None
    sampling_method: str | None = None


@dataclass(frozen=True, slots=True)
class Official:
    name: str
    role: str | None = None
    affiliation: str | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    name: str | None = None
    role: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Site:
    facility: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    status: str | None = None
    geo: GeoPoint | None = None
    contacts: tuple[Contact, ...] = ()


@dataclass(frozen=True, slots=True)
class Reference:
    citation: str | None = None
    pmid: str | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class MeshTerm:
    term: str
    id: str | None = None


# --- results -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResultGroup:
    id: str
    title: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Count:
    """A number of participants (or units) in one group."""

    group_id: str
    value: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Measurement:
    group_id: str
    value: str | None = None
    spread: str | None = None
    lower_limit: str | None = None
    upper_limit: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class MeasureCategory:
    title: str | None = None
    measurements: tuple[Measurement, ...] = ()


@dataclass(frozen=True, slots=True)
class MeasureClass:
    title: str | None = None
    categories: tuple[MeasureCategory, ...] = ()


@dataclass(frozen=True, slots=True)
class Analysis:
    group_ids: Strs = ()
    p_value: str | None = None
    statistical_method: str | None = None
    param_type: str | None = None
    param_value: str | None = None
    ci_percent: str | None = None
    ci_lower: str | None = None
    ci_upper: str | None = None
    non_inferiority_type: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class OutcomeMeasure:
    title: str
    type: str | None = None
    description: str | None = None
    population_description: str | None = None
    reporting_status: str | None = None
    param_type: str | None = None
    dispersion_type: str | None = None
    unit_of_measure: str | None = None
    time_frame: str | None = None
    groups: tuple[ResultGroup, ...] = ()
    denoms: tuple[Count, ...] = ()
    classes: tuple[MeasureClass, ...] = ()
    analyses: tuple[Analysis, ...] = ()


@dataclass(frozen=True, slots=True)
class FlowMilestone:
    type: str
    counts: tuple[Count, ...] = ()


@dataclass(frozen=True, slots=True)
class FlowDropReason:
    type: str
    counts: tuple[Count, ...] = ()


@dataclass(frozen=True, slots=True)
class FlowPeriod:
    title: str | None = None
    milestones: tuple[FlowMilestone, ...] = ()
    drop_reasons: tuple[FlowDropReason, ...] = ()


@dataclass(frozen=True, slots=True)
class ParticipantFlow:
    recruitment_details: str | None = None
    pre_assignment_details: str | None = None
    groups: tuple[ResultGroup, ...] = ()
    periods: tuple[FlowPeriod, ...] = ()


@dataclass(frozen=True, slots=True)
class BaselineMeasure:
    title: str
    param_type: str | None = None
    dispersion_type: str | None = None
    unit_of_measure: str | None = None
    classes: tuple[MeasureClass, ...] = ()


@dataclass(frozen=True, slots=True)
class Baseline:
    population_description: str | None = None
    groups: tuple[ResultGroup, ...] = ()
    denoms: tuple[Count, ...] = ()
    measures: tuple[BaselineMeasure, ...] = ()


@dataclass(frozen=True, slots=True)
class EventStat:
    group_id: str
    num_events: int | None = None
    num_affected: int | None = None
    num_at_risk: int | None = None


@dataclass(frozen=True, slots=True)
class EventGroup:
    id: str
    title: str | None = None
    description: str | None = None
    deaths_affected: int | None = None
    deaths_at_risk: int | None = None
    serious_affected: int | None = None
    serious_at_risk: int | None = None
    other_affected: int | None = None
    other_at_risk: int | None = None


@dataclass(frozen=True, slots=True)
class AdverseEvent:
    term: str
    organ_system: str | None = None
    source_vocabulary: str | None = None
    assessment_type: str | None = None
    stats: tuple[EventStat, ...] = ()


@dataclass(frozen=True, slots=True)
class AdverseEvents:
    frequency_threshold: str | None = None
    time_frame: str | None = None
    description: str | None = None
    groups: tuple[EventGroup, ...] = ()
    serious: tuple[AdverseEvent, ...] = ()
    other: tuple[AdverseEvent, ...] = ()


@dataclass(frozen=True, slots=True)
class Results:
    participant_flow: ParticipantFlow | None = None
    baseline: Baseline | None = None
    outcome_measures: tuple[OutcomeMeasure, ...] = ()
    adverse_events: AdverseEvents | None = None


# --- related trials ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RelatedTrial:
    """A trial related to another, as a list shows it: what it is and why it is related."""

    nct_id: str
    title: str
    status: str | None
    phase: str | None
    score: float
    reasons: Strs
    has_results: bool = False
    countries: Strs = ()


# --- the trial -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trial:
    """One registered study, whatever shape it came in.

    >>> Trial(nct_id="NCT04184258", brief_title="Treatment of SLE").phase_label
    ''
    """

    nct_id: str
    brief_title: str | None = None
    official_title: str | None = None
    acronym: str | None = None
    org_study_id: Identifier | None = None
    secondary_ids: tuple[Identifier, ...] = ()
    organization: str | None = None
    # status
    overall_status: str | None = None
    why_stopped: str | None = None
    status_verified_date: str | None = None
    start_date: DateStruct | None = None
    primary_completion_date: DateStruct | None = None
    completion_date: DateStruct | None = None
    first_submit_date: str | None = None
    first_post_date: DateStruct | None = None
    results_first_post_date: DateStruct | None = None
    last_update_submit_date: str | None = None
    last_update_post_date: DateStruct | None = None
    # who
    lead_sponsor: Sponsor | None = None
    collaborators: tuple[Sponsor, ...] = ()
    responsible_party: ResponsibleParty | None = None
    officials: tuple[Official, ...] = ()
    central_contacts: tuple[Contact, ...] = ()
    # what
    brief_summary: str | None = None
    detailed_description: str | None = None
    conditions: Strs = ()
    keywords: Strs = ()
    design: Design = field(default_factory=Design)
    arms: tuple[ArmGroup, ...] = ()
    interventions: tuple[Intervention, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    eligibility: Eligibility = field(default_factory=Eligibility)
    locations: tuple[Site, ...] = ()
    references: tuple[Reference, ...] = ()
    # derived by the registry
    condition_mesh: tuple[MeshTerm, ...] = ()
    condition_ancestors: tuple[MeshTerm, ...] = ()
    intervention_mesh: tuple[MeshTerm, ...] = ()
    intervention_ancestors: tuple[MeshTerm, ...] = ()
    # results
    has_results: bool = False
    results: Results | None = None
    # provenance
    source_format: str = "v2"
    summary_only: bool = False

    @property
    def title(self) -> str:
        return self.brief_title or self.official_title or self.nct_id

    @property
    def phase_label(self) -> str:
        return "/".join(self.design.phases)

    @property
    def last_update(self) -> str | None:
        return self.last_update_post_date.date if self.last_update_post_date else None

    @property
    def sponsors(self) -> tuple[Sponsor, ...]:
        lead = (self.lead_sponsor,) if self.lead_sponsor else ()
        return lead + self.collaborators

    @property
    def countries(self) -> Strs:
        seen: dict[str, None] = {}
        for site in self.locations:
            if site.country:
                seen.setdefault(site.country, None)
        return tuple(seen)
