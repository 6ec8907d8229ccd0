"""Words for similarity: content words of registry text, their stems, and how they are written.

Stems come from the project's one analyzer (:mod:`trialscope.analyze`, Porter's algorithm in
PyStemmer's C), so "cells", "cellular" and "cell" meet, as they do in search. Stopwords are
dropped before stemming; they are function words and the words every trial uses about itself
("study", "patients", "week"), which say nothing about what one trial shares with another.

A reason names a word as a trial writes it, never a stem: :class:`Surface` keeps, for each
stem, the spelling a reader should see ("SLE", "nephritis", "Crohn").

>>> content_stems("Mesenchymal Stem Cells in patients with lupus nephritis")
['mesenchym', 'stem', 'cell', 'lupu', 'nephriti']
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Container, Iterable

from trialscope.analyze import TOKEN, fold, stem_folded, tokens

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each either et etc few for from
    further had has have having he her here hers him his how however i if in into is it its itself just
    may me might more most must my no nor not now of off on once only or other our ours out over own per
    same she should so some such than that the their theirs them then there these they this those
    through thus to too under until up upon us very via was we were what when where whether which while
    who whom why will with within without would yet you your
    study studies trial trials patient patients subject subjects participant participants investigator
    investigators group groups arm arms day days week weeks month months year years mg kg ml dose doses
    include included including inclusion exclusion criteria eligible use used using receive received
    receiving
    """.split()  # noqa: SIM905 - a word list reads best as words
)

# Words of intervention names that say nothing about what is given, how much or by which route:
# "Pooled mesenchymal stem cell 1 mg/kg IV" gives "pooled mesenchymal stem cell".
INTERVENTION_STOPWORDS = STOPWORDS | frozenset(
    """
    drug drugs treatment treatments therapy therapies dose doses dosage oral tablet tablets injection
    injections capsule capsules arm group standard care usual high low medium daily administration
    administered iv intravenous according clinical protocol protocols regimen plus
    """.split()  # noqa: SIM905 - a word list reads best as words
)

# An intervention whose name has one of these words is background or comparison (placebo,
# standard of care, sham): what every arm or every trial of a field gets, not what a trial tests.
BACKGROUND_WORDS = frozenset(
    "placebo placebos sham standard usual conventional routine supportive best control vehicle soc".split()  # noqa: SIM905
)

# Words that never make a reason, though rare enough to pass the IDF test in a small registry:
# what consent, eligibility and design text says about any trial.
REASON_STOPWORDS = frozenset(
    """
    read understand understanding able ability willing willingness sign signed consent informed written
    follow procedures procedure planned plan last high low standard according index current currently
    medical medication medications protocol protocols active activity non due main present
    known history previous prior existing new based related associated following total number level
    levels risk life compliance comply visit visits provide provided given evaluate evaluation assess
    assessed assessment investigational clinical effect effects efficacy safety phase randomized
    randomised controlled open label pilot multicenter single double blind period baseline change
    """.split()  # noqa: SIM905 - a word list reads best as words
)

_MIN_CHARS = 2  # single letters are initials or list markers, not words
# Folded word -> stem, "" for a word that is no content word (a stopword, a number, a letter);
# and the same for words as written. They grow with the vocabulary, so each distinct word is
# stemmed once per process.
_STEMS: dict[str, str] = {}
_WRITTEN: dict[str, str] = {}


def _stems(folded: Iterable[str]) -> dict[str, str]:
    """The cache, holding every word of ``folded``."""
    cache = _STEMS
    new = list({w for w in folded if w not in cache})
    if new:
        content = [w for w in new if len(w) >= _MIN_CHARS and not w.isdigit() and w not in STOPWORDS]
        cache.update(dict.fromkeys(new, ""))
        cache.update(zip(content, stem_folded(content), strict=True))
    return cache


def _folded(word: str) -> str:
    return word.lower() if word.isascii() else fold(word)


def content_tokens(text: str | None, stop: frozenset[str] = STOPWORDS) -> list[tuple[str, str]]:
    """``(as written, stem)`` of each content word of ``text``, in order; ``stop`` words left out.

    >>> content_tokens("UC-MSCs for SLE")
    [('UC', 'uc'), ('MSCs', 'msc'), ('SLE', 'sle')]
    """
    if not text:
        return []
    written = tokens(text)
    folded = [_folded(w) for w in written]
    stems = _stems(folded)
    return [(w, stems[f]) for w, f in zip(written, folded, strict=True) if stems[f] and f not in stop]


def content_stems(text: str | None, stop: frozenset[str] = STOPWORDS) -> list[str]:
    """Stems of the content words of ``text``, in order."""
    return [s for _, s in content_tokens(text, stop)]


class Surface:
    """The spelling a reason shows for each stem, gathered while a trial's text is counted.

    By preference: a lower case spelling from running text ("lupus"), then one as running text
    writes it (abbreviations and names keep their capitals: "SLE", "Crohn"), then a word of a
    title, a condition or an intervention name, lower-cased when that text is in Title Case
    throughout ("Umbilical Cord Derived ..." gives "umbilical").

    >>> shown = Surface(limit=8)
    >>> add_stems({}, "Umbilical Cord MSC Transplantation for SLE", 1.0, limit=99, shown=shown, running=False)
    >>> add_stems({}, "in lupus, with SLE", 1.0, limit=99, shown=shown)
    >>> shown.words()
    ['umbilical', 'cord', 'MSC', 'transplantation', 'SLE', 'lupus']
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.best: dict[str, tuple[int, str]] = {}

    def see(self, forms: list[tuple[str, str]], running: bool) -> None:
        """Take in the (as written, stem) pairs of one text, each spelling once, in order."""
        long = [w for w, _ in forms if len(w) > 3]
        titled = not running and len(long) > 1 and sum(w[0].isupper() for w in long) > 0.6 * len(long)
        best = self.best
        for word, stem in forms:
            if running:
                rank = 2 if word.islower() else 1
            elif titled and word[0].isupper() and word[1:].islower():
                word, rank = word.lower(), 0
            else:
                rank = 0 if word.islower() else 1
            seen = best.get(stem)
            if (seen is None and len(best) < self.limit) or (seen is not None and rank > seen[0]):
                best[stem] = (rank, word)

    def words(self) -> list[str]:
        return [word for _, word in self.best.values()]


def add_stems(
    bag: dict[str, float],
    text: str | None,
    weight: float,
    *,
    limit: int,
    prefix: str = "",
    skip: Container[str] = (),
    shown: Surface | None = None,
    running: bool = True,
) -> None:
    """Add ``weight`` to ``bag`` for each content word in the first ``limit`` characters of ``text``,
    keyed by ``prefix`` and its stem; stems in ``skip`` are left out. ``shown`` gathers how the
    words are written (``running``: the text is prose, not a title or a name).

    The fast path of feature extraction: words are counted as written before they are folded
    and stemmed, so each spelling costs one dictionary look-up however often it occurs.

    >>> bag = {}
    >>> add_stems(bag, "Cells and more cells", 0.5, limit=1000)
    >>> bag
    {'cell': 1.0}
    """
    if not text:
        return
    part = text[:limit]
    if not part.isascii():
        part = unicodedata.normalize("NFC", part)
    counts = Counter(TOKEN.findall(part))
    cache = _WRITTEN
    missing = [word for word in counts if word not in cache]
    if missing:
        folded = [_folded(word) for word in missing]
        stems = _stems(folded)
        for word, key in zip(missing, folded, strict=True):
            cache[word] = stems[key]
    # Keys go into the bag in the order the words first occur, whatever the cache held before
    # (the vocabulary numbers keys in that order: a build must not depend on earlier builds).
    for word, n in counts.items():
        stem = cache[word]
        if stem and stem not in skip:
            key = prefix + stem
            bag[key] = bag.get(key, 0.0) + weight * n
    if shown is not None:
        shown.see([(word, stem) for word in counts if (stem := cache[word])], running)
