"""Retired classic API (v1) JSON -> Trial: FullStudies and StudyFields, checked on real records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialscope.ctgov.v1 import (
    iter_v1_document,
    mesh_id,
    parse_v1_fields,
    parse_v1_study,
    restore_list_markers,
)
from trialscope.errors import NotAStudyError, ParseError
from trialscope.model import Trial

SHARED = Path(__file__).resolve().parents[2] / "shared"
V1_DIR = SHARED / "data" / "ctgov" / "v1_classic_json"
FIELDS_FILE = V1_DIR / "jesnyder__mapClinical__msc_trials_studyfields.jsonl"
SEED = SHARED / "seed" / "NCT04184258.json"


def parse(kind: str, record: dict[str, Any]) -> Trial:
    return parse_v1_study(record) if kind == "study" else parse_v1_fields(record)


def fixture_study(name: str) -> Trial:
    document = json.loads((V1_DIR / "aact_fixtures" / name).read_text())
    [(kind, study)] = list(iter_v1_document(document))
    assert kind == "study"
    return parse_v1_study(study)


def fields_row(nct_id: str) -> dict[str, Any]:
    with FIELDS_FILE.open() as lines:
        for line in lines:
            row = json.loads(line)
            if row.get("NCTId") == [nct_id]:
                return row
    raise AssertionError(f"{nct_id} is not in {FIELDS_FILE.name}")


def test_every_v1_record_parses():
    trials: list[Trial] = []
    for path in sorted((V1_DIR / "aact_fixtures").glob("*.json")):
        trials += [parse(kind, record) for kind, record in iter_v1_document(json.loads(path.read_text()))]
    assert [t.source_format for t in trials] == ["v1"] * 6
    with FIELDS_FILE.open() as lines:
        for line in lines:
            trials += [parse(kind, record) for kind, record in iter_v1_document(json.loads(line))]
    assert len(trials) == 6 + 1536
    assert len({t.nct_id for t in trials}) == 1541  # SOURCES.md: 1,541 distinct NCT ids in v1
    assert len({t.nct_id for t in trials if t.has_results}) == 52  # SOURCES.md: 52 with results
    assert {t.source_format for t in trials[6:]} == {"v1-fields"}
    # The rebuilt results carry their groups whenever the results fields exist at all.
    fields_with_results = [t for t in trials[6:] if t.has_results]
    assert all(t.results is not None and t.results.participant_flow.groups for t in fields_with_results)


def test_studyfields_demo_trial_matches_the_seed_v2_record():
    """NCT04184258 from StudyFields gives what the seed page shows, as API v2 spells it."""
    seed = json.loads(SEED.read_text())["protocolSection"]
    trial = parse_v1_fields(fields_row("NCT04184258"))
    ident, status = seed["identificationModule"], seed["statusModule"]
    design, arms = seed["designModule"], seed["armsInterventionsModule"]
    eligibility, sponsors = seed["eligibilityModule"], seed["sponsorCollaboratorsModule"]
    contacts = seed["contactsLocationsModule"]

    assert trial.nct_id == ident["nctId"] == "NCT04184258"
    assert trial.brief_title == ident["briefTitle"]
    assert trial.official_title == ident["officialTitle"]
    assert trial.org_study_id.id == ident["orgStudyIdInfo"]["id"] == "IBCE_MSC1(SLE)"
    assert trial.organization == ident["organization"]["fullName"]
    assert trial.overall_status == status["overallStatus"] == "COMPLETED"
    assert trial.status_verified_date == status["statusVerifiedDate"]
    for field, key in [
        ("start_date", "startDateStruct"),
        ("primary_completion_date", "primaryCompletionDateStruct"),
        ("completion_date", "completionDateStruct"),
        ("first_post_date", "studyFirstPostDateStruct"),
        ("last_update_post_date", "lastUpdatePostDateStruct"),
    ]:
        value = getattr(trial, field)
        assert (value.date, value.type) == (status[key]["date"], status[key]["type"]), field
    assert trial.first_submit_date == status["studyFirstSubmitDate"]
    assert trial.last_update == "2021-01-22"
    assert trial.design.phases == tuple(design["phases"]) == ("PHASE1", "PHASE2")
    assert trial.design.study_type == design["studyType"] == "INTERVENTIONAL"
    assert (trial.design.enrollment_count, trial.design.enrollment_type) == (7, "ACTUAL")
    info = design["designInfo"]
    assert (trial.design.allocation, trial.design.intervention_model, trial.design.primary_purpose) == (
        info["allocation"],
        info["interventionModel"],
        info["primaryPurpose"],
    )
    assert trial.design.masking == info["maskingInfo"]["masking"] == "NONE"
    assert trial.conditions == tuple(seed["conditionsModule"]["conditions"])
    assert trial.keywords == tuple(seed["conditionsModule"]["keywords"])
    assert trial.brief_summary == seed["descriptionModule"]["briefSummary"]
    assert trial.detailed_description is None

    assert [(a.label, a.type, a.description, list(a.intervention_names)) for a in trial.arms] == [
        (a["label"], a["type"], a["description"], a["interventionNames"]) for a in arms["armGroups"]
    ]
    assert trial.arms[0].intervention_names[0] == "Biological: Pooled mesenchymal stem cell"
    assert [(x.name, x.type, x.description, list(x.arm_group_labels)) for x in trial.interventions] == [
        (x["name"], x["type"], x["description"], x["armGroupLabels"]) for x in arms["interventions"]
    ]
    outcomes = seed["outcomesModule"]
    assert [(o.kind, o.measure, o.description, o.time_frame) for o in trial.outcomes] == [
        (kind, o["measure"], o["description"], o["timeFrame"])
        for kind, key in (("primary", "primaryOutcomes"), ("secondary", "secondaryOutcomes"))
        for o in outcomes[key]
    ]

    elig = trial.eligibility
    assert elig.criteria == eligibility["eligibilityCriteria"]  # list markers restored
    assert (elig.minimum_age, elig.maximum_age) == (eligibility["minimumAge"], eligibility["maximumAge"])
    assert (elig.minimum_age, elig.maximum_age) == ("18 Years", "75 Years")
    assert elig.sex == eligibility["sex"] == "ALL"
    assert elig.healthy_volunteers is eligibility["healthyVolunteers"] is False
    assert elig.std_ages == tuple(eligibility["stdAges"])

    lead = sponsors["leadSponsor"]
    assert (trial.lead_sponsor.name, trial.lead_sponsor.sponsor_class) == (lead["name"], lead["class"])
    assert [(c.name, c.sponsor_class) for c in trial.collaborators] == [
        (c["name"], c["class"]) for c in sponsors["collaborators"]
    ]
    assert trial.responsible_party.type == sponsors["responsibleParty"]["type"] == "SPONSOR"
    assert [(o.name, o.role, o.affiliation) for o in trial.officials] == [
        (o["name"], o["role"], o["affiliation"]) for o in contacts["overallOfficials"]
    ]
    [site] = trial.locations
    [seed_site] = contacts["locations"]
    assert (site.facility, site.city, site.state, site.zip, site.country) == (
        seed_site["facility"],
        "Minsk",
        None,
        seed_site["zip"],
        "Belarus",
    )
    assert trial.countries == ("Belarus",)

    derived = json.loads(SEED.read_text())["derivedSection"]["conditionBrowseModule"]
    assert [(m.id, m.term) for m in trial.condition_mesh] == [(m["id"], m["term"]) for m in derived["meshes"]]
    assert [(m.id, m.term) for m in trial.condition_ancestors] == [
        (m["id"], m["term"]) for m in derived["ancestors"]
    ]
    assert trial.has_results is False and trial.results is None


def test_full_study_with_results():
    trial = fixture_study("NCT02028676.json")
    assert trial.acronym == "ARROW"
    assert [(i.id, i.type, i.domain) for i in trial.secondary_ids] == [
        ("24791884", "REGISTRY", "ISRCTN"),
        ("G0300400", "OTHER_GRANT", "UK Medical Research Council"),
    ]
    assert trial.design.phases == ("PHASE4",)
    assert (trial.design.intervention_model, trial.design.enrollment_count) == ("FACTORIAL", 1206)
    assert (trial.eligibility.minimum_age, trial.eligibility.minimum_age_days) == ("3 Months", 91.3125)
    assert trial.responsible_party.investigator_name == "Diana M Gibb"
    assert trial.lead_sponsor.sponsor_class == "OTHER_GOV"
    assert trial.has_results
    results = trial.results
    started = results.participant_flow.periods[0].milestones[0]
    assert started.type == "STARTED" and started.counts[0].value == "606"
    assert started.counts[0].comment.startswith("Factorial randomization at enrolment")
    age = results.baseline.measures[0]
    assert (age.title, age.param_type, age.dispersion_type) == (
        "Age, Continuous",
        "MEDIAN",
        "Inter-Quartile Range",
    )
    first = age.classes[0].categories[0].measurements[0]
    assert (first.group_id, first.value, first.lower_limit, first.upper_limit) == (
        "BG000",
        "5.9",
        "2.2",
        "9.2",
    )
    measure = results.outcome_measures[0]
    assert measure.title == "LCM vs CDM: Disease Progression to a New WHO Stage 4 Event or Death"
    assert (measure.type, measure.reporting_status, measure.param_type) == ("PRIMARY", "POSTED", "NUMBER")
    assert [(c.group_id, c.value) for c in measure.denoms] == [("OG000", "606"), ("OG001", "600")]
    assert [m.value for m in measure.classes[0].categories[0].measurements] == ["47", "39"]
    analysis = measure.analyses[0]
    assert (analysis.p_value, analysis.param_type, analysis.param_value) == (
        "0.59",
        "Hazard Ratio (HR)",
        "1.13",
    )
    assert (analysis.ci_lower, analysis.ci_upper, analysis.non_inferiority_type) == (
        "0.73",
        "1.73",
        "NON_INFERIORITY_OR_EQUIVALENCE",
    )
    group = results.adverse_events.groups[0]
    assert (group.serious_affected, group.serious_at_risk, group.other_affected) == (147, 606, 190)
    coma = results.adverse_events.serious[0]
    assert (coma.term, coma.organ_system, coma.assessment_type) == (
        "Coma",
        "Nervous system disorders",
        "SYSTEMATIC_ASSESSMENT",
    )
    assert (coma.stats[0].num_events, coma.stats[0].num_affected, coma.stats[0].num_at_risk) == (1, 1, 606)


def test_full_study_without_results_and_its_words():
    trial = fixture_study("NCT04780763.json")
    assert trial.overall_status == "NOT_YET_RECRUITING"
    assert trial.design.phases == ("NA",)  # "Not Applicable"
    assert (trial.design.masking, trial.design.who_masked) == (
        "QUADRUPLE",
        ("PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR"),
    )
    assert (trial.design.enrollment_count, trial.design.enrollment_type) == (168, "ESTIMATED")
    assert trial.design.primary_purpose == "SUPPORTIVE_CARE"
    assert (trial.start_date.date, trial.start_date.type) == ("2021-03-04", "ESTIMATED")
    assert (trial.first_post_date.date, trial.first_post_date.type) == ("2021-03-03", "ESTIMATED")
    assert trial.status_verified_date == "2021-02"
    assert trial.secondary_ids[0].type == "OTHER"  # "Other Identifier"
    assert (trial.eligibility.minimum_age, trial.eligibility.maximum_age) == ("20 Years", "30 Years")
    # Each criterion is one line after the heading: the lost list markers come back.
    assert trial.eligibility.criteria.startswith("Inclusion Criteria:\n\n* SI01: Free-living Participant")
    assert trial.has_results is False and trial.results is None


def test_a_page_of_three_full_studies():
    document = json.loads((V1_DIR / "aact_fixtures" / "results_2.json").read_text())
    trials = [parse_v1_study(study) for kind, study in iter_v1_document(document)]
    assert [t.nct_id for t in trials] == ["NCT04779463", "NCT04779450", "NCT04779437"]
    assert trials[0].design.study_type == "OBSERVATIONAL" and trials[0].design.observational_model == "COHORT"
    assert trials[0].design.phases == ()
    assert [t.design.enrollment_count for t in trials] == [40, 30, 12]


def test_studyfields_results_are_rebuilt_where_the_lists_line_up():
    trial = parse_v1_fields(fields_row("NCT00957931"))
    assert trial.has_results and trial.overall_status == "COMPLETED"
    results = trial.results
    measure = results.outcome_measures[0]
    assert measure.title == (
        "Count of Participants With Stable Engraftment Post Hematopoietic Cell Transplantation (HCT)"
    )
    assert (measure.type, measure.param_type, measure.time_frame) == (
        "PRIMARY",
        "COUNT_OF_PARTICIPANTS",
        "Up to 1 year",
    )
    assert [(c.group_id, c.value) for c in measure.denoms] == [("OG000", "6")]
    assert [(m.group_id, m.value) for m in measure.classes[0].categories[0].measurements] == [("OG000", "3")]
    assert [m.classes[0].categories[0].measurements[0].value for m in results.outcome_measures] == [
        "3",
        "2",
        "2",
        "0",
        "0",
    ]
    period = results.participant_flow.periods[0]
    assert [(m.type, m.counts[0].value) for m in period.milestones] == [
        ("STARTED", "6"),
        ("COMPLETED", "2"),
        ("NOT COMPLETED", "4"),
    ]
    assert [(d.type, d.counts[0].value) for d in period.drop_reasons] == [("Death", "4")]
    group = results.adverse_events.groups[0]
    assert (group.deaths_affected, group.serious_affected, group.serious_at_risk) == (4, 6, 6)
    first = results.adverse_events.serious[0]
    assert (first.term, first.organ_system, first.stats[0].num_affected) == (
        "Graft failure with autologous recovery",
        "Blood and lymphatic system disorders",
        2,
    )
    # Baseline: two of four measures have a dispersion type, so no measure gets one.
    assert [m.title for m in results.baseline.measures][:2] == ["Age, Continuous", "Sex: Female, Male"]
    assert all(m.dispersion_type is None and m.classes == () for m in results.baseline.measures)
    assert [(c.group_id, c.value) for c in results.baseline.denoms] == [("BG000", "6")]


def test_studyfields_sites_keep_only_fields_that_line_up():
    trial = parse_v1_fields(fields_row("NCT00366145"))
    assert len(trial.locations) == 70
    # 66 states for 70 sites: which site lacks one is lost, so no site gets a state.
    assert all(site.state is None for site in trial.locations)
    assert (trial.locations[0].facility, trial.locations[0].city, trial.locations[0].zip) == (
        "University of Alabama at Birmingham",
        "Birmingham",
        "35249",
    )
    assert (trial.eligibility.minimum_age, trial.eligibility.minimum_age_days) == ("6 Months", 182.625)
    assert trial.design.phases == ("PHASE3",) and trial.design.enrollment_count == 260


def test_studyfields_arm_links_are_dropped_when_the_two_lists_disagree():
    row = {
        "NCTId": ["NCT00000102"],
        "ArmGroupLabel": ["A", "B"],
        "ArmGroupType": ["Experimental", "Placebo Comparator"],
        "ArmGroupInterventionName": ["Drug: X", "Drug: Y"],
        "InterventionName": ["X", "Y"],
        "InterventionType": ["Drug", "Drug"],
        "InterventionArmGroupLabel": ["B", "A"],  # X belongs to B here, to A above
        "LocationFacility": ["Site 1", "Site 2"],
        "LocationCity": ["Oslo", "Bergen"],
        "LocationCountry": ["Norway", "Norway"],
        "LocationContactName": ["Dr Who"],
    }
    trial = parse_v1_fields(row)
    assert [(a.label, a.type, a.intervention_names) for a in trial.arms] == [
        ("A", "EXPERIMENTAL", ()),
        ("B", "PLACEBO_COMPARATOR", ()),
    ]
    assert [x.arm_group_labels for x in trial.interventions] == [(), ()]
    assert [s.contacts for s in trial.locations] == [(), ()]  # one contact for two sites: unknown whose
    row["InterventionArmGroupLabel"] = ["A", "B"]
    trial = parse_v1_fields(row)
    assert [a.intervention_names for a in trial.arms] == [("Drug: X",), ("Drug: Y",)]
    assert [x.arm_group_labels for x in trial.interventions] == [("A",), ("B",)]


def test_studyfields_results_fields_that_cannot_line_up_still_mark_results():
    row = {
        "NCTId": ["NCT00000102"],
        "OutcomeMeasureTitle": ["A", "B"],
        "OutcomeMeasurementValue": ["1", "2", "3"],
        "OutcomeMeasurementGroupId": ["OG000", "OG000", "OG000"],
    }  # 3 values, 2 measures
    trial = parse_v1_fields(row)
    assert trial.has_results
    assert [m.title for m in trial.results.outcome_measures] == ["A", "B"]
    assert all(m.classes == () for m in trial.results.outcome_measures)
    assert parse_v1_fields({"NCTId": ["NCT00000102"], "FlowMilestoneType": ["STARTED"]}).has_results


def test_iter_v1_document_shapes():
    study = {"ProtocolSection": {"IdentificationModule": {"NCTId": "NCT00000102"}}}
    row = {"NCTId": ["NCT00000103"]}
    assert list(iter_v1_document({"Study": study})) == [("study", {"Study": study})]
    assert list(iter_v1_document(study)) == [("study", study)]
    assert (
        list(iter_v1_document({"StudyFieldsResponse": {"StudyFields": [row, row]}})) == [("fields", row)] * 2
    )
    assert list(iter_v1_document([row])) == [("fields", row)]
    page = {"FullStudiesResponse": {"FullStudies": [{"Rank": 1, "Study": study}, 7]}}
    kinds = [k for k, _ in iter_v1_document(page)]
    assert kinds == ["study", "study"]
    assert parse_v1_study({"Rank": 1, "Study": study}).nct_id == "NCT00000102"
    with pytest.raises(NotAStudyError):
        parse_v1_study({"Study": 7})
    with pytest.raises(NotAStudyError, match="not a v1 document"):
        list(iter_v1_document({"status": "pwned"}))
    with pytest.raises(NotAStudyError):
        list(iter_v1_document("text"))


def test_record_level_errors():
    with pytest.raises(ParseError, match="no valid NCT id"):
        parse_v1_study({"ProtocolSection": {"IdentificationModule": {"NCTId": "12345"}}})
    with pytest.raises(ParseError, match="no valid NCT id"):
        parse_v1_fields({"NCTId": []})
    with pytest.raises(NotAStudyError):
        parse_v1_fields(["NCT00000102"])  # type: ignore[arg-type]
    odd = parse_v1_study(
        {
            "ProtocolSection": {
                "IdentificationModule": {"NCTId": ["NCT00000102"], "BriefTitle": ["one", "two"]},
                "DesignModule": {
                    "EnrollmentInfo": {"EnrollmentCount": "many"},
                    "PhaseList": {"Phase": "Phase 2"},
                },
                "StatusModule": {"OverallStatus": 3, "StartDateStruct": "2020"},
            }
        }
    )
    assert odd.nct_id == "NCT00000102" and odd.brief_title is None
    assert odd.design.enrollment_count is None and odd.design.phases == ("PHASE2",)
    assert odd.overall_status == "3" and odd.start_date is None


def test_helpers():
    assert mesh_id("D000008180") == "D008180"
    assert mesh_id("D000086382") == "D000086382"  # a 9-digit id (COVID-19) stays
    assert restore_list_markers("Key criteria:\n\nOne\nTwo:\nThree\n\n1. already numbered\n2. kept") == (
        "Key criteria:\n\n* One\nTwo:\n* Three\n\n1. already numbered\n2. kept"
    )
    assert restore_list_markers("A single paragraph.") == "A single paragraph."


# --- hostile input ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)
v1_keys = st.sampled_from(
    [
        "NCTId",
        "BriefTitle",
        "Phase",
        "EnrollmentCount",
        "ArmGroupLabel",
        "ArmGroupInterventionName",
        "InterventionArmGroupLabel",
        "InterventionName",
        "LocationCity",
        "OutcomeMeasureTitle",
        "OutcomeMeasurementGroupId",
        "FlowMilestoneType",
        "FlowAchievementGroupId",
        "FlowPeriodTitle",
        "SeriousEventTerm",
        "SeriousEventStatsGroupId",
        "EventGroupId",
        "MinimumAge",
        "StartDate",
        "Gender",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_random_json_raises_only_parse_errors(value):
    for call in (parse_v1_study, parse_v1_fields, lambda v: list(iter_v1_document(v))):
        try:
            call(value)
        except ParseError:
            pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        v1_keys, st.lists(st.text(max_size=8) | st.integers(), max_size=5) | json_values, max_size=12
    ),
    st.sampled_from(["NCT00000102", "nonsense", None]),
)
def test_random_studyfields_rows_raise_only_parse_errors(row, nct_id):
    row = {**row, "NCTId": [nct_id]} if nct_id else row
    try:
        parse_v1_fields(row)
    except ParseError:
        pass


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(obj, list):
        for index, value in enumerate(obj[:3]):
            found += _paths(value, prefix + (index,))
    return found


_REAL_STUDY = json.loads((V1_DIR / "aact_fixtures" / "NCT04780763.json").read_text())["FullStudiesResponse"][
    "FullStudies"
][0]["Study"]
_REAL_PATHS = [p for p in _paths(_REAL_STUDY) if p]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_REAL_PATHS), json_values), min_size=1, max_size=4))
def test_real_study_with_values_of_the_wrong_type_raises_only_parse_errors(changes):
    study = json.loads(json.dumps(_REAL_STUDY))
    for path, value in changes:
        target = study
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    try:
        trial = parse_v1_study(study)
    except ParseError:
        return
    assert trial.nct_id == "NCT04780763"
