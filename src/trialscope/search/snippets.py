"""Snippets: the best fragment of a hit's text with the matched words marked, HTML-safe.

A fragment is :data:`SNIPPET_TOKENS` tokens long, chosen the way SQLite's FTS5 ``snippet()``
chooses one (each distinct phrase in the window scores 1000, each repeat 1, a window that
starts a sentence gets a bonus), from the brief summary when the words are in it (the title
is shown anyway), else from the field where they score best. Words are marked when their
index term is one the search matched, through the same analyzer the index was built with.

>>> snippet_of(("Treatment of SLE", "", "", "", "", "Lupus patients get stem cells.", "", "", "", ""),
...            match_phrases([Term(("stem", "cell"))]))
'Lupus patients get <mark>stem cells</mark>.'
"""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from trialscope.analyze import fold
from trialscope.analyze import stem as term_of
from trialscope.search.document import FIELDS, SUMMARY
from trialscope.search.syntax import Term

SNIPPET_TOKENS = 24
_OPEN, _CLOSE = "\x02", "\x03"
_SPACES = re.compile(r"\s+")


def _mark(text: str) -> str:
    """Escape registry text for HTML, then turn the snippet markers into <mark> tags."""
    clean = _SPACES.sub(" ", text).strip()
    return html.escape(clean, quote=True).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>")


def lead_of(text: str | None, words: int = SNIPPET_TOKENS) -> str:
    parts = (text or "").split()
    cut = " ".join(parts[:words])
    return html.escape(cut + (" …" if len(parts) > words else ""), quote=True)


@dataclass(frozen=True)
class _Phrase:
    """One phrase of a compiled match, as index stems; ``probe`` is a lower-case piece of text
    every word holding its first stem contains (to skip columns without it cheaply)."""

    stems: tuple[str, ...]
    columns: frozenset[int] | None
    prefix: bool  # the last stem is a prefix (``word*``)
    probe: str


_WORD = re.compile(r"[^\W_]+")
# Latin letters with diacritics -> the letter without (one character each, so offsets hold).
_BASE_LETTERS = {
    code: base[0]
    for code in range(0xC0, 0x250)
    if (base := unicodedata.normalize("NFD", chr(code))) and base[0].isascii() and base[0] != chr(code)
}
_ACCENTED = re.compile("[\u00c0-\u024f]")
_SENTENCE = re.compile(r"[.:][ \t\r\n]+(?=[^\W_])")


def match_phrases(terms: Sequence[Term]) -> tuple[_Phrase, ...]:
    """The phrases a hit can hold, as index terms, from the scored Terms of a search.

    >>> [(p.stems, p.probe) for p in match_phrases([Term(("stem", "cells")), Term(("msc",))])]
    [(('stem', 'cell'), 'ste'), (('msc',), 'msc')]
    """
    phrases: list[_Phrase] = []
    for term in terms:
        tokens = term.tokens
        if not tokens:
            continue
        columns = frozenset(FIELDS.index(n) for n in term.columns if n in FIELDS) if term.columns else None
        # A prefix is matched against index terms as typed, without stemming it.
        stems = tuple(
            fold(t) if term.prefix and i == len(tokens) - 1 else term_of(t) for i, t in enumerate(tokens)
        )
        first = stems[0]
        # Porter changes at most the last three letters of a word, so a word with this stem
        # holds its first letters as written (folded: 'sjogren' misses 'Sjögren').
        probe = first[: min(len(first), max(3, len(first) - 3))]
        phrases.append(_Phrase(stems, columns, term.prefix, probe))
    return tuple(dict.fromkeys(phrases))


# Instances of one phrase a snippet looks at: the best window is among the first few hundred,
# and a text repeating a word a million times must not cost a million (the choice is quadratic).
MAX_INSTANCES = 200


def _instances(text: str, column: int, phrases: Sequence[_Phrase]) -> list[tuple[int, int, int]]:
    """(start, end, phrase) of each phrase in ``text`` (its first :data:`MAX_INSTANCES`), by
    character offsets."""
    low = text.lower()
    if len(low) != len(text):  # lower-casing moved offsets (rare letters): compare word by word
        low = "".join(c.lower()[:1] or c for c in text)
    folded = None
    found: list[tuple[int, int, int]] = []
    for p, phrase in enumerate(phrases):
        if phrase.columns is not None and column not in phrase.columns:
            continue
        at = low.find(phrase.probe)
        if at < 0 and not low.isascii() and _ACCENTED.search(low):
            # 'sjogren' finds 'Sjögren': accented letters as their base letter, offsets kept.
            folded = folded or low.translate(_BASE_LETTERS)
            low = folded
            at = low.find(phrase.probe)
        seen = 0
        while at >= 0 and seen < MAX_INSTANCES:
            if at == 0 or not low[at - 1].isalnum():
                end = _phrase_end(text, at, phrase)
                if end:
                    found.append((at, end, p))
                    seen += 1
            at = low.find(phrase.probe, at + 1)
    found.sort()
    return found


def _phrase_end(text: str, at: int, phrase: _Phrase) -> int:
    """Where the phrase starting at ``at`` ends in ``text``, or 0 when it does not start there."""
    end = 0
    words = _WORD.finditer(text, at)
    last = len(phrase.stems) - 1
    for i, stem in enumerate(phrase.stems):
        word = next(words, None)
        if word is None:
            return 0
        got = term_of(word.group())
        if not (got == stem or (phrase.prefix and i == last and got.startswith(stem))):
            return 0
        end = word.end()
    return end


@dataclass(frozen=True)
class _Fragment:
    score: int
    start: int  # the index of the first token shown
    marks: list[tuple[int, int, int]]  # first token, last token, start offset of each instance
    size: int | None  # tokens in the text; None when far more than the fragment reaches


# UTF-8 bytes -> b"a" for a letter or digit (any non-ASCII byte, once the non-ASCII characters
# that are not letters or digits are spaces), b" " for anything else: tokens become split()'s words.
_TOKEN_BYTES = bytes(ord("a") if chr(b).isalnum() else ord(" ") for b in range(128)) + b"a" * 128
_NON_ASCII_SEPARATOR = re.compile(r"[^\x00-\x7f\w]")


def _count(text: str, start: int, end: int) -> int:
    """Tokens between two offsets (as ``_WORD`` finds them), counted in C."""
    if end <= start:
        return 0
    piece = text[start:end]
    if not piece.isascii():
        piece = _NON_ASCII_SEPARATOR.sub(" ", piece)
    return len(piece.encode().translate(_TOKEN_BYTES).split())


def _best_fragment(text: str, instances: list[tuple[int, int, int]], tokens: int) -> _Fragment | None:
    """FTS5's choice of a fragment of ``tokens`` tokens: the window scoring most - 1000 for
    each phrase in it, 1 for each repeat - centred on its instances, or starting the
    sentence before them for a bonus of 100 (120 at the start of the text).

    Token indices are counted between the instances only, so a long text costs little.
    """
    if not instances:
        return None
    ranges: list[tuple[int, int, int, int]] = []  # first token, last token, phrase, offset
    at, index = 0, 0
    for a, b, p in instances:
        index += _count(text, at, a)
        at = a
        ranges.append((index, index + _count(text, a, b) - 1, p, a))
    last = ranges[-1]
    # The text's size in tokens matters only when the fragment can reach its end.
    reach = last[3] + 64 * tokens
    size: int | None = None
    if reach >= len(text) or _count(text, last[3], reach) <= 2 * tokens:
        size = last[0] + _count(text, last[3], len(text))
    sentence_offsets = [m.end() for m in _SENTENCE.finditer(text, 0, last[3] + 1)]

    offsets = [r[3] for r in ranges]

    def sentence_index(at: int) -> int:
        """The token index at a sentence's offset, counted from the instance before it."""
        j = bisect_right(offsets, at) - 1
        return ranges[j][0] + _count(text, offsets[j], at) if j >= 0 else _count(text, 0, at)

    def score(first_token: int) -> tuple[int, int]:
        seen: set[int] = set()
        value, low, high = 0, -1, -1
        for a, b, p, _ in ranges:
            if first_token <= a < first_token + tokens:
                value += 1 if p in seen else 1000
                seen.add(p)
                low = a if low < 0 else low
                high = max(high, b)
        centred = low - (tokens - (high + 1 - low)) // 2
        if size is not None:
            centred = min(centred, size - tokens)
        return value, max(0, centred)

    best, start = -1, 0
    for a, _, _, offset in ranges:
        value, centred = score(a)
        if value > best:
            best, start = value, centred
        if size is None or size > tokens:
            # The start of the sentence this instance is in.
            i = bisect_right(sentence_offsets, offset) - 1
            sentence = sentence_index(sentence_offsets[i]) if i >= 0 else 0
            if sentence < a:
                value = score(sentence)[0] + (120 if sentence == 0 else 100)
                if value > best:
                    best, start = value, sentence
    return _Fragment(best, start, [(a, b, offset) for a, b, _, offset in ranges], size)


def _token_spans(text: str, fragment: _Fragment, count: int) -> list[tuple[int, int]]:
    """The spans of ``count`` tokens from the fragment's first, found from the nearest instance."""
    before = [m for m in fragment.marks if m[0] <= fragment.start]
    if before:
        index, offset = before[-1][0], before[-1][2]
    else:
        # The fragment starts before the first instance: step back from it.
        index, offset = fragment.marks[0][0], fragment.marks[0][2]
        back = index - fragment.start
        reach = 16 * (back + 1)
        while True:
            lo = max(0, offset - reach)
            spans = [w.span() for w in _WORD.finditer(text, lo, offset)]
            if lo == 0 or len(spans) > back:
                break
            reach *= 4
        index, offset = index - back, spans[len(spans) - back][0]
    words = _WORD.finditer(text, offset)
    spans = []
    for word in words:
        if index >= fragment.start:
            spans.append(word.span())
            if len(spans) == count:
                break
        index += 1
    return spans


def _highlight(text: str, fragment: _Fragment, tokens: int) -> str:
    """The fragment's text, its instances between the snippet markers, '…' where text is left out."""
    first = fragment.start
    spans = _token_spans(text, fragment, tokens)
    last = first + len(spans) - 1
    ends: dict[int, int] = {}
    for a, b, _ in fragment.marks:
        if first <= a <= last:
            ends[a] = max(ends.get(a, a), b)
    out = ["…"] if first > 0 else []
    cursor = spans[0][0]
    close_after = -1
    for i, (s, e) in enumerate(spans, first):
        out.append(text[cursor:s])
        if close_after < 0 and i in ends:
            out.append(_OPEN)
            close_after = ends[i]
        out.append(text[s:e])
        cursor = e
        if close_after >= 0:
            close_after = max([close_after, *(b for a, b in ends.items() if i < a <= close_after)])
            if i >= close_after or i == last:
                out.append(_CLOSE)
                close_after = -1
    at_end = fragment.size is not None and last >= fragment.size - 1
    out.append(text[cursor:] if at_end else "…")
    return "".join(out)


def snippet_of(texts: Sequence[str | None], phrases: Sequence[_Phrase]) -> str:
    """The snippet of one trial: the best fragment of its brief summary when the phrases are
    in it (the title is shown anyway), else of the column where they score best; '' without."""
    chosen: tuple[_Fragment, str] | None = None
    order = (SUMMARY, *(c for c in range(len(texts)) if c != SUMMARY))
    for column in order:
        text = texts[column]
        if not text:
            continue
        fragment = _best_fragment(text, _instances(text, column, phrases), SNIPPET_TOKENS)
        if fragment is None:
            continue
        if column == SUMMARY:
            chosen = (fragment, text)
            break
        if chosen is None or fragment.score > chosen[0].score:
            chosen = (fragment, text)
    if chosen is None:
        return ""
    return _mark(_highlight(chosen[1], chosen[0], SNIPPET_TOKENS))
