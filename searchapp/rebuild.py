"""A full columnar rebuild that streams the corpus through forked workers (issue 12).

The in-memory rebuild reads every story, splits every tag line, then writes: at 216k stories
the parent held ~1.5 GB of parsed articles before the writer's workers saw one. Here the
parent never holds the stories. Forked workers make two passes over chunks of files:

1. read: parse the chunk, learn its tag evidence (TagSplitter.learn), pickle the parsed
   stories to a spool file in the new generation, and return the evidence, ids and problems;
   the parent drops duplicate ids exactly as formats.read_paths does (first file read wins),
   adds up the evidence (the splitter needs corpus-wide counts) and fits it once;
2. index: workers forked after the fit (they inherit the fitted splitter) load a spool, split
   its tag lines, validate, build Whoosh documents and analyse them into a part of the segment
   (codec/bulk.py gathers the parts in order).

Every output (documents, their order, tag splits, problems, manifest) is the in-memory
rebuild's: tests/test_indexer.py compares the two on the same corpus.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from searchapp import formats
from searchapp.codec.analysis import Analyser
from searchapp.codec.bulk import write_parts
from searchapp.codec.pool import ForkedPool
from searchapp.formats.jsonl import read_lines
from searchapp.manifest import FileStat, stat_file
from searchapp.models import ParseProblem, RawArticle
from searchapp.schema import to_fields
from searchapp.tags import TagSplitter
from searchapp.validation import validate

# Files per chunk (one story each in TASS), and the size of a piece of a large .jsonl file:
# a chunk's stories are all a worker holds at once.
CHUNK_FILES = 1024
PIECE_BYTES = 8 << 20
SPOOL_PREFIX = ".rebuild-"

# A piece of a .jsonl file: (path, first byte, end byte, number of its first line).
Piece = tuple[str, int, int, int]
Item = str | Piece


@dataclass
class _Read:
    """What pass 1 returns for one chunk."""

    spool: str
    ids: list[str]
    sources: list[str]
    problems: list[ParseProblem]
    splitter: TagSplitter
    stats: dict[str, FileStat | None]


@dataclass
class Built:
    """What a streamed rebuild wrote, for the indexer's report and manifest."""

    count: int = 0
    stats: dict[str, FileStat | None] = field(default_factory=dict)  # every file, as read
    problems: list[ParseProblem] = field(default_factory=list)  # reading, then validation
    failed: set[str] = field(default_factory=set)  # files that gave no story at all
    stories: list[tuple[str, str, str]] = field(default_factory=list)  # (source, id, hash)
    vocab: dict[str, dict[str, int]] = field(default_factory=dict)
    titles_made: int = 0


def plan_items(names: Sequence[str]) -> list[list[Item]]:
    """Group the files into chunks; a .jsonl file larger than PIECE_BYTES becomes pieces."""
    chunks: list[list[Item]] = []
    run: list[Item] = []
    for name in names:
        pieces = _pieces(name) if name.lower().endswith(".jsonl") else None
        if pieces is None:
            run.append(name)
            if len(run) >= CHUNK_FILES:
                chunks.append(run)
                run = []
            continue
        if run:
            chunks.append(run)
            run = []
        chunks.extend([p] for p in pieces)
    if run:
        chunks.append(run)
    return chunks


def _pieces(name: str) -> list[Piece] | None:
    """Cut a large .jsonl file at line ends (None: read it whole)."""
    try:
        size = os.path.getsize(name)
        if size <= PIECE_BYTES:
            return None
        pieces: list[Piece] = []
        with open(name, "rb") as fh:
            start, line = 0, 1
            while start < size:
                fh.seek(start)
                block = fh.read(PIECE_BYTES)
                cut = block.rfind(b"\n") + 1 if len(block) == PIECE_BYTES else len(block)
                if cut == 0:  # one line longer than a piece: take the whole line
                    rest = fh.readline()
                    block, cut = block + rest, len(block) + len(rest)
                pieces.append((name, start, start + cut, line))
                line += block.count(b"\n", 0, cut)
                start += cut
        return pieces
    except OSError:
        return None  # read_paths reports the unreadable file


def _read_piece(piece: Piece) -> tuple[list[RawArticle], list[ParseProblem]]:
    """Read a piece of a .jsonl file as formats.iter_jsonl reads the whole file."""
    path, start, end, first = piece
    raws: list[RawArticle] = []
    problems: list[ParseProblem] = []
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read(end - start)
    except OSError as exc:
        problems.append(ParseProblem(path, f"the file cannot be read ({exc.strerror}); check it."))
        return raws, problems
    for item in read_lines(io.BytesIO(data), path, first):
        if isinstance(item, RawArticle):
            raws.append(item)
        else:
            problems.append(item)
    return raws, problems


def _read_chunk(task: tuple[int, list[Item], str]) -> _Read:
    """Pass 1 (in a worker): stat and parse a chunk, learn its tags, spool its stories."""
    number, items, folder = task
    # Each file's stat is taken before it is read, so a file that changes meanwhile is read
    # again by the next run.
    stats = {}
    for item in items:
        if isinstance(item, str):
            stats[item] = stat_file(item)
        elif item[1] == 0:
            stats[item[0]] = stat_file(item[0])
    if len(items) == 1 and isinstance(items[0], tuple):
        raws, problems = _read_piece(items[0])
    else:
        raws, problems = formats.read_paths([str(x) for x in items])
    splitter = TagSplitter()
    splitter.learn(raws)
    spool = _spool_path(folder, number)
    with open(spool, "wb") as fh:
        pickle.dump(raws, fh, protocol=pickle.HIGHEST_PROTOCOL)
    ids = [raw.article.id for raw in raws]
    sources = [raw.article.source or raw.article.id for raw in raws]
    return _Read(spool, ids, sources, problems, splitter, stats)


def _spool_path(folder: str, number: int) -> str:
    return os.path.join(folder, f"{SPOOL_PREFIX}{number:06d}.tmp")


def _load(spool: str, skip: frozenset[int]) -> list[RawArticle]:
    with open(spool, "rb") as fh:
        raws: list[RawArticle] = pickle.load(fh)
    return [raw for i, raw in enumerate(raws) if i not in skip] if skip else raws


@dataclass
class _Run:
    """What the index pass needs in every process, set before the pool forks."""

    schema: Any
    keep: Callable[[str], bool] | None
    now: datetime


_RUN: _Run | None = None
# Per process, made at its first index task of a run: (the run's splitter file, the fitted
# splitter, the analyser). A new run has a new file (in its new generation).
_LOCAL: tuple[str, TagSplitter, Analyser] | None = None
_KEPT = ("id", "hash", "source")
# _RUN and _LOCAL are this process's: two rebuilds in threads of one process take turns.
_ONE_AT_A_TIME = threading.Lock()


def write_streamed(
    ix: Any,
    names: Sequence[str],
    *,
    workers: int,
    keep: Callable[[str], bool] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    lap: Callable[[str], None] | None = None,
) -> Built:
    """Read, split, validate and write every file in names as one columnar segment of ix."""
    with _ONE_AT_A_TIME:
        return _write_streamed(ix, names, workers, keep, progress, lap)


def _write_streamed(
    ix: Any,
    names: Sequence[str],
    workers: int,
    keep: Callable[[str], bool] | None,
    progress: Callable[[str, int, int], None] | None,
    lap: Callable[[str], None] | None,
) -> Built:
    global _RUN, _LOCAL
    folder = ix.storage.folder
    chunks = plan_items(names)
    tasks = [(n, items, folder) for n, items in enumerate(chunks)]
    note = progress or (lambda stage, done, total: None)
    built = Built()
    splitter_file = os.path.join(folder, f"{SPOOL_PREFIX}splitter.tmp")
    _RUN = _Run(ix.schema, keep, datetime.now(timezone.utc))
    try:
        # One pool for both passes, forked before this process gathers anything.
        with (
            ForkedPool(workers)
            if workers > 1 and len(tasks) > 1
            else contextlib.nullcontext() as pool
        ):
            results = pool.map(_read_chunk, tasks) if pool else iter(map(_read_chunk, tasks))
            splitter, index_tasks, total, with_stories = _gather_evidence(
                tasks, results, built, note, len(names)
            )
            # A file failed whole when a problem names it and it gave no story (a duplicate
            # id inside a .jsonl also names the file, but its other lines were read).
            wanted = set(names)
            built.failed = {p.path for p in built.problems if p.path in wanted} - with_stories
            if lap:
                lap("read")
            # Fitted once, here: each worker would fit its own copy.
            splitter.fit()
            if pool:
                with open(splitter_file, "wb") as fh:
                    pickle.dump(splitter, fh, protocol=pickle.HIGHEST_PROTOCOL)
            else:
                _LOCAL = (splitter_file, splitter, Analyser(ix.schema, _KEPT))
            del splitter
            if lap:
                lap("prepare")
            jobs = [(spool, skip, splitter_file) for spool, skip in index_tasks]
            _index(ix, jobs, pool, built, note, total)
            if lap:
                lap("write")
    finally:
        _RUN = _LOCAL = None
        for path in [splitter_file, *(_spool_path(folder, task[0]) for task in tasks)]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    return built


def _gather_evidence(
    tasks: list[tuple[int, list[Item], str]],
    results: Iterator[_Read],
    built: Built,
    note: Callable[[str, int, int], None],
    files: int,
) -> tuple[TagSplitter, list[tuple[str, frozenset[int]]], int, set[str]]:
    """Pass 1's results: every chunk's evidence merged, duplicates dropped, stats kept.

    Returns the splitter, the index pass's tasks, the number of stories, the files that
    gave one.
    """
    splitter = TagSplitter()
    first_seen: dict[str, str] = {}
    with_stories: set[str] = set()
    index_tasks: list[tuple[str, frozenset[int]]] = []
    total = done = 0
    for task, read in zip(tasks, results, strict=True):
        built.stats.update(read.stats)
        built.problems.extend(read.problems)
        skip = set()
        for i, (story_id, source) in enumerate(zip(read.ids, read.sources, strict=True)):
            if story_id in first_seen:
                built.problems.append(
                    ParseProblem(
                        source,
                        f"duplicate id {story_id!r}, already read from "
                        f"{first_seen[story_id]}; this copy is skipped: rename or remove one.",
                    )
                )
                skip.add(i)
                continue
            first_seen[story_id] = source
            with_stories.add(source)
        evidence = read.splitter
        if skip:
            # Rare: learn this chunk again without the copies (they must not count).
            evidence = TagSplitter()
            evidence.learn(_load(read.spool, frozenset(skip)))
        splitter.merge(evidence)
        index_tasks.append((read.spool, frozenset(skip)))
        total += len(read.ids) - len(skip)
        done += sum(1 for item in task[1] if isinstance(item, str))
        note("read", done, files)
    return splitter, index_tasks, total, with_stories


def _index_chunk(task: tuple[str, frozenset[int], str]) -> dict[str, Any]:
    """Pass 2 (in a worker): split, validate and analyse one spooled chunk."""
    global _LOCAL
    spool, skip, splitter_file = task
    run = _RUN
    assert run is not None
    if _LOCAL is None or _LOCAL[0] != splitter_file:
        with open(splitter_file, "rb") as fh:
            _LOCAL = (splitter_file, pickle.load(fh), Analyser(run.schema, _KEPT))
    _, splitter, analyser = _LOCAL
    raws = _load(spool, skip)
    os.unlink(spool)
    docs, skipped = [], []
    topics: Counter[str] = Counter()
    persons: Counter[str] = Counter()
    titles = 0
    for raw in raws:
        article = splitter.finalize(raw)
        if run.keep is not None and not run.keep(article.id):
            continue
        reason = validate(article, run.now)
        if reason is not None:
            skipped.append(ParseProblem(article.source or article.id, reason))
            continue
        topics.update(article.topics)
        persons.update(article.persons)
        titles += article.title_made
        docs.append(to_fields(article))
    del raws
    part = analyser.chunk(docs)
    part["extra"] = (skipped, topics, persons, titles)
    return part


def _index(
    ix: Any,
    tasks: list[tuple[str, frozenset[int], str]],
    pool: ForkedPool | None,
    built: Built,
    note: Callable[[str, int, int], None],
    total: int,
) -> None:
    """Pass 2: every spooled chunk analysed (by the pool's workers) into one segment."""
    vocab: dict[str, Counter[str]] = {"topics": Counter(), "persons": Counter()}

    def gathered(part: dict[str, Any]) -> None:
        skipped, topics, persons, titles = part["extra"]
        built.problems.extend(skipped)
        vocab["topics"].update(topics)
        vocab["persons"].update(persons)
        built.titles_made += titles

    collector = write_parts(
        ix,
        tasks,
        _index_chunk,
        keep=_KEPT,
        progress=lambda done: note("index", done, total),
        on_part=gathered,
        pool=pool,
    )
    kept = collector.kept
    built.count = collector.count
    built.stories = list(zip(kept["source"], kept["id"], kept["hash"], strict=True))
    built.vocab = {kind: dict(counts) for kind, counts in vocab.items()}
