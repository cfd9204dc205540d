"""Read one article in the TASS text layout (see the reference article in shared/corpora/tass).

The layout, line by line::

     date 2017-11-21 Russian Politics & Diplomacy      header: leading space, date may be absent
    Putin and Assad meet in Sochi                       title
                                                        blank
    Russian Politics & Diplomacy                        section
    November 21, 8:07 UTC+3                             local time (optional)
                                                        blank
    Assad expects Russia will support Syria ...         lead (optional)
                                                        blank
    © Mikhail Klimentiev/Presidential press service/TASS  photo credit (optional)
                                                        blank
    SOCHI, November 21. /TASS/. On November 20, ...     body paragraphs, the first with a dateline
    ...
    Topics                                              optional tail: a marker line, then ONE
    Foreign policy Syrian conflict                      line joining the tags with spaces (split
    Persons                                             later by tags.py) or one tag per line
    Bashar Assad Vladimir Putin

Whitespace policy: lines lose their trailing ASCII spaces and tabs (and CR), nothing else.
Non-breaking spaces (U+00A0) are part of the printed text and stay where they are in the lead and
body, even at a line's end; fields that are labels (title, section, place, credit, tags) are
stripped of all surrounding whitespace, NBSP included. The body keeps its dateline as printed
(strip_dateline removes it); the place is the dateline's, title-cased, without '/Region/'.

Dates: the time line's day and offset, with the header's year, or the year before or after when
that puts the local day within one day of the header's (New Year). A header date without a time
line gives 00:00 UTC; without a header date there is no year, so no date even with a time line.
The lead is the paragraph before the photo credit, or before the dateline paragraph when there is
no credit; without either mark there is no telling a lead from the body, so all of it is body.
"""

from __future__ import annotations

import functools
import os
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from searchapp.errors import ArticleError
from searchapp.formats.paths import path_stem, source_name
from searchapp.models import Article, RawArticle

MAX_FILE_BYTES = 10 * 1024 * 1024
TAG_MARKERS = ("Topics", "Persons")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTH_NUMBER = {name.lower(): i for i, name in enumerate(MONTHS, 1)}
_MONTH_NUMBER.update({name[:3].lower(): i for i, name in enumerate(MONTHS, 1)})
_MONTH_ALT = "|".join(sorted(_MONTH_NUMBER, key=len, reverse=True))

_LAYOUT_HINT = "the TASS layout starts with the header ' date YYYY-MM-DD Section', then the title"
_HEADER_RE = re.compile(r"\s*date(?:\s+(?P<date>\d\S*))?(?:\s+(?P<section>.*?))?\s*")
_TIME_RE = re.compile(
    rf"(?P<month>{_MONTH_ALT})\.?\s+(?P<day>\d{{1,2}}),?\s+(?P<hour>\d{{1,2}}):(?P<minute>\d{{2}})"
    r"\s*(?:UTC|GMT)\s*(?:(?P<sign>[+\-\u2212])\s*(?P<oh>\d{1,2})(?::?(?P<om>\d{2}))?)?\s*",
    re.IGNORECASE,
)
# A line that starts like a time line; when _TIME_RE then fails, it is a broken time, not a section.
_TIME_LIKE_RE = re.compile(rf"(?:{_MONTH_ALT})\.?\s+\d{{1,2}},?\s+\d{{1,2}}:\d", re.IGNORECASE)
# 'SOCHI, November 21. /TASS/.' and 'IGORA /Leningrad Region/, November 21. /TASS/.': the place,
# an optional ' /qualifier/' (dropped), the day, then any agency between slashes.
DATELINE_RE = re.compile(
    rf"(?P<place>[^,\n/]{{0,60}}[^\s,/](?:/[^\s,/][^,\n/]*)*?)(?:\s+/[^/\n]+/)?,\s+"
    rf"(?:{_MONTH_ALT})\.?\s+\d{{1,2}}\.?\s+/[^/\n]{{1,40}}/\.?(?=[\s\u00a0]|$)",
    re.IGNORECASE,
)
# Control characters that never occur in text (tab, LF and CR do): their presence means binary.
_BINARY_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WORD_PART_RE = re.compile(r"([^\W\d_]+)", re.UNICODE)
_HEADER_DATE_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


def read_tass_file(path: Path | str) -> RawArticle:
    """Read one .txt article: bytes to UTF-8 text, then parse_tass; the id is the file's stem.

    A path given as a string is recorded (as the source) in pathlib's form, str(Path(path)).
    """
    source = str(path) if isinstance(path, Path) else source_name(path)
    try:
        # os.open/os.read rather than a buffered file object: a third of the reading cost
        # of a 1 KB story is the file object (measured: 0.31 s -> 0.12 s for Reuters' 21,578).
        fd = os.open(source, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if size > MAX_FILE_BYTES:
                raise ArticleError(
                    source,
                    f"the file is {size / 1024 / 1024:.1f} MB, over the 10 MB limit for one "
                    "article; it is probably not an article: remove it from the corpus or split "
                    "it.",
                )
            data = _read_all(fd, size)
        finally:
            os.close(fd)
    except OSError as exc:
        raise ArticleError(
            source,
            f"the file cannot be read ({exc.strerror}); check that it exists and is readable.",
        ) from exc
    if b"\x00" in data:
        raise ArticleError(
            source,
            "the file holds binary data (NUL bytes), not text; remove it from the corpus.",
        )
    # Some editors start UTF-8 files with a byte order mark; it is not part of the text.
    skip = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        raise ArticleError(
            source,
            f"the file is not valid UTF-8 (byte 0x{data[offset]:02x} at offset {offset}); "
            "re-save it as UTF-8.",
        ) from None
    return parse_tass(text, path_stem(source), source)


def _read_all(fd: int, size: int) -> bytes:
    """Read a file to its end (it may have grown since it was stat-ed)."""
    data = os.read(fd, size + 1)
    if len(data) <= size:
        return data
    parts = [data]
    while True:
        more = os.read(fd, 1 << 20)
        if not more:
            return b"".join(parts)
        parts.append(more)


def parse_tass(text: str, article_id: str, source: str = "") -> RawArticle:
    """Parse one article in the TASS layout; raise ArticleError naming the problem and the fix."""
    where = source or article_id
    text = text.removeprefix("\ufeff")
    if not text or text.isspace():  # text.strip() would copy the text to say the same
        raise ArticleError(where, f"the file is empty; {_LAYOUT_HINT}.")
    if _BINARY_RE.search(text):
        raise ArticleError(
            where,
            "the file holds binary data (control characters), not text; remove it from the corpus.",
        )
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = _blocks(text)

    head = blocks[0]
    header = _HEADER_RE.fullmatch(head[0])
    if header is None:
        raise ArticleError(
            where, f"the first line {head[0].strip()!r} is not the header; {_LAYOUT_HINT}."
        )
    header_date = _header_date(header.group("date"), where)
    section = (header.group("section") or "").strip()
    title = " ".join([line.strip() for line in head[1:]])
    if not title:
        raise ArticleError(
            where, "there is no title: put it on the line right after the header (line 2)."
        )

    rest = blocks[1:]
    local_time = None
    if rest and _is_meta_block(rest[0], section):
        meta = rest.pop(0)
        for line in meta:
            stripped = line.strip()
            if _TIME_LIKE_RE.match(stripped):
                local_time = stripped
            elif not section:
                section = stripped
    when = _article_date(header_date, local_time, where)

    tail_at = _tail_start(rest)
    paragraphs = ["\n".join(block) for block in rest[:tail_at]]
    tags = _tags(rest[tail_at:])

    lead, photo_credit, body_paragraphs = _split_lead(paragraphs)
    body = "\n\n".join(body_paragraphs)
    match = DATELINE_RE.match(body)
    place = nice_place(match.group("place")) if match else ""

    article = Article(
        id=article_id,
        title=title,
        body=body,
        lead=lead,
        date=when,
        section=section,
        topics=tuple(tags["Topics"]) if len(tags["Topics"]) > 1 else (),
        persons=tuple(tags["Persons"]) if len(tags["Persons"]) > 1 else (),
        place=place,
        photo_credit=photo_credit,
        source=source,
    )
    return RawArticle(
        article,
        topics_line=tags["Topics"][0] if len(tags["Topics"]) == 1 else "",
        persons_line=tags["Persons"][0] if len(tags["Persons"]) == 1 else "",
    )


def strip_dateline(text: str) -> str:
    """Return text without its leading dateline ('SOCHI, November 21. /TASS/. ')."""
    match = DATELINE_RE.match(text)
    return text[match.end() :].lstrip(" \t\u00a0") if match else text


def nice_place(raw: str) -> str:
    """Title-case a dateline place: "ST. JOHN'S" -> "St. John's", "D'ALENE" -> "D'Alene"."""
    return _WORD_PART_RE.sub(_case_word_part, " ".join(raw.split()))


def _case_word_part(match: re.Match[str]) -> str:
    """Capitalise one run of letters, except a possessive or contraction after an apostrophe."""
    part = match.group(1)
    text, start = match.string, match.start()
    # "JOHN'S" -> "John's", but "D'ALENE" -> "D'Alene": only a one-letter prefix (O', D', L')
    # makes the letters after an apostrophe a new word.
    if start >= 2 and text[start - 1] in "'’" and text[start - 2].isalpha():
        prev_word = re.search(r"[^\W\d_]+$", text[: start - 1])
        if prev_word is None or len(prev_word.group()) > 1:
            return part.lower()
    return part[:1].upper() + part[1:].lower()


def _blocks(text: str) -> list[list[str]]:
    """Split text into blocks of lines separated by blank lines; lines lose trailing ASCII space."""
    # One pass over the lines; a line that is empty or whitespace only (str.isspace, the
    # regex \s) ends a block. The same blocks as splitting at r"\n\s*\n" and then dropping
    # blank lines at the text's ends (tests/test_exact.py), at half the cost.
    blocks: list[list[str]] = []
    block: list[str] = []
    for line in text.split("\n"):
        if not line or line.isspace():
            if block:
                blocks.append(block)
                block = []
        else:
            block.append(line.rstrip(" \t"))
    if block:
        blocks.append(block)
    return blocks


def _is_meta_block(block: list[str], header_section: str) -> bool:
    """Tell whether the block after the title is 'Section' and/or the local-time line."""
    if len(block) > 2:
        return False
    if _TIME_LIKE_RE.match(block[-1].strip()):
        return True
    return len(block) == 1 and block[0].strip() == header_section


def _header_date(raw: str | None, where: str) -> date | None:
    """Parse the header's YYYY-MM-DD, or None when the header has no date."""
    if raw is None:
        return None
    if not _HEADER_DATE_RE.fullmatch(raw):
        raise ArticleError(
            where, f"the header date {raw!r} is not in the form YYYY-MM-DD; write it so."
        )
    try:
        return date(*map(int, raw.split("-")))
    except ValueError:
        raise ArticleError(
            where, f"the header date {raw!r} is not a real calendar date; correct it (YYYY-MM-DD)."
        ) from None


def _article_date(header_date: date | None, local_time: str | None, where: str) -> datetime | None:
    """Combine the header date and the local-time line into an aware datetime."""
    if local_time is None:
        if header_date is None:
            return None
        return datetime(header_date.year, header_date.month, header_date.day, tzinfo=timezone.utc)
    match = _TIME_RE.fullmatch(local_time)
    if match is None:
        raise ArticleError(
            where,
            f"the local time line {local_time!r} is not in the form 'November 21, 8:07 UTC+3'; "
            "correct it.",
        )
    month = _MONTH_NUMBER[match.group("month").lower()]
    day, hour, minute = (
        int(match.group("day")),
        int(match.group("hour")),
        int(match.group("minute")),
    )
    offset_hours, offset_minutes = int(match.group("oh") or 0), int(match.group("om") or 0)
    if hour > 23 or minute > 59 or offset_hours > 14 or offset_minutes > 59:
        raise ArticleError(
            where,
            f"the local time line {local_time!r} holds an impossible time or UTC offset; "
            "correct it.",
        )
    zone = _zone(
        bool(match.group("sign")) and match.group("sign") != "+", offset_hours, offset_minutes
    )
    if header_date is None:
        try:
            date(2000, month, day)  # a leap year: only days that never exist fail
        except ValueError:
            local_day = None
        else:
            # The time line carries no year, and without the header date there is none to borrow.
            return None
    else:
        local_day = _local_day(header_date, month, day)
    if local_day is None:
        year = f", {header_date.year}" if header_date else ""
        raise ArticleError(
            where,
            f"the local time line {local_time!r} names a day that does not exist "
            f"({MONTHS[month - 1]} {day}{year}); correct the day.",
        )
    return datetime(local_day.year, local_day.month, local_day.day, hour, minute, tzinfo=zone)


@functools.lru_cache(maxsize=256)
def _zone(negative: bool, hours: int, minutes: int) -> timezone:
    """One timezone object per UTC offset (equal either way; made once, pickled once)."""
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if negative else offset)


def _local_day(header_date: date, month: int, day: int) -> date | None:
    """Give the local date its year: the header's, or the one before or after near New Year."""
    # Header 2018-01-01 with local 'December 31' is 2017-12-31: the local date may differ from
    # the header's by a day, across a year's end. Farther apart, the header's year stands.
    for year in (header_date.year, header_date.year - 1, header_date.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if abs((candidate - header_date).days) <= 1:
            return candidate
    try:
        return date(header_date.year, month, day)
    except ValueError:
        return None


def _tail_start(blocks: list[list[str]]) -> int:
    """Find where the closing 'Topics'/'Persons' blocks begin (len(blocks) when there are none)."""
    # Only the final blocks count, and only when each opens with a marker line: a body paragraph
    # that happens to read 'Topics' is followed by more body, so the scan stops before it.
    start = len(blocks)
    while start > 0 and blocks[start - 1][0].strip() in TAG_MARKERS:
        start -= 1
    return start


def _tags(blocks: list[list[str]]) -> dict[str, list[str]]:
    """Collect the lines under each marker, stripped of all surrounding whitespace."""
    tags: dict[str, list[str]] = {marker: [] for marker in TAG_MARKERS}
    current: list[str] | None = None
    for block in blocks:
        for line in block:
            stripped = line.strip()
            if stripped in TAG_MARKERS:
                current = tags[stripped]
            elif current is not None:
                current.append(stripped)
    return tags


def _split_lead(paragraphs: list[str]) -> tuple[str, str, list[str]]:
    """Separate the lead and the photo credit from the body paragraphs."""
    # The lead is the one paragraph before the photo credit, or before the dateline paragraph
    # when there is no credit; without either mark there is no telling a lead from the body.
    credit_at = next((i for i, p in enumerate(paragraphs[:2]) if p.startswith("©")), None)
    if credit_at is not None:
        credit = paragraphs[credit_at][1:].strip()
        return "\n\n".join(paragraphs[:credit_at]), credit, paragraphs[credit_at + 1 :]
    # The first paragraph is tested first: most stories open with their dateline, which
    # settles it, and a dateline that fails to match costs more than one that matches.
    if (
        len(paragraphs) > 1
        and not DATELINE_RE.match(paragraphs[0])
        and DATELINE_RE.match(paragraphs[1])
    ):
        return paragraphs[0], "", paragraphs[1:]
    return "", "", paragraphs
