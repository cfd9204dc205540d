"""The Whoosh schema: which fields are searched, which serve facets, and article -> fields.

Design for fast facets (see docs/whoosh-notes.md): Whoosh's own faceting either runs a
query per bucket or rebuilds per-document term lists on every search. We never use it. Each
facet instead has an exact-value keyword field (``f_*``, one term per tag, case kept) whose
postings are read ONCE per index segment into numpy arrays (facets.py); counting a result set is
then one ``bincount``. The story's timestamp lives in a numeric column for the same reason:
sorting and the date histogram are numpy operations on an array loaded once.

Searchable fields are separate from the facet fields because users type ``person:baker`` and
expect a match: those are tokenised and lowercased; facet values must stay exactly as printed.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timezone

import Stemmer
from whoosh import columns, fields
from whoosh.analysis import (
    LowercaseFilter,
    RegexTokenizer,
    StemmingAnalyzer,
    StopFilter,
    StripFilter,
)
from whoosh.lang.stopwords import stoplists

from searchapp.facetspec import TERM_FACETS
from searchapp.models import Article

# A story with no date sorts last on "newest first" and first on "oldest first"; Whoosh's own
# DATETIME placeholder sorts first and overflows on conversion (docs/whoosh-notes.md), so the column
# holds epoch seconds with this sentinel instead.
NO_DATE = -(2**62)

# English stop words plus the agency boilerplate that every story carries in its dateline.
STOP_WORDS = frozenset(stoplists["en"]) | {"tass", "reuter", "reuters"}

# Words joined by apostrophes stay one token (John's); "U.S." is one token, "u.s", which
# snowball_stem reads as "us" (the way a reader types it). Hyphens split words
# (time-sharing -> time, sharing), as in most search engines' standard analyzers: a story
# saying "time-sharing" must match "time sharing" (nDCG@10 +0.011 Cranfield, +0.018 CACM,
# docs/ranking.md); a phrase "al-Assad" still finds "al-Assad" and "al Assad".
TOKEN_PATTERN = r"\w+(?:[.'’]\w+)*"

# BM25F field weights for the default (unfielded) query; the title says what the story is about.
FIELD_BOOSTS = {"title": 2.5, "lead": 1.5, "body": 1.0, "person": 1.5, "topic": 1.5}
DEFAULT_FIELDS = tuple(FIELD_BOOSTS)

# Facet name -> the exact-value field that holds it (from the one table, facetspec.py).
FACET_FIELDS = {f.name: f.field for f in TERM_FACETS}

# 6: Snowball (PyStemmer) instead of Porter; hyphens split words. 7: "U.S." is indexed as "us".
SCHEMA_VERSION = 7
# Separates the values of a facet field: a tag may hold commas ("Smith, John"), never this.
TAG_SEP = "\x1f"


# Snowball's English stemmer (Porter's successor), in C: nDCG@10 +0.003 on Cranfield and
# +0.012 on CACM over Whoosh's Porter (docs/ranking.md). Module-level so the schema pickles.
_SNOWBALL = Stemmer.Stemmer("english")


# Single letters joined by dots: "u.s" (U.S.), "u.k", "e.u", "u.s.a".
_ACRONYM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")


def snowball_stem(word: str) -> str:
    """Return the Snowball (Porter2) stem of a lowercased word.

    An acronym written with dots is read as its letters, as Lucene's ClassicFilter does:
    a reader types "US" or "UK" for the agency's "U.S." and "U.K.", and each must find the
    other (before, "US trade deficit" found 4 Reuters stories with every word, "U.S. trade
    deficit" 56). Numbers keep their dots ("3.5").
    """
    if "." in word and _ACRONYM.fullmatch(word):
        word = word.replace(".", "")
    stem: str = _SNOWBALL.stemWord(word)
    return stem


def text_analyzer():  # type: ignore[no-untyped-def]
    """Tokenise, lowercase, drop stop words, stem: the analyzer of title, lead and body."""
    return StemmingAnalyzer(
        expression=TOKEN_PATTERN,
        stoplist=STOP_WORDS,
        minsize=1,
        stemfn=snowball_stem,
        cachesize=100_000,
    )


def name_analyzer():  # type: ignore[no-untyped-def]
    """Tokenise, lowercase, drop stop words, no stemming: names and tags match as words.

    Stop words go here too: every word of a query is also looked up in persons and topics,
    and a stop word kept there would make "why do coffee exports fall" (AND) match nothing.
    """
    return (
        RegexTokenizer(TOKEN_PATTERN)
        | LowercaseFilter()
        | StopFilter(stoplist=STOP_WORDS, minsize=1)
    )


def spell_analyzer():  # type: ignore[no-untyped-def]
    """Real (unstemmed) words for did-you-mean: a stemmed lexicon would suggest "coffe"."""
    return RegexTokenizer(r"[^\W\d_]{3,}") | LowercaseFilter() | StopFilter(stoplist=STOP_WORDS)


def facet_field() -> fields.KEYWORD:
    """Return an exact-value field: one term per value, case and commas kept."""
    field = fields.KEYWORD(scorable=False, lowercase=False)
    field.analyzer = RegexTokenizer(r"[^\x1f]+") | StripFilter()
    return field


def build_schema() -> fields.Schema:
    """Return the index schema."""
    text = text_analyzer()
    names = name_analyzer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        # Not stored: the "doc" blob below holds the text once.
        title=fields.TEXT(analyzer=text),
        lead=fields.TEXT(analyzer=text),
        body=fields.TEXT(analyzer=text),
        # Each facet's searchable words, under the name users type (``person:baker``), which
        # is its URL parameter.
        **{f.param: fields.TEXT(analyzer=names, phrase=True) for f in TERM_FACETS},
        # Parses date: clauses only. No values are indexed: its trie terms (8 per story) cost
        # 13% of indexing time, and search.py answers date ranges from the "ts" column.
        date=fields.DATETIME(),
        # Facet fields: one exact term per value, no frequencies or positions needed.
        **{f.field: facet_field() for f in TERM_FACETS},
        ts=fields.COLUMN(columns.NumericColumn("q", default=NO_DATE)),
        spell=fields.TEXT(analyzer=spell_analyzer(), phrase=False),
        # Everything needed to show or export the story, in one stored JSON blob: one unpickle
        # per hit instead of one per field.
        doc=fields.STORED(),
        hash=fields.STORED(),
        source=fields.STORED(),
    )


def facet_values(article: Article, facet: str) -> tuple[str, ...]:
    """Return an article's values of a facet (a single-valued facet's as a 1-tuple)."""
    value = getattr(article, facet)
    return tuple(value) if isinstance(value, tuple) else (value,)


def _keyword(values: tuple[str, ...] | list[str]) -> str:
    return TAG_SEP.join([v.replace(TAG_SEP, " ") for v in values if v])


def article_hash(article: Article) -> str:
    """Return a digest of every field, so an unchanged story is never rewritten."""
    return _digest(stored_doc(article))


def _digest(doc_json: str) -> str:
    # The stored JSON holds every field in a fixed order: hashing it saves a second encoding.
    return hashlib.sha1(doc_json.encode("utf-8")).hexdigest()


def stored_doc(article: Article) -> str:
    """Return the stored JSON form of an article (to_dict plus the agency's UTC offset)."""
    try:
        return _stored_json(article)
    except TypeError:  # a value that is not text (bad input): json.dumps says what it makes
        pass
    data = article.to_dict()
    if article.date is not None:
        offset = article.date.utcoffset()
        data["utc_offset_min"] = int(offset.total_seconds() // 60) if offset else 0
    if article.title_made:
        data["title_made"] = True  # the page shows such a title as made, not printed
    return json.dumps(data, ensure_ascii=False)


# json.dumps(ensure_ascii=False) quotes strings with this function (its C version); the rest
# of _stored_json is json.dumps's separators around to_dict's keys in to_dict's order.
_QUOTE = json.encoder.encode_basestring


def _stored_json(article: Article) -> str:
    """Return json.dumps(...) of stored_doc's dict, byte for byte, in a quarter of the time.

    json.dumps builds an encoder and walks a dict built for it: ~10 µs a story, 0.2 s of
    Reuters' 21.6k (tests/test_exact.py compares the two). Raises TypeError for a value
    that is not text (json.dumps then encodes it however it does).
    """
    topics, persons = article.topics, article.persons
    if type(topics) is not tuple or type(persons) is not tuple:
        raise TypeError("tags that are not tuples")
    date = article.date
    if date is None:
        when, tail = "null", ""
    else:
        when = _QUOTE(date.astimezone(timezone.utc).isoformat())  # article.iso_date
        offset = date.utcoffset()
        tail = f', "utc_offset_min": {int(offset.total_seconds() // 60) if offset else 0}'
    if article.title_made:
        tail += ', "title_made": true'
    return "".join(
        [
            '{"id": ',
            _QUOTE(article.id),
            ', "title": ',
            _QUOTE(article.title),
            ', "lead": ',
            _QUOTE(article.lead),
            ', "body": ',
            _QUOTE(article.body),
            ', "date": ',
            when,
            ', "section": ',
            _QUOTE(article.section),
            ', "topics": [',
            ", ".join(map(_QUOTE, topics)),
            '], "persons": [',
            ", ".join(map(_QUOTE, persons)),
            '], "place": ',
            _QUOTE(article.place),
            ', "photo_credit": ',
            _QUOTE(article.photo_credit),
            tail,
            "}",
        ]
    )


# (facet attribute, its searchable field, its exact-value field).
_FACETS = tuple((f.name, f.param, f.field) for f in TERM_FACETS)


def to_fields(article: Article, content_hash: str | None = None) -> dict[str, object]:
    """Return the Whoosh document for an article (validated; see indexer.validate)."""
    date = article.date.astimezone(timezone.utc) if article.date is not None else None
    doc_json = stored_doc(article)
    doc: dict[str, object] = {
        "id": article.id,
        "title": article.title,
        "lead": article.lead,
        "body": article.body,
    }
    # facet_values per facet, once: the searchable fields first, then the exact-value ones
    # (the document's field order is as before).
    values = [facet_values(article, name) for name, _, _ in _FACETS]
    for (_, param, _), vals in zip(_FACETS, values, strict=True):
        doc[param] = " ".join(vals)
    for (_, _, name), vals in zip(_FACETS, values, strict=True):
        doc[name] = _keyword(vals)
    doc["ts"] = int(date.timestamp()) if date is not None else NO_DATE
    # Titles and leads only: adding the body doubles the indexing time (measured: 13.7 s
    # vs 7.4 s for Reuters' writer phase) for a vocabulary of rare words and typos.
    doc["spell"] = f"{article.title}\n{article.lead}"
    doc["doc"] = doc_json
    doc["hash"] = content_hash or _digest(doc_json)
    doc["source"] = article.source
    return doc
