"""Story text on a page: paragraphs, messages with `commands`, and the searched words marked.

Marking on the article page works from the query text alone (no second search): its words as
the index analyses them (lowercase, stop words dropped, the index's own stemmer), and ``wild*``
prefixes.
Words given to a non-text field (``section:``, ``person:``, ``date:`` …) or after NOT are not
marked. Every character of the story is escaped; only our own <mark> tags are raw.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from searchapp.highlight import analysed_word
from searchapp.schema import TOKEN_PATTERN

_TOKEN = re.compile(TOKEN_PATTERN)
TEXT_FIELDS = ("title", "lead", "body")
OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"})
# One query clause: an optional field, then a "phrase", a [range] or a bare word.
_CLAUSE = re.compile(r'(?:(\w+):)?("[^"]*"|\[[^\]]*\]|\S+)')
MIN_PREFIX = 2


def paragraphs(text: str) -> list[str]:
    """Split a story body into paragraphs on blank lines."""
    return [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]


def code_spans(text: str) -> Markup:
    """Escape a message, then show its `backticked` commands as <code> (safe: escaped first)."""
    return Markup(re.sub(r"`([^`<>]+)`", r"<code>\1</code>", str(escape(text))))


def query_terms(q: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """Return the analysed words and the lowercase wildcard prefixes a query searches text for."""
    terms: set[str] = set()
    prefixes: list[str] = []
    negate = False
    for m in _CLAUSE.finditer(q or ""):
        field, body = m.group(1), m.group(2)
        if body in OPERATORS:
            negate = body == "NOT"
            continue
        skip = negate or body.startswith("-") or (field is not None and field not in TEXT_FIELDS)
        negate = False
        if skip or body.startswith("["):
            continue
        body = re.sub(r"[~^][\d.]*$", "", body.strip('"()'))  # fuzzy~2, boost^2, (groups)
        if body.endswith("*") and "*" not in body[:-1] and "?" not in body:
            prefix = body[:-1].lower()
            if len(prefix) >= MIN_PREFIX and _TOKEN.fullmatch(prefix):
                prefixes.append(prefix)
            continue
        for token in _TOKEN.findall(body):
            form = analysed_word(token)
            if form:
                terms.add(form)
    return frozenset(terms), tuple(prefixes)


def mark_words(text: str, q: str) -> Markup:
    """Return text escaped, with each word the query searches for inside <mark>."""
    terms, prefixes = query_terms(q)
    if not terms and not prefixes:
        return Markup(escape(text))
    out = []
    pos = 0
    for m in _TOKEN.finditer(text):
        word = m.group()
        low = word.lower()
        if analysed_word(word) in terms or (prefixes and low.startswith(prefixes)):
            out.append(str(escape(text[pos : m.start()])))
            out.append("<mark>" + str(escape(word)) + "</mark>")
            pos = m.end()
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))
