"""`searchapp index --changed FILE...`: update the index for the files a feed names.

A newsroom's ingest (a feed, a watcher) knows which files it wrote or deleted; listing and
stat-ing a 216k-file corpus to find them takes over a second. Here only the named files are
stat-ed and read, and only their part of the manifest is looked up (manifest_view.py). The
rules are a full scan's, applied to those files (manifest.plan_update on the partial
manifest): a named file that is gone is a deletion, an unchanged one is not read, duplicates
across files and bad stories are reported the same way; every other file keeps its entry.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from searchapp import manifest_view, store
from searchapp.errors import SearchAppError
from searchapp.formats import ARTICLE_SUFFIXES, _symlink_problem
from searchapp.indexrun import Clock, IndexReport, merge_vocab, scanned_files, vocabulary
from searchapp.manifest import FileStat, plan_update, stat_files
from searchapp.manifest_view import ManifestView, next_delta, partial_manifest
from searchapp.models import ParseProblem
from searchapp.schema import article_hash

if TYPE_CHECKING:
    from searchapp.indexer import Indexer

# Above this many named files the look-ups cost more than decoding the manifest: the run
# then decodes it whole and writes a new manifest.bin (still reading only the named files).
MANY_FILES = 500


class ChangedFileError(SearchAppError):
    """A file named by --changed that cannot be part of the corpus (CLI exit 2)."""


def corpus_names(corpus: Path, files: Iterable[str]) -> list[str]:
    """Return the manifest's names (formats.scan_names' form) of the files a feed named.

    Raise ChangedFileError for a file outside the corpus folder or one a scan never indexes
    (not .txt/.jsonl, hidden). A file need not exist: a missing one is a deletion.
    """
    if not corpus.exists():
        raise ChangedFileError(
            f"--corpus {corpus}: the corpus path does not exist; pass the folder (or .jsonl "
            "file) the index was built from"
        )
    root = os.path.normpath(corpus)
    is_file = corpus.is_file()
    names: list[str] = []
    for given in files:
        if not given.strip():
            continue  # a blank line in a list
        rel = _relative(given, root)
        if rel is None or (is_file and rel != "."):
            where = "is not the corpus file" if is_file else "is outside the corpus folder"
            raise ChangedFileError(
                f"--changed {given}: the file {where} {corpus}; name files inside it (as a "
                "path from here or an absolute one), or pass --corpus with the folder that "
                "holds it"
            )
        if is_file:
            names.append(root)
            continue
        parts = rel.split(os.sep)
        if rel == "." or any(p.startswith(".") for p in parts):
            raise ChangedFileError(
                f"--changed {given}: a folder or hidden file is never indexed; name the "
                ".txt or .jsonl article files that changed"
            )
        if not rel.lower().endswith(ARTICLE_SUFFIXES):
            raise ChangedFileError(
                f"--changed {given}: only .txt and .jsonl files are indexed; name the article "
                "files that changed"
            )
        names.append(os.path.join(root, rel))
    return list(dict.fromkeys(names))


def _relative(given: str, root: str) -> str | None:
    """given's path inside root ('.' for root itself), or None when it is not inside."""
    for resolve in (os.path.abspath, os.path.realpath):
        rel = os.path.relpath(resolve(given), resolve(root))
        if rel != ".." and not rel.startswith(".." + os.sep):
            return rel
    return None


def as_indexed(corpus: Path, names: list[str], sample: str | None) -> list[str]:
    """names (corpus_names' form for this --corpus) as the manifest spells them.

    The manifest names files by the --corpus they were scanned with: an index built with
    --corpus /srv/corpus holds /srv/corpus/a.txt, and a feed running with --corpus corpus
    names corpus/a.txt, the same file. sample: any name the manifest holds; its parent that
    is the corpus folder gives the manifest's spelling of it.
    """
    if sample is None:
        return names
    root = os.path.normpath(corpus)
    if corpus.is_file():
        same = _same(sample, root)
        return [sample] if same and names else names
    parent = os.path.dirname(sample)
    while parent and parent != root:
        if _same(parent, root):
            return [parent + name[len(root) :] for name in names]
        if parent == os.path.dirname(parent):
            break
        parent = os.path.dirname(parent)
    return names


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def read_list(source: str) -> list[str]:
    """The file names in a list file (one a line), '-' for standard input."""
    import sys

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ChangedFileError(
            f"--changed-from {source}: cannot read the list ({exc}); give a text file with one "
            "file name a line, or - for standard input"
        ) from None
    return [line for line in text.splitlines() if line.strip()]


def update_named(indexer: Indexer, gen: Path, view: ManifestView, names: list[str]) -> IndexReport:
    """Apply the changes of the named files to the live generation gen (see the module)."""
    report = IndexReport()
    clock = Clock(report)
    names = as_indexed(indexer.corpus, names, view.base.first_name())
    if len(names) > MANY_FILES:
        view.decode()
    stats = stat_files(names)
    for name in names:
        # A symlink a scan passes over (broken, or leading out of the corpus) is reported
        # and, as in a scan, not part of the corpus: its stories go.
        if stats[name] is not None and os.path.islink(name):
            problem = _symlink_problem(Path(name), Path(indexer.corpus).resolve())
            if problem is not None:
                report.skipped.append(problem)
                stats[name] = None
    entries = {name: view.entry(name) for name in names}
    for name, entry in entries.items():
        if stats[name] is None and entry is None and not os.path.lexists(name):
            # Neither in the corpus nor in the index: most likely a typo in a feed's list.
            reason = "no such file, and the index holds nothing from it: check the name"
            report.skipped.append(ParseProblem(name, reason))
    to_read = [
        name
        for name, stat in stats.items()
        if stat is not None and not ((entry := entries[name]) and entry.matches(stat))
    ]
    by_file, problems, failed = indexer._read(to_read)
    report.skipped.extend(problems)
    articles = indexer._prepare([r for rs in by_file.values() for r in rs], view.vocab, report)
    clock.lap("read")
    read_ids: dict[str, list[str]] = {name: [] for name in to_read}
    for article in articles:
        read_ids.setdefault(article.source, []).append(article.id)
    part, holders = partial_manifest(view, names, read_ids)
    # The files plan_update sees: the named ones that exist, and the holders of ids read
    # (as unchanged: their entries stay). A named file left out is gone.
    seen: dict[str, FileStat | None] = {n: s for n, s in stats.items() if s is not None}
    for holder in holders:
        seen[holder] = FileStat(part.files[holder].mtime_ns, part.files[holder].size)
    hashes = {article.id: article_hash(article) for article in articles}
    written = ((a.source, a.id, hashes[a.id]) for a in articles)
    read = {name: name in failed for name in to_read}
    plan = plan_update(part, scanned_files(seen, read, written, report.skipped))
    clock.lap("plan")
    report.skipped.extend(ParseProblem(name, reason) for name, reason in plan.duplicates)
    report.added, report.updated, report.unchanged = plan.added, plan.updated, plan.unchanged
    report.deleted = len(plan.delete)
    by_id = {article.id: article for article in articles}
    to_write = [by_id[i] for i in plan.write]
    plan.manifest.vocab = merge_vocab(view.vocab, vocabulary(to_write))
    delta = next_delta(view, part, plan.manifest)

    def save(new: Path) -> None:
        if len(names) > MANY_FILES or delta.size() > manifest_view.DELTA_LIMIT:
            view.delta = delta  # fold it: one new manifest.bin, no delta
            store.write_manifest(new, view.manifest())
        else:
            store.write_delta(new, delta)

    if to_write or plan.delete:
        indexer._commit_changes(
            gen, to_write, plan.delete, plan.manifest.hashes, delta.counts[1], save
        )
    elif delta != view.delta:
        save(gen)  # only file times changed: one atomic write in the live generation
    clock.lap("commit")
    report.files, report.total = delta.counts
    report.titles_made = sum(a.title_made for a in to_write)
    return report
