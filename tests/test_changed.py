"""`searchapp index --changed FILE...`: the files a feed names, and only those (changed.py).

Each run is compared with what a full scan makes of the same corpus (a twin index): the same
report, the same manifest, and a full scan after it finds nothing to do.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from searchapp import manifest_view, store
from searchapp.changed import ChangedFileError, corpus_names
from searchapp.indexer import index_corpus
from searchapp.manifest import FileEntry, Manifest, encode_manifest
from searchapp.manifest_view import Delta, ManifestBin, ManifestView, manifest_crc
from tests.conftest import article, write_jsonl
from tests.test_reliability import KILLS, SEED, assert_clean, assert_healthy, cli, story


def tass(i: int, edition: int = 1, story_id: str | None = None) -> dict[str, Any]:
    return article(
        id=story_id or f"t{i:03d}",
        title=f"Story {i} about coffee",
        body=f"Coffee exports rose in month {i}, traders said. edition{edition}",
        topics=["coffee"],
        persons=[f"Person {i % 3}"],
    )


@pytest.fixture
def twins(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A corpus of 20 one-story files and two jsonl files, indexed twice (A and B)."""
    corpus = tmp_path / "corpus"
    for i in range(20):
        write_jsonl(corpus / f"f{i:02d}.jsonl", [tass(i)])
    write_jsonl(corpus / "sub" / "many.jsonl", [tass(i) for i in range(100, 105)])
    write_jsonl(corpus / "sub" / "f.jsonl", [tass(200)])  # a name that ends like others
    a, b = tmp_path / "A", tmp_path / "B"
    index_corpus(corpus, a, workers=1)
    shutil.copytree(a, b)
    return corpus, a, b


def both(corpus: Path, a: Path, b: Path, named: list[str]) -> tuple[Any, Any]:
    """Run --changed on A naming these files, a full scan on B; the same result both ways."""
    ra = index_corpus(corpus, a, workers=1, changed=corpus_names(corpus, named))
    rb = index_corpus(corpus, b, workers=1)
    for field in ("added", "updated", "deleted", "unchanged", "total", "files"):
        if field != "unchanged":  # a full scan counts the stories of every file it read
            assert getattr(ra, field) == getattr(rb, field), field
    assert sorted(map(str, ra.skipped)) == sorted(map(str, rb.skipped))
    ma = store.read_manifest(store.current_generation(a))  # type: ignore[arg-type]
    mb = store.read_manifest(store.current_generation(b))  # type: ignore[arg-type]
    assert ma.to_json() == mb.to_json()
    again = index_corpus(corpus, a, workers=1)
    assert (again.added, again.updated, again.deleted) == (0, 0, 0)
    assert store.check_generation(a)[1] == []
    return ra, rb


def test_changed_added_deleted_as_a_full_scan(twins: tuple[Path, Path, Path]) -> None:
    corpus, a, b = twins
    write_jsonl(corpus / "f03.jsonl", [tass(3, edition=2)])  # changed
    write_jsonl(corpus / "new.jsonl", [tass(50)])  # new
    (corpus / "f07.jsonl").unlink()  # deleted
    write_jsonl(corpus / "sub" / "many.jsonl", [tass(i) for i in (100, 101, 103)])
    named = [str(corpus / n) for n in ("f03.jsonl", "new.jsonl", "f07.jsonl", "sub/many.jsonl")]
    ra, _ = both(corpus, a, b, named)
    assert (ra.added, ra.updated, ra.deleted) == (1, 1, 3)
    gen = store.current_generation(a)
    assert gen is not None and (gen / store.MANIFEST_DELTA).exists()
    # Only the named files were looked at: an unnamed change waits for a full scan.
    write_jsonl(corpus / "f04.jsonl", [tass(4, edition=3)])
    quiet = index_corpus(corpus, a, workers=1, changed=[])
    assert (quiet.added, quiet.updated, quiet.deleted) == (0, 0, 0)
    assert index_corpus(corpus, a, workers=1).updated == 1


def test_duplicates_moves_and_bad_stories_as_a_full_scan(twins: tuple[Path, Path, Path]) -> None:
    corpus, a, b = twins
    # t001 stays in f01 (not named): the new file's copy is a duplicate, skipped.
    write_jsonl(corpus / "dup.jsonl", [tass(1, edition=9), tass(60)])
    # t002 moves from f02 to moved.jsonl: both named, so it is a move, not a duplicate.
    (corpus / "f02.jsonl").unlink()
    write_jsonl(corpus / "moved.jsonl", [tass(2)])
    # A file with a bad line: its good story is written, its old ones kept.
    with (corpus / "f05.jsonl").open("a", encoding="utf-8") as fh:
        fh.write("{not json\n")
    named = ["dup.jsonl", "f02.jsonl", "moved.jsonl", "f05.jsonl"]
    ra, _ = both(corpus, a, b, [str(corpus / n) for n in named])
    assert any("duplicate id 't001'" in p.reason for p in ra.skipped)
    assert ra.added == 1 and ra.deleted == 0


def test_a_symlink_out_of_the_corpus_as_a_full_scan(twins: tuple[Path, Path, Path]) -> None:
    corpus, a, b = twins
    outside = write_jsonl(corpus.parent / "outside.jsonl", [tass(80)])
    (corpus / "link.jsonl").symlink_to(outside)
    (corpus / "f09.jsonl").unlink()
    (corpus / "f09.jsonl").symlink_to(outside)  # a file replaced by such a link: gone
    ra, _ = both(corpus, a, b, [str(corpus / "link.jsonl"), str(corpus / "f09.jsonl")])
    assert ra.deleted == 1 and len(ra.skipped) == 2


def test_unchanged_named_file_and_touch(twins: tuple[Path, Path, Path]) -> None:
    corpus, a, b = twins
    ra, _ = both(corpus, a, b, [str(corpus / "f01.jsonl")])
    assert (ra.added, ra.updated, ra.deleted) == (0, 0, 0)
    path = corpus / "f01.jsonl"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    live = store.current_generation(a)
    ra, _ = both(corpus, a, b, [str(path)])
    assert ra.unchanged == 1 and store.current_generation(a) == live  # manifest only


def test_names_outside_the_corpus_are_refused(twins: tuple[Path, Path, Path]) -> None:
    corpus, a, _ = twins
    outside = corpus.parent / "elsewhere.jsonl"
    write_jsonl(outside, [tass(70)])
    for bad, says in [
        (str(outside), "outside the corpus folder"),
        (str(corpus / ".hidden.jsonl"), "hidden"),
        (str(corpus / "notes.md"), "only .txt and .jsonl"),
        (str(corpus / ".." / "corpus" / ".." / "elsewhere.jsonl"), "outside"),
    ]:
        with pytest.raises(ChangedFileError, match=says):
            corpus_names(corpus, [bad])
        done = cli("index", "--corpus", str(corpus), "--index", str(a), "--changed", bad)
        assert done.returncode == 2, done.stderr
        assert bad in done.stderr and "Traceback" not in done.stderr
    # The same file named relative to the current folder, absolute, or through '..'.
    here = os.getcwd()
    try:
        os.chdir(corpus.parent)
        names = corpus_names(corpus, ["corpus/f01.jsonl", "./corpus/sub/../f01.jsonl"])
    finally:
        os.chdir(here)
    assert names == [str(corpus / "f01.jsonl")]


def test_cli_changed_from_stdin_and_a_list(twins: tuple[Path, Path, Path]) -> None:
    corpus, a, _ = twins
    write_jsonl(corpus / "f03.jsonl", [tass(3, edition=2)])
    (corpus / "f04.jsonl").unlink()
    common = ["index", "--corpus", str(corpus), "--index", str(a), "-q"]
    done = subprocess.run(
        [sys.executable, "-m", "searchapp.cli", *common, "--changed-from", "-"],
        input=f"{corpus / 'f03.jsonl'}\n\n{corpus / 'f04.jsonl'}\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "1 updated, 1 deleted" in done.stdout
    listing = corpus.parent / "list.txt"
    listing.write_text(f"{corpus / 'f05.jsonl'}\n", encoding="utf-8")
    write_jsonl(corpus / "f05.jsonl", [tass(5, edition=2)])
    done = cli(*common, "--changed-from", str(listing))
    assert done.returncode == 0 and "1 updated" in done.stdout, done.stderr
    done = cli(*common, "--changed-from", str(corpus.parent / "missing.txt"))
    assert done.returncode == 2 and "missing.txt" in done.stderr
    done = cli(*common, "--changed", str(corpus / "f05.jsonl"), "--rebuild")
    assert done.returncode == 2 and "--rebuild" in done.stderr
    # --changed FILE FILE...: a shell glob expands to several names after one option.
    write_jsonl(corpus / "f06.jsonl", [tass(6, edition=2)])
    write_jsonl(corpus / "f08.jsonl", [tass(8, edition=2)])
    done = cli(*common, "--changed", str(corpus / "f06.jsonl"), str(corpus / "f08.jsonl"))
    assert done.returncode == 0 and "2 updated" in done.stdout, done.stderr
    done = cli(*common, str(corpus / "f06.jsonl"))
    assert done.returncode == 2 and "--changed" in done.stderr


def test_the_delta_is_folded_when_it_grows(
    twins: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, a, b = twins
    monkeypatch.setattr(manifest_view, "DELTA_LIMIT", 3)
    write_jsonl(corpus / "f03.jsonl", [tass(3, edition=2)])
    both(corpus, a, b, [str(corpus / "f03.jsonl")])  # 2 entries: a delta
    gen = store.current_generation(a)
    assert gen is not None and (gen / store.MANIFEST_DELTA).exists()
    write_jsonl(corpus / "f06.jsonl", [tass(6, edition=2)])
    both(corpus, a, b, [str(corpus / "f06.jsonl")])  # 4 entries: folded into manifest.bin
    gen = store.current_generation(a)
    assert gen is not None and not (gen / store.MANIFEST_DELTA).exists()


def test_view_lookups_agree_with_the_decoded_manifest() -> None:
    r = random.Random(5)
    m = Manifest(schema=7, vocab={"topics": {"oil": 2}})
    n = 0
    for name in ["a.txt", "ba.txt", "b/a.txt", "x.jsonl", "a.txt.jsonl", "zz.txt"]:
        ids = tuple(f"id{n + k}" for k in range(r.randrange(0, 4)))
        n += len(ids) + 1
        m.files[name] = FileEntry(r.randrange(10**18), r.randrange(10**6), ids)
        m.hashes.update({i: f"h{i}" for i in ids})
    base = ManifestBin(encode_manifest(m))
    view = ManifestView(base, None)
    held = {i: name for name, e in m.files.items() for i in e.ids}
    for name in [*m.files, "a", "txt", "a.tx", "", "zz.txt\0"]:
        assert view.entry(name) == m.files.get(name), name
    for story_id in [*m.hashes, "id", "d1", "id1000"]:
        assert view.hash_of(story_id) == m.hashes.get(story_id)
        assert view.holder(story_id) == held.get(story_id)
    # A delta on top: x.jsonl is gone, a.txt holds a new id; a stale delta is ignored.
    first = m.files["a.txt"]
    delta = Delta(
        manifest_crc(base.data),
        files={"x.jsonl": None, "a.txt": FileEntry(1, 2, ("new",))},
        hashes={**{i: None for i in m.files["x.jsonl"].ids + first.ids}, "new": "hn"},
    )
    view = ManifestView(base, delta)
    assert view.entry("x.jsonl") is None and view.entry("a.txt") == FileEntry(1, 2, ("new",))
    assert view.holder("new") == "a.txt" and view.hash_of("new") == "hn"
    for story_id in first.ids:
        assert view.holder(story_id) is None and view.hash_of(story_id) is None
    assert ManifestView(base, Delta(base.crc + 1, files={"x.jsonl": None})).entry("x.jsonl")


def test_a_stale_delta_is_ignored(twins: tuple[Path, Path, Path]) -> None:
    """A kill between a new manifest.bin and the removal of the delta leaves a delta naming
    the old manifest.bin: readers must not apply it."""
    corpus, a, _ = twins
    write_jsonl(corpus / "f03.jsonl", [tass(3, edition=2)])
    index_corpus(corpus, a, workers=1, changed=[str(corpus / "f03.jsonl")])
    gen = store.current_generation(a)
    assert gen is not None
    delta = (gen / store.MANIFEST_DELTA).read_bytes()
    full = store.read_manifest(gen)
    name = str(corpus / "f03.jsonl")
    assert full.files[name].mtime_ns != 0  # the delta's entry
    full.files[name] = FileEntry(0, 0, full.files[name].ids)
    store.write_manifest(gen, full)
    assert not (gen / store.MANIFEST_DELTA).exists()
    (gen / store.MANIFEST_DELTA).write_bytes(delta)  # as a kill would leave it
    assert store.read_manifest(gen) == full


@pytest.mark.slow
def test_kill9_during_changed_leaves_old_or_new(tmp_path: Path) -> None:
    """kill -9 of the indexer's pid at random moments of a --changed run: the live index is
    the old one or the new one, complete; the next run ends with the corpus's stories."""
    print(f"SEARCHAPP_SEED={SEED} kills={KILLS}")
    rng = random.Random(SEED)
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    for f in range(40):
        write_jsonl(corpus / f"f{f:02d}.jsonl", [story(f * 5 + k) for k in range(5)])
    common = ["index", "--corpus", str(corpus), "--index", str(index), "-q"]
    assert cli(*common).returncode == 0
    names = [str(corpus / "f07.jsonl"), str(corpus / "f30.jsonl")]
    started = time.monotonic()
    edition = 2
    write_jsonl(corpus / "f07.jsonl", [story(35 + k, edition) for k in range(5)])
    assert cli(*common, "--changed", *names).returncode == 0
    took = time.monotonic() - started
    outcomes = {"old": 0, "new": 0}
    for _ in range(KILLS * 3):
        old = sorted(_stored(index))
        edition += 1
        write_jsonl(corpus / "f07.jsonl", [story(35 + k, edition) for k in range(5)])
        (corpus / "f30.jsonl").unlink(missing_ok=True)
        proc = subprocess.Popen(
            [sys.executable, "-m", "searchapp.cli", *common, "--changed", *names],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0, took * 1.1))
        os.kill(proc.pid, signal.SIGKILL)  # the pid alone
        proc.wait()
        assert proc.returncode in (0, -signal.SIGKILL), proc.stderr.read()  # type: ignore
        left = sorted(_stored(index))
        assert_healthy(index, {len(left)})
        new = sorted(f"s{35 + k:05d} edition{edition}" for k in range(5))
        outcome = "new" if set(new) <= set(left) else "old"
        assert left == old or outcome == "new", "neither the old nor the new stories"
        outcomes[outcome] += 1
        done = cli(*common, "--changed", *names)
        assert done.returncode == 0, done.stderr
        assert cli(*common).stdout.startswith("nothing changed"), "a full scan disagrees"
        write_jsonl(corpus / "f30.jsonl", [story(150 + k) for k in range(5)])
        assert cli(*common, "--changed", names[1]).returncode == 0
        assert_clean(index)
        assert cli("check", "--index", str(index)).returncode == 0
    print(outcomes)


def _stored(index: Path) -> list[str]:
    from searchapp.models import SearchRequest
    from searchapp.search import SearchService

    articles = SearchService(index).export(SearchRequest(q="", snippets=False))
    return [f"{a.id} {a.body.rsplit(' ', 1)[-1]}" for a in articles]


def test_the_corpus_spelled_another_way(twins: tuple[Path, Path, Path]) -> None:
    """An index built with --corpus /abs/corpus, a feed running with --corpus corpus from
    the parent folder: the same files, not new ones (and no duplicates reported)."""
    corpus, a, b = twins
    write_jsonl(corpus / "f03.jsonl", [tass(3, edition=2)])
    here = os.getcwd()
    try:
        os.chdir(corpus.parent)
        rel = Path("corpus")
        report = index_corpus(rel, a, workers=1, changed=corpus_names(rel, ["corpus/f03.jsonl"]))
    finally:
        os.chdir(here)
    assert (report.added, report.updated, report.skipped) == (0, 1, [])
    index_corpus(corpus, b, workers=1)
    ma = store.read_manifest(store.current_generation(a))  # type: ignore[arg-type]
    mb = store.read_manifest(store.current_generation(b))  # type: ignore[arg-type]
    assert ma.to_json() == mb.to_json()


def test_many_named_files_decode_the_manifest(
    twins: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MANY_FILES names the run decodes the manifest instead of searching its blobs,
    and writes a whole manifest.bin: the same result."""
    from searchapp import changed

    corpus, a, b = twins
    monkeypatch.setattr(changed, "MANY_FILES", 1)
    write_jsonl(corpus / "f03.jsonl", [tass(3, edition=2)])
    write_jsonl(corpus / "dup.jsonl", [tass(1, edition=9)])
    (corpus / "f04.jsonl").unlink()
    names = [str(corpus / n) for n in ("f03.jsonl", "dup.jsonl", "f04.jsonl")]
    ra, _ = both(corpus, a, b, names)
    assert (ra.updated, ra.deleted, len(ra.skipped)) == (1, 1, 1)
    gen = store.current_generation(a)
    assert gen is not None and not (gen / store.MANIFEST_DELTA).exists()


def test_a_name_neither_in_the_corpus_nor_the_index_is_reported(
    twins: tuple[Path, Path, Path],
) -> None:
    # A feed's typo: nothing to delete, nothing to read; said, not silently "nothing changed".
    corpus, a, _b = twins
    live = store.current_generation(a)
    named = corpus_names(corpus, [str(corpus / "f1.jsonl")])
    report = index_corpus(corpus, a, workers=1, changed=named)
    assert [(p.path.endswith("f1.jsonl"), p.reason) for p in report.skipped] == [
        (True, "no such file, and the index holds nothing from it: check the name")
    ]
    assert (report.added, report.updated, report.deleted) == (0, 0, 0)
    assert store.current_generation(a) == live
