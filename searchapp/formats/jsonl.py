"""Read a JSON-lines corpus: one article object per line, its tag lists already split."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from searchapp.errors import ArticleError
from searchapp.models import Article, ParseProblem, RawArticle

TEXT_FIELDS = ("title", "lead", "body", "section", "place", "photo_credit")
LIST_FIELDS = ("topics", "persons")


def iter_jsonl(path: Path) -> Iterator[RawArticle | ParseProblem]:
    """Yield one RawArticle per line, or a ParseProblem for a bad line (the run goes on)."""
    source = str(path)
    with path.open("rb") as fh:
        for lineno, data in enumerate(fh, 1):
            where = f"{path}:{lineno}"
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
    if not fields["title"].strip():
        raise ArticleError(where, f"article {article_id!r} has no 'title'; give it one.")
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
        **fields,
    )


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
