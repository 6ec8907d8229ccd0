"""Negation, history, family and uncertainty of mentions in a note, by medspaCy's ConText.

medspaCy runs offline on a blank spaCy pipeline (its own tokenizer, the PyRuSH sentence
splitter and the ConText rules that ship inside the package): no model is downloaded. The
mentions themselves are found by the criteria vocabulary (see :mod:`.note`); this module only
reads their context ("denies chest pain", "mother had breast cancer", "h/o MI").

>>> flags = mention_context("Denies chest pain. Mother had breast cancer.", [(7, 17), (30, 43)])
>>> [(f.negated, f.family) for f in flags]
[(True, False), (False, True)]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

MAX_NOTE_CHARS = 100_000
"""Only the first characters of a longer note are read (a note, not a medical record)."""

NOT_NEGATING = (
    "free fluid",
    "free air",
    "free wall",
    "free water",
    "free light chains",
    "free t4",
    "free t3",
)
"""Findings with a negation cue in their words that negate nothing (see :func:`_pipeline`)."""


@dataclass(frozen=True, slots=True)
class MentionContext:
    negated: bool = False
    history: bool = False
    family: bool = False
    uncertain: bool = False


@cache
def _pipeline() -> Any:
    """medspaCy's tokenizer, sentence splitter and ConText, built once per process (~2 s)."""
    from loguru import logger

    logger.disable("PyRuSH")  # PyRuSH logs every sentence boundary at DEBUG level
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # spaCy's CLI module imports an old click name
        import medspacy

    from medspacy.context import ConTextRule

    nlp = medspacy.load(medspacy_enable=["medspacy_pyrush", "medspacy_context"])
    # Findings whose words hold a negation cue but negate nothing: "appendicitis with free
    # fluid" is appendicitis (ConText's backward "free", as in "pain free", would deny it).
    nlp.get_pipe("medspacy_context").add(
        [ConTextRule(words, "NOT_NEGATED", direction="PSEUDO") for words in NOT_NEGATING]
    )
    return nlp


def mention_context(text: str, spans: list[tuple[int, int]]) -> list[MentionContext]:
    """The context of each ``(start, end)`` character span of ``text``, in the order given.

    Spans must not overlap; one that falls outside the text gets an empty context."""
    if not spans:
        return []
    nlp = _pipeline()  # first: it imports spaCy with its import-time warning silenced
    from spacy.tokens import Span
    from spacy.util import filter_spans

    doc = nlp.make_doc(text[:MAX_NOTE_CHARS])
    doc = nlp.get_pipe("medspacy_pyrush")(doc)
    by_span: dict[tuple[int, int], Span] = {}
    for start, end in spans:
        span = doc.char_span(start, end, label="MENTION", alignment_mode="expand")
        if span is not None and len(span) > 0:
            by_span[(start, end)] = span
    doc.ents = filter_spans(list(by_span.values()))
    kept = {(s.start, s.end) for s in doc.ents}
    doc = nlp.get_pipe("medspacy_context")(doc)
    out = []
    for key in spans:
        span = by_span.get(key)
        if span is None or (span.start, span.end) not in kept:
            out.append(MentionContext())
            continue
        ent = next(e for e in doc.ents if e.start == span.start and e.end == span.end)
        out.append(
            MentionContext(
                negated=bool(ent._.is_negated),
                history=bool(ent._.is_historical),
                family=bool(ent._.is_family),
                uncertain=bool(ent._.is_uncertain or ent._.is_hypothetical),
            )
        )
    return out
