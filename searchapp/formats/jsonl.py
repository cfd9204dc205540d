"""Read a JSON-lines corpus: one article object per line, its tag lists already split."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from searchapp.errors import ArticleError
from searchapp.models import Article, ParseProblem, RawArticle

TEXT_FIELDS = ("title", "lead", "body", "section", "place", "photo_credit")
LIST_FIELDS = ("topics", "persons")
# A made title: the first sentence of the lead or body, at most this many words.
TITLE_WORDS = 12
# The agency's dateline opening a body ("LONDON, March 2. /Reuters/. "): not a title.
_DATELINE = re.compile(r"^[^.]{1,60}?, [A-Z][a-z]+ \d{1,2}\. /[^/]{1,40}/\.\s+")
# A sentence ends at . ! or ? followed by a space and a capital or a digit (not "U.S. trade").
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'“])")


def iter_jsonl(path: Path) -> Iterator[RawArticle | ParseProblem]:
    """Yield one RawArticle per line, or a ParseProblem for a bad line (the run goes on)."""
    with path.open("rb") as fh:
        yield from read_lines(fh, str(path))


def read_lines(
    lines: Iterable[bytes], source: str, first: int = 1
) -> Iterator[RawArticle | ParseProblem]:
    """Read lines of a .jsonl file (numbered from first): a RawArticle per line, or a
    ParseProblem for a bad one. The streamed rebuild reads pieces of a large file this way."""
    for lineno, data in enumerate(lines, first):
        where = f"{source}:{lineno}"
        if lineno == 1:
            data = data.removeprefix(b"\xef\xbb\xbf")
        if not data.strip():
            continue
        try:
            yield RawArticle(parse_json_article(data, source, where))
        except ArticleError as exc:
            yield ParseProblem(where, exc.reason)


def parse_json_article(data: bytes | str, source: str, where: str) -> Article:
    """Build an Article from one JSON object; raise ArticleError saying what is wrong."""
    try:
        obj = json.loads(data)
    except UnicodeDecodeError:
        raise ArticleError(
            where, "the line is not valid UTF-8; re-save the file as UTF-8."
        ) from None
    except json.JSONDecodeError as exc:
        raise ArticleError(
            where,
            f"the line is not valid JSON ({exc.msg} at column {exc.colno}); fix or remove it.",
        ) from None
    if not isinstance(obj, dict):
        raise ArticleError(
            where,
            f"the line holds a JSON {type(obj).__name__}, not an object; write one article "
            "object per line.",
        )
    article_id = obj.get("id")
    if isinstance(article_id, int) and not isinstance(article_id, bool):
        article_id = str(article_id)
    if not isinstance(article_id, str) or not article_id.strip():
        raise ArticleError(where, "the article has no 'id'; give every line a unique string id.")
    fields: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = obj.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ArticleError(
                where, f"field {name!r} must be a string, not {type(value).__name__}; fix it."
            )
        fields[name] = value
    title_made = not fields["title"].strip()
    if title_made:
        # Exported archives and test collections often carry an id and a body only: such a
        # story is indexed under a title made from its text, marked as made.
        fields["title"] = make_title(fields["lead"], fields["body"])
        if not fields["title"]:
            raise ArticleError(
                where,
                f"article {article_id!r} has no 'title', and no 'lead' or 'body' to make one "
                "from; give it a title.",
            )
    for name in LIST_FIELDS:
        value = obj.get(name)
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
            raise ArticleError(
                where, f"field {name!r} must be a list of strings (one per tag); fix it."
            )
        fields[name] = tuple(tag.strip() for tag in value if tag.strip())
    return Article(
        id=article_id.strip(),
        date=_parse_date(obj.get("date"), where),
        source=source,
        title_made=title_made,
        **fields,
    )


def make_title(lead: str, body: str) -> str:
    """Make a title from a story's lead, or else its body: the first sentence, kept short.

    At most TITLE_WORDS words (cut at a word, with an ellipsis); empty when there is no text.
    """
    text = " ".join((lead.strip() or body.strip()).split())
    text = _DATELINE.sub("", text, count=1) or text
    if not text:
        return ""
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0]
    words = sentence.split(" ")
    if len(words) > TITLE_WORDS:
        return " ".join(words[:TITLE_WORDS]).rstrip(",;:-–—") + "…"
    return sentence


def _parse_date(value: object, where: str) -> datetime | None:
    """Parse an ISO 8601 date; a date without an offset is taken as UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ArticleError(
            where, f"field 'date' must be an ISO 8601 string, not {type(value).__name__}; fix it."
        )
    text = value.strip()
    if not text:
        return None
    if text.endswith(("Z", "z")):
        # Python 3.10's fromisoformat does not accept the common 'Z' suffix.
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ArticleError(
            where,
            f"the date {value!r} is not ISO 8601; write it like 1987-02-26T15:01:01+00:00.",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
