"""Snippets: the best fragment of a story with the matched words in <mark>.

Not Whoosh's highlighter: its HtmlFormatter leaves quotes unescaped and its other formatters
escape nothing (docs/whoosh-notes.md). Here every character of article text goes through
html.escape(quote=True), and only our own <mark> tags are raw. Matching uses the index's
analyzer (so "meeting" finds "meet"), but the marked text is the word as printed.
"""

from __future__ import annotations

import bisect
import html
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from whoosh import query

from searchapp.postings import expand_words
from searchapp.schema import STOP_WORDS, TOKEN_PATTERN, snowball_stem

FRAGMENT_CHARS = 220
# Only the opening of a very long story is searched for matches: snippets stay fast and
# bounded whatever an article holds.
MAX_SCAN_CHARS = 50_000
_TOKEN = re.compile(TOKEN_PATTERN)
MAX_FRAGMENTS = 2
ELLIPSIS = "…"
TEXT_FIELDS = ("title", "lead", "body")


def highlight_terms(q: Any, reader: Any) -> set[str]:
    """Return the analysed words of title/lead/body that a query matches (wildcards expanded).

    Not Query.existing_terms(): in Whoosh 2.7.5 its loop variable shadows its ``fieldname``
    argument, so after the first leaf it skips every leaf of another field (a query over
    title, lead and body yields only the title's words). See tests/test_whoosh_bugs.py.
    """
    terms: set[str] = set()
    for leaf in q.leaves():
        if isinstance(leaf, query.FuzzyTerm):
            # Expanded as the evaluator does (fast over columnar segments).
            pairs: Any = [(leaf.fieldname, w) for w in expand_words(leaf, reader)]
        else:
            pairs = leaf.expanded_terms(reader, phrases=True)
        for fieldname, text in pairs:
            if fieldname in TEXT_FIELDS:
                terms.add(text.decode("utf-8") if isinstance(text, bytes) else text)
    return terms


@lru_cache(maxsize=200_000)
def analysed_word(word: str) -> str:
    """Return a token as the index holds it: lowercased, stemmed ("" for a stop word).

    The stemmer is the index's own (schema.snowball_stem): any other marks words the search
    did not match, or misses some it did (Whoosh's Porter, used here before, left "bidding"
    unmarked for "bid" and "submitted" for "submit").
    """
    low = word.lower()
    return "" if low in STOP_WORDS else snowball_stem(low)


def _matches(text: str, terms: frozenset[str]) -> list[tuple[int, int, str]]:
    """Return (start, end, term) of each token whose analysed form is a query term.

    The same steps as schema.text_analyzer (tokenise, lowercase, stop, stem), without its
    generator chain. Analysing every token of a long body in Python was 40% of a phrase
    search at 216k stories (10 snippets a page); so the distinct tokens are analysed once
    each, and the regex engine finds where the matching ones start (_token_starts).
    """
    words = set(_TOKEN.findall(text, 0, MAX_SCAN_CHARS))
    hits = [w for w in words if analysed_word(w) in terms]
    if not hits:
        return []
    out = []
    for start in _token_starts(text, hits):
        m = _TOKEN.match(text, start, MAX_SCAN_CHARS)
        if m is not None:
            form = analysed_word(m.group())
            if form in terms:
                out.append((start, m.end(), form))
    return out


def _token_starts(text: str, words: list[str]) -> Iterator[int]:
    """Yield where each of ``words`` occurs as the start of a token (in order).

    A position starts a token of TOKEN_PATTERN (\\w+ joined by . ' ’) unless the character
    before it is a word character, or a joiner that follows one: the greedy tokenizer would
    have carried the previous token on through it. The lookahead finds overlapping
    occurrences too; the caller matches the whole token there and checks it.
    """
    alternation = "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w)))
    pattern = _starts_pattern(alternation)
    for m in pattern.finditer(text, 0, MAX_SCAN_CHARS):
        yield m.start()


@lru_cache(maxsize=4096)
def _starts_pattern(alternation: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?<!\w[.'’])(?=(?:" + alternation + "))")


def _render(text: str, start: int, end: int, spans: list[tuple[int, int, str]]) -> str:
    parts = []
    pos = start
    for s, e, _t in spans:
        if s < start or e > end:
            continue
        parts.append(html.escape(text[pos:s], quote=True))
        parts.append("<mark>" + html.escape(text[s:e], quote=True) + "</mark>")
        pos = e
    parts.append(html.escape(text[pos:end], quote=True))
    return "".join(parts)


def _word_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    # Widen to whole words so a fragment never opens or closes mid-word.
    if 0 < start <= 30:
        start = 0
    elif start > 0:
        space = text.rfind(" ", start - 30, start)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.find(" ", end, end + 30)
        end = space if space >= 0 else end
    return start, end


def _best_windows(spans: list[tuple[int, int, str]]) -> list[tuple[int, int]]:
    """Pick up to MAX_FRAGMENTS windows holding the most distinct terms (then the most hits)."""
    windows = []
    used: list[tuple[int, int]] = []
    # Spans are tokens in text order, so their ends rise too: the spans inside a window are
    # one slice, found by bisection (a scan of the rest per span was quadratic).
    ends = [sp[1] for sp in spans]
    for _ in range(MAX_FRAGMENTS):
        best = None
        best_key = (0, 0)
        for i, (s, _e, _t) in enumerate(spans):
            if any(a <= s < b for a, b in used):
                continue
            inside = spans[i : bisect.bisect_right(ends, s + FRAGMENT_CHARS, lo=i)]
            key = (len({sp[2] for sp in inside}), len(inside))
            if key > best_key:
                best_key, best = key, (s, s + FRAGMENT_CHARS)
        if best is None:
            break
        # Open the window a little before the first match, for context.
        start = max(0, best[0] - 60)
        windows.append((start, start + FRAGMENT_CHARS))
        used.append(windows[-1])
    return sorted(windows)


def snippet(texts: Iterable[str], terms: Iterable[str]) -> str:
    """Return an HTML snippet from the first text that holds a query term.

    ``terms`` are analysed (stemmed, lowercased) forms; with none, or no match, the snippet is
    the opening of the first non-empty text, escaped.
    """
    termset = frozenset(terms)
    texts = [t for t in texts if t]
    if not texts:
        return ""
    if termset:
        for text in texts:
            spans = _matches(text, termset)
            if not spans:
                continue
            frags = []
            for start, end in _best_windows(spans):
                end = min(end, len(text))
                start, end = _word_bounds(text, start, end)
                frag = _render(text, start, end, spans).strip()
                prefix = ELLIPSIS + " " if start > 0 else ""
                suffix = " " + ELLIPSIS if end < len(text) else ""
                frags.append(prefix + frag + suffix)
            joined = " ".join(frags).replace(ELLIPSIS + " " + ELLIPSIS, ELLIPSIS)
            # Paragraph breaks inside a one-line snippet read as stray gaps.
            return " ".join(joined.split())
    text = texts[0]
    end = min(len(text), FRAGMENT_CHARS)
    _s, end = _word_bounds(text, 0, end)
    opening = " ".join(text[:end].split())
    return html.escape(opening, quote=True) + (" " + ELLIPSIS if end < len(text) else "")
