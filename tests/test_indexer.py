"""The indexer: full builds, incremental updates, skipped articles, the lock."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from searchapp import store, writelock
from searchapp.cli import check as check_command
from searchapp.cli import index as index_command
from searchapp.errors import IndexBusyError
from searchapp.indexer import index_corpus, validate
from searchapp.manifest import FileEntry, FileStat, Manifest, Scanned, changed_files, plan_update
from searchapp.models import Article, SearchRequest
from searchapp.search import SearchService
from tests.conftest import REPO, SAMPLE, article, copy_reference, write_jsonl


def total(index_dir: Path, q: str = "") -> int:
    return SearchService(index_dir).search(SearchRequest(q=q)).total


def test_full_build_then_idempotent_rerun(tmp_path: Path, sample_corpus: Path) -> None:
    ix = tmp_path / "ix"
    report = index_corpus(sample_corpus, ix)
    assert (report.added, report.updated, report.deleted, report.total) == (5, 0, 0, 5)
    gen = store.current_generation(ix)
    again = index_corpus(sample_corpus, ix)
    assert (again.added, again.updated, again.deleted, again.total) == (0, 0, 0, 5)
    assert store.current_generation(ix) == gen
    # Touching a file without changing it rewrites nothing either.
    os.utime(sample_corpus, None)
    touched = index_corpus(sample_corpus, ix)
    assert (touched.added, touched.updated, touched.unchanged) == (0, 0, 5)


def test_change_add_and_delete_are_detected(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_jsonl(corpus / "a.jsonl", SAMPLE[:3])
    write_jsonl(corpus / "b.jsonl", SAMPLE[3:])
    ix = tmp_path / "ix"
    index_corpus(corpus, ix)
    changed = [dict(SAMPLE[0], title="Coffee prices soar in Brazil"), *SAMPLE[1:2]]
    write_jsonl(corpus / "a.jsonl", changed)  # one changed, one deleted (oil1)
    write_jsonl(corpus / "c.jsonl", [article(id="new1", title="Zinc output")])
    report = index_corpus(corpus, ix)
    assert (report.added, report.updated, report.deleted) == (1, 1, 1)
    assert total(ix) == 5
    assert total(ix, "soar") == 1 and total(ix, "zinc") == 1 and total(ix, "opec") == 0
    # Each run that changes stories makes a new generation; the live one is never patched.
    gens = sorted(p.name for p in ix.iterdir() if p.name.startswith("gen-"))
    assert gens == ["gen-000001", "gen-000002"]
    (corpus / "b.jsonl").unlink()
    report = index_corpus(corpus, ix)
    assert report.deleted == 2 and total(ix) == 3


def test_bad_article_is_skipped_with_reason_and_run_goes_on(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    copy_reference(corpus)
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blob.txt").write_text(
        " date 2017-11-21 News\nTitle\n\nNews\n\n" + "x" * 5000 + "\n", encoding="utf-8"
    )
    report = index_corpus(corpus, tmp_path / "ix")
    assert report.added == 1
    reasons = {Path(p.path).name: p.reason for p in report.skipped}
    assert set(reasons) == {"empty.txt", "blob.txt"}
    assert "5,000-character word" in reasons["blob.txt"]


def test_file_that_turns_bad_keeps_its_old_version(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    ref = copy_reference(corpus)
    ix = tmp_path / "ix"
    index_corpus(corpus, ix)
    ref.write_bytes(b"\x00\x01binary")
    report = index_corpus(corpus, ix)
    assert len(report.skipped) == 1 and report.deleted == 0
    assert total(ix, "Sochi") == 1


def test_rebuild_switches_generation_and_removes_the_old(
    tmp_path: Path, sample_corpus: Path
) -> None:
    ix = tmp_path / "ix"
    index_corpus(sample_corpus, ix)
    old = store.current_generation(ix)
    service = SearchService(ix)
    assert service.search(SearchRequest()).total == 5
    index_corpus(sample_corpus, ix, rebuild=True)
    new = store.current_generation(ix)
    # The previous generation stays one more round for searchers still reading it.
    assert new != old and old is not None and old.exists()
    assert service.search(SearchRequest()).total == 5
    index_corpus(sample_corpus, ix, rebuild=True)
    assert not old.exists() and new is not None and new.exists()
    assert sorted(p.name for p in ix.iterdir() if p.name.startswith("gen-")) == [
        new.name,
        store.current_generation(ix).name,  # type: ignore[union-attr]
    ]


def test_second_indexer_gets_index_busy(tmp_path: Path) -> None:
    ix = tmp_path / "ix"
    ready = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with writelock.writer_lock(ix):
            ready.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    ready.wait(5)
    try:
        with pytest.raises(IndexBusyError, match="index busy"), writelock.writer_lock(ix, wait=0.3):
            pass
    finally:
        release.set()
        t.join()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"id": ""}, "invalid id"),
        ({"id": "../x"}, "invalid id"),
        ({"title": "  "}, "no title"),
        ({"body": "a\x00b"}, "NUL"),
        ({"body": "\ud800"}, "not valid Unicode"),
        ({"body": "y" * 300}, "300-character word"),
    ],
)
def test_validate_names_the_problem(fields: dict[str, Any], reason: str) -> None:
    base = {"id": "ok", "title": "T", "body": "b"}
    base.update(fields)
    problem = validate(Article(**base))
    assert problem is not None and reason in problem


def test_validate_rejects_future_dates() -> None:
    from datetime import datetime, timezone

    soon = Article(id="f", title="T", date=datetime(2999, 1, 1, tzinfo=timezone.utc))
    assert "in the future" in (validate(soon) or "")


def test_every_setting_is_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each setting and its default appear in docs/operating.md's settings table.
    from searchapp.config import Settings, describe

    monkeypatch.delenv("SEARCHAPP_INDEX", raising=False)
    docs = (REPO / "docs" / "operating.md").read_text(encoding="utf-8")
    table = docs.split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(" `"): line for line in table.splitlines() if "|" in line}
    defaults = Settings()
    for name, help_text in describe():
        assert help_text, f"setting {name} has no help text"
        assert name in rows, f"setting {name} is missing from docs/operating.md"
        default = getattr(defaults, name)
        shown = f"{default:,}" if isinstance(default, int) else str(default)
        assert shown in rows[name], f"docs/operating.md gives another default for {name}"
    assert set(rows) - {"setting", "---"} == {name for name, _ in describe()}


# -- the manifest and the plan of an incremental run (pure) ---------------------------------


def _manifest(**files: tuple[str, ...]) -> Manifest:
    """A manifest whose file NAME holds the given ids, each with hash 'h-<id>'."""
    entries = {name: FileEntry(1, 10, ids) for name, ids in files.items()}
    hashes = {i: f"h-{i}" for ids in files.values() for i in ids}
    return Manifest(schema=1, files=entries, hashes=hashes)


SAME = FileStat(1, 10)
CHANGED = FileStat(2, 11)


def test_changed_files_compares_size_and_mtime() -> None:
    m = _manifest(a=("1",), b=("2",))
    stats = {"a": SAME, "b": CHANGED, "c": SAME, "d": None}
    assert changed_files(m, stats) == ["b", "c", "d"]


def test_plan_update_adds_updates_deletes_and_keeps_the_rest() -> None:
    m = _manifest(a=("1", "2"), b=("3",), gone=("4",))
    files = {
        "a": Scanned(CHANGED, (("1", "h-1"), ("2", "new"), ("5", "h-5"))),
        "b": Scanned(SAME),  # not read
    }
    plan = plan_update(m, files)
    assert (plan.write, plan.delete) == (["2", "5"], ["4"])
    assert (plan.added, plan.updated, plan.unchanged) == (1, 1, 1)
    assert plan.manifest.files == {"a": FileEntry(2, 11, ("1", "2", "5")), "b": m.files["b"]}
    assert plan.manifest.hashes == {"1": "h-1", "2": "new", "3": "h-3", "5": "h-5"}
    assert m.hashes["2"] == "h-2" and "gone" in m.files  # the input is left as it was


def test_plan_update_moved_story_is_rewritten_not_deleted() -> None:
    # Unchanged text, another file: it was deleted with its old file and never written again.
    m = _manifest(old=("1", "2"), other=())
    files = {"new": Scanned(SAME, (("1", "h-1"),)), "other": Scanned(CHANGED, (("2", "h-2"),))}
    plan = plan_update(m, files)
    assert sorted(plan.write) == ["1", "2"] and plan.delete == []
    assert set(plan.manifest.hashes) == {"1", "2"}


def test_plan_update_an_id_held_by_an_unread_file_is_a_duplicate() -> None:
    m = _manifest(a=("1",))
    plan = plan_update(m, {"a": Scanned(SAME), "b": Scanned(SAME, (("1", "other"),))})
    assert plan.write == [] and plan.duplicates == [("b", "duplicate id '1': a has it")]
    assert plan.manifest.files["b"].ids == ()


def test_plan_update_failed_and_troubled_files_keep_their_stories() -> None:
    m = _manifest(bad=("1", "2"), mixed=("3", "4"))
    files = {
        "bad": Scanned(CHANGED, failed=True),
        "mixed": Scanned(CHANGED, (("3", "new"),), troubled=True),
    }
    plan = plan_update(m, files)
    assert plan.write == ["3"] and plan.delete == []
    assert plan.manifest.files["bad"] == m.files["bad"]
    # Kept with no stat: the next run reads the troubled file again.
    assert plan.manifest.files["mixed"] == FileEntry(0, 0, ("3", "4"))


def test_manifest_on_disk_form_is_unchanged() -> None:
    # Generations written before the dataclasses read the same, and the other way round.
    data = {
        "schema": 5,
        "files": {"c/a.jsonl": [123, 45, ["x", "y"]]},
        "hashes": {"x": "hx", "y": "hy"},
        "vocab": {"topics": {"gold": 2}, "persons": {}},
    }
    m = Manifest.from_json(data)
    assert m.files["c/a.jsonl"] == FileEntry(123, 45, ("x", "y"))
    assert json.loads(json.dumps(m.to_json())) == data
    assert Manifest.from_json({}) == Manifest()


def test_binary_manifest_round_trips_and_refuses_damage(tmp_path: Path) -> None:
    """The manifest on disk (manifest.bin) reads back equal, in the same order; a flipped byte
    is refused (the indexer then rebuilds) and an older version's JSON manifest still reads."""
    from searchapp.manifest import ManifestError, decode_manifest, encode_manifest

    m = Manifest(
        schema=7,
        files={
            "c/ä.jsonl": FileEntry(123, 45, ("x", "y")),
            "c/empty.txt": FileEntry(0, 0, ()),
            "c/b.txt": FileEntry(-1, 2**40, ("z",)),
        },
        hashes={"x": "hx", "y": "", "z": "h-z"},
        vocab={"topics": {"gold": 2}, "persons": {}},
    )
    for manifest in (m, Manifest(), Manifest(schema=1, files={"a": FileEntry(1, 2, ())})):
        back = decode_manifest(encode_manifest(manifest))
        assert back == manifest
        assert list(back.files) == list(manifest.files)
        assert list(back.hashes) == list(manifest.hashes)
    data = bytearray(encode_manifest(m))
    data[-3] ^= 0x20
    with pytest.raises(ManifestError):
        decode_manifest(bytes(data))
    gen = tmp_path / "gen"
    gen.mkdir()
    store.write_manifest(gen, m)
    assert store.read_manifest(gen) == m
    (gen / store.MANIFEST_BIN).write_bytes(bytes(data))
    assert store.read_manifest(gen) == Manifest()
    (gen / store.MANIFEST_BIN).unlink()
    (gen / store.MANIFEST).write_text(json.dumps(m.to_json()), encoding="utf-8")
    assert store.read_manifest(gen) == m


def test_moved_story_survives_an_incremental_run(tmp_path: Path) -> None:
    corpus, ix = tmp_path / "corpus", tmp_path / "ix"
    write_jsonl(corpus / "a.jsonl", SAMPLE[:2])
    index_corpus(corpus, ix)
    (corpus / "a.jsonl").unlink()
    write_jsonl(corpus / "b.jsonl", SAMPLE[:2])
    report = index_corpus(corpus, ix)
    assert (report.deleted, report.total) == (0, 2)
    assert total(ix) == 2
    # The stored source follows the story to its new file.
    service = SearchService(ix)
    assert service.get_article("coffee1").source.endswith("b.jsonl")


# -- run summaries --------------------------------------------------------------------------


def test_titles_made_are_counted_and_stored_marked(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_jsonl(
        corpus / "untitled.jsonl",
        [
            {"id": "u1", "body": "Coffee exports fell in March. More."},
            {"id": "u2", "lead": "Gold rose.", "body": "Text."},
            {"id": "t1", "title": "Printed", "body": "Text."},
            {"id": "none", "body": ""},
        ],
    )
    done = CliRunner().invoke(
        index_command, ["--corpus", str(corpus), "--index", str(tmp_path / "ix"), "-q"]
    )
    assert done.exit_code == 0, done.output
    assert "2 titles made from the lead or body" in done.output
    assert "article 'none' has no 'title', and no 'lead' or 'body'" in done.output
    gen = store.current_generation(tmp_path / "ix")
    assert gen is not None
    from whoosh import index as whoosh_index

    with whoosh_index.open_dir(str(gen)).searcher() as s:
        docs = {d["id"]: json.loads(d["doc"]) for d in s.all_stored_fields()}
    assert docs["u1"]["title"] == "Coffee exports fell in March."
    assert docs["u1"]["title_made"] is True and docs["u2"]["title_made"] is True
    assert "title_made" not in docs["t1"]
    assert total(tmp_path / "ix", "coffee") == 1  # the made title is searchable
    # ...and shown as made wherever it is read: the JSON hit, the page, the article, the CLI.
    service = SearchService(tmp_path / "ix")
    hit = service.search(SearchRequest(q="coffee")).hits[0]
    assert hit.title_made is True and hit.to_dict()["title_made"] is True
    assert service.get_article("u1").title_made is True
    assert service.search(SearchRequest(q="printed")).hits[0].title_made is False
    from searchapp.cli import search as search_command
    from searchapp.web import create_app

    shown = CliRunner().invoke(search_command, ["coffee", "--index", str(tmp_path / "ix")])
    assert "Coffee exports fell in March. (no title; from the text)" in shown.output
    from searchapp.config import Settings

    client = create_app(Settings(index_dir=tmp_path / "ix")).test_client()
    page = client.get("/?q=coffee").get_data(as_text=True)
    assert "hit-title title-made" in page and "(no title; from the text)" in page
    story = client.get("/article/u1").get_data(as_text=True)
    assert "this one is made from the story" in story
    printed = client.get("/?q=printed").get_data(as_text=True)
    assert "title-made" not in printed


def test_noop_run_says_what_was_unchanged(tmp_path: Path, sample_corpus: Path) -> None:
    args = ["--corpus", str(sample_corpus.parent), "--index", str(tmp_path / "ix"), "-q"]
    first = CliRunner().invoke(index_command, args)
    assert first.exit_code == 0 and "5 added" in first.output
    again = CliRunner().invoke(index_command, args)
    assert again.exit_code == 0
    assert again.output.strip() == f"nothing changed: 5 stories in 1 file ({tmp_path / 'ix'})"


def test_check_of_a_folder_without_index_says_so_once(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "missing"):
        done = CliRunner().invoke(check_command, ["--index", str(folder)])
        assert done.exit_code == 1
        assert done.output.strip().splitlines() == [
            f"Error: no index in {folder}: build one with `searchapp index --index {folder}`"
        ]


def test_an_index_of_an_older_schema_is_refused_with_the_fix(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_jsonl(corpus / "a.jsonl", SAMPLE)
    ix = tmp_path / "ix"
    index_corpus(corpus, ix)
    gen = store.current_generation(ix)
    assert gen is not None
    assert total(ix, "") == len(SAMPLE)
    # Versions before schema 6 wrote no SCHEMA file (their stemmer was Porter's): make this
    # generation look like one of theirs.
    (gen / store.SCHEMA_FILE).unlink()
    manifest = store.read_manifest(gen).to_json()
    (gen / store.MANIFEST_BIN).unlink()  # they wrote the manifest as JSON
    (gen / store.MANIFEST).write_text(json.dumps({**manifest, "schema": 5}))
    from searchapp.cli import search as search_command
    from searchapp.errors import NoIndexError

    with pytest.raises(NoIndexError, match=r"schema 5 or older; this one reads schema \d+"):
        SearchService(ix).search(SearchRequest(q="coffee"))
    shown = CliRunner().invoke(search_command, ["coffee", "--index", str(ix)])
    assert shown.exit_code != 0 and "searchapp index --rebuild --index" in shown.output
    (gen / store.SCHEMA_FILE).write_text("5")  # a SCHEMA file naming another version
    with pytest.raises(NoIndexError, match="schema 5;"):
        SearchService(ix).search(SearchRequest(q="coffee"))
    # A plain run rebuilds an index of another schema; then it searches again.
    index_corpus(corpus, ix)
    assert total(ix, "") == len(SAMPLE)
