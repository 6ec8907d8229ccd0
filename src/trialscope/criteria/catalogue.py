"""The catalogue of criterion variables, units and cue words, read once from ``catalogue.toml``.

The vocabulary is data (see the comments at the top of the TOML file); this module turns it
into fast lookups: a phrase index from token tuples to variables and cue types, a memo of
single-word cues with wildcards, and unit conversion through ``pint``.

>>> cat = catalogue()
>>> cat.variables["egfr"].label
'eGFR'
>>> round(cat.convert(cat.variables["creatinine"], 132.6, "umol/L") or 0, 2)
1.5
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from trialscope.errors import TrialScopeError

_TOKEN = re.compile(r"[a-z0-9αβγ]+\+?")
ULN = "x ULN"
LLN = "x LLN"


def tokens(text: str) -> tuple[str, ...]:
    """Lower-case word tokens as the phrase index sees them ("ast/alt" -> ("ast", "alt"))."""
    return tuple(_TOKEN.findall(text.lower()))


@dataclass(frozen=True, slots=True)
class Variable:
    """One lab value, measurement or score a criterion can bound (see catalogue.toml)."""

    id: str
    label: str
    type: str
    aliases: tuple[str, ...]
    unit: str
    display: str
    bounds: tuple[float, float]
    scale: float = 1.0
    guess: tuple[str, ...] = ()
    mw: float | None = None
    uln: bool = False
    ordinal: bool = False
    roman: bool = False
    affine: dict[str, tuple[float, float]] = field(default_factory=dict)

    def plausible(self, value: float) -> bool:
        low, high = self.bounds
        return low <= value <= high


@dataclass(frozen=True, slots=True)
class Cue:
    """A word or phrase that marks a criterion type (``pregnancy``, ``therapy`` ...)."""

    type: str
    word: str


class CatalogueError(TrialScopeError):
    """The packaged catalogue is malformed: a bug in TrialScope, not in the user's data."""


class Catalogue:
    """Variables, units and cues with the lookups the parser needs; build it with :func:`catalogue`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.units: dict[str, str] = {_unit_key(k): v for k, v in data["units"].items()}
        self.variables: dict[str, Variable] = {}
        for entry in data["variable"]:
            var = Variable(
                id=entry["id"],
                label=entry["label"],
                type=entry["type"],
                aliases=tuple(entry["aliases"]),
                unit=entry["unit"],
                display=entry["display"],
                bounds=(float(entry["bounds"][0]), float(entry["bounds"][1])),
                scale=float(entry.get("scale", 1.0)),
                guess=tuple(entry.get("guess", ())),
                mw=entry.get("mw"),
                uln=bool(entry.get("uln", False)),
                ordinal=bool(entry.get("ordinal", False)),
                roman=bool(entry.get("roman", False)),
                affine={_unit_key(k): (float(v[0]), float(v[1])) for k, v in entry.get("affine", {}).items()},
            )
            if var.type not in ("lab", "performance_status"):
                raise CatalogueError(f"Variable {var.id} has an unknown type {var.type!r}.")
            self.variables[var.id] = var
        # phrase index: first token -> [(token tuple, payload)], longest first
        self.phrases: dict[str, list[tuple[tuple[str, ...], object]]] = {}
        for var in self.variables.values():
            for alias in var.aliases:
                self._add_phrase(tokens(alias), var)
        self.prefixes: list[tuple[str, str]] = []
        self.suffixes: list[tuple[str, str]] = []
        self.words: dict[str, str] = {}
        for cue_type, words in data["cues"].items():
            for word in words:
                if word.endswith("*"):
                    self.prefixes.append((word[:-1], cue_type))
                elif word.startswith("*"):
                    self.suffixes.append((word[1:], cue_type))
                elif len(toks := tokens(word)) > 1 or word.endswith("-"):
                    self._add_phrase(toks, Cue(cue_type, word))
                elif toks:
                    self.words.setdefault(toks[0], cue_type)
        for entries in self.phrases.values():
            entries.sort(key=lambda e: -len(e[0]))
        self.word_memo: dict[str, str | None] = {}
        self._factors: dict[tuple[str, str], float | None] = {}
        self._pint: Any = None

    def _add_phrase(self, toks: tuple[str, ...], payload: object) -> None:
        if toks:
            self.phrases.setdefault(toks[0], []).append((toks, payload))

    def word_cue(self, word: str) -> str | None:
        """The cue type of a single token by exact word, prefix or suffix (memoised)."""
        try:
            return self.word_memo[word]
        except KeyError:
            pass
        found = self.words.get(word)
        if found is None and len(word) > 3:
            for prefix, cue_type in self.prefixes:
                if word.startswith(prefix):
                    found = cue_type
                    break
            else:
                for suffix, cue_type in self.suffixes:
                    if word.endswith(suffix) and len(word) > len(suffix) + 2:
                        found = cue_type
                        break
        if len(self.word_memo) < 200_000:
            self.word_memo[word] = found
        return found

    # --- units ----------------------------------------------------------------------

    def unit_expr(self, written: str) -> str | None:
        """The pint expression of a unit as written (normalised text), or None if unknown."""
        return self.units.get(_unit_key(written))

    def convert(self, var: Variable, value: float, unit_expr: str, multiplier: float = 1.0) -> float | None:
        """``value * multiplier`` in ``unit_expr`` converted to ``var``'s canonical unit, or None
        when the units do not convert (a mass where a concentration is wanted)."""
        if unit_expr in var.affine:
            slope, intercept = var.affine[unit_expr]
            return (value * multiplier) * slope + intercept
        factor = self._factor(var, unit_expr)
        if factor is None:
            return None
        if math.isnan(factor):  # NaN marks an offset unit (temperature): convert the value itself
            return self._convert_offset(var, value * multiplier, unit_expr)
        return value * multiplier * factor

    def _factor(self, var: Variable, unit_expr: str) -> float | None:
        key = (var.id, unit_expr)
        if key not in self._factors:
            self._factors[key] = self._compute_factor(var, unit_expr)
        return self._factors[key]

    def _compute_factor(self, var: Variable, unit_expr: str) -> float | None:
        if unit_expr == var.unit:
            return 1.0 / var.scale
        if not var.unit or not unit_expr:
            return None
        ureg = self._registry()
        try:
            source = ureg.Quantity(unit_expr)
            if source.dimensionality == ureg.Quantity("degC").dimensionality:
                return float("nan")
            if var.mw is not None:
                target = source.to(var.unit, "chemistry", mw=var.mw * ureg("g/mol"))
            else:
                target = source.to(var.unit)
        except _CONVERSION_ERRORS:  # pint says "does not convert" with several exception types
            return None
        return float(target.magnitude) / var.scale

    def _convert_offset(self, var: Variable, value: float, unit_expr: str) -> float | None:
        ureg = self._registry()
        try:
            return float(ureg.Quantity(value, unit_expr).to(var.unit).magnitude)
        except _CONVERSION_ERRORS:
            return None

    def _registry(self) -> Any:
        """pint's registry, made on the first conversion that needs it (about 0.1 s)."""
        if self._pint is None:
            import pint

            self._pint = pint.UnitRegistry()
        return self._pint


# pint's DimensionalityError and UndefinedUnitError derive from these; the pint.errors classes
# are not imported here so that pint itself is only imported on the first conversion
_CONVERSION_ERRORS = (ValueError, TypeError, AttributeError, KeyError, ZeroDivisionError)


def _unit_key(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower().replace("µ", "u").replace("μ", "u"))


@cache
def vocabulary_version() -> str:
    """A short hash of the packaged vocabulary (catalogue and learnt terms): a store that keeps
    typed criteria re-types every trial when it changes."""
    digest = hashlib.sha256()
    for name in ("catalogue.toml", "mesh_terms.tsv"):
        path = resources.files("trialscope.criteria").joinpath(name)
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:16]


@cache
def catalogue() -> Catalogue:
    """The packaged catalogue, read once per process."""
    text = resources.files("trialscope.criteria").joinpath("catalogue.toml").read_text(encoding="utf-8")
    try:
        return Catalogue(tomllib.loads(text))
    except (KeyError, ValueError, TypeError) as exc:
        raise CatalogueError(f"The criteria catalogue is malformed ({exc}); reinstall TrialScope.") from exc
