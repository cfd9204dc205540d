"""The parts of an indexing run that full builds and updates share (indexer.py).

The stage clock and the report, the tag vocabulary kept in the manifest, tag splitting
seeded with it, and the count that checks every commit.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from searchapp.errors import SearchAppError
from searchapp.manifest import FileStat, Scanned
from searchapp.models import Article, ParseProblem, RawArticle, Report
from searchapp.tags import TagSplitter


def noop(stage: str, done: int, total: int) -> None:
    pass


class Clock:
    """Record the wall time of each indexing stage into a report."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.last = time.monotonic()

    def lap(self, stage: str) -> None:
        now = time.monotonic()
        self.report.stages[stage] = self.report.stages.get(stage, 0.0) + now - self.last
        self.last = now


@dataclass
class IndexReport(Report):
    """What an indexing run did, with what the summary line needs besides."""

    files: int = 0  # corpus files the index now knows
    titles_made: int = 0  # stories written with a title made from their lead or body


def vocabulary(articles: Iterable[Article]) -> dict[str, dict[str, int]]:
    topics: Counter[str] = Counter()
    persons: Counter[str] = Counter()
    for article in articles:
        topics.update(article.topics)
        persons.update(article.persons)
    return {"topics": dict(topics), "persons": dict(persons)}


def merge_vocab(old: dict[str, Any], new: dict[str, dict[str, int]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for kind in ("topics", "persons"):
        counts: Counter[str] = Counter(old.get(kind, {}))
        counts.update(new.get(kind, {}))
        merged[kind] = dict(counts)
    return merged


def split_tags(raws: list[RawArticle], vocab: dict[str, Any]) -> list[Article]:
    splitter = TagSplitter()
    for kind in ("topics", "persons"):
        if vocab.get(kind):
            splitter.add_known(kind, vocab[kind])
    splitter.learn(raws)
    return [splitter.finalize(raw) for raw in raws]


def check_count(ix: Any, expected: int, gen: Path) -> None:
    # Whoosh's multiprocess writer can drop a child's segment (it waits 1 s for results after
    # joining): never trust a commit, count.
    with ix.searcher() as s:
        got = s.doc_count()
    if got != expected:
        raise SearchAppError(
            f"the index in {gen} holds {got} stories after writing {expected}: "
            "the writer lost documents; run `searchapp index --rebuild` again"
        )


CODECS = ("columnar", "whoosh")


def codec_choice() -> str:
    """Return the codec indexing writes: SEARCHAPP_CODEC, "columnar" when unset.

    The columnar codec (searchapp/codec/) is the default; SEARCHAPP_CODEC=whoosh writes
    Whoosh's own format (the one before it, kept for comparison and as a way back).
    """
    raw = os.environ.get("SEARCHAPP_CODEC", "")
    value = raw.strip().lower() or "columnar"
    if value not in CODECS:
        raise SearchAppError(
            f"SEARCHAPP_CODEC={raw!r} is not a codec searchapp writes: set it to columnar "
            "(the default) or whoosh, or unset it"
        )
    return value


def columnar_enabled() -> bool:
    """Say whether indexing writes the columnar codec (the default; see codec_choice)."""
    return codec_choice() == "columnar"


def writer_codec(default: Any) -> Any:
    """The codec an update writes with: the columnar one unless Whoosh's is chosen; imported
    only then (it brings numpy, which an update by Whoosh's codec does without)."""
    if not columnar_enabled():
        return default
    from searchapp.codec import ColumnarCodec

    return ColumnarCodec()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: an update of a 216k-file corpus makes ~1M small
    objects (stats, manifest entries) that it would rescan again and again (~30% of the
    run). Reference counting still frees everything that is not a cycle."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def scanned_files(
    stats: dict[str, FileStat | None],
    read: dict[str, bool],
    written: Iterable[tuple[str, str, str]],
    skipped: list[ParseProblem],
) -> dict[str, Scanned]:
    """Describe every corpus file for plan_update(); written: (source, id, hash)."""
    # Files with any story that could not be read or validated (a .jsonl problem names
    # "file:line"): their good stories are written, none of their old ones deleted.
    troubled = {p.path if p.path in stats else p.path.rsplit(":", 1)[0] for p in skipped}
    stories: dict[str, list[tuple[str, str]]] = {name: [] for name in read}
    for source, story_id, digest in written:
        stories.setdefault(source, []).append((story_id, digest))
    # Files not read: their stat alone (one C-level pass; at 216k files a comprehension
    # with four lookups a file took ~0.4 s). Problems only ever name files that were read.
    scanned = dict(zip(stats, map(Scanned, stats.values()), strict=True))
    for name, failed in read.items():
        scanned[name] = Scanned(
            stats[name], tuple(stories[name]), failed=failed, troubled=name in troubled
        )
    return scanned
