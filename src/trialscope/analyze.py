"""The one text analyzer: registry text -> the terms that search indexes, looks up and marks.

A token is a run of letters and digits (``COVID-19`` is two tokens, ``covid`` and ``19``). A
term is a token lower-cased, without diacritics, and cut to its stem by Porter's algorithm
(PyStemmer's C implementation), so "studies", "study" and "studied" are one term. The search
index writes terms with it, a search looks its words up with it, and snippets mark the words
whose term matched — all through these few functions, so the three can never disagree.

Words shorter than three letters are left as they are ("ms", "cs", "as": Porter would cut the
"s" and make multiple sclerosis the letter m).

>>> terms("Mesenchymal Stem-Cells in Sjögren's studies")
['mesenchym', 'stem', 'cell', 'in', 'sjogren', 's', 'studi']
>>> stem("MS"), fold("Sjögren")
('ms', 'sjogren')
"""

from __future__ import annotations

import re
import threading
import unicodedata

import Stemmer

TOKEN = re.compile(r"[^\W_]+")
# Longer tokens are not stemmed (a run of digits or a pasted identifier, not a word).
_MAX_STEMMED = 64
_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """This thread's stemmer: a PyStemmer object must not be shared between threads."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("porter", 100_000)
    return stemmer


def fold(token: str) -> str:
    """A token lower-cased, without diacritics; the micro sign becomes the Greek mu.

    >>> fold("Ångström"), fold("µg")
    ('angstrom', 'μg')
    """
    word = token.lower()
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFD", word.replace("\u00b5", "\u03bc"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(token: str) -> str:
    """The index term of one token (folded, then stemmed).

    >>> stem("Relational"), stem("studies"), stem("ms")
    ('relat', 'studi', 'ms')
    """
    word = fold(token)
    if len(word) < 3 or len(word) > _MAX_STEMMED:
        return word
    return str(_stemmer().stemWord(word))


def stem_folded(words: list[str]) -> list[str]:
    """Index terms of tokens already folded (one call into the stemmer for the whole list)."""
    out: list[str] = _stemmer().stemWords(words)
    for i, word in enumerate(words):
        if len(word) < 3 or len(word) > _MAX_STEMMED:
            out[i] = word
    return out


def tokens(text: str) -> list[str]:
    """The tokens of a text, as written.

    >>> tokens("COVID-19 Crohn's")
    ['COVID', '19', 'Crohn', 's']
    """
    return TOKEN.findall(text)


def folded_tokens(text: str) -> list[str]:
    """The tokens of a text, folded (lower case, no diacritics).

    Text is composed first (NFC), so a letter written with a combining accent
    ("Mu\u0308llerian") is one letter of its word, not a break in it.

    >>> folded_tokens("Mu\u0308llerian ducts")
    ['mullerian', 'ducts']
    """
    low = text.lower()
    if low.isascii():
        return TOKEN.findall(low)
    return [fold(t) for t in TOKEN.findall(unicodedata.normalize("NFC", low))]


def terms(text: str) -> list[str]:
    """The index terms of a text, in order (one per token)."""
    return stem_folded(folded_tokens(text))
