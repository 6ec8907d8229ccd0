"""Long texts as searches: a patient description or an abstract, read for its telling words.

A search of a few words requires every word. A paragraph cannot: one word no trial holds would
empty the list, and a hundred words would be refused. So a text of more than
:data:`FREE_TEXT_WORDS` words with no search syntax (no quotes, OR, NOT, brackets or field
prefixes) is read as a description; so is a text of more than :data:`LONG_TEXT_WORDS` words
with no quotes and no field prefix, whatever brackets and colons it has (a clinical note's
"BP: 130/80 (sitting)" or "taken to the OR" are not search syntax). Its salient words — not everyday or clinical filler
words, not numbers, rare in the trials first (tf x idf), at most :data:`MAX_SALIENT` — are
searched with OR, so trials are ranked by how many of them they hold and where. The result
says how the text was read.

>>> is_free_text("58 yo woman with lupus nephritis on dialysis, previously treated with cyclophosphamide")
True
>>> is_free_text('lupus "stem cells"'), is_free_text("lupus nephritis children")
(False, False)
>>> note = "Past medical history: hypertension (on lisinopril), taken to the OR for appendectomy. " * 3
>>> is_free_text(note), is_free_text(note + ' "stem cells"'), is_free_text(note + " condition:lupus")
(True, False, False)
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

from trialscope.search.document import FIELD_PREFIXES

FREE_TEXT_WORDS = 8  # more plain words than this, and the text is read as a description
LONG_TEXT_WORDS = 30  # more words than this, and only quotes or a field prefix make it a search
MAX_SALIENT = 24  # TREC 2021 (eval/): 24 rank as well as 32 for search, better for matching
COMMON_SHARE = 0.3  # a word in more than this share of the trials says little about any
MAX_CHARS = 100_000  # what is read of a pasted text

_SYNTAX = re.compile(r'["()]|\bOR\b|\bNOT\b|(^|\s)-\w|\w:')
# What no description has: a quoted phrase, or a field prefix right before its word (condition:lupus).
_QUERY_ONLY = re.compile(r'"|\b(?:' + "|".join(FIELD_PREFIXES) + r"):(?=[\w(\"])", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]*[A-Za-z0-9]|[A-Za-z]{2,}")

# Everyday words and the words every clinical note has: they say nothing about which trial fits.
STOP = frozenset(
    """a about above after again against ago all also am an and any are as at be because been before being
    below between both but by can could did do does doing done down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just me
    more most my myself no nor not now of off on once only or other our out over own same she should so
    some such than that the their them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours patient
    patients pt presents presented presenting presentation history hx year years old yo y o male female
    man woman men women boy girl mother father husband wife son daughter day days week weeks month
    months today yesterday noted notes reports reported report states denies complains complaint found
    showed shows revealed reveals normal given started prior recent recently since without admitted
    admission hospital emergency department ed er evaluation evaluated well past medical family social
    exam examination physical status also including include includes new mild moderate severe
    significant time times per daily left right bilateral last first second one two three four five six
    seven eight nine ten several multiple approximately around taking takes took treated treatment
    therapy work works worked went go going come came home clinic office visit visits seen see however
    although though found felt feel feels like said says tells told started stopped continued currently
    current remains remained remain increased decreased normal abnormal positive negative unremarkable
    significant history physician doctor dr mg ml kg cm mm hr hrs pmh hpi sob""".split()  # noqa: SIM905
)


def is_free_text(text: str) -> bool:
    """Whether a search text is a description to read for its salient words."""
    words = len(_WORD.findall(text[:MAX_CHARS]))
    if words <= FREE_TEXT_WORDS or _QUERY_ONLY.search(text[:MAX_CHARS]):
        return False
    return words > LONG_TEXT_WORDS or not _SYNTAX.search(text)


def salient_words(
    text: str, doc_freq: Callable[[Sequence[str]], dict[str, int]], n_docs: int, limit: int = MAX_SALIENT
) -> list[str]:
    """The text's most telling words, best first (an abbreviation keeps its capitals, so the
    synonym table can expand it); ``doc_freq`` counts the trials holding each (lower-cased) word.

    >>> freq = {"lupus": 40, "nephritis": 20, "dialysis": 300, "patient": 9000}
    >>> salient_words("Patient with lupus nephritis on dialysis", lambda ws: freq, 10_000)
    ['nephritis', 'lupus', 'dialysis']
    """
    counts: Counter[str] = Counter()
    spelling: dict[str, str] = {}
    for word in _WORD.findall(text[:MAX_CHARS]):
        key = word.lower()
        if key in STOP or key.isdigit():
            continue
        counts[key] += 1
        if word.isupper() and len(word) <= 6:
            spelling[key] = word
        spelling.setdefault(key, key)
    found = doc_freq(list(counts))
    scored = []
    for key, tf in counts.items():
        df = found.get(key, 0)
        if df == 0 or df > n_docs * COMMON_SHARE or (len(key) < 3 and not spelling[key].isupper()):
            continue
        scored.append(((1 + math.log(tf)) * math.log(n_docs / df), key))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [spelling[key] for _, key in scored[:limit]]
