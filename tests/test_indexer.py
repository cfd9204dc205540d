"""The indexer: full builds, incremental updates, skipped articles, the lock."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from searchapp import store
from searchapp.errors import IndexBusyError
from searchapp.indexer import index_corpus, validate
from searchapp.models import Article, SearchRequest
from searchapp.search import SearchService
from tests.conftest import SAMPLE, article, copy_reference, write_jsonl


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
        with store.writer_lock(ix):
            ready.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    ready.wait(5)
    try:
        with pytest.raises(IndexBusyError, match="index busy"), store.writer_lock(ix, wait=0.3):
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


def test_every_setting_is_documented() -> None:
    from searchapp.config import describe

    assert all(help_text for _name, help_text in describe())
