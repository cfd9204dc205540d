"""Build and update the index from a corpus; report what was added, updated, deleted, skipped.

Change detection is by file: a file whose size and mtime match the manifest is not read again
(so one changed file in a 200k-story archive costs a stat per file, not a parse per file); a
file that was read is compared story by story by content hash, so touching a file without
changing it rewrites nothing. A file that turns bad keeps its stories' old versions.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec

from searchapp import formats, store
from searchapp.errors import SearchAppError
from searchapp.models import Article, ParseProblem, RawArticle, Report
from searchapp.schema import SCHEMA_VERSION, article_hash, build_schema, to_fields
from searchapp.tags import TagSplitter

Progress = Callable[[str, int, int], None]

# Below this many stories the two writer processes cost more to start than they save.
PARALLEL_MIN_DOCS = 2000
WRITER_MEMORY_MB = 256
LARGE_BUILD = 50_000
# Posting blocks uncompressed: zlib took 13% of indexing time (measured on Reuters) for an index
# about a third smaller; disk is cheaper than the archive's indexing window.
CODEC = W3Codec(compression=0)
# Whoosh stores terms with a 2-byte length; a longer "word" is a blob, not text.
MAX_WORD = 255
MAX_FIELD_CHARS = 5_000_000
MAX_ID_CHARS = 200
_LONG_WORD = re.compile(rf"\w{{{MAX_WORD + 1},}}")
_BAD_ID = re.compile(r"[\x00-\x1f\x7f/\\]")
# A story dated more than this far ahead of the clock is a typo, not news.
FUTURE_SLACK = timedelta(days=2)


def _noop(stage: str, done: int, total: int) -> None:
    pass


def validate(article: Article, now: datetime | None = None) -> str | None:
    """Return why an article cannot be indexed, or None when it is fit.

    Whoosh 2.7.5 corrupts the NEXT document (and, before a commit, the previous one's stored
    fields) when it rejects a document halfway through add_document (whoosh-facts.md), so every
    check that Whoosh could fail must happen here, before the writer sees the article.
    """
    if not article.id or len(article.id) > MAX_ID_CHARS or _BAD_ID.search(article.id):
        return f"invalid id {article.id[:60]!r}: use 1-{MAX_ID_CHARS} printable characters"
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
    if article.date is not None:
        now = now or datetime.now(timezone.utc)
        if article.date.astimezone(timezone.utc) > now + FUTURE_SLACK:
            return f"dated {article.iso_date}, in the future: check the header date"
    return None


class _Clock:
    """Record the wall time of each indexing stage into a report."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.last = time.monotonic()

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.report.stages[stage] = self.report.stages.get(stage, 0.0) + now - self.last
        self.last = now


@dataclass
class _Stat:
    mtime_ns: int
    size: int


def _stat(path: str | Path) -> _Stat | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return _Stat(st.st_mtime_ns, st.st_size)


def _vocabulary(articles: Iterable[Article]) -> dict[str, dict[str, int]]:
    topics: Counter[str] = Counter()
    persons: Counter[str] = Counter()
    for article in articles:
        topics.update(article.topics)
        persons.update(article.persons)
    return {"topics": dict(topics), "persons": dict(persons)}


def _merge_vocab(old: dict[str, Any], new: dict[str, dict[str, int]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for kind in ("topics", "persons"):
        counts: Counter[str] = Counter(old.get(kind, {}))
        counts.update(new.get(kind, {}))
        merged[kind] = dict(counts)
    return merged


def _split(raws: list[RawArticle], vocab: dict[str, Any]) -> list[Article]:
    splitter = TagSplitter()
    for kind in ("topics", "persons"):
        if vocab.get(kind):
            splitter.add_known(kind, vocab[kind])
    splitter.learn(raws)
    return [splitter.finalize(raw) for raw in raws]


def _check_count(ix: Any, expected: int, gen: Path) -> None:
    # Whoosh's multiprocess writer can drop a child's segment (it waits 1 s for results after
    # joining): never trust a commit, count.
    with ix.searcher() as s:
        got = s.doc_count()
    if got != expected:
        raise SearchAppError(
            f"the index in {gen} holds {got} stories after writing {expected}: "
            "the writer lost documents; run `searchapp index --rebuild` again"
        )


class Indexer:
    """Index a corpus into an index directory (one run = one call to run())."""

    def __init__(
        self,
        corpus: Path,
        index_dir: Path,
        *,
        workers: int | None = None,
        progress: Progress | None = None,
        lock_wait: float = 5.0,
        keep: Callable[[str], bool] | None = None,
    ) -> None:
        self.corpus = corpus
        self.index_dir = index_dir
        self.workers = workers or min(2, os.cpu_count() or 1)
        self.progress = progress or _noop
        self.lock_wait = lock_wait
        self.optimize = False
        # A shard of a cluster indexes only the story ids it owns (searchapp/cluster/layout.py).
        self.keep = keep

    def run(self, rebuild: bool = False, optimize: bool = False) -> Report:
        """Bring the index up to date with the corpus (or rebuild it from scratch).

        optimize merges the new generation into one segment: slower to write, a little faster
        to search; the live generation is untouched either way.
        """
        self.optimize = optimize
        started = time.monotonic()
        with store.writer_lock(self.index_dir, wait=self.lock_wait):
            gen = store.current_generation(self.index_dir)
            # Leftovers of a run that was killed: half-written generations, temporaries.
            store.remove_stale(
                self.index_dir, keep=gen, previous=store.previous_generation(self.index_dir, gen)
            )
            if gen is not None and not rebuild:
                manifest = store.read_manifest(gen)
                if manifest.get("schema") != SCHEMA_VERSION:
                    rebuild = True  # an index from an older schema cannot be patched
            try:
                if gen is None or rebuild:
                    report = self._rebuild(gen)
                else:
                    report = self._update(gen, manifest)
            except OSError as exc:
                # Every write goes to a new generation, so a failed run leaves the live
                # index exactly as it was; say so, and what to do.
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise SearchAppError(
                        f"disk full while writing the index in {self.index_dir}: free some "
                        "space and run again; the live index is unchanged"
                    ) from exc
                raise SearchAppError(
                    f"cannot write the index in {self.index_dir} ({exc.strerror or exc}): "
                    "check the folder's permissions and free space; the live index is unchanged"
                ) from exc
        report.seconds = time.monotonic() - started
        return report

    # -- reading ---------------------------------------------------------------------------

    def _read(
        self, paths: Sequence[str | Path]
    ) -> tuple[dict[str, list[RawArticle]], list[ParseProblem], set[str]]:
        """Read files; return stories per file, problems, and the files that failed whole."""
        self.progress("read", 0, len(paths))
        raws, problems = formats.read_paths(paths, workers=self.workers)
        self.progress("read", len(paths), len(paths))
        by_file: dict[str, list[RawArticle]] = {}
        for raw in raws:
            by_file.setdefault(raw.article.source, []).append(raw)
        wanted = {str(x) for x in paths}
        failed = {p.path for p in problems if p.path in wanted}
        return by_file, problems, failed

    def _prepare(
        self, raws: list[RawArticle], vocab: dict[str, Any], report: Report
    ) -> list[Article]:
        """Split tags and validate; invalid stories go to report.skipped."""
        fit = []
        seen: set[str] = set()
        now = datetime.now(timezone.utc)
        for article in _split(raws, vocab):
            if self.keep is not None and not self.keep(article.id):
                continue
            reason = validate(article, now)
            if reason is None and article.id in seen:
                reason = f"duplicate id {article.id!r}: another file already holds this story"
            if reason is not None:
                report.skipped.append(ParseProblem(article.source or article.id, reason))
                continue
            seen.add(article.id)
            fit.append(article)
        return fit

    # -- full build ------------------------------------------------------------------------

    def _rebuild(self, old_gen: Path | None) -> Report:
        report = Report()
        clock = _Clock(report)
        names, passed_over = formats.scan_names(self.corpus)
        report.skipped.extend(passed_over)
        stats = {name: _stat(name) for name in names}
        by_file, problems, _failed = self._read(names)
        report.skipped.extend(problems)
        raws = [raw for file_raws in by_file.values() for raw in file_raws]
        del by_file
        clock.lap("read")
        articles = self._prepare(raws, {}, report)
        del raws  # at 200k stories the raw copies are hundreds of MB we no longer need
        clock.lap("prepare")

        gen = store.new_generation(self.index_dir)
        try:
            ix = whoosh_index.create_in(str(gen), build_schema())
            hashes = self._write_all(ix, articles, clock)
            _check_count(ix, len(articles), gen)
            ix.close()
            manifest = self._manifest(articles, hashes, stats, _vocabulary(articles))
            store.write_manifest(gen, manifest)
            store.switch_to(self.index_dir, gen)
        except BaseException:
            # Never leave a half-written generation behind; the old one stays live.
            shutil.rmtree(gen, ignore_errors=True)
            raise
        clock.lap("finish")
        store.remove_stale(self.index_dir, keep=gen, previous=old_gen)
        report.added = len(articles)
        report.total = len(articles)
        if old_gen is not None:
            report.added = 0
            report.updated = len(articles)
        return report

    def _write_all(self, ix: Any, articles: list[Article], clock: _Clock) -> dict[str, str]:
        """Add every article with a fresh writer; return their content hashes by id."""
        total = len(articles)
        procs = self.workers if total >= PARALLEL_MIN_DOCS else 1
        # compound=False: opening the index drops from ~100 ms to ~1 ms, and a one-query CLI
        # process stops copying every segment into memory (whoosh-facts.md).
        # Each writer process buffers postings up to limitmb before spilling to disk; above
        # LARGE_BUILD stories a smaller buffer keeps the process tree within memory bounds.
        limitmb = WRITER_MEMORY_MB if total <= LARGE_BUILD else WRITER_MEMORY_MB // 2
        kwargs: dict[str, Any] = {"limitmb": limitmb, "compound": False, "codec": CODEC}
        hashes: dict[str, str] = {}
        if procs > 1:
            kwargs.update(procs=procs, multisegment=True)
        writer = ix.writer(**kwargs)
        try:
            step = max(1, total // 200)
            for i, article in enumerate(articles, 1):
                doc = to_fields(article)
                hashes[article.id] = str(doc["hash"])
                writer.add_document(**doc)
                if i % step == 0:
                    self.progress("index", i, total)
            clock.lap("write")
            self.progress("commit", total, total)
            writer.commit()
            clock.lap("commit")
        except BaseException:
            writer.cancel()
            raise
        self.progress("index", total, total)
        return hashes

    # -- incremental update ----------------------------------------------------------------

    def _update(self, gen: Path, manifest: dict[str, Any]) -> Report:
        report = Report()
        old_files: dict[str, Any] = manifest.get("files", {})
        old_hashes: dict[str, str] = manifest.get("hashes", {})
        names, passed_over = formats.scan_names(self.corpus)
        report.skipped.extend(passed_over)
        stats = {name: _stat(name) for name in names}
        changed = []
        for name in names:
            entry = old_files.get(name)
            st = stats[name]
            if entry is None or st is None or [st.mtime_ns, st.size] != entry[:2]:
                changed.append(name)
        current = set(names)
        changed_set = set(changed)
        gone_files = [f for f in old_files if f not in current]

        by_file, problems, failed = self._read(changed)
        report.skipped.extend(problems)
        raws = [raw for file_raws in by_file.values() for raw in file_raws]
        articles = self._prepare(raws, manifest.get("vocab", {}), report)
        new_by_file: dict[str, list[Article]] = {}
        for article in articles:
            new_by_file.setdefault(article.source, []).append(article)

        # Ids still owned by files we did not re-read: a changed file may not steal them.
        owner: dict[str, str] = {}
        for f, entry in old_files.items():
            if f in current and f not in changed_set:
                for i in entry[2]:
                    owner[i] = f

        to_write: list[Article] = []
        hashes = dict(old_hashes)
        files = {f: e for f, e in old_files.items() if f in current}
        deleted_ids: list[str] = []
        # Files with any story that could not be read or validated (a .jsonl problem names
        # "file:line"): their good stories are written, but none of their old stories is
        # deleted, and the file is read again next run.
        troubled = {
            p.path.rsplit(":", 1)[0] if p.path not in current else p.path for p in report.skipped
        }
        for f in changed:
            if f in failed:
                # A file that turned bad keeps its stories' old versions (and is retried).
                continue
            previous_ids = set(old_files.get(f, [0, 0, []])[2])
            kept_ids = []
            for article in new_by_file.get(f, []):
                if owner.get(article.id, f) != f:
                    report.skipped.append(
                        ParseProblem(f, f"duplicate id {article.id!r}: {owner[article.id]} has it")
                    )
                    continue
                kept_ids.append(article.id)
                digest = article_hash(article)
                if hashes.get(article.id) != digest:
                    to_write.append(article)
                    if article.id in old_hashes:
                        report.updated += 1
                    else:
                        report.added += 1
                    hashes[article.id] = digest
                else:
                    report.unchanged += 1
            if f in troubled:
                old_entry = old_files.get(f)
                kept = sorted(previous_ids | set(kept_ids))
                files[f] = [*old_entry[:2], kept] if old_entry else [0, 0, kept]
                continue
            for gone in previous_ids - set(kept_ids):
                deleted_ids.append(gone)
            st = stats[f]
            files[f] = [st.mtime_ns if st else 0, st.size if st else 0, kept_ids]
        for f in gone_files:
            deleted_ids.extend(old_files[f][2])
        # An id moved from a deleted file to another file is an update, not a delete.
        written = {a.id for a in to_write}
        deleted_ids = [i for i in deleted_ids if i not in written]
        for i in deleted_ids:
            hashes.pop(i, None)
        report.deleted = len(deleted_ids)

        vocab = _merge_vocab(manifest.get("vocab", {}), _vocabulary(to_write))
        new_manifest = {
            "schema": SCHEMA_VERSION,
            "files": files,
            "hashes": hashes,
            "vocab": vocab,
        }
        if to_write or deleted_ids:
            self._commit_changes(gen, to_write, deleted_ids, hashes, new_manifest)
        elif new_manifest != manifest:
            # Only file times changed: the stories are the same, so the manifest is the only
            # thing to refresh (atomically, in place).
            store.write_manifest(gen, new_manifest)
        report.total = len(hashes)
        return report

    def _commit_changes(
        self,
        gen: Path,
        to_write: list[Article],
        deleted_ids: list[str],
        hashes: dict[str, str],
        manifest: dict[str, Any],
    ) -> None:
        """Apply changes in a copy-on-write generation, then switch to it atomically.

        The new generation starts as hard links to the live one's files. Whoosh never rewrites
        a segment file (deletions live in the TOC), so the live generation is untouched: a
        kill -9 at any moment leaves CURRENT on the old or the new generation, each complete,
        and searches running meanwhile keep reading the old one.
        """
        new = store.clone_generation(self.index_dir, gen)
        try:
            ix = whoosh_index.open_dir(str(new))
            writer = ix.writer(limitmb=WRITER_MEMORY_MB, compound=False, codec=CODEC)
            try:
                for i in deleted_ids:
                    writer.delete_by_term("id", i)
                for n, article in enumerate(to_write, 1):
                    writer.update_document(**to_fields(article, hashes[article.id]))
                    self.progress("index", n, len(to_write))
                writer.commit(optimize=self.optimize)
            except BaseException:
                writer.cancel()
                raise
            _check_count(ix, len(hashes), new)
            ix.close()
            store.write_manifest(new, manifest)
            store.switch_to(self.index_dir, new)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        store.remove_stale(self.index_dir, keep=new, previous=gen)

    def _manifest(
        self,
        articles: list[Article],
        hashes: dict[str, str],
        stats: dict[str, _Stat | None],
        vocab: dict[str, Any],
    ) -> dict[str, Any]:
        files: dict[str, list[Any]] = {}
        for f, st in stats.items():
            files[f] = [st.mtime_ns if st else 0, st.size if st else 0, []]
        for article in articles:
            entry = files.get(article.source)
            if entry is not None:
                entry[2].append(article.id)
        return {"schema": SCHEMA_VERSION, "files": files, "hashes": hashes, "vocab": vocab}


def index_corpus(
    corpus: Path,
    index_dir: Path,
    *,
    rebuild: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
    wait: float = 5.0,
    optimize: bool = False,
) -> Report:
    """Bring index_dir up to date with corpus; see Indexer."""
    indexer = Indexer(corpus, index_dir, workers=workers, progress=progress, lock_wait=wait)
    return indexer.run(rebuild=rebuild, optimize=optimize)
