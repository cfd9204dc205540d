"""Bad input: every broken file is skipped (or normalised) with a reason that names the problem,
every good story is indexed, and a story whose file turns bad keeps its old version.

The fixture corpus is built in code under tmp_path (no committed binaries).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from searchapp.indexer import index_corpus
from searchapp.models import Report, SearchRequest
from searchapp.search import SearchService
from tests.conftest import article, write_jsonl


def tass(title: str = "Grain exports rise", date: str = "1987-02-26", body: str = "") -> str:
    """Return one article in the TASS text layout (header, title, section, time, body)."""
    body = body or "Wheat and barley exports rose sharply, traders said."
    return (
        f" date {date} Economy\n{title}\n\nEconomy\nFebruary 26, 15:01 UTC+0\n\n"
        f"LONDON, February 26. /Reuters/. {body}\n"
    )


def put(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def build_bad_corpus(corpus: Path, outside: Path) -> tuple[list[tuple[str, str]], set[str]]:
    """Write the corpus; return (path suffix, expected reason text) pairs and the good ids."""
    bad: dict[str, str] = {}
    good: set[str] = set()

    for name in ("plain1", "plain2", "plain3"):
        put(corpus / f"{name}.txt", tass(title=f"Plain story {name}"))
        good.add(name)

    put(corpus / "empty.txt", b"")
    bad["empty.txt"] = "empty"
    put(corpus / "binary.txt", b"\x00\x01\x02ELF\x00" * 100)
    bad["binary.txt"] = "binary"
    put(corpus / "latin1.txt", tass(title="Caf\u00e9 prices").encode("latin-1"))
    bad["latin1.txt"] = "not valid UTF-8 (byte 0xe9"
    # A BOM is normalised away: the story is indexed, its title without the mark.
    put(corpus / "bom.txt", b"\xef\xbb\xbf" + tass(title="Bom story").encode("utf-8"))
    good.add("bom")
    # 50 MB: sparse, so the test costs no disk; the size check comes before any read.
    with (corpus / "huge.txt").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    bad["huge.txt"] = "over the 10 MB limit"
    put(corpus / "token.txt", tass(body="x" * 1_000_000))
    bad["token.txt"] = "1,000,000-character word"
    put(corpus / "notitle.txt", " date 1987-02-26 Economy\n\nEconomy\n\nLONDON. Body.\n")
    bad["notitle.txt"] = "no title"
    put(corpus / "baddate.txt", tass(date="2017-02-30"))
    bad["baddate.txt"] = "'2017-02-30' is not a real calendar date"
    put(corpus / "future.txt", tass(date="2999-02-26"))
    bad["future.txt"] = "in the future"
    # The same stem in two folders: the first (sorted) is kept, the second skipped.
    put(corpus / "a" / "dup.txt", tass(title="Dup first"))
    put(corpus / "b" / "dup.txt", tass(title="Dup second"))
    good.add("dup")
    bad["b/dup.txt"] = "duplicate id 'dup'"
    put(outside / "secret.txt", tass(title="Outside story"))
    (corpus / "escape.txt").symlink_to(outside / "secret.txt")
    bad["escape.txt"] = "points outside the corpus"
    (corpus / "dangling.txt").symlink_to(corpus / "nowhere.txt")
    bad["dangling.txt"] = "broken"

    # Odd but legal names are ordinary stories; a newline cannot be part of an id.
    for name in ("with space", "ünïcødé Москва", "-leading-dash"):
        put(corpus / f"{name}.txt", tass(title=f"Odd name {name}"))
        good.add(name)
    try:
        put(corpus / "new\nline.txt", tass(title="Newline name"))
        bad["new\nline.txt"] = "invalid id"
    except OSError:
        pass  # a filesystem that refuses the name: nothing to test

    lines: list[Any] = [
        article(id="j1", title="Json one"),
        article(id="j2", title="Json two", body="caf\u00e9 au lait"),
        article(id="j1", title="Json one again"),  # line 3: a taken id
        article(id="j4", title="", lead=" ", body=""),  # line 4: nothing to make a title from
        article(id="j5", date="2017-02-30T10:00:00+00:00"),  # line 5
        article(id="j6", date="2999-01-01T10:00:00+00:00"),  # line 6
        article(id="j7", body="y" * 300_000),  # line 7
    ]
    write_jsonl(corpus / "feed.jsonl", lines)
    with (corpus / "feed.jsonl").open("ab") as fh:
        fh.write(b'{"id": "j8", "title": "Caf\xe9"}\n')  # line 8: Latin-1 inside JSON
        fh.write(b"{not json\n")  # line 9
    good |= {"j1", "j2"}
    bad["feed.jsonl:4"] = "no 'title'"
    bad["feed.jsonl:5"] = "'2017-02-30"
    bad["feed.jsonl:8"] = "not valid UTF-8"
    bad["feed.jsonl:9"] = "not valid JSON"
    pairs = list(bad.items())
    # Problems found after parsing (duplicates, validation) name the file, not the line.
    pairs += [
        ("feed.jsonl", "duplicate id 'j1'"),
        ("feed.jsonl", "in the future"),
        ("feed.jsonl", "300,000-character word"),
    ]
    return pairs, good


def reasons(report: Report, fragment: str) -> list[str]:
    """Return the skip reasons of entries whose path ends with fragment."""
    return [p.reason for p in report.skipped if p.path.endswith(fragment)]


@pytest.fixture
def bad_run(tmp_path: Path) -> tuple[Path, Path, Report, list[tuple[str, str]], set[str]]:
    corpus = tmp_path / "corpus"
    index = tmp_path / "index"
    bad, good = build_bad_corpus(corpus, tmp_path / "outside")
    report = index_corpus(corpus, index)
    return corpus, index, report, bad, good


def test_every_bad_file_is_skipped_with_its_reason(
    bad_run: tuple[Path, Path, Report, list[tuple[str, str]], set[str]],
) -> None:
    _corpus, _index, report, bad, _good = bad_run
    missing = []
    for fragment, expected in bad:
        found = reasons(report, fragment)
        if not any(expected in reason for reason in found):
            missing.append(f"{fragment!r}: expected {expected!r} in {found}")
    assert missing == [], "\n".join(missing)
    # Nothing else was skipped, and each bad input is reported once.
    assert len(report.skipped) == len(bad), [(p.path, p.reason) for p in report.skipped]


def test_every_good_story_is_indexed(
    bad_run: tuple[Path, Path, Report, list[tuple[str, str]], set[str]],
) -> None:
    _corpus, index, report, _bad, good = bad_run
    service = SearchService(index)
    stored = {a.id for a in service.export(SearchRequest(q="", snippets=False))}
    assert stored == good
    assert report.total == len(good)
    assert service.get_article("bom").title == "Bom story"  # the BOM is not part of the text
    assert service.get_article("dup").title == "Dup first"
    assert service.search(SearchRequest(q="café")).total == 1


def test_cli_reports_skips_and_succeeds(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    build_bad_corpus(corpus, tmp_path / "outside")
    done = subprocess.run(
        [
            *(sys.executable, "-m", "searchapp.cli", "index", "--corpus", str(corpus)),
            *("--index", str(tmp_path / "index"), "-q"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "skipped " in done.stderr and "binary" in done.stderr
    assert "stories in" in done.stdout


@pytest.mark.parametrize(
    "corruption",
    [
        pytest.param(b"\x00\x00binary now\x00", id="binary"),
        pytest.param(tass(title="Caf\u00e9 now").encode("latin-1"), id="latin1"),
        pytest.param(b"", id="empty"),
        # Files that still parse but fail validation (indexer.validate) lose their story.
        pytest.param(tass(body="z" * 400), id="long-token"),
        pytest.param(tass(date="2999-01-01"), id="future-date"),
    ],
)
def test_story_whose_file_turns_bad_keeps_old_version(tmp_path: Path, corruption: bytes) -> None:
    corpus = tmp_path / "corpus"
    index = tmp_path / "index"
    put(corpus / "keep.txt", tass(title="Marmalade report", body="Orange marmalade sales rose."))
    put(corpus / "other.txt", tass(title="Other story"))
    index_corpus(corpus, index)

    put(corpus / "keep.txt", corruption)
    report = index_corpus(corpus, index)
    assert any(p.path.endswith("keep.txt") for p in report.skipped), report.skipped
    assert report.deleted == 0 and report.total == 2
    service = SearchService(index)
    assert service.search(SearchRequest(q="marmalade")).total == 1
    assert "Orange marmalade" in service.get_article("keep").body

    # Fixing the file brings the new version in.
    put(corpus / "keep.txt", tass(title="Jam report", body="Apricot jam sales rose."))
    report = index_corpus(corpus, index)
    assert report.updated == 1 and report.skipped == []
    assert SearchService(index).get_article("keep").title == "Jam report"


def test_jsonl_line_that_turns_bad_keeps_old_version(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    index = tmp_path / "index"
    feed = write_jsonl(
        corpus / "feed.jsonl", [article(id="k1", title="Kept"), article(id="k2", title="Two")]
    )
    index_corpus(corpus, index)
    lines = feed.read_text(encoding="utf-8").splitlines()
    lines[0] = json.dumps(article(id="k1", title="", body=""))  # no title, no text: bad
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = index_corpus(corpus, index)
    assert any("no 'title'" in p.reason for p in report.skipped), report.skipped
    # The line still names story k1: a broken line is not a deletion.
    service = SearchService(index)
    assert service.get_article("k1").title == "Kept"
    assert service.get_article("k2").title == "Two"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_unreadable_file_is_skipped(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    put(corpus / "ok.txt", tass())
    locked = put(corpus / "locked.txt", tass(title="Locked"))
    locked.chmod(0)
    try:
        report = index_corpus(corpus, tmp_path / "index")
    finally:
        locked.chmod(0o644)
    assert any("cannot be read" in r for r in reasons(report, "locked.txt")), report.skipped
    assert report.total == 1


def test_symlink_loop_is_skipped(tmp_path: Path) -> None:
    # The unreadable case that root cannot read either: a link that resolves to itself.
    corpus = tmp_path / "corpus"
    put(corpus / "ok.txt", tass())
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    report = index_corpus(corpus, tmp_path / "index")
    assert report.total == 1
    assert any("symlink" in r for r in reasons(report, "loop.txt")), report.skipped
