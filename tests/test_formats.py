"""The readers: the TASS text layout, JSON lines, and corpus discovery."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

import searchapp.formats as formats
from searchapp.errors import ArticleError, CorpusError
from searchapp.formats import discover, read_corpus
from searchapp.formats.jsonl import iter_jsonl
from searchapp.formats.tass import nice_place, parse_tass, read_tass_file, strip_dateline
from searchapp.models import Article, ParseProblem, RawArticle

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "articles"
REFERENCE = FIXTURES / "000_fb76c108e539c208.txt"
NBSP = "\u00a0"

# A small article in the full layout; variants below remove or change one part at a time.
FULL = f""" date 2017-11-21 Russian Politics & Diplomacy
Putin and Assad meet in Sochi

Russian Politics & Diplomacy
November 21, 8:07 UTC+3

Assad expects Russia will support Syria

©{NBSP}Mikhail Klimentiev/TASS

SOCHI, November 21. /TASS/.{NBSP}Putin met Bashar al-Assad.

The talks lasted four hours.

Topics
Foreign policy Syrian conflict
Persons
Bashar Assad Vladimir Putin
"""
BODY = (
    f"SOCHI, November 21. /TASS/.{NBSP}Putin met Bashar al-Assad.\n\nThe talks lasted four hours."
)


def parse(text: str, article_id: str = "a1") -> RawArticle:
    """Parse text as a TASS article with a fixed id."""
    return parse_tass(text, article_id)


def reason(text: str) -> str:
    """Return the reason parse_tass gives for rejecting text."""
    with pytest.raises(ArticleError) as caught:
        parse_tass(text, "bad", "corpus/bad.txt")
    assert caught.value.path == "corpus/bad.txt"
    return caught.value.reason


# The reference article ----------------------------------------------------------------------


def test_reference_article_fields() -> None:
    raw = read_tass_file(REFERENCE)
    article = raw.article
    assert article.id == "000_fb76c108e539c208"
    assert article.title == "Putin and Assad meet in Sochi"
    assert article.section == "Russian Politics & Diplomacy"
    assert article.iso_date == "2017-11-21T05:07:00+00:00"
    assert article.date is not None and article.date.isoformat() == "2017-11-21T08:07:00+03:00"
    assert article.place == "Sochi"
    assert article.lead.startswith("Assad expects")
    assert article.lead.endswith("domestic affairs")
    assert article.photo_credit == "Mikhail Klimentiev/Presidential press service/TASS"
    assert article.body.startswith(f"SOCHI, November 21. /TASS/.{NBSP}On November 20,")
    assert article.body.endswith('political settlement in Syria," he added.')
    assert article.source == str(REFERENCE)
    assert raw.topics_line == "Foreign policy Syrian conflict"
    assert raw.persons_line == "Bashar Assad Vladimir Putin"
    assert article.topics == () and article.persons == ()


def test_reference_body_is_the_printed_text() -> None:
    body = read_tass_file(REFERENCE).article.body
    printed = REFERENCE.read_text(encoding="utf-8")
    # NBSPs stay, even the one that ends a line ('country:\xa0'); paragraphs join with one blank.
    assert f"also{NBSP}emphasized the{NBSP}need" in body
    assert f'in the country:{NBSP}\n\n"I believe' in body
    assert body in printed
    assert body.count("\n\n") == 5  # six paragraphs


# Variants -----------------------------------------------------------------------------------


def test_full_small_article() -> None:
    raw = parse(FULL)
    assert raw.article == Article(
        id="a1",
        title="Putin and Assad meet in Sochi",
        body=BODY,
        lead="Assad expects Russia will support Syria",
        date=datetime(2017, 11, 21, 5, 7, tzinfo=timezone.utc),
        section="Russian Politics & Diplomacy",
        place="Sochi",
        photo_credit="Mikhail Klimentiev/TASS",
    )
    assert (raw.topics_line, raw.persons_line) == (
        "Foreign policy Syrian conflict",
        "Bashar Assad Vladimir Putin",
    )


def test_no_lead() -> None:
    article = parse(FULL.replace("Assad expects Russia will support Syria\n\n", "")).article
    assert article.lead == ""
    assert article.photo_credit == "Mikhail Klimentiev/TASS"
    assert article.body == BODY


def test_no_photo_credit() -> None:
    article = parse(FULL.replace(f"©{NBSP}Mikhail Klimentiev/TASS\n\n", "")).article
    assert article.photo_credit == ""
    assert article.lead == "Assad expects Russia will support Syria"
    assert article.body == BODY


def test_no_lead_no_credit_reuters_style() -> None:
    text = FULL.replace("Assad expects Russia will support Syria\n\n", "").replace(
        f"©{NBSP}Mikhail Klimentiev/TASS\n\n", ""
    )
    article = parse(text).article
    assert (article.lead, article.photo_credit, article.body) == ("", "", BODY)


def test_without_dateline_everything_is_body() -> None:
    text = FULL.replace(f"©{NBSP}Mikhail Klimentiev/TASS\n\n", "").replace(
        f"SOCHI, November 21. /TASS/.{NBSP}", ""
    )
    article = parse(text).article
    assert article.lead == ""
    assert article.place == ""
    assert article.body.startswith("Assad expects Russia will support Syria\n\nPutin met")


def test_no_topics_or_persons_block() -> None:
    raw = parse(FULL[: FULL.index("Topics")])
    assert (raw.topics_line, raw.persons_line) == ("", "")
    assert raw.article.body == BODY


def test_topics_only() -> None:
    raw = parse(FULL[: FULL.index("Persons")])
    assert (raw.topics_line, raw.persons_line) == ("Foreign policy Syrian conflict", "")


def test_tags_one_per_line_are_already_split() -> None:
    text = FULL.replace("Foreign policy Syrian conflict", "Foreign policy\nSyrian conflict")
    text = text.replace("Bashar Assad Vladimir Putin", "Bashar Assad\nVladimir Putin")
    raw = parse(text)
    assert raw.article.topics == ("Foreign policy", "Syrian conflict")
    assert raw.article.persons == ("Bashar Assad", "Vladimir Putin")
    assert (raw.topics_line, raw.persons_line) == ("", "")


def test_blank_line_between_tag_blocks() -> None:
    raw = parse(FULL.replace("\nPersons\n", "\n\nPersons\n"))
    assert raw.topics_line == "Foreign policy Syrian conflict"
    assert raw.persons_line == "Bashar Assad Vladimir Putin"
    assert raw.article.body == BODY


def test_marker_word_inside_the_body_stays_body() -> None:
    text = FULL.replace("The talks lasted four hours.", "Topics\n\nThe talks lasted four hours.")
    raw = parse(text)
    assert raw.article.body == BODY.replace("The talks", "Topics\n\nThe talks")
    assert raw.topics_line == "Foreign policy Syrian conflict"


def test_title_only_story() -> None:
    raw = parse(
        " date 1987-02-26 Companies\nSHEARSON SAYS PROFIT UP\n\nCompanies\n"
        "February 26, 15:43 UTC+0\n"
    )
    article = raw.article
    assert (article.title, article.section, article.body, article.lead) == (
        "SHEARSON SAYS PROFIT UP",
        "Companies",
        "",
        "",
    )
    assert article.iso_date == "1987-02-26T15:43:00+00:00"
    assert (raw.topics_line, raw.persons_line) == ("", "")


def test_title_only_story_with_tags() -> None:
    raw = parse(
        " date 1987-02-26 Companies\nPROFIT UP\n\nCompanies\nFebruary 26, 15:43 UTC+0\n\n"
        "Topics\nearn\n"
    )
    assert raw.article.body == ""
    assert raw.topics_line == "earn"


def test_header_without_date_and_no_time_line() -> None:
    article = parse(" date  General News\nA TITLE\n\nGeneral News\n\nSome text.\n").article
    assert article.date is None and article.iso_date is None
    assert article.section == "General News"
    assert article.body == "Some text."


def test_header_date_without_time_line_is_midnight_utc() -> None:
    article = parse(" date 1987-02-26 General News\nA TITLE\n\nGeneral News\n\nText.\n").article
    assert article.iso_date == "1987-02-26T00:00:00+00:00"


@pytest.mark.parametrize(
    ("time_line", "iso"),
    [
        ("November 21, 8:07 UTC+3", "2017-11-21T05:07:00+00:00"),
        ("November 21, 8:07 UTC+0", "2017-11-21T08:07:00+00:00"),
        ("November 21, 8:07 UTC", "2017-11-21T08:07:00+00:00"),
        ("November 21, 8:07 UTC-5", "2017-11-21T13:07:00+00:00"),
        ("November 21, 8:07 UTC+5:30", "2017-11-21T02:37:00+00:00"),
        ("November 21, 8:07 UTC+05:30", "2017-11-21T02:37:00+00:00"),
        ("November 21, 23:59 UTC+14", "2017-11-21T09:59:00+00:00"),
    ],
)
def test_utc_offsets(time_line: str, iso: str) -> None:
    article = parse(FULL.replace("November 21, 8:07 UTC+3", time_line)).article
    assert article.iso_date == iso


def test_offset_is_kept_for_local_display() -> None:
    article = parse(FULL.replace("UTC+3", "UTC+5:30")).article
    assert article.date is not None
    assert article.date.isoformat() == "2017-11-21T08:07:00+05:30"


def test_year_rollover_back() -> None:
    text = FULL.replace("2017-11-21", "2018-01-01").replace(
        "November 21, 8:07 UTC+3", "December 31, 23:30 UTC-3"
    )
    article = parse(text).article
    assert article.date is not None and article.date.isoformat() == "2017-12-31T23:30:00-03:00"
    assert article.iso_date == "2018-01-01T02:30:00+00:00"


def test_year_rollover_forward() -> None:
    text = FULL.replace("2017-11-21", "2017-12-31").replace(
        "November 21, 8:07 UTC+3", "January 1, 0:30 UTC+3"
    )
    assert parse(text).article.iso_date == "2017-12-31T21:30:00+00:00"


@pytest.mark.parametrize(
    ("dateline", "place"),
    [
        ("SOCHI, November 21. /TASS/.", "Sochi"),
        ("IGORA /Leningrad Region/, November 21. /TASS/.", "Igora"),
        ("ST. JOHN'S, March 3. /Reuters/.", "St. John's"),
        ("NEW YORK, March 3. /Reuters/.", "New York"),
        ("COEUR D'ALENE, March 3. /Reuters/.", "Coeur D'Alene"),
        ("DALLAS/FORT WORTH, March 3. /Reuters/.", "Dallas/Fort Worth"),
        ("WINSTON-SALEM, March 3. /AP/.", "Winston-Salem"),
    ],
)
def test_datelines(dateline: str, place: str) -> None:
    text = FULL.replace("SOCHI, November 21. /TASS/.", dateline)
    article = parse(text).article
    assert article.place == place
    assert article.body.startswith(dateline)
    assert strip_dateline(article.body) == BODY.split(NBSP, 1)[1]


def test_strip_dateline_leaves_other_text_alone() -> None:
    assert strip_dateline("Nothing to strip, March 3.") == "Nothing to strip, March 3."
    assert strip_dateline("LONDON, March 3. /Reuters/. Oil rose.") == "Oil rose."


def test_nice_place() -> None:
    assert nice_place("N'DJAMENA") == "N'Djamena"
    assert nice_place("ST ANDREW'S") == "St Andrew's"
    assert nice_place("RPT --LUDWIGSHAFEN") == "Rpt --Ludwigshafen"


def test_crlf_bom_and_trailing_whitespace_parse_alike() -> None:
    plain = parse(FULL).article
    assert parse(FULL.replace("\n", "\r\n")).article == plain
    assert parse("\ufeff" + FULL).article == plain
    assert parse(FULL.replace("\n", "  \t\n")).article == plain
    assert parse(FULL.replace("\n", " \r\n")).article == plain


def test_trailing_nbsp_is_kept_in_body() -> None:
    article = parse(FULL.replace("four hours.", f"four hours.{NBSP}  ")).article
    assert article.body.endswith(f"four hours.{NBSP}")


def test_read_tass_file_strips_bom_and_names_the_id(tmp_path: Path) -> None:
    path = tmp_path / "123_abc.txt"
    path.write_bytes(b"\xef\xbb\xbf" + FULL.replace("\n", "\r\n").encode())
    raw = read_tass_file(path)
    assert raw.article.id == "123_abc"
    assert raw.article.source == str(path)
    assert raw.article.title == "Putin and Assad meet in Sochi"


# Malformed input ----------------------------------------------------------------------------


LAYOUT = "the TASS layout starts with the header ' date YYYY-MM-DD Section', then the title"


@pytest.mark.parametrize("text", ["", "  \n\n \t\n", "\ufeff"])
def test_empty(text: str) -> None:
    assert reason(text) == f"the file is empty; {LAYOUT}."


def test_no_title() -> None:
    expected = "there is no title: put it on the line right after the header (line 2)."
    assert reason(" date 2017-11-21 Politics\n") == expected
    assert reason(" date 2017-11-21 Politics\n\nPolitics\n\nText.\n") == expected


def test_no_header() -> None:
    assert reason("Putin and Assad meet\n\nText.\n") == (
        f"the first line 'Putin and Assad meet' is not the header; {LAYOUT}."
    )


def test_impossible_header_date() -> None:
    assert reason(FULL.replace("2017-11-21", "2017-02-30")) == (
        "the header date '2017-02-30' is not a real calendar date; correct it (YYYY-MM-DD)."
    )


def test_header_date_in_another_form() -> None:
    assert reason(FULL.replace("2017-11-21", "21.11.2017")) == (
        "the header date '21.11.2017' is not in the form YYYY-MM-DD; write it so."
    )


def test_impossible_local_day() -> None:
    assert reason(FULL.replace("November 21", "November 31")) == (
        "the local time line 'November 31, 8:07 UTC+3' names a day that does not exist "
        "(November 31, 2017); correct the day."
    )


def test_february_29_outside_a_leap_year() -> None:
    text = FULL.replace("2017-11-21", "2017-03-01").replace("November 21", "February 29")
    assert reason(text) == (
        "the local time line 'February 29, 8:07 UTC+3' names a day that does not exist "
        "(February 29, 2017); correct the day."
    )


def test_impossible_local_day_without_header_date() -> None:
    text = FULL.replace(" date 2017-11-21 ", " date  ").replace("November 21", "November 31")
    assert reason(text) == (
        "the local time line 'November 31, 8:07 UTC+3' names a day that does not exist "
        "(November 31); correct the day."
    )


def test_impossible_time() -> None:
    assert reason(FULL.replace("8:07", "25:07")) == (
        "the local time line 'November 21, 25:07 UTC+3' holds an impossible time or UTC "
        "offset; correct it."
    )


def test_time_without_zone() -> None:
    assert reason(FULL.replace("8:07 UTC+3", "8:07")) == (
        "the local time line 'November 21, 8:07' is not in the form 'November 21, 8:07 UTC+3'; "
        "correct it."
    )


def test_binary_junk_in_text() -> None:
    assert reason("\x00\x01\x02PNG\x1a") == (
        "the file holds binary data (control characters), not text; remove it from the corpus."
    )


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ArticleError) as caught:
        read_tass_file(path)
    assert str(caught.value) == (
        f"{path}: the file holds binary data (NUL bytes), not text; remove it from the corpus."
    )


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    text = FULL.replace("Sochi", "Soçhi")
    path.write_bytes(text.encode("cp1252"))  # one byte per character
    with pytest.raises(ArticleError) as caught:
        read_tass_file(path)
    offset = text.index("ç")
    assert caught.value.reason == (
        f"the file is not valid UTF-8 (byte 0xe7 at offset {offset}); re-save it as UTF-8."
    )


def test_too_big(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as fh:
        fh.truncate(10 * 1024 * 1024 + 1)  # sparse: no 10 MB written
    with pytest.raises(ArticleError) as caught:
        read_tass_file(path)
    assert caught.value.reason == (
        "the file is 10.0 MB, over the 10 MB limit for one article; it is probably not an "
        "article: remove it from the corpus or split it."
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ArticleError) as caught:
        read_tass_file(tmp_path / "gone.txt")
    assert caught.value.reason == (
        "the file cannot be read (No such file or directory); check that it exists and is readable."
    )


# JSON lines ---------------------------------------------------------------------------------


def write_lines(path: Path, lines: list[str]) -> Path:
    """Write raw lines to a .jsonl file."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_articles(tmp_path: Path) -> None:
    full = {
        "id": "reuters-1",
        "file": "ignored.txt",
        "title": "BAHIA COCOA REVIEW",
        "lead": "Lead.",
        "body": "Showers continued.",
        "date": "1987-02-26T15:01:01+00:00",
        "section": "Agriculture & Commodities",
        "topics": ["cocoa", "Foreign policy"],
        "persons": ["James Baker"],
        "place": "Salvador",
        "photo_credit": "Reuters",
    }
    path = write_lines(
        tmp_path / "c.jsonl",
        [
            json.dumps(full),
            "",
            "   ",
            json.dumps({"id": "2", "title": "Naive date", "date": "1987-02-26T15:01:00"}),
            json.dumps({"id": "3", "title": "Zulu", "date": "1987-02-26T15:01:00Z", "lead": None}),
            json.dumps({"id": 4, "title": "Int id", "date": None}),
        ],
    )
    items = list(iter_jsonl(path))
    assert all(isinstance(item, RawArticle) for item in items)
    raws = [item for item in items if isinstance(item, RawArticle)]
    assert raws[0] == RawArticle(
        Article(
            id="reuters-1",
            title="BAHIA COCOA REVIEW",
            body="Showers continued.",
            lead="Lead.",
            date=datetime(1987, 2, 26, 15, 1, 1, tzinfo=timezone.utc),
            section="Agriculture & Commodities",
            topics=("cocoa", "Foreign policy"),
            persons=("James Baker",),
            place="Salvador",
            photo_credit="Reuters",
            source=str(path),
        )
    )
    assert [raw.article.iso_date for raw in raws[1:]] == [
        "1987-02-26T15:01:00+00:00",
        "1987-02-26T15:01:00+00:00",
        None,
    ]
    assert raws[3].article.id == "4"
    assert raws[2].article.lead == ""


def test_jsonl_bad_lines_are_reported_and_the_run_goes_on(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "bad.jsonl",
        [
            "{not json",
            "[1, 2]",
            json.dumps({"title": "No id"}),
            json.dumps({"id": "a"}),
            json.dumps({"id": "b", "title": "T", "date": "26/02/1987"}),
            json.dumps({"id": "c", "title": "T", "topics": "earn acq"}),
            json.dumps({"id": "d", "title": 5}),
            json.dumps({"id": "e", "title": "T", "date": 1987}),
            json.dumps({"id": "ok", "title": "Fine"}),
        ],
    )
    items = list(iter_jsonl(path))
    problems = [(item.path, item.reason) for item in items if isinstance(item, ParseProblem)]
    assert problems == [
        (
            f"{path}:1",
            "the line is not valid JSON (Expecting property name enclosed in double "
            "quotes at column 2); fix or remove it.",
        ),
        (
            f"{path}:2",
            "the line holds a JSON list, not an object; write one article object per line.",
        ),
        (f"{path}:3", "the article has no 'id'; give every line a unique string id."),
        (
            f"{path}:4",
            "article 'a' has no 'title', and no 'lead' or 'body' to make one from; give it a "
            "title.",
        ),
        (
            f"{path}:5",
            "the date '26/02/1987' is not ISO 8601; write it like 1987-02-26T15:01:01+00:00.",
        ),
        (f"{path}:6", "field 'topics' must be a list of strings (one per tag); fix it."),
        (f"{path}:7", "field 'title' must be a string, not int; fix it."),
        (f"{path}:8", "field 'date' must be an ISO 8601 string, not int; fix it."),
    ]
    assert isinstance(items[-1], RawArticle) and items[-1].article.id == "ok"


def test_jsonl_record_without_title_gets_one_made_and_marked(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "untitled.jsonl",
        [
            json.dumps({"id": "lead", "lead": "Coffee exports fell. Traders said.", "body": "B"}),
            json.dumps({"id": "body", "body": "LONDON, March 2. /Reuters/. Oil held steady. Then"}),
            json.dumps({"id": "long", "title": "  ", "body": " ".join(f"w{i}" for i in range(30))}),
            json.dumps({"id": "us", "body": "The U.S. trade deficit widened in March. More."}),
            json.dumps({"id": "titled", "title": "A printed title", "body": "Text."}),
            json.dumps({"id": "empty", "lead": " ", "body": "\n"}),
        ],
    )
    items = list(iter_jsonl(path))
    made = {i.article.id: i.article for i in items if isinstance(i, RawArticle)}
    assert made["lead"].title == "Coffee exports fell."
    # The agency's dateline is not the story's first sentence.
    assert made["body"].title == "Oil held steady."
    assert made["long"].title == " ".join(f"w{i}" for i in range(12)) + "…"
    assert made["us"].title == "The U.S. trade deficit widened in March."
    assert [a.title_made for a in made.values()] == [True, True, True, True, False]
    assert made["titled"].title == "A printed title"
    problems = [(i.path, i.reason) for i in items if isinstance(i, ParseProblem)]
    assert problems == [
        (
            f"{path}:6",
            "article 'empty' has no 'title', and no 'lead' or 'body' to make one from; give it "
            "a title.",
        )
    ]


def test_jsonl_bom_and_bad_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps({"id": "x", "title": "T"}).encode()
        + b"\n"
        + b'{"id": "y", "title": "\xff"}\n'
    )
    items = list(iter_jsonl(path))
    assert isinstance(items[0], RawArticle) and items[0].article.id == "x"
    assert items[1] == ParseProblem(
        f"{path}:2", "the line is not valid UTF-8; re-save the file as UTF-8."
    )


# Corpus discovery and reading ---------------------------------------------------------------


def make_corpus(root: Path) -> Path:
    """Write a folder corpus: nested .txt files, a .jsonl, and files to be skipped."""
    (root / "b" / "deep").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "a.txt").write_text(FULL, encoding="utf-8")
    (root / "b" / "deep" / "c.txt").write_text(FULL.replace("Sochi", "Moscow"), encoding="utf-8")
    write_lines(root / "b" / "more.jsonl", [json.dumps({"id": "j1", "title": "From JSON"})])
    (root / "README.md").write_text("# corpus\n", encoding="utf-8")
    (root / "notes.csv").write_text("x\n", encoding="utf-8")
    (root / ".secret.txt").write_text(FULL, encoding="utf-8")
    (root / ".hidden" / "h.txt").write_text(FULL, encoding="utf-8")
    return root


def test_discover_folder(tmp_path: Path) -> None:
    root = make_corpus(tmp_path / "corpus")
    assert discover(root) == [
        root / "a.txt",
        root / "b" / "deep" / "c.txt",
        root / "b" / "more.jsonl",
    ]


def test_discover_single_files(tmp_path: Path) -> None:
    root = make_corpus(tmp_path / "corpus")
    assert discover(root / "a.txt") == [root / "a.txt"]
    assert discover(root / "b" / "more.jsonl") == [root / "b" / "more.jsonl"]


def test_discover_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(CorpusError) as caught:
        discover(missing)
    assert str(caught.value) == (
        f"{missing}: the corpus path does not exist; pass a folder of .txt articles or a "
        ".jsonl file."
    )
    other = tmp_path / "data.csv"
    other.write_text("x\n", encoding="utf-8")
    with pytest.raises(CorpusError) as caught:
        discover(other)
    assert str(caught.value) == (
        f"{other}: a corpus file must be .txt (one article) or .jsonl (one per line); pass such "
        "a file or a folder of them."
    )


def test_read_corpus(tmp_path: Path) -> None:
    root = make_corpus(tmp_path / "corpus")
    raws, problems = read_corpus(root)
    assert problems == []
    assert [raw.article.id for raw in raws] == ["a", "c", "j1"]
    assert [raw.article.place for raw in raws] == ["Sochi", "Sochi", ""]
    assert raws[1].article.title == "Putin and Assad meet in Moscow"


def test_read_corpus_reports_bad_files_and_duplicates(tmp_path: Path) -> None:
    root = make_corpus(tmp_path / "corpus")
    (root / "b" / "a.txt").write_text(FULL, encoding="utf-8")  # same id as ./a.txt
    (root / "empty.txt").write_text("", encoding="utf-8")
    raws, problems = read_corpus(root)
    assert [raw.article.id for raw in raws] == ["a", "c", "j1"]
    assert problems == [
        ParseProblem(str(root / "empty.txt"), f"the file is empty; {LAYOUT}."),
        ParseProblem(
            str(root / "b" / "a.txt"),
            f"duplicate id 'a', already read from {root / 'a.txt'}; this copy is skipped: rename "
            "or remove one.",
        ),
    ]


def test_symlinks(tmp_path: Path) -> None:
    root = make_corpus(tmp_path / "corpus")
    outside = tmp_path / "outside.txt"
    outside.write_text(FULL, encoding="utf-8")
    os.symlink(outside, root / "leak.txt")
    os.symlink(root / "a.txt", root / "b" / "alias.txt")
    os.symlink(tmp_path / "gone.txt", root / "broken.txt")
    os.symlink(tmp_path, root / "loop")
    raws, problems = read_corpus(root)
    assert [raw.article.id for raw in raws] == ["a", "alias", "c", "j1"]
    assert problems == [
        ParseProblem(
            str(root / "broken.txt"), "the symlink is broken; fix its target or remove it."
        ),
        ParseProblem(
            str(root / "leak.txt"),
            f"the symlink points outside the corpus folder (to {outside}); copy the file into "
            "the corpus instead.",
        ),
        ParseProblem(
            str(root / "loop"),
            "a symlinked folder is not followed; copy its articles into the corpus instead.",
        ),
    ]


def test_read_corpus_with_workers_matches_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(7):
        (root / f"{i:02d}.txt").write_text(FULL.replace("Sochi", f"Sochi {i}"), encoding="utf-8")
    (root / "05.txt").write_text("junk\n", encoding="utf-8")
    monkeypatch.setattr(formats, "CHUNK_FILES", 2)
    assert read_corpus(root, workers=3) == read_corpus(root, workers=1)
    raws, problems = read_corpus(root, workers=3)
    assert len(raws) == 6 and [p.path for p in problems] == [str(root / "05.txt")]
