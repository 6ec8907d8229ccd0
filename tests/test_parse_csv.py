"""ClinicalTrials.gov website CSV exports -> summary-only Trials, checked on the real exports."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trialscope.ctgov.csv_export import (
    CLASSIC_SITE,
    COLUMNS,
    NEW_SITE,
    detect_layout,
    iter_csv_trials,
    parse_age,
    parse_csv_row,
    parse_intervention,
    split_outcome,
    split_place,
)
from trialscope.errors import NotAStudyError, ParseError
from trialscope.model import Site, Trial

SHARED = Path(__file__).resolve().parents[2] / "shared"
CSV_DIR = SHARED / "data" / "ctgov" / "csv_exports"
CLASSIC_DIR = CSV_DIR / "classic_site_searchresults_csv"
CLASSIC = CLASSIC_DIR / "reesewang25__enrollment_and_studylength__SearchResults.csv"
NEW_DIR = CSV_DIR / "new_site_ctg_studies_csv"
UROLOGY = NEW_DIR / "Marc-Morcos__ClinicalTrials-Urology-Database-Word-Counter__ctg-studies.csv"
ALZHEIMER = NEW_DIR / "Marcuselis__Alzheimer__data_ctg-studies.csv"
COVID = NEW_DIR / "saravana87__Clinical-Trials-Graph-using-Neo4j__data_ctg-studies.csv"


def read(path: Path) -> list[Trial | ParseError]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return list(iter_csv_trials(stream))


def by_id(path: Path) -> dict[str, Trial]:
    items = read(path)
    assert all(isinstance(item, Trial) for item in items)
    return {t.nct_id: t for t in items}  # type: ignore[union-attr]


def test_every_csv_export_parses():
    counts = {}
    flagged: set[str] = set()
    every: set[str] = set()
    for path in sorted(CSV_DIR.rglob("*.csv")):
        items = read(path)
        assert not [item for item in items if not isinstance(item, Trial)], path.name
        counts[path.name.split("__")[0]] = len(items)
        every |= {t.nct_id for t in items}
        flagged |= {t.nct_id for t in items if t.has_results}
        assert all(t.summary_only and t.source_format == "csv" for t in items)
    assert counts == {
        "reesewang25": 100,
        "Marc-Morcos": 635,
        "Marcuselis": 717,
        "sammijiyoung2": 4145,
        "saravana87": 839,
    }
    assert len(every) == 5716  # SOURCES.md: 5,716 distinct NCT ids in CSV exports
    assert len(flagged) == 68  # SOURCES.md: 68 flagged with results


def test_layouts_are_told_apart_by_their_headers():
    assert detect_layout(COLUMNS[NEW_SITE].values()) == NEW_SITE
    assert detect_layout(COLUMNS[CLASSIC_SITE].values()) == CLASSIC_SITE
    assert detect_layout(["NCT Number", "Study Title", "Study Type"]) == NEW_SITE
    assert detect_layout(["Rank", "NCT Number", "Title"]) == CLASSIC_SITE
    with pytest.raises(NotAStudyError, match="no 'NCT Number' column"):
        detect_layout(["id", "title"])


def test_classic_search_results_row():
    trial = by_id(CLASSIC)["NCT05712642"]
    assert trial.brief_title == "A Dosing Study of Intravitreal Bevacizumab for Retinopathy of Prematurity"
    assert trial.overall_status == "COMPLETED" and trial.has_results is False
    assert trial.conditions == ("Retinopathy of Prematurity",)
    assert [(x.type, x.name) for x in trial.interventions] == [("DRUG", "Intravitreal Bevacizumab")]
    assert next(o.measure for o in trial.outcomes).startswith("Change in the serum systemic VEGF")
    # The classic export mixes primary and secondary outcomes in one column.
    assert {o.kind for o in trial.outcomes} == {"unspecified"}
    assert (trial.lead_sponsor.name, trial.lead_sponsor.sponsor_class) == ("Cairo University", "OTHER")
    assert trial.eligibility.sex == "ALL"
    assert (trial.eligibility.minimum_age, trial.eligibility.maximum_age) == ("28 Weeks", "40 Weeks")
    assert trial.eligibility.maximum_age_days == 280.0 and trial.eligibility.std_ages == ("CHILD",)
    assert trial.design.phases == ("PHASE3",) and trial.design.enrollment_count == 19
    assert (trial.design.allocation, trial.design.intervention_model, trial.design.primary_purpose) == (
        "RANDOMIZED",
        "PARALLEL",
        "TREATMENT",
    )
    assert (trial.design.masking, trial.design.who_masked) == ("DOUBLE", ("PARTICIPANT", "INVESTIGATOR"))
    assert trial.org_study_id.id == "MD-108-2019"
    assert (trial.start_date.date, trial.primary_completion_date.date, trial.completion_date.date) == (
        "2020-02-01",
        "2020-12-30",
        "2021-01-28",
    )
    assert trial.first_post_date.date == "2023-02-03" and trial.last_update == "2023-02-03"
    assert trial.locations == (
        Site(facility="Faculty of Medicine Cairo University", city="Cairo", country="Egypt"),
    )


def test_classic_row_with_collaborators_and_not_applicable_phase():
    trial = by_id(CLASSIC)["NCT05712629"]
    assert trial.lead_sponsor.name == "Andalas University"
    assert [c.name for c in trial.collaborators] == [
        "National Institute of Health Research and Development, Ministry of Health Republic of Indonesia"
    ]
    assert trial.design.phases == ("NA",)  # "Not Applicable"
    assert trial.design.masking == "TRIPLE"
    assert trial.locations[0] == Site(
        facility="Universitas Andalas", city="Padang", state="West Sumatera", country="Indonesia"
    )


def test_new_site_row_with_every_column():
    trial = by_id(UROLOGY)["NCT06600893"]
    assert trial.overall_status == "COMPLETED" and trial.has_results is False
    assert trial.design.phases == ("NA",) and trial.design.enrollment_count == 35
    assert (trial.design.intervention_model, trial.design.masking) == ("CROSSOVER", "DOUBLE")
    assert [(x.type, x.name) for x in trial.interventions] == [
        ("DEVICE", "Low intensity shockwave therapy (LiSWT)"),
        ("DEVICE", "Sham"),
    ]
    assert (trial.eligibility.sex, trial.eligibility.std_ages) == ("MALE", ("ADULT", "OLDER_ADULT"))
    assert trial.eligibility.minimum_age is None  # the new export gives age groups only
    assert (trial.lead_sponsor.name, trial.lead_sponsor.sponsor_class) == (
        "San Diego Sexual Medicine",
        "OTHER",
    )
    assert [o.kind for o in trial.outcomes] == ["primary"] * 2 + ["secondary"] * 3 + ["other"]
    assert trial.outcomes[0].measure == "Grayscale ultrasound (GUS)"
    assert trial.outcomes[0].time_frame.startswith("Baseline to follow up visit 1 at week 20, and follow up")
    assert trial.outcomes[2].description.endswith("This has a 4 week recall.")
    assert trial.start_date.date == "2019-08-05"
    assert trial.locations == (
        Site(
            facility="San Diego Sexual Medicine",
            city="San Diego",
            state="California",
            zip="92120",
            country="United States",
        ),
    )


def test_new_site_row_with_results():
    trial = by_id(UROLOGY)["NCT01130532"]
    assert trial.has_results and trial.results is None
    assert trial.results_first_post_date.date == "2013-01-04"
    assert (trial.lead_sponsor.name, trial.lead_sponsor.sponsor_class) == (
        "Eli Lilly and Company",
        "INDUSTRY",
    )
    assert trial.design.who_masked == ("PARTICIPANT", "CARE_PROVIDER", "INVESTIGATOR")
    primary = trial.outcomes[0]
    assert primary.measure.startswith("Percentage of Participants Having an International Index of Erectile")
    assert primary.time_frame == "Baseline through 12 weeks"
    assert trial.outcomes[1].time_frame == "Baseline, 12 weeks"
    assert trial.outcomes[1].description.startswith("Self-reported erectile function over the past 4 weeks.")


def test_places_with_commas_in_facility_names():
    sites = by_id(ALZHEIMER)["NCT07251023"].locations
    assert len(sites) == 12
    assert sites[0] == Site(
        facility='State autonomous healthcare institution "Transregional Clinical Diagnostic Center"',
        city="Kazan'",
        zip="420101",
        country="Russia",
    )
    assert {s.country for s in sites} == {"Russia"}
    assert [s.city for s in sites].count("Saint Petersburg") == 5


def test_column_subsets_still_parse():
    trial = by_id(COVID)["NCT04262921"]
    assert trial.overall_status == "ACTIVE_NOT_RECRUITING" and trial.design.study_type == "OBSERVATIONAL"
    assert trial.eligibility.std_ages == ("CHILD", "ADULT", "OLDER_ADULT")
    assert trial.lead_sponsor.sponsor_class is None and trial.locations == () and trial.start_date is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Memorial Sloan Kettering Cancer Center, New York, New York, 10065, United States",
            Site(
                facility="Memorial Sloan Kettering Cancer Center",
                city="New York",
                state="New York",
                zip="10065",
                country="United States",
            ),
        ),
        (
            "Coastal Neurology, P.A., Port Royal, South Carolina, 29935, United States",
            Site(
                facility="Coastal Neurology, P.A.",
                city="Port Royal",
                state="South Carolina",
                zip="29935",
                country="United States",
            ),
        ),
        (
            "Rochester, Minnesota, 55905, United States",
            Site(city="Rochester", state="Minnesota", zip="55905", country="United States"),
        ),
        (
            "Baltimore, Maryland, United States",
            Site(city="Baltimore", state="Maryland", country="United States"),
        ),
        (
            "Beijing Tiantan Hospital, Capital Medical University, Beijing, Beijing Municipality, 100070, China",
            Site(
                facility="Beijing Tiantan Hospital, Capital Medical University",
                city="Beijing",
                state="Beijing Municipality",
                zip="100070",
                country="China",
            ),
        ),
        (
            "Bluewater Clinical Research Group Inc., Sarnia, Ontario, N7T 4X3, Canada",
            Site(
                facility="Bluewater Clinical Research Group Inc.",
                city="Sarnia",
                state="Ontario",
                zip="N7T 4X3",
                country="Canada",
            ),
        ),
        (
            "Rambam Medical Center, Haifa, Israel",
            Site(facility="Rambam Medical Center", city="Haifa", country="Israel"),
        ),
        ("Minsk, , Belarus", Site(city="Minsk", country="Belarus")),
        ("Many Locations, Poland", Site(city="Many Locations", country="Poland")),
        ("", Site()),
    ],
)
def test_split_place(text, expected):
    assert Site(**split_place(text)) == expected  # an API v2 location: the keys of the model's Site


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "18 Years to 75 Years \xa0 (Adult, Older Adult)",
            ("18 Years", "75 Years", ("ADULT", "OLDER_ADULT")),
        ),
        ("18 Years and older \xa0 (Adult, Older Adult)", ("18 Years", None, ("ADULT", "OLDER_ADULT"))),
        ("up to 18 Years \xa0 (Child)", (None, "18 Years", ("CHILD",))),
        ("1 Day to 1 Month \xa0 (Child)", ("1 Day", "1 Month", ("CHILD",))),
        ("Child, Adult", (None, None, ("CHILD", "ADULT"))),
        ("CHILD, ADULT, OLDER_ADULT", (None, None, ("CHILD", "ADULT", "OLDER_ADULT"))),
        ("", (None, None, ())),
    ],
)
def test_parse_age(text, expected):
    assert parse_age(text) == expected


def test_interventions_and_outcomes_split():
    # Both give API v2 objects (an intervention, an outcome) for parse_study to read.
    assert parse_intervention("DIETARY_SUPPLEMENT: Vitamin D: 2000 IU") == {
        "name": "Vitamin D: 2000 IU",
        "type": "DIETARY_SUPPLEMENT",
    }
    assert parse_intervention("Behavioral: mindfulness-based psychoeducation program")["type"] == "BEHAVIORAL"
    assert parse_intervention("no type here") == {"name": "no type here"}
    assert split_outcome("Pain, Measured on a VAS, 0 to 10., Day 1, Day 7") == {
        "measure": "Pain",
        "description": "Measured on a VAS, 0 to 10.",
        "timeFrame": "Day 1, Day 7",
    }
    assert split_outcome("Pain, up to 12 weeks")["timeFrame"] == "up to 12 weeks"
    assert "description" not in split_outcome("Pain")


def test_bad_rows_become_parse_errors_with_their_row_number():
    text = (
        "NCT Number,Study Title,Study Status,Enrollment,Phases\n"
        "NCT00000102,Fine,COMPLETED,12,PHASE2\n"
        ",No id,RECRUITING,3,PHASE1\n"
        "NCT00000103,Odd values,SOMETHING NEW,many,PHASE9|\n"
    )
    first, second, third = iter_csv_trials(io.StringIO(text))
    assert isinstance(first, Trial) and first.design.enrollment_count == 12
    assert isinstance(second, ParseError) and "row 3" in str(second) and "NCT id" in str(second)
    assert isinstance(third, Trial)
    assert (third.overall_status, third.design.enrollment_count, third.design.phases) == (
        "SOMETHING_NEW",
        None,
        ("PHASE9",),
    )
    with pytest.raises(NotAStudyError):
        list(iter_csv_trials(io.StringIO("id,name\n1,2\n")))
    with pytest.raises(NotAStudyError):
        list(iter_csv_trials(io.StringIO("")))
    assert parse_csv_row({"NCT Number": "NCT00000104", "Title": "t"}, CLASSIC_SITE).brief_title == "t"
    with pytest.raises(ParseError, match="unknown CSV layout"):
        parse_csv_row({"NCT Number": "NCT00000104"}, "tsv")


def test_an_unreadable_csv_row_stops_with_a_parse_error():
    import csv

    old = csv.field_size_limit(100)
    try:
        items = list(iter_csv_trials(io.StringIO("NCT Number,Study Title\nNCT00000102," + "x" * 200 + "\n")))
    finally:
        csv.field_size_limit(old)
    [error] = items
    assert isinstance(error, ParseError) and "row 2" in str(error)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=80), max_size=6))
def test_random_lines_raise_only_parse_errors(lines):
    try:
        header = "NCT Number,Study Title,Locations,Age,Study Design,Interventions\n"
        for item in iter_csv_trials([header, *lines]):
            assert isinstance(item, (Trial, ParseError))
    except ParseError:
        pass


columns = st.sampled_from(sorted(set(COLUMNS[NEW_SITE].values()) | set(COLUMNS[CLASSIC_SITE].values())))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(columns, st.text(max_size=60) | st.none(), max_size=10),
    st.sampled_from([NEW_SITE, CLASSIC_SITE]),
    st.sampled_from(["NCT00000102", "", "x"]),
)
def test_random_rows_raise_only_parse_errors(row, layout, nct_id):
    row = {**row, "NCT Number": nct_id}
    try:
        trial = parse_csv_row(row, layout)
    except ParseError:
        return
    assert trial.nct_id == "NCT00000102" and trial.summary_only
