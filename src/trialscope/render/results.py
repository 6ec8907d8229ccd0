"""The Study Results section of the trial page: outcome measures, participant flow,
baseline characteristics and adverse events, as tables a chart can show.

When a record carries no results tables the section says why: results pending, or posted
but not carried by this record.
"""

from __future__ import annotations

from collections.abc import Sequence

from trialscope.model import Count, Results, Trial
from trialscope.render.context import Block, Entry, Field, Section, Subheading, Table, Text
from trialscope.render.words import words_for

RESULTS_PENDING = (
    "The study team has not published outcome measurements, participant flow, or safety data for this "
    "trial yet. Check back later for updates."
)
RESULTS_CAPTION = (
    "See what the study found: outcome measurements by group, how participants moved through the study, "
    "who took part, and the adverse events reported."
)


def results_section(trial: Trial) -> Section:
    """The Study Results section: the results tables, or why there are none."""
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
            inner.append(
                Field("Type", m.type, inline=": ", code=m.type, words=words_for("outcome_type", m.type))
            )
        if m.time_frame:
            inner.append(Field("Time Frame", m.time_frame, inline=": "))
        if m.description:
            inner.append(Text(m.description))
        if m.population_description:
            inner.append(Field("Population", m.population_description, inline=": "))
        if m.unit_of_measure:
            inner.append(Field("Unit of Measure", m.unit_of_measure, inline=": "))
        if m.param_type:
            inner.append(
                Field(
                    "Measure Type",
                    m.param_type,
                    inline=": ",
                    code=m.param_type,
                    words=words_for("param_type", m.param_type),
                )
            )
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


def _by_group(counts: Sequence[Count], group_ids: Sequence[str]) -> tuple[str, ...]:
    """One cell per group, in the groups' order, from counts given by group id."""
    values = {c.group_id: c.value or "" for c in counts}
    return tuple(values.get(g, "") for g in group_ids)


def _flow_blocks(results: Results) -> list[Block]:
    flow = results.participant_flow
    if flow is None or not flow.periods:
        return []
    titles = {g.id: g.title or g.id for g in flow.groups}
    blocks: list[Block] = [Subheading("Participant Flow")]
    for label, details in (("Recruitment Details", flow.recruitment_details),
                           ("Pre-assignment Details", flow.pre_assignment_details)):  # fmt: skip
        if details:
            blocks.append(Field(label, details, inline=": "))
    group_ids = [g.id for g in flow.groups]
    header = ("Milestone", *(titles[g] for g in group_ids))
    for period in flow.periods:
        rows = [(m.type, *_by_group(m.counts, group_ids)) for m in period.milestones]
        rows += [(f"Not completed: {r.type}", *_by_group(r.counts, group_ids)) for r in period.drop_reasons]
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
        blocks.append(
            Table(
                "Participants analyzed",
                tuple(titles[g] for g in group_ids),
                (_by_group(base.denoms, group_ids),),
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
