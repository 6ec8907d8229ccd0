"""More Related Trials on a real store: the seed's neighbours, reasons, filters, duplicates, updates."""

from __future__ import annotations

import copy
import functools
import re
import shutil
from pathlib import Path

import orjson
import pytest

from trialscope.ctgov.parse import parse_study
from trialscope.errors import StoreError, TrialNotFoundError
from trialscope.ingest import ingest_trials
from trialscope.search.geo import canonical_country
from trialscope.similar import (
    Related,
    build_index,
    has_index,
    related_for_page,
    related_trials,
    update_index_after_ingest,
)
from trialscope.similar.concepts import concepts_of
from trialscope.similar.features import normalize_concept, normalize_intervention
from trialscope.similar.words import REASON_STOPWORDS, content_stems
from trialscope.store import SqliteStore, StoredRecord, open_store

SEED_FILE = Path(__file__).resolve().parents[2] / "shared" / "seed" / "NCT04184258.json"
SEED = "NCT04184258"
TWIN = "NCT99000001"  # the seed registered a second time: same title, same sponsor
ACUPUNCTURE = "NCT00493753"  # "Acupuncture for Systemic Lupus": the seed's condition, another treatment
MSC = "mesenchymal stem cells"


def _seed_json() -> dict:  # type: ignore[type-arg]
    return orjson.loads(SEED_FILE.read_bytes())


def _record(study: dict) -> StoredRecord:  # type: ignore[type-arg]
    raw = orjson.dumps(study)
    return StoredRecord(parse_study(study), raw, source_file="test")


def _copy_store(source: Path, target: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")
    return target


@pytest.fixture(scope="module")
def indexed_path(full_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every real record, the seed and its twin, with a built index."""
    path = _copy_store(full_store_path, tmp_path_factory.mktemp("similar") / "related.db")
    twin = _seed_json()
    twin["protocolSection"]["identificationModule"]["nctId"] = TWIN
    store = open_store(path)
    ingest_trials(store, [_record(twin)])
    build_index(store)
    store.close()
    return path


@pytest.fixture(scope="module")
def store(indexed_path: Path):  # type: ignore[no-untyped-def]
    opened = open_store(indexed_path, readonly=True)
    yield opened
    opened.close()


def _mentions_msc_lupus_or_autoimmune(store: SqliteStore, nct_id: str) -> bool:
    trial = store.get_trial(nct_id)
    text = " ".join(
        [
            trial.title,
            trial.official_title or "",
            *trial.conditions,
            *trial.keywords,
            *(m.term for m in (*trial.condition_mesh, *trial.condition_ancestors)),
            *(f"{i.name} {' '.join(i.other_names)} {i.description or ''}" for i in trial.interventions),
        ]
    ).lower()
    return bool(re.search(r"lupus|autoimmun|mesenchymal|stromal|stem cell|\bmsc", text))


def test_seed_top_ten_are_msc_lupus_or_autoimmune_trials(store: SqliteStore) -> None:
    related = related_trials(store, SEED, limit=10)
    assert len(related) == 10
    assert all(_mentions_msc_lupus_or_autoimmune(store, r.nct_id) for r in related), [
        r.nct_id for r in related
    ]
    lupus = [r for r in related if "lupus" in " ".join(store.get_trial(r.nct_id).conditions).lower()]
    assert len(lupus) >= 5
    assert [r.score for r in related] == sorted((r.score for r in related), reverse=True)


def test_self_and_twin_are_never_listed(store: SqliteStore) -> None:
    seed_list = [r.nct_id for r in related_trials(store, SEED, limit=100)]
    twin_list = [r.nct_id for r in related_trials(store, TWIN, limit=100)]
    assert SEED not in seed_list and TWIN not in seed_list
    assert SEED not in twin_list and TWIN not in twin_list
    # The twin is the seed itself, so it finds the same trials.
    assert seed_list[:10] == twin_list[:10]


def _words(text: str) -> set[str]:
    return set(content_stems(text))


@functools.cache
def _thesaurus(path: str):  # type: ignore[no-untyped-def]
    from trialscope.similar.extract import learn_thesaurus

    return learn_thesaurus(open_store(path, readonly=True))


def _intervention_words(trial, book) -> set[str]:  # type: ignore[no-untyped-def]
    """Words of a trial's intervention names and MeSH terms, abbreviations spelled out as the index does."""
    words = set()
    for item in trial.interventions:
        for name in (item.name, *item.other_names):
            words |= set(content_stems(name))
            for word in re.split(r"[^A-Za-z0-9]+", name):
                words |= set(book.expand(word) or ())
    return words | {w for m in trial.intervention_mesh for w in content_stems(m.term)}


def _texts(trial) -> list[str]:  # type: ignore[no-untyped-def]
    """Every text of a trial the text features read."""
    return [
        t
        for t in (
            trial.brief_title,
            trial.official_title,
            trial.acronym,
            " ".join(trial.conditions),
            " ".join(trial.keywords),
            " ".join(i.name for i in trial.interventions),
            trial.brief_summary,
            trial.detailed_description,
            " ".join(o.measure for o in trial.outcomes),
            trial.eligibility.criteria,
        )
        if t
    ]


def _written(trial) -> set[str]:  # type: ignore[no-untyped-def]
    """The words of a trial's title, conditions, keywords, interventions and summary, as written."""
    texts = (trial.brief_title, trial.official_title, *trial.conditions, *trial.keywords, trial.brief_summary)
    texts += tuple(i.name for i in trial.interventions)
    return {w for text in texts if text for w in re.findall(r"[^\W_]+", text)}


def _condition_keys(trial, ancestors: bool = False) -> set[str]:  # type: ignore[no-untyped-def]
    """A trial's condition names (as written and MeSH), or its MeSH ancestors, as keys."""
    if ancestors:
        return {normalize_concept(m.term) for m in trial.condition_ancestors}
    return {normalize_concept(n) for n in (*trial.conditions, *(m.term for m in trial.condition_mesh))}


def _check_reason(store: SqliteStore, mine_id: str, theirs_id: str, reason: str) -> None:
    mine, theirs = store.get_trial(mine_id), store.get_trial(theirs_id)
    assert not re.fullmatch(r"[\W\d.]*", reason), reason
    kind, _, value = reason.partition(": ")
    if kind == "same condition":
        for trial in (mine, theirs):
            names = {
                normalize_concept(n) for n in (*trial.conditions, *(m.term for m in trial.condition_mesh))
            }
            # A record without MeSH terms has the condition inside its condition names (or title).
            written = " | ".join(normalize_concept(n) for n in (*trial.conditions, trial.title))
            key = normalize_concept(value)
            assert key in names or (not trial.condition_mesh and f" {key} " in f" {written} "), (
                reason,
                trial.nct_id,
            )
    elif reason.startswith("related condition (both under "):
        term = reason.removeprefix("related condition (both under ").removesuffix(")")
        for trial in (mine, theirs):
            assert normalize_concept(term) in {normalize_concept(m.term) for m in trial.condition_ancestors}
    elif kind == "shared intervention":
        book = _thesaurus(store.path)
        for trial in (mine, theirs):
            named = [i.name for i in trial.interventions] + [
                n for i in trial.interventions for n in i.other_names
            ]
            if value in concepts_of([*named, trial.title]):
                continue  # a kind of treatment: every one of its spellings is the same thing
            assert set(normalize_intervention(value)) <= _intervention_words(trial, book), (
                reason,
                trial.nct_id,
            )
    elif kind == "same phase":
        assert mine.phase_label == theirs.phase_label
        assert value == mine.phase_label.replace("EARLY_PHASE", "Early Phase ").replace("PHASE", "Phase ")
    elif kind == "same sponsor":
        for trial in (mine, theirs):
            assert value.lower() in {s.name.lower() for s in trial.sponsors}
    elif kind == "similar description":
        for word in value.split(", "):
            # As one of the two trials writes it (a Title Case word lower-cased), never a stem ...
            assert word in _written(mine) | _written(theirs) or word.capitalize() in _written(
                mine
            ) | _written(theirs), (reason, word)
            # ... in both trials' text, and not the language of consent and eligibility.
            for trial in (mine, theirs):
                assert set(content_stems(word)) <= _words(" ".join(_texts(trial))), (reason, trial.nct_id)
            assert word.lower() not in REASON_STOPWORDS, reason
    elif kind == "related condition":
        narrower, _, broader = value.partition(" is a kind of ")
        assert any(
            normalize_concept(broader) in _condition_keys(a)
            and normalize_concept(broader) in _condition_keys(b, ancestors=True)
            and normalize_concept(narrower) in _condition_keys(b)
            for a, b in ((mine, theirs), (theirs, mine))
        ), reason
    else:
        pytest.fail(f"unexpected reason {reason!r}")


@pytest.mark.parametrize("nct_id", [SEED, "NCT00698191", "NCT02633163"])
def test_reasons_are_present_and_true(store: SqliteStore, nct_id: str) -> None:
    related = related_trials(store, nct_id, limit=10)
    assert related
    for r in related:
        assert r.reasons, r.nct_id
        for reason in r.reasons:
            _check_reason(store, nct_id, r.nct_id, reason)


def test_seed_reasons_name_lupus_and_stem_cells(store: SqliteStore) -> None:
    reasons = [reason for r in related_trials(store, SEED, limit=10) for reason in r.reasons]
    assert "same condition: Lupus Erythematosus, Systemic" in reasons
    assert "shared intervention: mesenchymal stem cells" in reasons
    assert "same phase: Phase 1/Phase 2" in reasons


def _trials_of_lupus_and_msc(store: SqliteStore) -> set[str]:
    """Trials with lupus among their MeSH conditions (or ancestors) that give mesenchymal stem
    cells, in whichever spelling (an intervention's names or the title say it)."""
    found = set()
    for nct_id in store.nct_ids():
        trial = store.get_trial(nct_id)
        mesh = " ".join(m.term for m in (*trial.condition_mesh, *trial.condition_ancestors)).lower()
        names = [n for i in trial.interventions for n in (i.name, *i.other_names)]
        if "lupus" in mesh and MSC in concepts_of([*names, trial.title]):
            found.add(nct_id)
    return found - {SEED, TWIN}


def test_trials_sharing_condition_and_treatment_come_before_those_sharing_one(store: SqliteStore) -> None:
    both = _trials_of_lupus_and_msc(store)
    assert len(both) >= 10 and "NCT00659217" in both  # lupus nephritis, MSC: was 23rd
    listed = [r.nct_id for r in related_trials(store, SEED, limit=60)]
    # The acupuncture trial shares the condition only: it is related, but after every trial
    # that also gives mesenchymal stem cells (it used to be 9th, with "read, understand").
    assert ACUPUNCTURE in listed
    assert max(listed.index(n) for n in both) < listed.index(ACUPUNCTURE), [
        n for n in listed[: listed.index(ACUPUNCTURE)] if n not in both
    ]
    # And those trials lead the list: nothing ranks among them that shares only one thing.
    assert set(listed[: len(both)]) == both


def test_reasons_are_words_as_written_never_boilerplate(store: SqliteStore) -> None:
    acupuncture = next(r for r in related_trials(store, SEED, limit=60) if r.nct_id == ACUPUNCTURE)
    assert not {"read", "understand"} & {
        w for reason in acupuncture.reasons for w in re.findall(r"\w+", reason)
    }
    words = []
    for nct_id in (SEED, ACUPUNCTURE, "NCT00698191", "NCT02633163"):
        for r in related_trials(store, nct_id, limit=20):
            for reason in r.reasons:
                assert "PHASE" not in reason and "_" not in reason, reason  # enums are said in words
                kind, _, value = reason.partition(": ")
                if kind == "similar description":
                    words += value.split(", ")
    assert words and not REASON_STOPWORDS.intersection(w.lower() for w in words)
    assert "SLE" in words  # an abbreviation keeps its capitals
    assert "nephritis" in words and "nephriti" not in words  # a word, never its stem


def test_countries_are_named_one_way(store: SqliteStore) -> None:
    """Site countries are listed once each, by one name, however the records spell them."""
    respelled = 0
    for r in related_trials(store, SEED, limit=100):
        assert len(set(r.countries)) == len(r.countries)
        assert all(canonical_country(c) == c for c in r.countries)
        written = {site.country for site in store.get_trial(r.nct_id).locations if site.country}
        assert {canonical_country(c) for c in written} == set(r.countries)
        respelled += bool(written - set(r.countries))  # e.g. "Korea, Republic of" shown "South Korea"
    assert respelled
    korea = related_trials(store, SEED, limit=10, countries=["Korea, Republic of"])
    assert korea and all("South Korea" in r.countries for r in korea)


def test_filters_keep_only_matching_trials(store: SqliteStore) -> None:
    recruiting = related_trials(store, SEED, limit=10, statuses=["recruiting"])
    assert recruiting and all(r.status == "RECRUITING" for r in recruiting)
    phase2 = related_trials(store, SEED, limit=10, phases=["2"])
    assert phase2 and all("PHASE2" in (r.phase or "").split("/") for r in phase2)
    with_results = related_trials(store, SEED, limit=5, has_results=True)
    assert with_results and all(r.has_results for r in with_results)
    china = related_trials(store, SEED, limit=10, countries=["china"])
    assert china and all("China" in r.countries for r in china)
    unfiltered = {r.nct_id for r in related_trials(store, SEED, limit=100)}
    assert {r.nct_id for r in recruiting} - unfiltered == set() or len(recruiting) == 10


def test_filtered_list_is_filled_beyond_the_stored_neighbours(store: SqliteStore) -> None:
    lupus_us = related_trials(store, SEED, limit=25, countries=["United States"])
    assert len(lupus_us) >= 5
    assert all("United States" in r.countries for r in lupus_us)
    assert len({r.nct_id for r in lupus_us}) == len(lupus_us)


def test_unknown_trial_and_missing_index(store: SqliteStore, tmp_path: Path) -> None:
    with pytest.raises(TrialNotFoundError):
        related_trials(store, "NCT00000000")
    empty = open_store(tmp_path / "empty.db")
    assert related_for_page(empty, SEED) == []
    with pytest.raises(StoreError):
        related_trials(empty, SEED)


def test_page_entries_come_from_the_index(store: SqliteStore) -> None:
    page = related_for_page(store, SEED, limit=5)
    direct = related_trials(store, SEED, limit=5)
    assert [p.nct_id for p in page] == [r.nct_id for r in direct]
    assert all(p.reasons for p in page)


def test_index_survives_reopening(indexed_path: Path) -> None:
    reopened = open_store(indexed_path)
    try:
        assert has_index(reopened)
        assert update_index_after_ingest(reopened) is None  # nothing changed: no rebuild
        assert isinstance(related_trials(reopened, SEED)[0], Related)
    finally:
        reopened.close()


def test_update_after_ingesting_a_changed_record(indexed_path: Path, tmp_path: Path) -> None:
    store = open_store(_copy_store(indexed_path, tmp_path / "update.db"))
    try:
        target = "NCT04835883" if store.has_trial("NCT04835883") else "NCT02633163"
        before = [r.nct_id for r in related_trials(store, target, limit=10)]
        # A changed record: the same trial now studies asthma with an inhaler, and was updated later.
        study = copy.deepcopy(_seed_json())
        ident = study["protocolSection"]["identificationModule"]
        ident["nctId"] = target
        ident["briefTitle"] = "Inhaled budesonide for severe asthma in adults"
        ident.pop("officialTitle", None)
        study["protocolSection"]["conditionsModule"] = {
            "conditions": ["Asthma"],
            "keywords": ["asthma", "inhaler"],
        }
        study["protocolSection"]["descriptionModule"] = {
            "briefSummary": "Budesonide inhaler for adults with asthma."
        }
        study["protocolSection"]["sponsorCollaboratorsModule"] = {
            "leadSponsor": {"name": "Asthma Test Sponsor"}
        }
        study["protocolSection"]["armsInterventionsModule"] = {
            "interventions": [{"type": "DRUG", "name": "Budesonide inhaler"}]
        }
        study["derivedSection"] = {}
        study["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"] = {
            "date": "2030-01-01",
            "type": "ACTUAL",
        }
        assert ingest_trials(store, [_record(study)]).replaced == 1

        stats = update_index_after_ingest(store)
        assert stats is not None and not stats.full and stats.recomputed == 1
        after = related_trials(store, target, limit=10)
        assert [r.nct_id for r in after] != before
        assert any("asthma" in " ".join(store.get_trial(r.nct_id).conditions).lower() for r in after)
        # The changed trial left the lists of the lupus trials it was in.
        assert target not in [r.nct_id for r in related_trials(store, SEED, limit=100)]
        assert update_index_after_ingest(store) is None

        # A new trial much like the seed (another sponsor, so not a twin) enters the seed's list.
        sibling = copy.deepcopy(_seed_json())
        sibling["protocolSection"]["identificationModule"]["nctId"] = "NCT99000002"
        sibling["protocolSection"]["identificationModule"]["briefTitle"] += " in Children"
        sibling["protocolSection"]["sponsorCollaboratorsModule"] = {
            "leadSponsor": {"name": "Another Institute"}
        }
        ingest_trials(store, [_record(sibling)])
        stats = update_index_after_ingest(store)
        assert stats is not None and stats.recomputed == 1 and stats.refreshed >= 1
        assert related_trials(store, SEED, limit=3)[0].nct_id == "NCT99000002"
    finally:
        store.close()


def test_cli_related_and_index(
    indexed_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trialscope.cli import main

    path = _copy_store(indexed_path, tmp_path / "cli.db")
    assert main(["related", SEED, "--limit", "3", "--format", "json", "--db", str(path)]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert len(shown) == 3 and all(item["reasons"] for item in shown)
    assert main(["related", SEED, "--status", "recruiting", "--db", str(path)]) == 0
    text = capsys.readouterr().out
    assert "RECRUITING" in text and " - " in text
    assert main(["index", "--db", str(path), "--no-progress"]) == 0
    assert "search: 11,890 trials indexed" in capsys.readouterr().out  # the search index was not built yet
    assert main(["index", "--db", str(path), "--no-progress"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_conditions_without_mesh_are_found_from_other_records(store: SqliteStore) -> None:
    from trialscope.similar.extract import learn_thesaurus

    book = learn_thesaurus(store)
    trial = store.get_trial("NCT06694298")  # "Refractory Active Systemic Lupus Erythematosus", no MeSH terms
    assert not trial.condition_mesh
    bag, named = book.infer(trial)
    assert (
        named.get("c:" + normalize_concept("Systemic Lupus Erythematosus")) == "Lupus Erythematosus, Systemic"
    )
    assert "c:" + normalize_concept("Autoimmune Diseases") in bag
    assert SEED in [r.nct_id for r in related_trials(store, "NCT06694298", limit=10)]


def test_consent_and_eligibility_boilerplate_does_not_relate_trials(store: SqliteStore) -> None:
    """Words of criteria count as far as the registry uses them to say what trials are about:
    "pregnant" (criteria of thousands of trials, titles of few) hardly at all, "nephritis" nearly
    fully. The seed and the acupuncture trial both ask that a patient "read and understand": those
    words add almost nothing to their score (before topicality they added 5 times as much)."""
    from trialscope.analyze import stem
    from trialscope.similar.index import load_vocabulary, stored_weights
    from trialscope.similar.reasons import Column, shared_features
    from trialscope.similar.vectors import unpack_row

    vocab = load_vocabulary(store)
    _, factor = vocab.topicality()
    topicality = {w: float(factor[vocab.ids["~" + stem(w)]]) for w in ("pregnant", "lactation", "nephritis")}
    assert topicality["pregnant"] < 0.1 and topicality["lactation"] < 0.1 and topicality["nephritis"] > 0.5

    ids = store.ids_of([SEED, ACUPUNCTURE])
    rows = store.select_in("similar_trials", ("trial_id", "vector"), "trial_id", list(ids.values()))
    vectors = {trial_id: unpack_row(blob) for trial_id, blob in rows}
    columns = {i: Column(vocab.blocks[i], vocab.keys[i], float(vocab.idf[i])) for i in range(len(vocab))}
    weights = stored_weights(store).normalized().as_tuple()
    pair = shared_features(vectors[ids[SEED]], vectors[ids[ACUPUNCTURE]], columns, weights)
    shared = {c.key: share for share, c in pair}
    total = sum(shared.values())
    assert not [key for key in shared if key.startswith("~")]  # criteria words live in their word's column
    assert shared.get(stem("read"), 0.0) + shared.get(stem("understand"), 0.0) < 1e-4 * total
    assert shared[stem("lupus")] > 0.05 * total


def test_stems_enter_a_bag_in_text_order_whatever_was_seen_before() -> None:
    """A second build in one process numbers the vocabulary as the first did (the words seen by
    an earlier build must not move the words it knows ahead of the new ones)."""
    from trialscope.similar import words

    text = "zygote alpha beta zygote gamma"
    words._WRITTEN.clear()
    cold: dict[str, float] = {}
    words.add_stems(cold, text, 1.0, limit=1000)
    words._WRITTEN.clear()
    words.add_stems({}, "gamma beta", 1.0, limit=1000)  # an earlier text: these two are known now
    warm: dict[str, float] = {}
    words.add_stems(warm, text, 1.0, limit=1000)
    assert list(cold) == list(warm) and cold == warm
