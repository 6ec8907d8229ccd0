"""Finding candidate trials for a note (match.find): what the search is given, on a real store."""

from __future__ import annotations

import pytest

from trialscope.match import find_candidates, match_note
from trialscope.model import Trial
from trialscope.patient import patient_from_note
from trialscope.search import SEARCH_INDEX, SearchQuery, search_trials
from trialscope.store import Store, StoredRecord, open_store, refresh_indexes

NOTE = (
    "79 yo F with chronic dyspnea and pulmonary hypertension thought secondary to a chronic ASD; "
    "right heart cath planned."
)


def trial(nct_id: str, title: str, conditions: list[str], summary: str) -> Trial:
    return Trial(nct_id=nct_id, brief_title=title, conditions=tuple(conditions), brief_summary=summary)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    trials = [
        # What teaches the search that ASD may stand for autism spectrum disorder
        trial(
            "NCT00000001",
            "Autism Spectrum Disorder (ASD) in Children",
            ["Autism Spectrum Disorder (ASD)"],
            "Behavioural therapy for ASD.",
        ),
        trial(
            "NCT00000002",
            "Social Skills Training in Autism Spectrum Disorder",
            ["Autism Spectrum Disorder"],
            "Group training of social skills.",
        ),
        trial(
            "NCT00000003",
            "Closure of Atrial Septal Defect in Pulmonary Hypertension",
            ["Pulmonary Hypertension"],
            "Device closure of a secundum ASD before right heart cath.",
        ),
        trial("NCT00000004", "Knee Osteoarthritis Exercise", ["Osteoarthritis, Knee"], "Exercise for knees."),
    ]
    # Others, so the abbreviation is rare enough to be one of the note's telling words
    for i, (condition, what) in enumerate(
        [("Asthma", "Inhaled steroids"), ("Migraine", "Triptans"), ("Psoriasis", "Topical creams"),
         ("Gout", "Allopurinol"), ("Acne", "Retinoids"), ("Glaucoma", "Eye drops")], start=5
    ):  # fmt: skip
        trials.append(
            trial(f"NCT0000000{i}", f"{what} for {condition}", [condition], f"{what} in {condition}.")
        )
    db = open_store(tmp_path_factory.mktemp("find") / "trials.db")
    db.upsert_trials(StoredRecord(t, b"{}") for t in trials)
    refresh_indexes(db, [SEARCH_INDEX], full=True)
    return db


def test_the_search_box_expands_the_abbreviation(store: Store) -> None:
    # The premise: a search for the word alone finds the autism trial that never writes "ASD"
    found = {h.nct_id for h in search_trials(store, SearchQuery(text="ASD")).hits}
    assert "NCT00000002" in found


def test_a_note_is_searched_by_its_words_as_written(store: Store) -> None:
    found = find_candidates(store, patient_from_note(NOTE), text=NOTE)
    ids = [c.nct_id for c in found.candidates]
    assert ids[0] == "NCT00000003"  # the trial that holds most of the note's words
    assert "NCT00000002" not in ids  # "ASD" in a note is not read as autism spectrum disorder
    assert "NCT00000004" not in ids
    assert "most telling words" in found.note


def test_match_note_ranks_the_trial_about_the_patient_first(store: Store) -> None:
    result = match_note(store, NOTE, limit=2)
    assert result.trials[0].nct_id == "NCT00000003"
    assert result.patient.age == 79.0 and result.patient.sex == "female"
    assert {t.nct_id for t in result.trials} == {"NCT00000001", "NCT00000003"}  # "ASD" as written
