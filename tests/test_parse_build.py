"""The table-driven builders of the model (trialscope.ctgov.build) and the tables of the v2 parser."""

from __future__ import annotations

import dataclasses
import doctest
import traceback

import pytest

from trialscope.ctgov import build as build_module
from trialscope.ctgov import parse, results
from trialscope.ctgov.build import Spec, always, build, many, named, one, under
from trialscope.ctgov.parse import parse_study
from trialscope.ctgov.readers import _i, _s, enum
from trialscope.errors import ParseError
from trialscope.model import ArmGroup, Contact, Design, Official, Outcome, Sponsor


def test_module_examples() -> None:
    result = doctest.testmod(build_module)
    assert result.attempted >= 5 and result.failed == 0


def test_a_table_names_only_fields_its_class_has() -> None:
    with pytest.raises(TypeError, match="ArmGroup has no field labels"):
        Spec(ArmGroup, {"labels": "label"})
    with pytest.raises(TypeError, match="Outcome has no field sort"):
        Spec(Outcome, {"measure": "measure"}).given(sort="primary")


def test_a_required_field_before_a_named_one_must_be_named() -> None:
    with pytest.raises(TypeError, match=r"ArmGroup\.label has no default"):
        Spec(ArmGroup, {"description": "description"})


def test_keys_of_a_first_of_rule_are_in_one_object() -> None:
    with pytest.raises(TypeError, match="not keys of one object"):
        Spec(Contact, {"name": (("a.name", "b.name"), _s)})


def test_rules_read_keys_paths_first_of_and_defaults() -> None:
    spec = Spec(
        Official,
        {"name": (("fullName", "oldName"), _s), "affiliation": "site.org.name"},
    )
    assert build(spec, {"oldName": "Dr. Lee", "site": {"org": {"name": "Minsk"}}}) == Official(
        "Dr. Lee", None, "Minsk"
    )
    assert build(spec, {"fullName": "A", "oldName": "B"}).name == "A"
    # a required text is "" where the record has none; a path through a non-object reads nothing
    assert build(spec, {"site": ["not", "an", "object"]}) == Official("", None, None)


def test_fields_between_named_ones_take_their_defaults_and_given_values_stay() -> None:
    spec = Spec(Sponsor, {"name": "name"}).given(role="collaborator")
    assert build(spec, {"name": "NIH", "class": "NIH"}) == Sponsor("NIH", None, "collaborator")
    again = spec.given(sponsor_class="OTHER")
    assert build(again, {"name": "X"}) == Sponsor("X", "OTHER", "collaborator")


def test_many_keeps_objects_with_what_the_table_needs() -> None:
    spec = Spec(Contact, named("name email"), needs="email")
    items = [{"name": "A", "email": "a@x"}, {"name": "B"}, {"name": "C", "email": "  "}, "a@x", None, 7]
    assert many(spec)({"contacts": items}, "contacts") == (Contact("A", None, None, "a@x"),)
    # one object where a list belongs is a list of one, as the gentle readers take it
    assert many(spec)({"contacts": {"email": "d@x"}}, "contacts") == (Contact(None, None, None, "d@x"),)
    assert many(spec)({"contacts": "text"}, "contacts") == ()


def test_one_and_always() -> None:
    sponsor = one(Spec(Sponsor, {"name": "name"}, needs="name"))
    assert sponsor({"lead": {"class": "NIH"}}, "lead") is None
    assert sponsor({"lead": {"name": "NIH"}}, "lead") == Sponsor("NIH")
    assert always(Spec(Design, {"study_type": "studyType"}))({}, "designModule") == Design()


def test_named_and_under() -> None:
    assert named("lowerLimit pValue") == {"lower_limit": "lowerLimit", "p_value": "pValue"}
    assert named("numAtRisk", _i) == {"num_at_risk": ("numAtRisk", _i)}
    moved = under("m", {"a": "x", "b": ("y.z", _i), "c": (("p", "q"), _s)})
    assert moved == {"a": "m.x", "b": ("m.y.z", _i), "c": (("m.p", "m.q"), _s)}


def test_a_readers_error_points_at_its_table_line() -> None:
    def boom(obj: object, key: str) -> None:
        raise ValueError(key)

    spec = Spec(Official, {"name": "name", "role": ("roleKey", boom)})
    with pytest.raises(ValueError, match="roleKey") as caught:
        build(spec, {"name": "A"})
    shown = "".join(traceback.format_tb(caught.tb))
    assert "of Official>" in shown and "r1(n0, 'roleKey')" in shown


def test_strict_number_names_its_place() -> None:
    study = {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT00000001"},
            "designModule": {"enrollmentInfo": {"count": "a few"}},
        }
    }
    with pytest.raises(ParseError, match=r"enrollmentInfo\.count is 'a few', not a whole number"):
        parse_study(study)


def test_enum_reader_goes_through_the_vocabulary() -> None:
    assert enum("masking")({"m": "None (Open Label)"}, "m") == "NONE"
    assert enum("masking")({}, "m") is None


# The fields a table leaves to be given when it is used (Spec.given or build's keywords).
GIVEN_LATER = {
    ("Trial", "source_format"),
    ("Trial", "summary_only"),
    ("Outcome", "kind"),
    ("Sponsor", "role"),
    ("Identifier", "source"),
}


@pytest.mark.parametrize(
    "spec",
    [v for m in (parse, results) for v in vars(m).values() if isinstance(v, Spec)],
    ids=lambda spec: spec.cls.__name__,
)
def test_every_field_of_the_model_has_a_rule(spec: Spec) -> None:
    """A field added to the model and forgotten in its table would silently keep its default."""
    names = {f.name for f in dataclasses.fields(spec.cls)}
    missing = {(spec.cls.__name__, name) for name in names - set(spec.rules) - set(spec.fixed)}
    assert missing <= GIVEN_LATER


def test_outcome_kinds_come_from_their_lists() -> None:
    study = {
        "protocolSection": {
            "identificationModule": {"nctId": "nct00000001 "},
            "outcomesModule": {
                "secondaryOutcomes": [{"measure": "B"}, {"description": "no measure"}],
                "primaryOutcomes": {"measure": "A", "timeFrame": "1 year"},
                "unspecifiedOutcomes": [{"measure": "C"}],
            },
            "armsInterventionsModule": {"armGroups": [{"type": "Active Comparator"}, "arm"]},
        }
    }
    trial = parse_study(study)
    assert trial.nct_id == "NCT00000001"
    assert [(o.kind, o.measure, o.time_frame) for o in trial.outcomes] == [
        ("primary", "A", "1 year"),
        ("secondary", "B", None),
        ("unspecified", "C", None),
    ]
    assert trial.arms == (ArmGroup(label="", type="ACTIVE_COMPARATOR"),)
