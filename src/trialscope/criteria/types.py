"""The typed criterion: what one eligibility line says, in a form a matcher can evaluate.

A criterion is one line of the registry's criteria text (or one structured field such as the
minimum age), with the ``kind`` it was listed under and zero or more :class:`Fact` s read from
it. A line that says nothing we understand keeps its text and gets type ``other``: nothing is
dropped.

How a matcher reads a fact (``x`` is the patient's value of ``fact.variable``, converted to
``fact.unit``)::

    holds = x <comparator> value  and  (upper is None or x <upper_comparator> upper)

and for the presence types (condition, therapy, procedure, pregnancy ...) the patient must have
the thing when ``fact.required(kind)`` is true and must not have it otherwise, within
``window_days`` when there is a window. Values a patient profile cannot give stay ``unknown``.

Everything here is a frozen dataclass of plain values, so ``msgspec.json.encode`` writes it
as JSON and ``msgspec.json.decode(data, type=TypedCriterion)`` reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["inclusion", "exclusion", "unspecified"]
"""Where the line was listed: ``unspecified`` for text under no inclusion/exclusion heading."""

CriterionType = Literal[
    "age",
    "sex",
    "healthy_volunteers",
    "condition",
    "lab",
    "performance_status",
    "pregnancy",
    "therapy",
    "procedure",
    "administrative",
    "other",
]
TYPES: tuple[str, ...] = CriterionType.__args__  # type: ignore[attr-defined]

Comparator = Literal[">=", ">", "<=", "<", "="]
Window = Literal["within", "before"]
"""``within``: the event happened in the last ``window_days`` days ("within 4 weeks of").
``before``: it happened at least ``window_days`` days ago ("at least 28 days since")."""

NEGATED: dict[str, str] = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "=": "≠"}


@dataclass(frozen=True, slots=True)
class Concept:
    """A named thing a line mentions: a condition, a drug or drug class, a procedure.

    ``mesh_id`` is set when the name matched a MeSH term (learnt from registry records)."""

    name: str
    category: Literal["condition", "drug", "procedure"] = "condition"
    mesh_id: str | None = None
    mention: str | None = None
    """The words of the line that named it ("chemotherapy" for MeSH Drug Therapy)."""


@dataclass(frozen=True, slots=True)
class Fact:
    """One statement of a line: a bound on a variable, or the presence of a condition, drug ...

    >>> Fact(type="lab", variable="egfr", comparator=">=", value=30.0, unit="mL/min").bounds
    ('>=', 30.0, None, None)
    """

    type: CriterionType
    variable: str | None = None
    """Catalogue id (``egfr``, ``ecog``), ``age``, ``sex``, ``pregnancy``/``lactation``/``contraception``."""
    comparator: Comparator | None = None
    value: float | None = None
    upper_comparator: Comparator | None = None
    upper: float | None = None
    unit: str | None = None
    """The canonical unit of the variable (pint expression; ``x ULN`` for multiples of the upper
    limit of normal; ``year`` for ages)."""
    category: str | None = None
    """A categorical value: ``female``/``male``/``all`` for sex, ``accepted``/``not accepted``."""
    negated: bool = False
    """The text negates the statement ("no history of", "not pregnant", "non-smoker")."""
    history: bool = False
    """The text speaks of the past ("history of", "prior", "previous")."""
    window: Window | None = None
    window_days: float | None = None
    concepts: tuple[Concept, ...] = ()
    note: str | None = None
    """Why a value was not kept ("implausible value 700 %"), for the reader of the JSON."""

    @property
    def bounds(self) -> tuple[str | None, float | None, str | None, float | None]:
        return (self.comparator, self.value, self.upper_comparator, self.upper)

    def required(self, kind: str) -> bool:
        """Whether an eligible patient must have what this fact names.

        An inclusion line that is not negated requires it; an exclusion line, or a negated
        inclusion line ("no prior chemotherapy"), requires its absence; a negated exclusion
        ("patients without consent") requires it again."""
        return (kind != "exclusion") != self.negated


@dataclass(frozen=True, slots=True)
class TypedCriterion:
    """One eligibility line (or structured field) with its type, facts and a short label.

    ``type`` is the type of the first fact, or ``other`` when nothing was understood;
    ``source`` is ``text`` for a criteria line and ``field`` for a structured field;
    ``line`` is the 0-based position of the line within its kind (``-1`` for fields).
    """

    kind: Kind
    text: str
    type: CriterionType = "other"
    label: str = ""
    facts: tuple[Fact, ...] = ()
    source: Literal["text", "field"] = "text"
    line: int = -1

    @property
    def fact(self) -> Fact | None:
        """The first (main) fact, or None for a line of type ``other``."""
        return self.facts[0] if self.facts else None

    @property
    def variable(self) -> str | None:
        return self.facts[0].variable if self.facts else None

    @property
    def negated(self) -> bool:
        return self.facts[0].negated if self.facts else False

    @property
    def decidable(self) -> bool:
        """Whether a patient record could decide it (not administrative, not other)."""
        return self.type not in ("administrative", "other")
