"""Write a whole columnar segment at once from Whoosh documents (full rebuilds).

Chunks of documents are analysed (analysis.py) in this process or in forked workers; a
collector gathers the parts in document order, maps each worker's term ids to one vocabulary,
sorts the postings by term (stable: documents stay ascending) and writes the segment's files.
The streamed rebuild (searchapp/rebuild.py) feeds it parts from its own pool.

A rebuild of more than SEGMENT_DOCS documents is written as several segments, each of
SEGMENT_DOCS documents or so (the last one smaller), committed together: the collector holds
one segment's postings at a time, so its memory does not grow with the corpus (a single
segment's sort held ~600 MB at 216k stories, ~2.8 GB at 1M). Whoosh's searcher reads the
segments as one index; MERGE_SMALL never merges segments this large.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

import numpy as np
from whoosh.formats import Existence, Positions
from whoosh.index import TOC, clean_files

from searchapp.codec import (
    ColumnarCodec,
    column_bytes,
    numeric_column_bytes,
    segment_path,
)
from searchapp.codec.analysis import Analyser, check_schema
from searchapp.codec.container import Spool
from searchapp.codec.pool import ForkedPool, map_forked
from searchapp.codec.tables import PERDOC_EXT, TERMS_EXT, FieldPostings, write_perdoc, write_terms

CHUNK_DOCS = 8192
# Documents per segment of a bulk write (whole parts: a segment ends at the first part
# boundary at or past it). 250k Reuters stories hold ~700 MB of postings while they sort.
SEGMENT_DOCS = 250_000


class _Collector:
    """Gathers parts in document order and builds the segment's arrays."""

    def __init__(self, schema: Any, keep: Sequence[str], folder: str) -> None:
        indexed = [(n, f) for n, f in schema.items() if f.indexed and f.format is not None]
        self.fields = dict(indexed)
        self.scorable = {n for n, f in indexed if f.scorable}
        self.column_fields = {n: f for n, f in schema.items() if f.column_type}
        self.terms: dict[str, list[str]] = {n: [] for n in self.fields}
        self.term_ids: dict[str, dict[str, int]] = {n: {} for n in self.fields}
        self.maps: dict[tuple[int, str], list[int]] = {}
        self.folder = folder
        # Per keep field, per part: its values joined by NUL (one string, not one per story:
        # ~100 MB less per field at 1M stories), or the list when a value is not such text.
        self._kept: dict[str, list[str | list[Any]]] = {k: [] for k in keep}
        self.count = 0  # documents gathered, every segment
        self.new_segment()

    @property
    def kept(self) -> dict[str, list[Any]]:
        """The keep fields' values of every document gathered, in order."""
        out: dict[str, list[Any]] = {}
        for key, runs in self._kept.items():
            values: list[Any] = []
            for run in runs:
                if isinstance(run, str):
                    values += run.split("\0")
                else:
                    values += run
            out[key] = values
        return out

    def new_segment(self) -> None:
        """Start the next segment's arrays (the vocabulary and term id maps carry on: the
        workers keep their term ids; a segment's file keeps only the terms it uses)."""
        if hasattr(self, "seg_count"):
            self._forget_unused_terms()
        self.parts: dict[str, list[tuple[np.ndarray, ...]]] = {n: [] for n in self.fields}
        self.lengths: dict[str, list[np.ndarray]] = {n: [] for n in self.scorable}
        self.columns: dict[str, list[Any]] = {n: [] for n in self.column_fields}
        self.stored = Spool(self.folder)
        self.stored_sizes: list[np.ndarray] = []
        self.seg_count = 0  # documents in this segment

    def add(self, part: dict[str, Any]) -> None:
        pid = part["pid"]
        for name, (new_terms, tid, doc, freq, pos, restart) in part["fields"].items():
            if restart:  # the worker forgot its term ids for this field (Analyser.chunk)
                self.maps[(pid, name)] = []
            mapping = self.maps.setdefault((pid, name), [])
            ids, terms = self.term_ids[name], self.terms[name]
            for text in new_terms:
                g = ids.get(text)
                if g is None:
                    g = ids[text] = len(terms)
                    terms.append(text)
                mapping.append(g)
            gtid = np.asarray(mapping, dtype=np.int32)[tid] if len(tid) else tid
            # The part numbers its documents from 0; they follow the documents before it.
            self.parts[name].append((gtid, doc + np.int32(self.seg_count), freq, pos))
        for name, lens in part["lengths"].items():
            self.lengths[name].append(lens)
        for name, values in part["columns"].items():
            self.columns[name] += values
        blob, sizes = part["stored"]
        self.stored.write(blob)
        self.stored_sizes.append(sizes)
        for key, values in part["keep"].items():
            joinable = values and all(type(v) is str and "\0" not in v for v in values)
            self._kept[key].append("\0".join(values) if joinable else list(values))
        self.count += part["n"]
        self.seg_count += part["n"]

    def _forget_unused_terms(self) -> None:
        """Between segments, keep only the terms a worker may still name by its term id.

        The segment written holds the postings of every term so far; later parts name terms
        through the workers' maps. An ID field's worker forgets its ids every few chunks
        (Analyser.chunk), so its maps hold a few thousand terms while the vocabulary would
        hold one term per story (~100-150 MB at 1M stories, estimated).
        """
        for name in self.fields:
            maps = [m for (_pid, f), m in self.maps.items() if f == name]
            terms = self.terms[name]
            named = [np.zeros(0, np.int64), *(np.asarray(m, np.int64) for m in maps)]
            used = np.unique(np.concatenate(named))
            if len(used) == len(terms):
                continue
            renumber = np.full(len(terms), -1, dtype=np.int64)
            renumber[used] = np.arange(len(used))
            self.terms[name] = [terms[g] for g in used.tolist()]
            self.term_ids[name] = {t: i for i, t in enumerate(self.terms[name])}
            for (pid, f), m in self.maps.items():
                if f == name:
                    self.maps[(pid, f)] = renumber[np.asarray(m, np.int64)].tolist()

    def field_postings(self, name: str) -> FieldPostings:
        """Return one field's postings, terms in byte order (then forget its parts)."""
        parts, self.parts[name] = self.parts[name], []
        field = self.fields[name]
        fmt = field.format
        return _postings(
            self.terms[name],
            parts,
            positional=type(fmt) is Positions,
            existence=type(fmt) is Existence,
            boost=float(fmt.field_boost),
        )


def _postings(
    terms: list[str],
    parts: list[tuple[np.ndarray, ...]],
    *,
    positional: bool,
    existence: bool,
    boost: float,
) -> FieldPostings:
    """Order the parts' postings by term (byte order), then document, and empty `parts`.

    Within a part a term's postings are one run with ascending documents, and the parts come
    in document order: so a counting sort that places each part's runs after the same terms'
    runs of earlier parts gives the (term, document) order without sorting (an argsort
    over every posting of the body field took ~500 MB at 216k stories).
    """
    # Whoosh orders terms by their UTF-8 bytes, which is code point order.
    ranked = sorted(range(len(terms)), key=terms.__getitem__)
    rank = np.empty(len(terms), dtype=np.int64)
    rank[ranked] = np.arange(len(terms), dtype=np.int64)
    counts = np.zeros(len(terms), dtype=np.int64)  # postings per term, in byte order
    runs = []
    for tid, *_ in parts:
        heads = np.flatnonzero(np.concatenate([[True], tid[1:] != tid[:-1]])) if len(tid) else tid
        lens = np.diff(np.append(heads, len(tid))).astype(np.int64)
        run_rank = rank[tid[heads]]
        counts[run_rank] += lens  # a term has one run per part: no repeated index
        runs.append((run_rank, lens))
    term_start = _exclusive_sum(counts)
    total = int(counts.sum())
    docs_s = np.empty(total, dtype=np.int32)
    freqs_s = np.empty(total, dtype=np.int32)
    for i, dest in enumerate(_destinations(runs, term_start)):
        docs_s[dest] = parts[i][1]
        freqs_s[dest] = parts[i][2]
        if not positional:
            parts[i] = ()  # frees the part as the output fills
    positions = None
    if positional:
        pos_start = _exclusive_sum(freqs_s)
        positions = np.empty(int(freqs_s.sum(dtype=np.int64)), dtype=np.int32)
        for i, dest in enumerate(_destinations(runs, term_start)):
            freq, pos = parts[i][2], parts[i][3]
            parts[i] = ()  # frees the part as the output fills
            idx = np.repeat(pos_start[dest] - _exclusive_sum(freq), freq)
            idx += np.arange(len(pos), dtype=np.int64)
            positions[idx] = pos
        del pos_start
    parts.clear()
    keep_rows = np.flatnonzero(counts > 0)
    post_off = np.zeros(len(keep_rows) + 1, dtype=np.int64)
    np.cumsum(counts[keep_rows], out=post_off[1:])
    if existence:
        weights = np.full(len(freqs_s), boost, dtype=np.float32)
    else:
        weights = freqs_s.astype(np.float32) * np.float32(boost)
    return FieldPostings(
        terms=[terms[ranked[i]].encode("utf-8") for i in keep_rows.tolist()],
        post_off=post_off,
        docs=docs_s,
        freqs=freqs_s,
        weights=weights,
        positions=positions,
    )


def _destinations(
    runs: list[tuple[np.ndarray, np.ndarray]], term_start: np.ndarray
) -> Iterator[np.ndarray]:
    """Yield, part by part, where each of its postings goes in the term-ordered arrays."""
    cursor = term_start.copy()
    for run_rank, lens in runs:
        start = cursor[run_rank]
        cursor[run_rank] += lens
        dest = np.repeat(start - _exclusive_sum(lens), lens)
        dest += np.arange(len(dest), dtype=np.int64)
        yield dest


def _exclusive_sum(counts: np.ndarray) -> np.ndarray:
    """Return where each run starts, given run lengths (int64, same length as counts)."""
    out = np.zeros(len(counts), dtype=np.int64)
    if len(counts) > 1:
        np.cumsum(counts[:-1], out=out[1:])
    return out


def _identity(doc: Any) -> dict[str, Any]:
    return doc  # type: ignore[no-any-return]


def write_segment(
    ix: Any,
    items: Sequence[Any],
    to_doc: Callable[[Any], dict[str, Any]] = _identity,
    *,
    workers: int = 1,
    keep: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> dict[str, list[Any]]:
    """Write items, as Whoosh field dicts (to_doc(item)), as one new columnar segment.

    Commits a TOC with the index's existing segments and the new one after them. With
    workers > 1, forked processes analyse chunks of documents while this one gathers them.
    Returns the values of the `keep` fields of every document, in order.
    """
    spans = [(a, min(a + CHUNK_DOCS, len(items))) for a in range(0, len(items), CHUNK_DOCS)]
    analysers: list[Analyser] = []  # one per process (a forked worker fills its own copy)

    def analyse(span: tuple[int, int]) -> dict[str, Any]:
        if not analysers:
            analysers.append(Analyser(ix.schema, keep))
        start, end = span
        return analysers[0].chunk([to_doc(x) for x in items[start:end]])

    collector = write_parts(ix, spans, analyse, workers=workers, keep=keep, progress=progress)
    return collector.kept


def write_parts(
    ix: Any,
    tasks: Sequence[Any],
    job: Callable[[Any], dict[str, Any]],
    *,
    workers: int = 1,
    keep: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
    on_part: Callable[[dict[str, Any]], None] | None = None,
    pool: ForkedPool | None = None,
    segment_docs: int | None = None,
) -> _Collector:
    """Write the parts job(task) makes (Analyser.chunk parts, in order) as new segments.

    One segment, unless there are more than segment_docs (default SEGMENT_DOCS) documents:
    then a segment is written each time that many are gathered, and all are committed at once.

    With a pool, its workers run the job (a module-level function); else with workers > 1
    and several tasks, processes forked now (map_forked). on_part sees every part after it
    is gathered (for what a job returns besides the part).
    Returns the collector (its `kept` fields and document count).
    """
    schema = ix.schema
    check_schema(schema)
    storage = ix.storage
    limit = SEGMENT_DOCS if segment_docs is None else segment_docs
    written: list[Any] = []
    collector = _Collector(schema, keep, storage.folder)
    parts: Iterator[dict[str, Any]]
    if pool is not None:
        parts = pool.map(job, tasks)
    elif workers > 1 and len(tasks) > 1:
        parts = map_forked(job, tasks, workers)
    else:
        parts = iter(map(job, tasks))
    try:
        for part in parts:
            collector.add(part)
            if on_part is not None:
                on_part(part)
            if progress is not None:
                progress(collector.count)
            if collector.seg_count >= limit:
                # The workers go on analysing while this segment is sorted and written.
                written.append(_new_segment(storage, ix.indexname, collector))
                collector.new_segment()
    except BaseException:
        collector.stored.close()
        if isinstance(parts, Generator):
            parts.close()  # stops the pool now, not when the generator is collected
        raise
    if pool is not None:
        pool.close()  # the workers' memory is not needed while the files are written
    if collector.seg_count or not written:
        written.append(_new_segment(storage, ix.indexname, collector))
    else:
        collector.stored.close()
    toc = ix._read_toc()
    segments = [*toc.segments, *written]
    generation = toc.generation + 1
    TOC(schema, segments, generation).write(storage, ix.indexname)
    clean_files(storage, ix.indexname, generation, segments)
    return collector


def _new_segment(storage: Any, indexname: str, collector: _Collector) -> Any:
    """Write the collector's current segment to new files; return the Whoosh segment."""
    segment = ColumnarCodec().new_segment(storage, indexname)
    _write_files(storage, segment, collector)
    return segment


def _write_files(storage: Any, segment: Any, collector: _Collector) -> None:
    count = collector.seg_count
    lengths = {n: np.concatenate(p) for n, p in collector.lengths.items() if p}
    lengths = {n: a for n, a in lengths.items() if a.any()}
    cols = {}
    for name, field in collector.column_fields.items():
        values = collector.columns[name]
        if any(v is not None for v in values):
            default = field.column_type.default_value()
            fast = numeric_column_bytes(
                field.column_type, np.array([default if v is None else v for v in values])
            )
            if fast is None:
                fast = column_bytes(field.column_type, values, count)
            cols[name] = fast
    sizes = np.concatenate(collector.stored_sizes) if collector.stored_sizes else None
    try:
        path = segment_path(storage, segment, PERDOC_EXT)
        write_perdoc(path, count, collector.stored, sizes, lengths, cols)
    finally:
        collector.stored.close()
    fields = ((n, collector.field_postings(n)) for n in sorted(collector.fields))
    write_terms(segment_path(storage, segment, TERMS_EXT), fields, lengths)
    segment.set_doc_count(count)
