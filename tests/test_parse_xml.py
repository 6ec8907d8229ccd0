"""Legacy <clinical_study> XML -> Trial, checked against values read from the real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialscope.ctgov.legacy_xml import parse_xml_study, split_design_line
from trialscope.ctgov.xml_text import unwrap_textblock
from trialscope.errors import NotAStudyError, ParseError
from trialscope.vocab import derive_std_ages, parse_masking

SHARED = Path(__file__).resolve().parents[2] / "shared"
XML_DIR = SHARED / "data" / "ctgov" / "legacy_xml"


def load(name: str):
    matches = sorted(XML_DIR.rglob(name))
    assert matches, f"missing shared record {name}"
    return parse_xml_study(matches[0].read_bytes())


def test_every_legacy_xml_file_parses():
    files = sorted(XML_DIR.rglob("*.xml"))
    assert len(files) == 2956
    trials = [parse_xml_study(path.read_bytes()) for path in files]
    assert len({t.nct_id for t in trials}) == 2951  # SOURCES.md: 2,951 distinct NCT ids
    assert len({t.nct_id for t in trials if t.has_results}) == 500
    assert all(t.source_format == "xml" and not t.summary_only for t in trials)
    assert all((t.results is not None) == t.has_results for t in trials)
    # Every document names its own NCT id in its file name, but for three AACT fixtures.
    mismatched = {path.name: t.nct_id for path, t in zip(files, trials) if not path.name.startswith(t.nct_id)}
    assert mismatched == {
        "NCT00980226.xml": "NCT00081588",
        "example_study.xml": "NCT00002475",
        "raw_study.xml": "NCT00002475",
    }


def test_protocol_of_a_trial_with_results():
    trial = load("NCT00023673.xml")
    assert trial.brief_title.startswith("Radiation Therapy Combined With Paclitaxel and Carboplatin")
    assert trial.org_study_id.id == "RTOG L-0117" and trial.org_study_id.source == "org_study_id"
    assert [i.id for i in trial.secondary_ids] == ["CDR0000068850", "NCI-2012-02401"]
    assert trial.organization == "Radiation Therapy Oncology Group"
    assert trial.overall_status == "COMPLETED"
    assert trial.design.phases == ("PHASE1", "PHASE2")
    assert trial.phase_label == "PHASE1/PHASE2"
    assert (trial.design.enrollment_count, trial.design.enrollment_type) == (63, "ACTUAL")
    assert (trial.design.allocation, trial.design.intervention_model) == ("NON_RANDOMIZED", "SINGLE_GROUP")
    assert (trial.design.primary_purpose, trial.design.masking, trial.design.who_masked) == (
        "TREATMENT",
        "NONE",
        (),
    )
    assert trial.start_date.date == "2001-07" and trial.start_date.type is None
    assert (trial.completion_date.date, trial.completion_date.type) == ("2013-11", "ACTUAL")
    assert trial.primary_completion_date.date == "2009-01"
    assert trial.first_post_date.date == "2003-04-09" and trial.first_post_date.type == "ESTIMATED"
    assert trial.last_update == "2017-12-22"
    assert trial.status_verified_date == "2017-11"
    assert trial.lead_sponsor.sponsor_class == "OTHER"
    assert [(c.name, c.sponsor_class) for c in trial.collaborators] == [
        ("National Cancer Institute (NCI)", "NIH")
    ]
    assert trial.responsible_party.type == "SPONSOR"
    assert trial.officials[0].name == "Jeffrey Bradley, MD" and trial.officials[0].role == "STUDY_CHAIR"
    assert len(trial.locations) == 41
    first = trial.locations[0]
    assert (first.facility, first.city, first.state, first.zip, first.country) == (
        "Mobile Infirmary Medical Center",
        "Mobile",
        "Alabama",
        "36652-2144",
        "United States",
    )
    assert [a.type for a in trial.arms] == ["EXPERIMENTAL"] * 4
    assert trial.arms[0].intervention_names == (
        "Drug: carboplatin",
        "Drug: paclitaxel",
        "Radiation: three-dimensional conformal radiation therapy",
    )
    assert [x.type for x in trial.interventions] == ["DRUG", "DRUG", "RADIATION"]
    assert len(trial.interventions[0].arm_group_labels) == 4
    assert [o.kind for o in trial.outcomes] == [
        "primary",
        "primary",
        "secondary",
        "secondary",
        "secondary",
        "secondary",
    ]
    assert {r.type for r in trial.references} == {"RESULT"}
    assert trial.references[0].pmid == "20368547"
    assert [m.term for m in trial.condition_mesh] == ["Lung Neoplasms", "Carcinoma, Non-Small-Cell Lung"]
    assert trial.condition_ancestors == ()  # XML carries no ancestors
    elig = trial.eligibility
    assert (elig.sex, elig.healthy_volunteers, elig.minimum_age, elig.maximum_age) == (
        "ALL",
        False,
        None,
        None,
    )
    assert elig.std_ages == ("CHILD", "ADULT", "OLDER_ADULT")


def test_text_blocks_are_unwrapped_into_bullets():
    trial = load("NCT00023673.xml")
    assert trial.brief_summary.startswith(
        "RATIONALE: Radiation therapy uses high-energy x-rays to damage tumor cells. "
        "Drugs used in chemotherapy, such"
    )
    assert "\n\nPURPOSE: This phase I/II trial" in trial.brief_summary
    criteria = trial.eligibility.criteria
    assert criteria.startswith(
        "DISEASE CHARACTERISTICS:\n\n"
        "* Histologically or cytologically confirmed unresectable stage IIIB non-small cell lung cancer\n"
        "  * Squamous cell carcinoma\n  * Adenocarcinoma\n"
    )
    assert "\n\nHematopoietic:\n\n* Granulocyte count at least 1,500/mm^3\n* Platelet count" in criteria
    assert "      " not in criteria and not any(line.startswith("-") for line in criteria.splitlines())
    description = trial.detailed_description
    assert description.startswith(
        "OBJECTIVES:\n\n* Determine the maximum tolerated dose of 3-dimensional "
        "conformal "
        "radiotherapy when administered concurrently"
    )


def test_results_of_a_trial():
    results = load("NCT00023673.xml").results
    started = results.participant_flow.periods[0].milestones[0]
    assert started.type == "STARTED"
    assert [(c.group_id, c.value) for c in started.counts] == [
        ("P1", "8"),
        ("P2", "9"),
        ("P3", "0"),
        ("P4", "46"),
    ]
    completed = results.participant_flow.periods[0].milestones[1]
    assert completed.counts[0].comment.startswith("Phase I eligible patients starting protocol treatment")
    mtd = results.outcome_measures[0]
    assert mtd.title.startswith("Maximum Tolerated Dose (MTD) of Three-dimensional Conformal Radiation")
    assert (mtd.type, mtd.param_type, mtd.unit_of_measure) == ("PRIMARY", "NUMBER", "units on a scale")
    assert [(c.group_id, c.value) for c in mtd.denoms] == [("O1", "7"), ("O2", "7")]
    assert [m.value for m in mtd.classes[0].categories[0].measurements] == ["0", "1"]
    survival = results.outcome_measures[1]
    assert survival.title == "Percentage of Patients Who Survive at Least 12 Months"
    assert survival.dispersion_type == "95% Confidence Interval"
    value = survival.classes[0].categories[0].measurements[0]
    assert (value.group_id, value.value, value.lower_limit, value.upper_limit) == (
        "O1",
        "75.5",
        "61.5",
        "85.0",
    )
    events = results.adverse_events
    assert [(g.id, g.serious_affected, g.serious_at_risk) for g in events.groups] == [
        ("E1", 7, 8),
        ("E2", 36, 53),
    ]
    assert all(not e.term.startswith("Total, ") for e in events.serious + events.other)
    first = events.serious[0]
    assert (first.term, first.organ_system, first.source_vocabulary) == (
        "Hemoglobin decreased",
        "Blood and lymphatic system disorders",
        "CTCAE (2.0)",
    )
    assert first.assessment_type == "NON_SYSTEMATIC_ASSESSMENT"
    assert [(s.group_id, s.num_affected, s.num_at_risk) for s in first.stats] == [("E1", 2, 8), ("E2", 1, 53)]


def test_record_from_before_2017_with_old_tags():
    """NCT01101477 (2013 download): <study_design> line, measure lists, old date names."""
    trial = load("NCT01101477.xml")
    assert trial.overall_status == "TERMINATED"
    assert (
        trial.why_stopped
        == "Hypoxemia(SPaO2<80%) episodes occured significantly in the arm titration by 0.5ug/ml"
    )
    assert trial.design.phases == ("NA",)
    assert (trial.design.allocation, trial.design.intervention_model) == ("RANDOMIZED", "PARALLEL")
    assert (trial.design.masking, trial.design.who_masked) == ("DOUBLE", ("PARTICIPANT", "CARE_PROVIDER"))
    assert trial.eligibility.sex == "ALL"  # "Both"
    assert trial.first_submit_date == "2010-04-07"  # firstreceived_date
    assert trial.last_update_submit_date == "2011-11-05"  # lastchanged_date
    assert trial.responsible_party.investigator_name == "林定佑"
    hypoxemia = trial.results.outcome_measures[0]
    assert [(c.group_id, c.value) for c in hypoxemia.denoms] == [("O1", "44"), ("O2", "46"), ("O3", "45")]
    assert [m.value for m in hypoxemia.classes[0].categories[0].measurements] == ["29", "22", "18"]
    assert hypoxemia.analyses[0].p_value == "0.05" and hypoxemia.analyses[0].group_ids == ("O1", "O2", "O3")
    age = trial.results.baseline.measures[1]
    assert [c.title for c in age.classes[0].categories] == [
        "<=18 years",
        "Between 18 and 65 years",
        ">=65 years",
    ]
    assert next((g.id, g.other_affected, g.other_at_risk) for g in trial.results.adverse_events.groups) == (
        "E1",
        6,
        44,
    )


def test_withdrawn_trial_without_sites():
    trial = load("NCT02591810.xml")
    assert trial.overall_status == "WITHDRAWN"
    assert trial.design.enrollment_count == 0 and trial.design.enrollment_type == "ACTUAL"
    assert trial.locations == () and trial.countries == ()
    assert trial.design.phases == ("NA",)


def test_trial_with_many_sites():
    trial = load("NCT00490139.xml")
    assert trial.brief_title.startswith("ALTTO (Adjuvant Lapatinib And/Or Trastuzumab Treatment")
    assert len(trial.locations) == 1412
    assert trial.locations[1].city == "Anchorage" and trial.locations[1].state == "Alaska"
    assert trial.design.enrollment_count == 8382
    assert trial.start_date.date == "2007-05-16" and trial.start_date.type == "ACTUAL"
    assert trial.countries[0] == "United States"


def test_ages_in_months_and_weeks():
    trial = load("NCT02028676.xml")
    assert (trial.eligibility.minimum_age, trial.eligibility.maximum_age) == ("3 Months", "17 Years")
    assert trial.eligibility.minimum_age_days == pytest.approx(91.3125)
    assert trial.eligibility.std_ages == ("CHILD",)
    weeks = load("NCT05381285.xml").eligibility
    assert (weeks.minimum_age, weeks.maximum_age, weeks.maximum_age_days) == ("0 Weeks", "16 Weeks", 112.0)


def test_withheld_record_without_eligibility():
    trial = load("NCT03182660.xml")
    assert trial.overall_status == "WITHHELD"
    assert trial.eligibility.criteria is None and trial.eligibility.sex is None
    assert trial.design.study_type == "NA"
    assert trial.lead_sponsor.name == "[Redacted]" and trial.lead_sponsor.sponsor_class is None


def test_observational_design_and_contacts():
    cohort = load("NCT00513591.xml")
    assert cohort.design.study_type == "OBSERVATIONAL"
    assert (cohort.design.observational_model, cohort.design.time_perspective) == ("COHORT", "PROSPECTIVE")
    nih = load("NCT00001177.xml")
    assert nih.central_contacts[0].name == "Peter J Schmidt, M.D."
    assert nih.central_contacts[0].email == "peterschmidt@mail.nih.gov"
    assert nih.locations[0].contacts[0].phone == "800-411-1222 ext. TTY8664111010"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Double (Participant, Investigator)", ("DOUBLE", ("PARTICIPANT", "INVESTIGATOR"))),
        ("None (Open Label)", ("NONE", ())),
        ("Open Label", ("NONE", ())),
        ("Double Blind (Subject, Caregiver)", ("DOUBLE", ("PARTICIPANT", "CARE_PROVIDER"))),
        ("Double-Blind", ("DOUBLE", ())),
        (
            "Quadruple (Participant, Care Provider, Investigator, Outcomes Assessor)",
            ("QUADRUPLE", ("PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR", "OUTCOMES_ASSESSOR")),
        ),
        ("SINGLE (OUTCOMES_ASSESSOR)", ("SINGLE", ("OUTCOMES_ASSESSOR",))),
        ("", (None, ())),
    ],
)
def test_parse_masking(text, expected):
    assert parse_masking(text) == expected


def test_design_line_of_old_records():
    line = (
        "Allocation:  Randomized, Endpoint Classification:  Safety/Efficacy Study, Intervention Model:  "
        "Parallel Assignment, Masking:  Double Blind (Subject, Caregiver), Primary Purpose:  Treatment"
    )
    assert split_design_line(line) == {
        "allocation": "Randomized",
        "intervention_model": "Parallel Assignment",
        "masking": "Double Blind (Subject, Caregiver)",
        "primary_purpose": "Treatment",
    }


def test_std_ages_follow_the_registry_age_groups():
    year = 365.25
    assert derive_std_ages(18 * year, 75 * year) == ("ADULT", "OLDER_ADULT")
    assert derive_std_ages(3 * year, 18 * year) == ("CHILD", "ADULT")
    assert derive_std_ages(65 * year, None) == ("OLDER_ADULT",)
    assert derive_std_ages(None, 17 * year) == ("CHILD",)


def test_unwrap_textblock_joins_wrapped_lines_only():
    wrapped = (
        "\n      " + "word " * 18 + "wrapped\n      here.\n\n      Short line.\n"
        "        -  An item that the registry wrapped at ninety-nine columns so that this line ends\n"
        "           here.\n\n             -  nested\n      "
    )
    assert unwrap_textblock(wrapped) == (
        "word " * 18 + "wrapped here.\n\nShort line.\n\n"
        "* An item that the registry wrapped at ninety-nine columns so that this line ends here.\n  * nested"
    )
    assert unwrap_textblock("   \n  ") is None


def test_errors_are_parse_errors_with_a_reason():
    with pytest.raises(ParseError, match="malformed XML"):
        parse_xml_study(b"<clinical_study><id_info>")
    with pytest.raises(NotAStudyError, match="root element is <search_results>"):
        parse_xml_study(b"<search_results><study/></search_results>")
    with pytest.raises(ParseError, match="no valid NCT id"):
        parse_xml_study(b"<clinical_study><brief_title>x</brief_title></clinical_study>")
    with pytest.raises(ParseError, match="empty"):
        parse_xml_study(b"")
    declared = b'<?xml version="1.0" encoding="UTF-8"?><clinical_study><brief_title>Caf\xe9</brief_title>'
    with pytest.raises(ParseError, match=r"^invalid UTF-8 at byte 70 \(0xe9\) \(line 1, column"):
        parse_xml_study(declared)
    with pytest.raises(ParseError, match="^XML entity declarations refused"):
        parse_xml_study(b'<!DOCTYPE c [<!ENTITY x "y">]><clinical_study>&x;</clinical_study>')
    trial = parse_xml_study(
        b"<clinical_study><id_info><nct_id>nct00000102</nct_id></id_info>"
        b"<enrollment type='Anticipated'>about forty</enrollment></clinical_study>"
    )
    assert trial.nct_id == "NCT00000102"
    assert trial.design.enrollment_count is None and trial.design.enrollment_type == "ESTIMATED"


def test_entities_are_never_expanded_or_fetched(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<clinical_study><id_info><nct_id>NCT00000102</nct_id></id_info><brief_title>&x;</brief_title>"
        "</clinical_study>"
    ).encode()
    try:
        trial = parse_xml_study(xxe)
    except ParseError:
        pass
    else:
        assert "TOP-SECRET" not in (trial.brief_title or "")
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(f'<!ENTITY {n} "{("&" + p + ";") * 10}">'.encode() for p, n in zip("abcdefgh", "bcdefghi"))
        + b"]><clinical_study><id_info><nct_id>NCT00000102</nct_id></id_info><brief_title>&i;</brief_title>"
        b"</clinical_study>"
    )
    try:
        trial = parse_xml_study(laughs)
    except ParseError:
        pass
    else:
        assert len(trial.brief_title or "") < 1000


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_raise_only_parse_errors(data):
    try:
        parse_xml_study(data)
    except ParseError:
        pass


_REAL = (XML_DIR / "aact_fixtures" / "NCT00023673.xml").read_bytes()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(_REAL)), st.integers(0, 400), st.binary(max_size=40))
def test_damaged_real_records_raise_only_parse_errors(start, length, insert):
    damaged = _REAL[:start] + insert + _REAL[start + length :]
    try:
        trial = parse_xml_study(damaged)
    except ParseError:
        pass
    else:
        assert trial.nct_id.startswith("NCT")


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60))
def test_random_text_in_every_element_raises_only_parse_errors(text):
    from xml.sax.saxutils import escape

    value = escape(text).encode("utf-8", "replace")
    tags = [b"overall_status", b"phase", b"enrollment", b"start_date", b"study_design", b"minimum_age"]
    body = b"".join(b"<%s>%s</%s>" % (t, value, t) for t in tags)
    head = b"<clinical_study><id_info><nct_id>NCT00000102</nct_id></id_info>"
    document = head + body + b"</clinical_study>"
    try:
        parse_xml_study(document)
    except ParseError:
        pass
