"""Build and update the index from a corpus; report what was added, updated, deleted, skipped.

Change detection is by file: a file whose size and mtime match the manifest is not read again
(so one changed file in a 200k-story archive costs a stat per file, not a parse per file); a
file that was read is compared story by story by content hash, so touching a file without
changing it rewrites nothing. A file that turns bad keeps its stories' old versions.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec

from searchapp import formats, store, writelock
from searchapp.changed import update_named
from searchapp.children import GuardedMpWriter
from searchapp.errors import SearchAppError
from searchapp.indexrun import (
    Clock,
    IndexReport,
    check_count,
    codec_choice,
    columnar_enabled,
    gc_paused,
    merge_vocab,
    noop,
    scanned_files,
    split_tags,
    vocabulary,
    writer_codec,
)
from searchapp.manifest import (
    FileStat,
    Manifest,
    Scanned,
    changed_files,
    plan_update,
    stat_files,
)
from searchapp.models import Article, ParseProblem, RawArticle, Report
from searchapp.schema import SCHEMA_VERSION, article_hash, build_schema, to_fields
from searchapp.validation import validate

Progress = Callable[[str, int, int], None]

# Below this many stories the two writer processes cost more to start than they save.
class _Built(NamedTuple):
    """What writing a whole generation gave: the corpus files' entries, the vocabulary of
    facet values, and how many stories (and made titles) it holds."""

    files: dict[str, Scanned]
    vocab: dict[str, dict[str, int]]
    stories: int
    titles_made: int


PARALLEL_MIN_DOCS = 2000
WRITER_MEMORY_MB = 256
LARGE_BUILD = 50_000
# Posting blocks uncompressed: zlib took 13% of indexing time (measured on Reuters) for an index
# about a third smaller; disk is cheaper than the archive's indexing window.
CODEC = W3Codec(compression=0)


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
        self.progress = progress or noop
        self.lock_wait = lock_wait
        self.optimize = False
        # A shard of a cluster indexes only the story ids it owns (searchapp/cluster/layout.py).
        self.keep = keep

    def run(
        self, rebuild: bool = False, optimize: bool = False, changed: list[str] | None = None
    ) -> IndexReport:
        """Bring the index up to date with the corpus (or rebuild it from scratch).

        optimize merges the new generation into one segment: slower to write, a little faster
        to search; the live generation is untouched either way. changed: the only corpus
        files to look at, as changed.corpus_names() gives them (None: scan the corpus).
        """
        self.optimize = optimize
        started = time.monotonic()
        # The lock also stops the leftovers of an indexer killed alone (writelock._reap_orphans).
        with writelock.writer_lock(self.index_dir, wait=self.lock_wait):
            gen = store.current_generation(self.index_dir)
            # Leftovers of a run that was killed: half-written generations, temporaries.
            store.remove_stale(
                self.index_dir, keep=gen, previous=store.previous_generation(self.index_dir, gen)
            )
            # A feed's named files: look up their part of the manifest only (changed.py).
            view = store.read_view(gen) if gen and changed is not None and not rebuild else None
            manifest = Manifest()
            if gen is not None and not rebuild and view is None:
                with gc_paused():
                    manifest = store.read_manifest(gen)
            if (view.schema if view else manifest.schema) != SCHEMA_VERSION:
                rebuild = True  # an index from an older schema cannot be patched
            try:
                if gen is None or rebuild:
                    report = self._rebuild(gen)
                elif view is not None:
                    report = update_named(self, gen, view, changed or [])
                else:
                    with gc_paused():
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
        # Failed whole: a problem names the file itself and it gave no story (a duplicate id
        # inside a .jsonl also names the file, but its other lines were read).
        failed = {p.path for p in problems if p.path in wanted and p.path not in by_file}
        return by_file, problems, failed

    def _prepare(
        self, raws: list[RawArticle], vocab: dict[str, Any], report: Report
    ) -> list[Article]:
        """Split tags and validate; invalid stories go to report.skipped."""
        fit = []
        seen: set[str] = set()
        now = datetime.now(timezone.utc)
        for article in split_tags(raws, vocab):
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

    def _scan(
        self, manifest: Manifest, report: Report, vocab: dict[str, Any], read_all: bool
    ) -> tuple[dict[str, FileStat | None], dict[str, bool], list[Article]]:
        """Scan the corpus, read what changed (everything if read_all), and validate it.

        Returns every file's stat, the files read (True: failed whole), and the fit stories.
        """
        clock = Clock(report)
        names, passed_over = formats.scan_names(self.corpus)
        report.skipped.extend(passed_over)
        stats = stat_files(names)
        to_read = names if read_all else changed_files(manifest, stats)
        by_file, problems, failed = self._read(to_read)
        report.skipped.extend(problems)
        raws = [raw for file_raws in by_file.values() for raw in file_raws]
        del by_file
        clock.lap("read")
        articles = self._prepare(raws, vocab, report)
        del raws  # at 200k stories the raw copies are hundreds of MB we no longer need
        clock.lap("prepare")
        return stats, {name: name in failed for name in to_read}, articles

    @staticmethod
    def _finish_report(report: IndexReport, manifest: Manifest, titles_made: int) -> None:
        report.total = len(manifest.hashes)
        report.files = len(manifest.files)
        report.titles_made = titles_made

    # -- full build ------------------------------------------------------------------------

    def _rebuild(self, old_gen: Path | None) -> IndexReport:
        if columnar_enabled():
            return self._rebuild_streamed(old_gen)
        report = IndexReport()
        stats, read, articles = self._scan(Manifest(), report, {}, read_all=True)
        clock = Clock(report)

        def write(ix: Any) -> _Built:
            hashes = self._write_all(ix, articles, clock)
            written = ((a.source, a.id, hashes[a.id]) for a in articles)
            files = scanned_files(stats, read, written, report.skipped)
            titles_made = sum(a.title_made for a in articles)
            return _Built(files, vocabulary(articles), len(articles), titles_made)

        return self._build_generation(old_gen, report, clock, write)

    def _rebuild_streamed(self, old_gen: Path | None) -> IndexReport:
        """A columnar rebuild whose workers read the files themselves (rebuild.py): this
        process never holds the parsed corpus."""
        report = IndexReport()
        clock = Clock(report)
        names, passed_over = formats.scan_names(self.corpus)
        report.skipped.extend(passed_over)

        from searchapp.rebuild import write_streamed

        def write(ix: Any) -> _Built:
            self.progress("read", 0, len(names))
            built = write_streamed(
                ix,
                names,
                workers=self.workers,
                keep=self.keep,
                progress=self.progress,
                lap=clock.lap,
            )
            report.skipped.extend(built.problems)
            read = {name: name in built.failed for name in names}
            files = scanned_files(built.stats, read, built.stories, report.skipped)
            return _Built(files, built.vocab, built.count, built.titles_made)

        return self._build_generation(old_gen, report, clock, write)

    def _build_generation(
        self,
        old_gen: Path | None,
        report: IndexReport,
        clock: Clock,
        write: Callable[[Any], _Built],
    ) -> IndexReport:
        """Write a whole new generation with write(ix), then switch to it (the old one stays
        live until then, and a failure removes the new one)."""
        gen = store.new_generation(self.index_dir)
        try:
            ix = whoosh_index.create_in(str(gen), build_schema())
            built = write(ix)
            check_count(ix, built.stories, gen)
            ix.close()
            plan = plan_update(Manifest(schema=SCHEMA_VERSION), built.files)
            plan.manifest.vocab = built.vocab
            store.write_manifest(gen, plan.manifest)
            store.switch_to(self.index_dir, gen)
        except BaseException:
            # Never leave a half-written generation behind; the old one stays live.
            shutil.rmtree(gen, ignore_errors=True)
            raise
        clock.lap("finish")
        store.remove_stale(self.index_dir, keep=gen, previous=old_gen)
        if old_gen is None:
            report.added = built.stories
        else:
            report.updated = built.stories
        self._finish_report(report, plan.manifest, built.titles_made)
        return report

    def _write_all(self, ix: Any, articles: list[Article], clock: Clock) -> dict[str, str]:
        """Add every article with a fresh writer; return their content hashes by id."""
        total = len(articles)
        procs = self.workers if total >= PARALLEL_MIN_DOCS else 1
        # compound=False: opening the index drops from ~100 ms to ~1 ms, and a one-query CLI
        # process stops copying every segment into memory (docs/whoosh-notes.md).
        # Each writer process buffers postings up to limitmb before spilling to disk; above
        # LARGE_BUILD stories a smaller buffer keeps the process tree within memory bounds.
        limitmb = WRITER_MEMORY_MB if total <= LARGE_BUILD else WRITER_MEMORY_MB // 2
        kwargs: dict[str, Any] = {"limitmb": limitmb, "compound": False, "codec": CODEC}
        # Whoosh's own MpWriter leaves its children alive when the parent is killed, and
        # hangs when a child is (children.py).
        writer = GuardedMpWriter(ix, procs, **kwargs) if procs > 1 else ix.writer(**kwargs)
        hashes: dict[str, str] = {}
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

    def _update(self, gen: Path, manifest: Manifest) -> IndexReport:
        report = IndexReport()
        stats, read, articles = self._scan(manifest, report, manifest.vocab, read_all=False)
        hashes = {article.id: article_hash(article) for article in articles}
        written = ((a.source, a.id, hashes[a.id]) for a in articles)
        plan = plan_update(manifest, scanned_files(stats, read, written, report.skipped))
        by_id = {article.id: article for article in articles}
        report.skipped.extend(ParseProblem(name, reason) for name, reason in plan.duplicates)
        report.added, report.updated, report.unchanged = plan.added, plan.updated, plan.unchanged
        report.deleted = len(plan.delete)
        to_write = [by_id[i] for i in plan.write]
        plan.manifest.vocab = merge_vocab(manifest.vocab, vocabulary(to_write))
        if to_write or plan.delete:
            hashes, count = plan.manifest.hashes, len(plan.manifest.hashes)
            save = partial(store.write_manifest, manifest=plan.manifest)
            self._commit_changes(gen, to_write, plan.delete, hashes, count, save)
        elif plan.manifest != manifest:
            # Only file times changed: the stories are the same, so the manifest is the only
            # thing to refresh (atomically, in place).
            store.write_manifest(gen, plan.manifest)
        self._finish_report(report, plan.manifest, sum(a.title_made for a in to_write))
        return report

    def _commit_changes(
        self,
        gen: Path,
        to_write: list[Article],
        deleted_ids: list[str],
        hashes: Mapping[str, str],
        count: int,
        save: Callable[[Path], None],
    ) -> None:
        """Apply changes in a copy-on-write generation, then switch to it atomically.

        The new generation starts as hard links to the live one's files. Whoosh never rewrites
        a segment file (deletions live in the TOC), so the live generation is untouched: a
        kill -9 at any moment leaves CURRENT on the old or the new generation, each complete,
        and searches running meanwhile keep reading the old one. hashes: the written stories'
        content hashes; count: the stories the index must then hold; save(new) writes the
        manifest into the new generation.
        """
        new = store.clone_generation(self.index_dir, gen)
        try:
            ix = whoosh_index.open_dir(str(new))
            codec = writer_codec(CODEC)
            writer = ix.writer(limitmb=WRITER_MEMORY_MB, compound=False, codec=codec)
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
            check_count(ix, count, new)
            ix.close()
            save(new)
            store.switch_to(self.index_dir, new)
        except BaseException:
            shutil.rmtree(new, ignore_errors=True)
            raise
        store.remove_stale(self.index_dir, keep=new, previous=gen)


def index_corpus(
    corpus: Path,
    index_dir: Path,
    *,
    rebuild: bool = False,
    workers: int | None = None,
    progress: Progress | None = None,
    wait: float = 5.0,
    optimize: bool = False,
    changed: list[str] | None = None,
) -> IndexReport:
    """Bring index_dir up to date with corpus; see Indexer."""
    codec_choice()  # a mistyped SEARCHAPP_CODEC is refused before anything is written
    indexer = Indexer(corpus, index_dir, workers=workers, progress=progress, lock_wait=wait)
    return indexer.run(rebuild=rebuild, optimize=optimize, changed=changed)
