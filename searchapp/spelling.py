"""Did-you-mean: a query's unknown words replaced by the closest words the index holds.

A word is only corrected when the index does not hold it in any searched field (a rare but
real word such as "kremlin", found only in story bodies, is left alone). Candidates are the
words within 1 edit (words of up to 5 letters) or 2 edits (longer words) that share the first
letter, where swapping two neighbouring letters is one edit ("Kremiln" -> "kremlin"). They come
from two lexicons, expanded with numpy by fuzzy.py: the "spell" field (real words of titles and
leads) and the stemmed body words (where most names live: "gorbachev" is in no title). The
closest candidate wins, then the one in most stories. A body stem is shown as a word a story
actually uses ("economi" is shown as "economy"). The caller keeps a correction only when it
finds more stories than the query as typed.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from whoosh.support.levenshtein import distance

from searchapp import fuzzy
from searchapp.generation import article_from_stored
from searchapp.schema import DEFAULT_FIELDS, TOKEN_PATTERN

# Offer a correction when a query finds fewer stories than this.
SUGGEST_BELOW = 3

# A word of 3+ letters that is not a field name, a wildcard, a fuzzy or boosted word.
_WORD = re.compile(r'(?<![\w:~^*?"])([^\W\d_]{3,})(?![\w:~^*?])')
_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"}
_TOKEN = re.compile(TOKEN_PATTERN)
# Misspellings rarely touch the first letter; requiring it also keeps candidates few.
PREFIX = 1
# Two edits reach many words: such a correction must be a word at least this many stories use
# ("giraffe" is 2 edits from "graff", a name in one story: no suggestion beats that one).
MIN_STORIES_AT_2 = 3
MAX_TRIED = 8


def max_edits(word: str) -> int:
    """Edits allowed for a word: 1 up to 5 letters, 2 beyond (short words have too many
    neighbours at 2 edits: "oil" is 2 edits from "all", "gil", "owl"...)."""
    return 1 if len(word) <= 5 else 2


def _analysed(searcher: Any, fieldname: str, word: str) -> str | None:
    """Return the word as a field indexes it (stemmed, lowercased), None for a stop word."""
    field = searcher.schema[fieldname]
    tokens = list(field.process_text(word, mode="query", tokenize=False, removestops=False))
    return str(tokens[0]) if tokens else None


def is_known(searcher: Any, word: str) -> bool:
    """Return whether any searched field (or the spelling lexicon) holds the word."""
    reader = searcher.reader()
    lower = word.lower()
    if ("spell", lower) in reader:
        return True
    for fieldname in DEFAULT_FIELDS:
        text = _analysed(searcher, fieldname, lower)
        if text is None or (fieldname, text) in reader:
            return True  # a stop word is not a misspelling
    return False


def _weight(searcher: Any, stem: str) -> int:
    """Return the stories a body/title stem appears in (how common the word is)."""
    reader = searcher.reader()
    return int(reader.doc_frequency("body", stem) + reader.doc_frequency("title", stem))


def surface_form(searcher: Any, stem: str) -> str | None:
    """Return the word a story actually uses for a body stem (the most frequent in one story)."""
    body = searcher.schema["body"]
    for docnum in searcher.reader().postings("body", body.to_bytes(stem)).all_ids():
        article = article_from_stored(searcher.stored_fields(docnum))
        # A possessive or contraction ("Gorbachev's") shares the stem but is never the word
        # to offer: counting it made the suggestion depend on which story came first (the
        # Reuters test failed for some build orders: "gorbachev's" is 3 edits from
        # "gorbachov", so no correction was offered).
        counts = Counter(
            token.lower()
            for token in _TOKEN.findall(f"{article.title}\n{article.lead}\n{article.body}")
            if "'" not in token
            and "’" not in token
            and _analysed(searcher, "body", token.lower()) == stem
        )
        if counts:
            return counts.most_common(1)[0][0]
    return None


def best_correction(searcher: Any, word: str) -> str | None:
    """Return the closest common word the index holds for an unknown word, or None."""
    reader = searcher.reader()
    lower = word.lower()
    edits = max_edits(lower)
    stem = _analysed(searcher, "body", lower) or lower
    # (distance, -stories, word, body stem to show as a word or "" when cand is a word)
    ranked: list[tuple[int, int, str, str]] = []
    for cand in fuzzy.terms_within(reader, "spell", lower, edits, PREFIX):
        cand_stem = _analysed(searcher, "body", cand) or cand
        ranked.append((distance(cand, lower), -_weight(searcher, cand_stem), cand, ""))
    for cand in fuzzy.terms_within(reader, "body", stem, edits, PREFIX):
        ranked.append((distance(cand, stem), -_weight(searcher, cand), cand, cand))
    # Only the best few are looked at: a body stem costs a stored story to show as a word.
    for _dist, neg_weight, cand, from_stem in sorted(ranked)[:MAX_TRIED]:
        if neg_weight == 0:
            continue  # only in deleted stories
        shown = surface_form(searcher, from_stem) if from_stem else cand
        if not shown or shown == lower:
            continue
        # Judge the word shown, not the stem: "giraff" is 1 edit from "graff", "giraffe" 2.
        dist = distance(shown, lower)
        if dist <= edits and -neg_weight >= (MIN_STORIES_AT_2 if dist >= 2 else 1):
            return shown
    return None


def _same_case(word: str, fixed: str) -> str:
    if word.isupper() and len(word) > 1:
        return fixed.upper()
    if word[:1].isupper():
        return fixed[:1].upper() + fixed[1:]
    return fixed


def corrected(searcher: Any, text: str) -> str | None:
    """Return the query text with unknown words corrected, or None when nothing changed.

    Words inside quotes are corrected too; fields and operators are left alone.
    """
    changed = False

    def fix(m: re.Match[str]) -> str:
        nonlocal changed
        word = m.group(1)
        if word in _OPERATORS or is_known(searcher, word):
            return word
        found = best_correction(searcher, word)
        if found is None:
            return word
        changed = True
        return _same_case(word, found)

    result = _WORD.sub(fix, text)
    return result if changed else None
