"""The query language: Whoosh syntax with our fields, dates, and guards against costly queries.

This is the strict reading (`--strict`, `strict=1`); reading.py is the lenient default, which
reuses the pieces here (dates, cost limits, the parser) and reads what does not parse as words.

Whoosh's parser never raises: 'AND OR' or 'date:notadate' silently become an empty query
(docs/whoosh-notes.md). Here every such case becomes a QueryError with a sentence saying what was
wrong and what to type instead. Costly shapes (a bare ``*``, huge wildcard expansions, fuzzy
distance >= 3, open term ranges, thousands of words, deep nesting) are refused before they
reach the index, because Whoosh spends seconds on them or overflows the stack.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from whoosh import query
from whoosh.qparser import (
    AndGroup,
    FieldAliasPlugin,
    MultifieldPlugin,
    QueryParser,
)
from whoosh.qparser.syntax import GroupNode

from searchapp.errors import QueryError
from searchapp.fuzzy import FastFuzzyTermPlugin
from searchapp.postings import expand_words
from searchapp.schema import DEFAULT_FIELDS, FIELD_BOOSTS

OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"}
MAX_QUERY_CHARS = 4000
# Words a query may hold (operators not counted): a long natural-language question fits,
# a pasted article does not (Whoosh's parser recurses per word: 1,000 overflow its stack).
MAX_TERMS = 250
MAX_DEPTH = 12
MAX_FUZZY = 2
MAX_EXPANSION = 512  # terms a wildcard, prefix or fuzzy word may expand to
MAX_PATTERNS = 10  # wildcard and fuzzy words in one query (each expands to many words)
MIN_WILDCARD_PREFIX = 2  # letters before the first * or ?

USER_FIELDS = {
    "title": "title",
    "lead": "lead",
    "body": "body",
    "section": "section",
    "topic": "topic",
    "topics": "topic",
    "person": "person",
    "persons": "person",
    "place": "place",
    "date": "date",
}
FIELD_LIST = "title, lead, body, section, topic, person, place, date"
_FIELD_REF = re.compile(r"(?:^|[\s(+\-])([A-Za-z_][\w]*):(?=\S)")
_QUOTED = re.compile(r'"[^"]*"')
# A question mark after a word and before a space, punctuation or the end ends a question
# ("Japan?", "messages?--i.e."); inside a word ("colo?bia") it is a wildcard.
_QUESTION = re.compile(r"(?<=\w)\?+(?=[^\w*?]|$)")


class CostError(QueryError):
    """A query over one of the cost limits: refused in lenient mode too (limits stay)."""


class Word(query.DisjunctionMax):
    """One typed word searched in several fields (title, lead, body, person, topic).

    The evaluator scores it as ONE BM25F term (field frequencies weighted and summed, then
    saturated once), not as a sum of per-field scores. A DisjunctionMax subclass rather than
    an Or one, so that Whoosh's normalize() never flattens it into a surrounding Or (it merges
    only children of the parent's own class) and the word's fields stay together.
    """


class WordGroup(GroupNode):
    """The parser's group for an unfielded word's per-field terms: builds a Word.

    Not an OrGroup subclass: the parser merges nested groups of one class into their parent
    ("b OR c" would become one Word of both words).
    """

    qclass = Word


def _is_null(q: Any) -> bool:
    """Return True for Whoosh's NullQuery (a singleton instance, not a class)."""
    return q is query.NullQuery or isinstance(q, type(query.NullQuery))


def _check_fields(text: str) -> None:
    unquoted = _QUOTED.sub(" ", text)
    for match in _FIELD_REF.finditer(unquoted):
        name = match.group(1)
        if name.lower() not in USER_FIELDS:
            raise QueryError(
                f'unknown field "{name}:" in the query; the fields are {FIELD_LIST} '
                f'(or put "{name}:" in quotes to search for it as text)'
            )


def make_parser(schema: Any) -> QueryParser:
    """Return a parser over title, lead, body, persons and topics (AND by default).

    MultifieldParser's plugin with our WordGroup: each unfielded word becomes a Word.
    """
    parser = QueryParser(None, schema, group=AndGroup)
    parser.add_plugin(MultifieldPlugin(list(DEFAULT_FIELDS), FIELD_BOOSTS, group=WordGroup))
    # word~N expands with numpy over a cached lexicon (fuzzy.py), not Whoosh's Python walk.
    parser.add_plugin(FastFuzzyTermPlugin())
    parser.add_plugin(FieldAliasPlugin({"topic": ["topics"], "person": ["persons"]}))
    return parser


# Dates. Whoosh's DateParserPlugin mis-reads dashed dates in ranges (date:[2017-11-01 to
# 2017-11-30] becomes the whole of 2017), fails on "last week", and calls the deprecated
# utcnow(); the DATETIME field's own parser reads YYYY[MM[DD]] values and ranges correctly.
# So date clauses are checked and rewritten here into that form before Whoosh parses them.
_DATE_CLAUSE = re.compile(r'(?i)\bdate:(\[[^\]]*\]|"[^"]*"|[<>]=?[^\s()]*|[^\s()"]+)')
_DATE_VALUE = re.compile(r"(\d{4})(?:-?(\d{2})(?:-?(\d{2}))?)?")
DATE_HELP = (
    "use date:2017-11-21, date:2017-11, date:2017, date:[2017-11-01 TO 2017-11-30], "
    'date:yesterday or date:"last week"'
)


def _relative(word: str, today: date) -> tuple[date, date] | None:
    """Return the inclusive (first, last) days a relative date names, or None."""
    word = " ".join(word.lower().split())
    if word == "today":
        return today, today
    if word == "yesterday":
        day = today - timedelta(days=1)
        return day, day
    monday = today - timedelta(days=today.weekday())
    month1 = today.replace(day=1)
    year1 = today.replace(month=1, day=1)
    spans = {
        "this week": (monday, today),
        "last week": (monday - timedelta(days=7), monday - timedelta(days=1)),
        "this month": (month1, today),
        "last month": ((month1 - timedelta(days=1)).replace(day=1), month1 - timedelta(days=1)),
        "this year": (year1, today),
        "last year": (year1.replace(year=today.year - 1), year1 - timedelta(days=1)),
    }
    return spans.get(word)


def _date_value(value: str, clause: str) -> str:
    """Check one date (YYYY, YYYY-MM, YYYY-MM-DD) and return it as digits for Whoosh."""
    m = _DATE_VALUE.fullmatch(value.strip())
    if not m:
        raise QueryError(f'cannot read the date in "{clause}": {DATE_HELP}')
    year, month, day = m.groups()
    try:
        date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        raise QueryError(f'"{clause}" is not a real date: check the month and day') from None
    return year + (month or "") + (day or "")


def _rewrite_date(m: re.Match[str], today: date) -> str:
    clause = m.group(0)
    value = m.group(1)
    if value.startswith("["):
        inner = value[1:-1].strip()
        parts = re.split(r"(?i)\s*\bto\b\s*", inner)
        if len(parts) != 2 or not (parts[0] or parts[1]):
            raise QueryError(f'cannot read the date range "{clause}": {DATE_HELP}')
        bounds = []
        for i, part in enumerate(parts):
            span = _relative(part.strip('"'), today) if part else None
            if span:
                bounds.append(span[i].strftime("%Y%m%d"))
            else:
                bounds.append(_date_value(part, clause) if part else "")
        # "[ TO x]" (a space before TO) is an error to Whoosh; "[TO x]" is an open range.
        return f"date:[{bounds[0]} TO {bounds[1]}]".replace("[ TO", "[TO").replace(" TO ]", " TO]")
    if value[0] in "<>":
        op = value[:2] if value[1:2] == "=" else value[:1]
        rest = value[len(op) :]
        digits = _date_value(rest, clause)
        return f"date:[{digits} TO]" if op.startswith(">") else f"date:[TO {digits}]"
    span = _relative(value.strip('"'), today)
    if span:
        return f"date:[{span[0]:%Y%m%d} TO {span[1]:%Y%m%d}]"
    return "date:" + _date_value(value.strip('"'), clause)


# A date clause, or quoted text (never rewritten: "set the date:soon" is a phrase). Scanning
# left to right, a quote that opens before a date: clause swallows it.
_DATE_OR_QUOTED = re.compile(_DATE_CLAUSE.pattern + r'|"[^"]*"')


def rewrite_dates(text: str, now: datetime | None = None) -> str:
    """Check every date: clause and rewrite it into the form Whoosh's DATETIME field reads.

    Quoted text is left as typed: title:"date:2017-11" searches for those words.
    """
    today = (now or datetime.now(timezone.utc)).date()

    def one(m: re.Match[str]) -> str:
        return m.group(0) if m.group(1) is None else _rewrite_date(m, today)

    return _DATE_OR_QUOTED.sub(one, text)


def _depth(q: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    children = list(q.children()) if q.is_leaf() is False else []
    return max([_depth(c, level + 1) for c in children], default=level)


def _walk(q: Any) -> Any:
    yield q
    if not q.is_leaf():
        for child in q.children():
            yield from _walk(child)


def _guard(q: Any, reader: Any) -> None:
    if _depth(q) > MAX_DEPTH:
        raise CostError(f"the query nests parentheses more than {MAX_DEPTH} deep: flatten it")
    # The word limit is checked on the text (parse_query): each word becomes one leaf per
    # default field here, so counting leaves would refuse a 14-word OR query.
    leaves = [n for n in _walk(q) if n.is_leaf()]
    for node in leaves:
        if isinstance(node, query.FuzzyTerm) and node.maxdist > MAX_FUZZY:
            raise CostError(
                f'fuzzy distance {node.maxdist} in "{node.text}~{node.maxdist}" is too wide: '
                f"use ~1 or ~{MAX_FUZZY}"
            )
        if isinstance(node, (query.Wildcard, query.Prefix)):
            text = node.text
            head = re.split(r"[*?]", text, maxsplit=1)[0]
            if len(head) < MIN_WILDCARD_PREFIX:
                shown = text + ("*" if isinstance(node, query.Prefix) else "")
                raise CostError(
                    f'"{shown}" would match almost every word: put at least '
                    f"{MIN_WILDCARD_PREFIX} letters before * or ?"
                )
        if isinstance(node, query.TermRange) and node.fieldname != "date":
            raise QueryError(
                f"ranges of words ({node.fieldname}:[… TO …]) are not supported: "
                "search for the words, or use date:[2017-11-01 TO 2017-11-30]"
            )
        if isinstance(node, query.MultiTerm) and not isinstance(node, query.TermRange):
            for count, _term in enumerate(expand_words(node, reader), 1):
                if count > MAX_EXPANSION:
                    raise CostError(
                        f'"{node}" matches more than {MAX_EXPANSION} different words: '
                        "make the pattern longer"
                    )


def check_length(text: str) -> None:
    """Refuse text over the character limit (a cost limit: lenient mode refuses it too)."""
    if len(text) > MAX_QUERY_CHARS:
        raise CostError(
            f"the query is {len(text):,} characters long; at most {MAX_QUERY_CHARS:,} "
            "are accepted: shorten it"
        )


def check_counts(searched: list[str]) -> None:
    """Refuse too many words or wildcard/fuzzy words (cost limits, in both modes)."""
    patterns = [w for w in searched if re.search(r"[*?]|~\d*$", w)]
    if len(patterns) > MAX_PATTERNS:
        raise CostError(
            f"the query has {len(patterns)} wildcard or fuzzy words; at most {MAX_PATTERNS} "
            "are expanded: spell out the words you mean"
        )
    if len(searched) > MAX_TERMS:
        raise CostError(
            f"the query has {len(searched)} words; at most {MAX_TERMS} are searched: "
            "keep the words that matter most"
        )


def strip_question_marks(text: str) -> str:
    """Drop question marks that end a word: "deficit with Japan?" asks, it is no wildcard.

    As a wildcard it would stop "Japan?" from matching "Japan".
    """
    return _QUESTION.sub("", text).strip()


def guard(q: Any, reader: Any) -> None:
    """Refuse a parsed query over a cost limit (nesting, fuzzy distance, expansions)."""
    _guard(q, reader)


def parse_query(text: str, schema: Any, reader: Any, now: datetime | None = None) -> Any:
    """Parse user query text strictly into a Whoosh query, or raise QueryError saying what to fix.

    Returns None for an empty query (every article). The strict reading: every word is
    required, and anything that does not parse is an error (reading.py is the lenient one).
    """
    text = text.strip()
    if not text:
        return None
    check_length(text)
    text = strip_question_marks(text)
    if not text:
        return None
    if text.count('"') % 2:
        raise QueryError('the query has an unmatched double quote ("): close the phrase')
    if text.count("(") != text.count(")"):
        raise QueryError("the query's parentheses do not balance: close every ( with a )")
    if text.replace("*", "").replace("?", "").strip() == "":
        raise QueryError(
            "a query of only wildcards would match everything: leave the box empty to "
            "browse every article, or type a word"
        )
    _check_fields(text)
    words = re.findall(r'[^\s()"]+', text)
    if words and all(w.upper() in OPERATORS for w in words):
        raise QueryError(
            f'nothing searchable in "{text}": it holds only operators; '
            'type words to find, e.g. Sochi or "trade deficit"'
        )
    check_counts([w for w in words if w.upper() not in OPERATORS])
    text = rewrite_dates(text, now)
    try:
        q = make_parser(schema).parse(text)
    except RecursionError:
        raise CostError("the query is too deeply nested to parse: simplify it") from None
    except (ValueError, OverflowError):
        raise QueryError(f"cannot read the query: {DATE_HELP}") from None
    if _is_null(q):
        raise QueryError(
            f'nothing searchable in "{text}": it holds only operators or stop words; '
            'type words to find, e.g. Sochi or "trade deficit"'
        )
    q = q.normalize()
    if _is_null(q):
        raise QueryError(
            f'nothing searchable in "{text}": it holds only operators or stop words; '
            'type words to find, e.g. Sochi or "trade deficit"'
        )
    _guard(q, reader)
    return q


def parse_bound(value: str | None, name: str, end: bool) -> int | None:
    """Parse a --from/--to bound (YYYY, YYYY-MM, YYYY-MM-DD) into epoch seconds, UTC.

    ``end`` bounds are inclusive of the whole period, so they return the first second AFTER it.
    """
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value)
    if not m:
        raise QueryError(
            f'{name} "{value}" is not a date: use YYYY, YYYY-MM or YYYY-MM-DD, e.g. 1987-03-01'
        )
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    try:
        if day is not None:
            start = date(year, int(month), int(day))
            stop = start + timedelta(days=1)
        elif month is not None:
            start = date(year, int(month), 1)
            stop = date(year + (start.month == 12), start.month % 12 + 1, 1)
        else:
            start = date(year, 1, 1)
            stop = date(year + 1, 1, 1)
    except ValueError:
        raise QueryError(
            f'{name} "{value}" is not a real date: check the month (1-12) and day'
        ) from None
    chosen = stop if end else start
    return int(datetime(chosen.year, chosen.month, chosen.day, tzinfo=timezone.utc).timestamp())
