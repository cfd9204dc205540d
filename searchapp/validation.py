"""Whether a story can be indexed: every check Whoosh could fail, made before Whoosh sees it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from searchapp.models import Article

# Whoosh stores terms with a 2-byte length; a longer "word" is a blob, not text.
MAX_WORD = 255
MAX_FIELD_CHARS = 5_000_000
MAX_ID_CHARS = 200
_LONG_WORD = re.compile(rf"\w{{{MAX_WORD + 1},}}")
# A run of MAX_WORD + 1 word characters lies inside a run of as many non-space ones (no
# character is both \w and \s: tests/test_exact.py checks every code point). Looking for
# those first is ~3x cheaper: the regex engine tries _LONG_WORD at every character, these
# only where a text starts and after each space.
_LONG_RUN_START = re.compile(rf"\S{{{MAX_WORD + 1}}}")
_LONG_RUN = re.compile(rf"\s\S{{{MAX_WORD + 1}}}")
_BAD_ID = re.compile(r"[\x00-\x1f\x7f/\\]")
# A story dated more than this far ahead of the clock is a typo, not news.
FUTURE_SLACK = timedelta(days=2)


def validate(article: Article, now: datetime | None = None) -> str | None:
    """Return why an article cannot be indexed, or None when it is fit.

    Whoosh 2.7.5 corrupts the NEXT document (and, before a commit, the previous one's stored
    fields) when it rejects a document halfway through add_document (docs/whoosh-notes.md), so every
    check that Whoosh could fail must happen here, before the writer sees the article.
    """
    if not article.id or len(article.id) > MAX_ID_CHARS or _BAD_ID.search(article.id):
        return f"invalid id {article.id[:60]!r}: use 1-{MAX_ID_CHARS} printable characters"
    if not article.title.strip():
        return "no title: the second line of the file must be the story's title"
    texts = [article.title, article.lead, article.body, article.section, article.place]
    texts += list(article.topics) + list(article.persons) + [article.photo_credit]
    for text in texts:
        if not isinstance(text, str):
            return f"field value {text!r} is not text"
        if len(text) > MAX_FIELD_CHARS:
            return f"a field holds {len(text):,} characters (at most {MAX_FIELD_CHARS:,})"
        if not text.isascii():  # an ASCII string (known without a scan) always encodes
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return (
                    "text holds characters that are not valid Unicode; re-save the file as UTF-8"
                )
        if "\x00" in text:
            return "text holds NUL bytes: is it a binary file?"
        long_word = _long_word(text)
        if long_word:
            return (
                f"holds a {len(long_word.group()):,}-character word (at most {MAX_WORD}): "
                "an encoded blob, not text"
            )
    if article.date is not None:
        now = now or datetime.now(timezone.utc)
        if article.date.astimezone(timezone.utc) > now + FUTURE_SLACK:
            return f"dated {article.iso_date}, in the future: check the header date"
    return None


def _long_word(text: str) -> re.Match[str] | None:
    """Return _LONG_WORD's first match in text (None when there is none)."""
    if len(text) > MAX_WORD and (_LONG_RUN_START.match(text) or _LONG_RUN.search(text)):
        return _LONG_WORD.search(text)
    return None
