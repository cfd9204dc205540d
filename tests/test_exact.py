"""Faster paths that must give exactly what the plain ones gave (issue 12, indexing rate).

Each test keeps the plain version as the reference and compares on the shipped corpus and on
edge cases: the TASS reader's blocks and path names, validation's messages, the stored JSON.
"""

from __future__ import annotations

import json
import random
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from searchapp import formats, schema
from searchapp.formats.paths import path_stem, path_suffix, source_name
from searchapp.formats.tass import _blocks, read_tass_file
from searchapp.models import Article
from searchapp.validation import MAX_FIELD_CHARS, MAX_WORD, validate

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"


@pytest.fixture(scope="module")
def shipped() -> list[Article]:
    """The shipped corpus's stories, tag lines split as an index run splits them."""
    from searchapp.tags import split_corpus

    names, _ = formats.scan_names(CORPUS)
    raws, _ = formats.read_paths(names)
    assert len(raws) > 2900
    return split_corpus(raws)


# -- formats/tass.py -------------------------------------------------------------------------

_BLANK_LINES_RE = re.compile(r"\n\s*\n")


def reference_blocks(text: str) -> list[list[str]]:
    """The reader's blocks as they were computed before: split at blank-line runs."""
    blocks = []
    for chunk in _BLANK_LINES_RE.split(text):
        lines = [line.rstrip(" \t") for line in chunk.split("\n")]
        lines = [line for line in lines if line.strip()]
        if lines:
            blocks.append(lines)
    return blocks


def test_blocks_equal_the_blank_line_split() -> None:
    # Every kind of whitespace the regex's \s and str.isspace know, at line ends and alone.
    alphabet = ["a", "b c", " ", "\t", "\n", "\n", "\u00a0", "\u2003", "\x0b", "\x0c", "\x1c"]
    rnd = random.Random(12)
    for _ in range(50_000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 14)))
        assert _blocks(text) == reference_blocks(text), repr(text)
    for path in sorted(CORPUS.glob("*.txt"))[:500]:
        text = path.read_text(encoding="utf-8")
        assert _blocks(text) == reference_blocks(text), path


def test_path_names_equal_pathlib() -> None:
    names = ["a.txt", "x/y/z.TXT", "./a.txt", "a//b.txt", "a/./b.txt", "a/b/", "a/.", ".", "",
             "/", "//a", "///a", ".hidden", "x/.jsonl", "x/a.", "x/a.b.c", "..", "../a.txt"]
    rnd = random.Random(5)
    names += ["".join(rnd.choice("a./") for _ in range(rnd.randint(0, 8))) for _ in range(5000)]
    for name in names:
        source = source_name(name)
        assert source == str(Path(name)), name
        assert path_stem(source) == Path(name).stem, name
        assert path_suffix(source) == Path(name).suffix, name


def test_read_tass_file_from_a_string_equals_from_a_path(tmp_path: Path) -> None:
    for path in sorted(CORPUS.glob("*.txt"))[:50]:
        assert read_tass_file(str(path)) == read_tass_file(path)
    odd = tmp_path / "sub" / "odd.name.txt"
    odd.parent.mkdir()
    odd.write_bytes((CORPUS / sorted(p.name for p in CORPUS.glob("*.txt"))[0]).read_bytes())
    given = f"{tmp_path}//sub/./odd.name.txt"
    raws, problems = formats.read_paths([given])
    assert not problems
    assert raws[0].article.source == str(Path(given)) and raws[0].article.id == "odd.name"


# -- validation.py ---------------------------------------------------------------------------

_LONG_WORD = re.compile(rf"\w{{{MAX_WORD + 1},}}")
_BAD_ID = re.compile(r"[\x00-\x1f\x7f/\\]")


def reference_validate(article: Article, now: datetime) -> str | None:
    """validate() as it was, one regex search per text."""
    if not article.id or len(article.id) > 200 or _BAD_ID.search(article.id):
        return f"invalid id {article.id[:60]!r}: use 1-200 printable characters"
    if not article.title.strip():
        return "no title: the second line of the file must be the story's title"
    texts = [article.title, article.lead, article.body, article.section, article.place]
    texts += list(article.topics) + list(article.persons) + [article.photo_credit]
    for text in texts:
        if not isinstance(text, str):
            return f"field value {text!r} is not text"
        if len(text) > MAX_FIELD_CHARS:
            return f"a field holds {len(text):,} characters (at most {MAX_FIELD_CHARS:,})"
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "text holds characters that are not valid Unicode; re-save the file as UTF-8"
        if "\x00" in text:
            return "text holds NUL bytes: is it a binary file?"
        long_word = _LONG_WORD.search(text)
        if long_word:
            return (
                f"holds a {len(long_word.group()):,}-character word (at most {MAX_WORD}): "
                "an encoded blob, not text"
            )
    if article.date is not None and article.date.astimezone(timezone.utc) > now + timedelta(days=2):
        return f"dated {article.iso_date}, in the future: check the header date"
    return None


def test_no_character_is_both_word_and_space() -> None:
    # validation looks for long words only inside long runs of non-space characters.
    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    spaces = re.findall(r"\s", every)
    assert spaces and not any(re.match(r"\w", c) for c in spaces)


def test_validate_equals_the_plain_checks(shipped: list[Article]) -> None:
    now = datetime(2026, 11, 29, tzinfo=timezone.utc)
    word = "x" * (MAX_WORD + 1)
    bodies = [
        word, "a " + word, "a-" + word, "a\u00a0" + word, "(" + word + ")", "é" * (MAX_WORD + 1),
        "x" * MAX_WORD, "a " + "x" * MAX_WORD + " b", "_" * (MAX_WORD + 3), "1" * 300,
        "a.b" * 200, "a" * 200 + "-" + "b" * 200, "word " * 300, "\ud800 " + word,
        "a\x00b " + word, "y" * (MAX_FIELD_CHARS + 1), ("z" * 100 + "\u2028") * 10,
        "\u3000" + "日本" * 200, "a\tb\n" + word + "\n",
    ]
    cases = [
        Article(id="e", title="T", body=body, lead=lead, persons=persons)
        for body in bodies
        for lead, persons in [("", ()), ("lead", ("P " + "q" * 300,)), ("\ud800", ())]
    ]
    cases += [
        Article(id="f", title="T", date=now + timedelta(days=3)),
        Article(id="bad/id", title="T"),
        Article(id="g", title=" "),
        Article(id="h", title="T", topics=(word, "\x00")),
    ]
    for article in [*shipped, *cases]:
        assert validate(article, now) == reference_validate(article, now), article.id


# -- schema.py -------------------------------------------------------------------------------


def reference_stored_doc(article: Article) -> str:
    """stored_doc as it was: json.dumps of to_dict plus the offset and the made title."""
    data = article.to_dict()
    if article.date is not None:
        offset = article.date.utcoffset()
        data["utc_offset_min"] = int(offset.total_seconds() // 60) if offset else 0
    if article.title_made:
        data["title_made"] = True
    return json.dumps(data, ensure_ascii=False)


def test_stored_json_equals_json_dumps(shipped: list[Article]) -> None:
    odd = 'quote " backslash \\ tab \t nl \n cr \r ctl \x01\x1f del \x7f ls \u2028 😀 é \ud800'
    zones = [timezone.utc, timezone(timedelta(hours=3)), timezone(-timedelta(hours=3, minutes=30)),
             timezone(timedelta(minutes=345))]
    cases = [
        Article(id=odd, title=odd, body=odd, lead=odd, section=odd, place=odd,
                photo_credit=odd, topics=(odd, ""), persons=(odd,), source=odd),
        Article(id="a", title="T", title_made=True),
        Article(id="b", title="T", date=datetime(1987, 3, 2, 10, 5)),  # no zone
        *(Article(id="c", title="T", date=datetime(2017, 11, 21, 8, 7, tzinfo=z)) for z in zones),
        Article(id="d", title="T", topics=["a", "b"]),  # type: ignore[arg-type]
        Article(id=5, title=None, body=3.5, persons="P Q"),  # type: ignore[arg-type]
    ]
    for article in [*shipped, *cases]:
        assert schema.stored_doc(article) == reference_stored_doc(article)
    # A valid story (no lone surrogate): the whole document, its fields in their order.
    text = odd.replace("\ud800", "")
    valid = Article(id="v", title=text, body=text, lead=text, section=text, place=text,
                    photo_credit=text, topics=(text, ""), persons=(text,), source=text,
                    date=datetime(2017, 11, 21, 8, 7, tzinfo=zones[1]))
    full = schema.to_fields(valid)
    assert full["doc"] == reference_stored_doc(valid)
    assert list(full) == ["id", "title", "lead", "body", "section", "topic", "person", "place",
                          "f_section", "f_topic", "f_person", "f_place", "ts", "spell", "doc",
                          "hash", "source"]


# -- tagtext.py ------------------------------------------------------------------------------


def test_cached_word_patterns_find_the_same_mentions(shipped: list[Article]) -> None:
    from searchapp import tagtext

    def reference_tokens(index: tagtext.TextIndex, wanted: set[str]) -> object:
        """_tokens as it was: a pattern compiled per line, longest words first."""
        alternatives = "|".join(re.escape(w) for w in sorted(wanted, key=len, reverse=True))
        pattern = re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)
        tokens: list[str | None] = []
        capitals: list[bool] = []
        last_end = -1
        for match in pattern.finditer(index.text):
            if last_end >= 0 and not tagtext._GAP_RE.fullmatch(index.text, last_end, match.start()):
                tokens.append(None)
                capitals.append(False)
            tokens.append(match.group().casefold())
            capitals.append(match.group()[0].isupper())
            last_end = match.end()
        return tokens, capitals

    checked = 0
    for article in shipped:
        words = [*article.persons, *article.topics, "Straße", "STRASSE", "İstanbul", "kelvin"]
        index = tagtext.TextIndex(article)
        wanted = {p.casefold() for w in words for p in tagtext.WORD_RE.findall(w)}
        assert index._tokens(wanted) == reference_tokens(index, wanted)
        checked += bool(article.persons or article.topics)
    assert checked > 1000
