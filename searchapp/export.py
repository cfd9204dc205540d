"""Export formats of a result set: CSV (one cell per field) and JSON lines, streamed."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from searchapp.models import EXPORT_FIELDS, Article


def csv_lines(articles: Iterable[Article]) -> Iterator[str]:
    """Yield the CSV text of the articles: the header with the first row, then a row each."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(EXPORT_FIELDS))
    writer.writeheader()
    for article in articles:
        writer.writerow(article.to_row())
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()  # the header alone, when nothing matched


def jsonl_lines(articles: Iterable[Article]) -> Iterator[str]:
    """Yield one JSON object per article, each ending its line."""
    for article in articles:
        yield json.dumps(article.to_dict(), ensure_ascii=False) + "\n"
