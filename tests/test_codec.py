"""The columnar codec (searchapp/codec): same index as Whoosh's own codec, read by Whoosh.

The shipped corpus (the seed story and 3,000 Reuters stories) is indexed with Whoosh's own
writer and codec and with the columnar bulk writer; Whoosh's readers, Whoosh's Searcher and
searchapp's numpy BM25F must see the same index through both.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from whoosh import index as whoosh_index
from whoosh.analysis import StemmingAnalyzer

from searchapp import formats, rebuild, store
from searchapp.codec import ColumnarCodec, analysis, bulk, container, pool
from searchapp.codec.bulk import write_segment
from searchapp.errors import SearchAppError
from searchapp.indexer import CODEC, Indexer
from searchapp.models import Report, SearchRequest
from searchapp.query import parse_query
from searchapp.schema import STOP_WORDS, build_schema, to_fields
from searchapp.search import SearchService

from .conftest import REPO, article, build_index, write_jsonl
from .test_reliability import assert_clean, assert_healthy, cli, write_part

CORPUS = REPO / "corpus"


def _docs() -> list[dict[str, Any]]:
    from searchapp import formats

    indexer = Indexer(CORPUS, Path("unused"), workers=1)
    names, _skipped = formats.scan_names(CORPUS)
    by_file, _problems, _failed = indexer._read(names)
    raws = [raw for file_raws in by_file.values() for raw in file_raws]
    return [to_fields(a) for a in indexer._prepare(raws, {}, Report())]


def _whoosh_write(path: Path, docs: list[dict[str, Any]], codec: Any) -> Any:
    path.mkdir(parents=True)
    ix = whoosh_index.create_in(str(path), build_schema())
    writer = ix.writer(codec=codec, compound=False)
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    return ix


def _bulk_write(path: Path, docs: list[dict[str, Any]]) -> Any:
    path.mkdir(parents=True)
    ix = whoosh_index.create_in(str(path), build_schema())
    write_segment(ix, docs)
    return ix


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return _docs()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, docs: list[dict[str, Any]]) -> tuple[Any, Any]:
    """(Whoosh's codec, columnar bulk) indexes of the shipped corpus, one segment each."""
    root = tmp_path_factory.mktemp("codec")
    return _whoosh_write(root / "w3", docs, CODEC), _bulk_write(root / "col", docs)


def _postings(reader: Any, fieldname: str, text: bytes) -> list[tuple[int, float, Any]]:
    m = reader.postings(fieldname, text)
    out = []
    while m.is_active():
        out.append((m.id(), m.weight(), m.value()))
        m.next()
    return out


def _same_index(a: Any, b: Any) -> None:
    """Assert two readers hold the same terms, postings, positions, lengths and stored fields."""
    terms = list(a.all_terms())
    assert terms == list(b.all_terms())
    for fieldname, text in terms:
        assert _postings(a, fieldname, text) == _postings(b, fieldname, text), (fieldname, text)
        ta, tb = a.term_info(fieldname, text), b.term_info(fieldname, text)
        assert (ta.weight(), ta.doc_frequency(), ta.max_weight(), ta.min_id(), ta.max_id()) == (
            tb.weight(),
            tb.doc_frequency(),
            tb.max_weight(),
            tb.min_id(),
            tb.max_id(),
        )
        assert (ta.min_length(), ta.max_length()) == (tb.min_length(), tb.max_length())
    assert a.doc_count_all() == b.doc_count_all()
    for fieldname in ("title", "lead", "body", "section", "topic", "person", "place", "spell"):
        assert a.field_length(fieldname) == b.field_length(fieldname)
        if not a.field_length(fieldname):
            continue  # Whoosh's codec raises TypeError for min/max of a field never filled
        assert a.min_field_length(fieldname) == b.min_field_length(fieldname)
        assert a.max_field_length(fieldname) == b.max_field_length(fieldname)
        for d in range(a.doc_count_all()):
            assert a.doc_field_length(d, fieldname) == b.doc_field_length(d, fieldname)
    assert list(a.column_reader("ts")) == list(b.column_reader("ts"))
    assert list(a.all_stored_fields()) == list(b.all_stored_fields())


def test_bulk_segment_reads_like_whoosh_codec(pair: tuple[Any, Any]) -> None:
    w3, col = pair
    with w3.reader() as a, col.reader() as b:
        assert type(b.segment().codec()) is ColumnarCodec
        _same_index(a, b)


def test_stored_fields_round_trip_byte_exact(pair: tuple[Any, Any], docs: list[Any]) -> None:
    with pair[1].reader() as reader:
        assert reader.doc_count_all() == len(docs) > 3000
        for docnum, doc in enumerate(docs):
            stored = reader.stored_fields(docnum)
            assert set(stored) == {"id", "doc", "hash", "source"}
            for name, value in stored.items():
                assert value.encode("utf-8") == str(doc[name]).encode("utf-8")


def _queries(reader: Any) -> list[str]:
    """A few hundred queries drawn from the corpus: words, phrases, fields, wildcards, fuzzy."""
    titles = [reader.stored_fields(d)["doc"] for d in range(0, reader.doc_count_all(), 7)]
    words: list[str] = []
    pairs: list[str] = []
    for doc in titles:
        title = re.search(r'"title": "([^"]*)"', doc)
        found = [
            w
            for w in re.findall(r"[A-Za-z]{4,}", title.group(1) if title else "")
            if w.lower() not in STOP_WORDS
        ]
        words += found[:2]
        if len(found) >= 2:
            pairs.append(f'"{found[0]} {found[1]}"')
    words = sorted({w.lower() for w in words} - STOP_WORDS)[::3][:120]
    queries = words + pairs[:60]
    queries += [f"title:{w}" for w in words[:20]] + [f"body:{w}" for w in words[20:30]]
    queries += [f"{w} OR {v}" for w, v in zip(words[30:50], words[50:70], strict=False)]
    queries += [
        "person:baker",
        "person:reagan",
        "topic:coffee",
        "topic:gold",
        "place:usa",
        "section:energy",
        "place:japan",
        '"james baker"',
        '"trade deficit"~3',
    ]
    queries += [f"{w[:3]}*" for w in words[70:95]]
    queries += [f"{w}~1" for w in words[95:110] if len(w) >= 5]
    queries += ["kremlin~2", "petroleum~2", "coffe~1"]
    return queries


def test_whoosh_searcher_same_stories_and_bm25f_scores(pair: tuple[Any, Any]) -> None:
    w3, col = pair
    with w3.searcher() as sa, col.searcher() as sb:
        queries = _queries(sb.reader())
        assert len(queries) >= 250
        for text in queries:
            qa = parse_query(text, sa.schema, sa.reader())
            qb = parse_query(text, sb.schema, sb.reader())
            ra = {sa.stored_fields(d)["id"]: s for s, d in sa.search(qa, limit=None).top_n}
            rb = {sb.stored_fields(d)["id"]: s for s, d in sb.search(qb, limit=None).top_n}
            assert ra.keys() == rb.keys(), text
            for key, score in ra.items():
                assert abs(score - rb[key]) <= 1e-6, (text, key)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """SearchServices over the shipped corpus indexed by the product, both codecs."""
    root = tmp_path_factory.mktemp("svc")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEARCHAPP_CODEC", "whoosh")
        build_index(CORPUS, root / "w3", workers=1)  # one writer: the same document order
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SEARCHAPP_CODEC", "columnar")
        build_index(CORPUS, root / "col")
    return SearchService(root / "w3"), SearchService(root / "col")


def test_our_scores_are_the_same_over_both_codecs(services: tuple[Any, Any]) -> None:
    """searchapp's own ranking (scoring.py) over the columnar index = over Whoosh's codec."""
    texts = ["trade", "coffee OR gold", "title:gold", "oil prices", "opec", "bank~1"]
    evs = [svc.evaluator(svc.generation()) for svc in services]
    for text in texts:
        results = []
        for ev in evs:
            q = parse_query(text, ev.searcher.schema, ev.searcher.reader())
            mask, scores = ev.evaluate(q)
            results.append((mask, scores))
        (mask_a, scores_a), (mask_b, scores_b) = results
        assert mask_a.any() and (mask_a == mask_b).all(), text
        assert np.abs(scores_a[mask_a] - scores_b[mask_b]).max() <= 1e-6, text


@pytest.mark.parametrize(
    ("words", "slop"),
    [
        (["trade", "deficit"], 1),
        (["deficit", "trade"], 1),
        (["trade", "deficit"], 3),
        (["oil", "price", "rise"], 2),
        (["bank", "england"], 1),
        (["u.s", "trade", "deficit"], 1),
    ],
)
def test_columnar_phrases_agree_with_whoosh(
    services: tuple[Any, Any], words: list[str], slop: int
) -> None:
    """The numpy phrase check over position arrays = Whoosh's own span matcher."""
    from whoosh import query

    from searchapp.postings import phrase_docs, raw_postings

    _w3, col = services
    ev = col.evaluator(col.generation())
    q = query.Phrase("body", words, slop=slop)
    reader = ev.searcher.reader()
    matchers = [
        raw_postings(reader, "body", w.encode()) for w in words if (("body", w.encode()) in reader)
    ]
    assert phrase_docs(matchers, np.arange(reader.doc_count_all()), slop) is not None
    ours = ev.phrase_mask(q)
    assert (ours == ev.matched(q)).all()


@pytest.mark.parametrize(
    "req",
    [
        SearchRequest(q="oil", per_page=100),
        SearchRequest(q='"trade deficit"', per_page=100),
        SearchRequest(q='"james baker"', per_page=100),
        SearchRequest(q="gold prices", sort="newest", per_page=100),
        SearchRequest(q="oil", filters={"section": ("Energy",)}, per_page=100),
        SearchRequest(q="", date_from="1987-03-01", date_to="1987-03-31", per_page=100),
        SearchRequest(q="prices", filters={"topics": ("coffee",)}, per_page=100),
        SearchRequest(q="bank OR banks", date_from="1987-03", per_page=100),
        SearchRequest(q="kremlin~1", per_page=100),
        SearchRequest(q="export*", per_page=100),
    ],
)
def test_service_pages_identical(services: tuple[Any, Any], req: SearchRequest) -> None:
    a, b = (s.search(req) for s in services)
    assert a.total == b.total > 0

    def rows(page: Any) -> list[tuple[str, Any, str]]:
        return [(h.id, h.score, h.snippet) for h in page.hits]

    assert rows(a) == rows(b)
    assert a.facets == b.facets


def test_document_by_document_segment_equals_bulk(tmp_path: Path, docs: list[Any]) -> None:
    """Whoosh's own SegmentWriter through the columnar codec (small updates) = bulk."""
    sample = docs[:400]
    by_doc = _whoosh_write(tmp_path / "doc", sample, ColumnarCodec())
    bulk = _bulk_write(tmp_path / "bulk", sample)
    with by_doc.reader() as a, bulk.reader() as b:
        assert type(a.segment().codec()) is ColumnarCodec
        _same_index(a, b)


def _merge_sequence(path: Path, docs: list[Any], first: str) -> Any:
    """Three segments (the first written as given), deletions in two of them, an optimize."""
    part1, part2, part3 = docs[:300], docs[300:450], docs[450:500]
    codec = CODEC if first == "w3" else ColumnarCodec()
    ix = _bulk_write(path, part1) if first == "bulk" else _whoosh_write(path, part1, codec)
    writer = ix.writer(codec=codec, compound=False)
    for doc in part2:
        writer.add_document(**doc)
    writer.commit(merge=False)
    if first == "w3":
        writer = ix.writer(codec=codec, compound=False)
        for doc in part3:
            writer.add_document(**doc)
        writer.commit(merge=False)
    else:
        write_segment(ix, part3)
    writer = ix.writer(codec=codec, compound=False)
    for doc in docs[10:40] + docs[320:330]:
        writer.delete_by_term("id", doc["id"])
    writer.commit(merge=False)
    assert len(ix._segments()) == 3
    writer = ix.writer(codec=codec, compound=False)
    writer.commit(optimize=True)
    assert len(ix._segments()) == 1
    return ix


@pytest.mark.slow  # merges the shipped corpus twice
@pytest.mark.parametrize("first", ["bulk", "doc"])
def test_merges_of_both_kinds(tmp_path: Path, docs: list[Any], first: str) -> None:
    """Bulk and doc-by-doc segments merged (with deletions): as Whoosh's codec merges them.

    (A merge sums Whoosh's one-byte field lengths, so a merged segment's length totals differ
    a little from a fresh build's; Whoosh's own codec does the same, which is the reference.)
    """
    ours = _merge_sequence(tmp_path / "ours", docs, first)
    theirs = _merge_sequence(tmp_path / "theirs", docs, "w3")
    with ours.reader() as a, theirs.reader() as b:
        assert not a.has_deletions() and a.doc_count_all() == 460
        assert type(a.segment().codec()) is ColumnarCodec
        _same_index(a, b)


@pytest.mark.parametrize(
    "text",
    [
        "The oil price, the OIL prices and oil-price's rise",
        "a an the",  # stop words only: no terms, length 0
        "U.S. al-Assad John's ÉLAN naïve 1987 3.5 co-op’s",
        "",
        "  the the start after stops then words",
    ],
)
def test_fast_analysis_matches_whoosh_analyzer(tmp_path: Path, text: str) -> None:
    """Positions, renumbering after stop words, lengths: as Whoosh's analyzer gives them."""
    items = [article(id=f"d{i}", title="Title " + text, body=text or "x") for i in range(3)]
    corpus = write_jsonl(tmp_path / "c" / "a.jsonl", items)
    from searchapp.formats import read_paths

    raws, problems = read_paths([corpus], workers=1)
    assert not problems
    doc_list = [to_fields(r.article) for r in raws]
    w3 = _whoosh_write(tmp_path / "w3", doc_list, CODEC)
    col = _bulk_write(tmp_path / "col", doc_list)
    with w3.reader() as a, col.reader() as b:
        _same_index(a, b)


def _three_letters(word: str) -> str:
    return word[:3]


def test_custom_stemmer_is_followed(tmp_path: Path) -> None:
    """The bulk path asks the schema's own StemFilter: a different stemmer changes terms."""
    from whoosh import fields

    schema = fields.Schema(
        id=fields.ID(stored=True),
        body=fields.TEXT(analyzer=StemmingAnalyzer(stemfn=_three_letters)),
    )
    docs_ = [{"id": "1", "body": "Searching engines searched"}]
    for name in ("w3", "col"):
        (tmp_path / name).mkdir()
    a = whoosh_index.create_in(str(tmp_path / "w3"), schema)
    w = a.writer(codec=CODEC)
    w.add_document(**docs_[0])
    w.commit()
    b = whoosh_index.create_in(str(tmp_path / "col"), schema)
    write_segment(b, docs_)
    with a.reader() as ra, b.reader() as rb:
        assert list(rb.lexicon("body")) == [b"eng", b"sea"] == list(ra.lexicon("body"))


def test_columnar_index_updates_incrementally(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("SEARCHAPP_CODEC", "columnar")
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus, ignore=shutil.ignore_patterns("*.md"))
    index_dir = tmp_path / "index"
    first = build_index(corpus, index_dir)
    changed = sorted(corpus.glob("*.txt"))[5]
    changed.write_text(
        changed.read_text(encoding="utf-8") + "\nZanzibarian walrus.\n", encoding="utf-8"
    )
    sorted(corpus.glob("*.txt"))[9].unlink()
    report = build_index(corpus, index_dir)
    assert (report.updated, report.deleted) == (1, 1)
    assert report.total == first.total - 1
    service = SearchService(index_dir)
    page = service.search(SearchRequest(q="zanzibarian walrus"))
    assert page.total == 1
    gen, problems = store.check_generation(index_dir)
    assert problems == []
    with whoosh_index.open_dir(str(gen)).reader() as reader:
        assert all(type(s.codec()) is ColumnarCodec for s in reader.segments())


def test_check_verifies_columnar_checksums(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("SEARCHAPP_CODEC", "columnar")
    index_dir = tmp_path / "index"
    build_index(CORPUS, index_dir)
    gen = store.current_generation(index_dir)
    assert gen is not None
    assert store.check_generation(index_dir)[1] == []
    postings = next(gen.glob("*.sat"))
    data = bytearray(postings.read_bytes())
    data[-3] ^= 0xFF  # a flipped bit in the last array: every offset still in range
    postings.write_bytes(bytes(data))
    _gen, problems = store.check_generation(index_dir)
    assert problems and "checksum" in problems[0]


def test_columnar_arrays_back_postings_helpers(pair: tuple[Any, Any]) -> None:
    """postings.py reads the columnar arrays directly and agrees with Whoosh's codec."""
    from searchapp.postings import field_lengths, leaf_positions, leaf_postings, raw_postings

    w3, col = pair
    with w3.reader() as a, col.reader() as b:
        for fieldname, text in [("body", b"oil"), ("title", b"trade"), ("f_topic", b"coffee")]:
            ia, wa = leaf_postings(raw_postings(a, fieldname, text))
            ib, wb = leaf_postings(raw_postings(b, fieldname, text))
            assert np.array_equal(ia, ib) and np.array_equal(wa, wb)
        assert np.array_equal(field_lengths(a, "body"), field_lengths(b, "body"))
        fmt = a.schema["body"].format
        wanted = np.arange(0, a.doc_count_all(), 3)
        pa = leaf_positions(raw_postings(a, "body", b"oil"), fmt, wanted)
        pb = leaf_positions(raw_postings(b, "body", b"oil"), fmt, wanted)
        assert pa == pb and pa


class _FullDisk:
    """A file whose writes fail with ENOSPC after a few succeed (the disk fills mid-file)."""

    def __init__(self, fh: Any, budget: list[int]) -> None:
        self._fh, self._budget = fh, budget

    def write(self, data: Any) -> int:
        self._budget[0] -= 1
        if self._budget[0] < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return int(self._fh.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._fh.close()


@pytest.mark.parametrize("where", ["rebuild-segment", "update-segment", "rebuild-spool"])
def test_disk_full_while_writing_columnar_leaves_index_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The columnar twin of test_reliability's disk-full tests (which fail Whoosh's own
    StructFile writes): the disk fills while a segment file is written (rebuild or update)
    or while the streamed rebuild spools stories. The run says so, the live index is
    unchanged, and the failed run leaves no partial generation behind."""
    monkeypatch.setenv("SEARCHAPP_CODEC", "columnar")
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    for part in range(2):
        write_part(corpus, part, per_file=100)
    build_index(corpus, index)
    live = store.current_generation(index)
    assert live is not None
    write_part(corpus, 2, per_file=100)
    # The per-doc file's header and first arrays go through, then the disk is full; a spool
    # fails at its first write.
    budget = [0 if where == "rebuild-spool" else 10]
    real_open = open

    def full_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        fh = real_open(path, mode, *args, **kwargs)
        return _FullDisk(fh, budget) if "w" in mode else fh

    target = rebuild if where == "rebuild-spool" else container
    monkeypatch.setattr(target, "open", full_open, raising=False)
    with pytest.raises(SearchAppError) as info:
        build_index(corpus, index, rebuild=where.startswith("rebuild"))
    assert budget[0] < 0, "the fault was never reached"
    assert "disk full" in str(info.value) and "unchanged" in str(info.value)
    gens = [p.name for p in index.iterdir() if p.name.startswith(store.GEN_PREFIX)]
    assert gens == [live.name], f"the failed run left {gens}"
    monkeypatch.undo()
    monkeypatch.setenv("SEARCHAPP_CODEC", "columnar")
    assert store.current_generation(index) == live
    assert_healthy(index, {200})
    assert build_index(corpus, index).total == 300
    assert_healthy(index, {300})
    assert_clean(index)


@pytest.mark.slow  # fault injection
@pytest.mark.parametrize("ext", [".sat", ".sad"])
def test_damaged_columnar_file_is_reported_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ext: str
) -> None:
    from searchapp.config import Settings
    from searchapp.web import create_app

    monkeypatch.setenv("SEARCHAPP_CODEC", "columnar")
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    for part in range(2):
        write_part(corpus, part, per_file=150)
    build_index(corpus, index)
    gen = store.current_generation(index)
    assert gen is not None
    target = next(gen.glob(f"*{ext}"))
    data = bytearray(target.read_bytes())
    for k in range(16, len(data), 97):  # a bad disk block's worth of flipped bits, same size
        data[k] ^= 0x5A
    target.write_bytes(bytes(data))
    client = create_app(Settings(index_dir=index)).test_client()
    for url in ("/?q=trade", "/api/search?q=trade", "/api/search"):
        resp = client.get(url)
        text = resp.get_data(as_text=True)
        assert resp.status_code == 503, (url, resp.status_code, text[:300])
        assert "searchapp index --rebuild" in text and "Traceback" not in text
    done = cli("check", "--index", str(index))
    assert done.returncode != 0 and "searchapp index --rebuild" in done.stderr, done.stderr


@pytest.mark.slow  # forks a pool of writers
def test_forked_workers_write_the_same_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pair: tuple[Any, Any], docs: list[Any]
) -> None:
    """Chunks analysed by two forked processes (their own term ids) gather into one index."""
    monkeypatch.setattr(bulk, "CHUNK_DOCS", 700)  # 5 chunks over 2 processes
    # Workers drop their memo of the id field's terms after each chunk (ids restart).
    monkeypatch.setattr(analysis, "FORGET_MIN", 100)
    (tmp_path / "ix").mkdir()
    ix = whoosh_index.create_in(str(tmp_path / "ix"), build_schema())
    kept = write_segment(ix, docs, workers=2, keep=("id",))
    assert kept["id"] == [d["id"] for d in docs]
    with pair[0].reader() as a, ix.reader() as b:
        _same_index(a, b)


@pytest.mark.slow  # every word of the corpus through Whoosh's automaton
def test_fuzzy_expansion_is_what_whoosh_automaton_accepts(pair: tuple[Any, Any]) -> None:
    """One segment: the numpy edit distances accept exactly what Whoosh's Levenshtein DFA
    accepts (so Whoosh's Searcher finds the same stories over both codecs)."""
    import random

    from whoosh.codec.base import Automata

    w3, col = pair
    with w3.reader() as a, col.reader() as b:
        terms = [t.decode("utf-8") for t in a.lexicon("body")]
        sample = [*random.Random(7).sample(terms, 12), "oil", "kremlin", "44.5", "mailing"]
        for text in sample:
            for maxdist, prefix in [(1, 0), (2, 0), (2, 1), (1, 2)]:
                dfa = Automata.levenshtein_dfa(text, maxdist, prefix)
                accepted = {t for t in terms if dfa.accept(t)}
                ours = set(b.terms_within("body", text, maxdist, prefix))
                assert ours == accepted, (text, maxdist, prefix)
                assert set(a.terms_within("body", text, maxdist, prefix)) == ours


_REAL_WORK = pool._work


def _dying_read(call: Any) -> Any:
    """A worker's call that kills its own process (kill -9) on the third chunk of files."""
    import signal

    task = call[1]
    if call[0] is rebuild._read_chunk and task[0] == 2:  # (number, files, folder)
        os.kill(os.getpid(), signal.SIGKILL)
    return _REAL_WORK(call)


def _dying_index(call: Any) -> Any:
    """The same in the index pass (its tasks are (spool, skipped, splitter file))."""
    import signal

    if call[0] is rebuild._index_chunk and call[1][0].endswith("000002.tmp"):
        os.kill(os.getpid(), signal.SIGKILL)
    return _REAL_WORK(call)


@pytest.mark.slow  # kill -9 of a worker
@pytest.mark.parametrize("work", [_dying_read, _dying_index], ids=["read", "index"])
def test_a_killed_worker_stops_the_rebuild_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, work: Any
) -> None:
    """kill -9 of one forked worker, in either pass: an error saying so, the live index and
    the disk as they were (no spool left)."""
    monkeypatch.setenv("SEARCHAPP_CODEC", "columnar")
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    for part in range(3):
        write_part(corpus, part, per_file=1000)
    build_index(corpus, index)
    live = store.current_generation(index)
    monkeypatch.setattr(rebuild, "PIECE_BYTES", 100_000)  # pieces of each .jsonl file
    monkeypatch.setattr(pool, "_work", work)
    with pytest.raises(SearchAppError, match=r"killed by SIGKILL.*the live index is unchanged"):
        build_index(corpus, index, rebuild=True, workers=2)
    monkeypatch.undo()
    assert store.current_generation(index) == live
    assert_healthy(index, {3000})
    assert_clean(index)


def test_terms_file_is_the_same_written_in_blocks_of_terms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, docs: list[Any]
) -> None:
    """The per-term figures (weights, lengths, position offsets) are computed a block of
    terms at a time; blocks of a few postings write the same bytes as one block."""
    from searchapp.codec import tables

    _bulk_write(tmp_path / "one", docs[:1200])
    monkeypatch.setattr(tables, "TERM_BLOCK_POSTINGS", 37)
    _bulk_write(tmp_path / "blocks", docs[:1200])
    (one,) = (tmp_path / "one").glob("*.sat")
    (blocks,) = (tmp_path / "blocks").glob("*.sat")
    assert one.read_bytes() == blocks.read_bytes()


def test_merged_tag_evidence_splits_like_one_splitter() -> None:
    """Tag evidence learnt chunk by chunk (as the streamed rebuild's workers do) and added up
    splits every tag line of the shipped corpus as one splitter that learnt it all."""
    from searchapp.tags import TagSplitter

    raws, _problems = formats.read_corpus(CORPUS)
    whole = TagSplitter()
    whole.learn(raws)
    merged = TagSplitter()
    alone = []
    for start in range(0, len(raws), 250):
        part = TagSplitter()
        part.learn(raws[start : start + 250])
        # The chunk on its own evidence, for the check below (finalize fits the splitter):
        # what a fit derives must not be added up by the merge.
        alone += [part.finalize(r) for r in raws[start : start + 250]]
        merged.merge(part)
    expected = [whole.finalize(r) for r in raws]
    merged_evidence = [merged.finalize(r) for r in raws]
    assert merged_evidence == expected
    # Each chunk alone splits some lines differently: the corpus-wide sum matters.
    assert any(a != b for a, b in zip(alone, expected, strict=True))


@pytest.mark.slow  # two rebuilds of the shipped corpus, one by Whoosh's writer
def test_streamed_rebuild_equals_the_in_memory_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The columnar rebuild's workers read, tag-split and validate chunks of files themselves
    (rebuild.py). Against the in-memory rebuild (Whoosh's codec, one process): the same
    stories in the same order with the same stored fields (tags split the same way over the
    whole corpus), the same manifest byte for byte, the same problems. The corpus has
    duplicate ids across chunks, bad lines, and a .jsonl cut in pieces."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    originals = sorted(corpus.glob("*.txt"))[:40]
    lines = []
    for i, path in enumerate(originals):
        story_id = path.stem
        # Copies of ids read earlier: skipped as duplicates, and their tag lines must not
        # count in the tag statistics.
        lines.append(
            json.dumps(article(id=story_id, title=f"Copy {i}", persons=["Baker Greenspan"]))
        )
    lines.append("{not json")
    lines += [
        json.dumps(article(id=f"j{i}", title=f"Story {i}", persons=["Poehl"], body="x"))
        for i in range(200)
    ]
    lines.append(json.dumps(article(id="j1", title="Copy inside one file")))
    (corpus / "zz.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (corpus / "empty.txt").write_text("", encoding="utf-8")

    def build(name: str) -> tuple[Any, list[dict[str, Any]], str]:
        report = build_index(corpus, tmp_path / name, workers=1 if name == "memory" else 2)
        gen = store.current_generation(tmp_path / name)
        assert gen is not None
        ix = whoosh_index.open_dir(str(gen))
        with ix.reader() as reader:
            stored = [reader.stored_fields(n) for n in range(reader.doc_count_all())]
        ix.close()
        return report, stored, json.dumps(store.read_manifest(gen).to_json())

    monkeypatch.setenv("SEARCHAPP_CODEC", "whoosh")  # the in-memory path is Whoosh's codec's
    memory = build("memory")
    monkeypatch.setenv("SEARCHAPP_CODEC", "columnar")
    monkeypatch.setattr(rebuild, "CHUNK_FILES", 500)
    monkeypatch.setattr(rebuild, "PIECE_BYTES", 4_000)
    streamed = build("streamed")
    assert len(rebuild.plan_items(formats.scan_names(corpus)[0])) > 8  # several chunks
    assert streamed[1] == memory[1] and len(memory[1]) == 3001 + 200
    assert streamed[2] == memory[2]
    got, want = streamed[0], memory[0]
    assert (got.added, got.total, got.files, got.titles_made) == (
        want.added,
        want.total,
        want.files,
        want.titles_made,
    )
    problems = [sorted((p.path, p.reason) for p in r.skipped) for r in (got, want)]
    assert problems[0] == problems[1] and len(problems[1]) == 43, problems


def test_fuzzy_over_several_columnar_segments_is_whoosh_multireader(
    tmp_path: Path, docs: list[Any]
) -> None:
    """Expanded per segment with numpy, a fuzzy word gives what Whoosh's multi-segment reader
    computes word by word (damerau_levenshtein over the merged lexicon)."""
    from whoosh import query

    from searchapp.postings import expand_words

    ix = _bulk_write(tmp_path / "ix", docs[:1500])
    write_segment(ix, docs[1500:2200])
    write_segment(ix, docs[2200:])
    with ix.reader() as reader:
        assert len(reader.leaf_readers()) == 3
        for text, maxdist, prefix in [("kremlin", 2, 1), ("oil", 2, 0), ("petroleum", 1, 1)]:
            q = query.FuzzyTerm("body", text, maxdist=maxdist, prefixlength=prefix)
            ours = expand_words(q, reader)
            assert ours and set(ours) == set(q._btexts(reader)), text


def test_fuzzy_distance_follows_whoosh_segment_count_quirk(tmp_path: Path) -> None:
    """Whoosh counts a transposition as two edits over one segment (its DFA) and as one over
    several (damerau_levenshtein): `oil~2` finds "ali" only in the second case. The columnar
    codec keeps both behaviours, so results do not change with the codec (see docs/codec.md)."""
    from whoosh import fields, query

    from searchapp.postings import expand_words

    schema = fields.Schema(body=fields.TEXT(stored=True))
    fuzzy = query.FuzzyTerm("body", "oil", maxdist=2, prefixlength=0)
    expected = {1: {"oil"}, 2: {"oil", "ali"}}
    for segments in (1, 2):
        for codec in ("w3", "col"):
            path = tmp_path / f"{codec}{segments}"
            path.mkdir()
            ix = whoosh_index.create_in(str(path), schema)
            docs_ = [{"body": "ali"}, {"body": "oil"}]
            for chunk in [docs_] if segments == 1 else [[d] for d in docs_]:
                if codec == "col":
                    write_segment(ix, chunk)
                    continue
                w = ix.writer(codec=CODEC)
                for d in chunk:
                    w.add_document(**d)
                w.commit(merge=False)
            with ix.reader() as reader:
                assert len(reader.leaf_readers()) == segments
                assert set(expand_words(fuzzy, reader)) == expected[segments], (codec, segments)


def test_the_columnar_codec_is_the_default_and_a_bad_choice_is_refused(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from click.testing import CliRunner

    from searchapp.cli import main

    corpus = write_jsonl(tmp_path / "corpus" / "a.jsonl", [article(id="a1", title="Coffee")])
    monkeypatch.delenv("SEARCHAPP_CODEC", raising=False)
    build_index(corpus.parent, tmp_path / "default")
    gen = store.current_generation(tmp_path / "default")
    assert gen is not None and list(gen.glob("*.sat")) and not list(gen.glob("*.pst"))
    monkeypatch.setenv("SEARCHAPP_CODEC", "Whoosh")  # any case: a person types it
    build_index(corpus.parent, tmp_path / "w3")
    gen = store.current_generation(tmp_path / "w3")
    assert gen is not None and list(gen.glob("*.pst")) and not list(gen.glob("*.sat"))
    monkeypatch.setenv("SEARCHAPP_CODEC", "lucene")
    args = ["index", "--corpus", str(corpus.parent), "--index", str(tmp_path / "bad")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "SEARCHAPP_CODEC='lucene'" in result.output and "columnar" in result.output
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").iterdir())


def test_stats_names_segments_left_in_whoosh_format_until_a_rebuild(
    tmp_path: Path, monkeypatch: Any
) -> None:
    # An index an older version wrote (Whoosh's format) keeps answering; updates add columnar
    # segments beside it, and `stats` says what a rebuild would move.
    from click.testing import CliRunner

    from searchapp.cli import main

    corpus = tmp_path / "corpus"
    write_jsonl(corpus / "a.jsonl", [article(id="a1", title="Coffee prices")])
    index = tmp_path / "index"
    monkeypatch.setenv("SEARCHAPP_CODEC", "whoosh")
    build_index(corpus, index)
    monkeypatch.delenv("SEARCHAPP_CODEC")
    write_jsonl(corpus / "b.jsonl", [article(id="b1", title="Coffee exports")])
    assert build_index(corpus, index).added == 1
    assert SearchService(index).search(SearchRequest(q="coffee")).total == 2
    out = CliRunner().invoke(main, ["stats", "--index", str(index)]).output
    assert "1 of 2 segments in Whoosh's own format" in out and "--rebuild" in out
    build_index(corpus, index, rebuild=True)
    data = SearchService(index).stats()
    assert data["whoosh_format_segments"] == 0 and data["stories"] == 2
    again = CliRunner().invoke(main, ["stats", "--index", str(index)]).output
    assert "Whoosh's own format" not in again


def test_optimize_on_the_columnar_codec_says_a_rebuild_is_faster(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from click.testing import CliRunner

    from searchapp.cli import main

    corpus = write_jsonl(tmp_path / "corpus" / "a.jsonl", [article(id="a1", title="Coffee")])
    args = ["index", "--corpus", str(corpus.parent), "--index", str(tmp_path / "ix")]
    assert CliRunner().invoke(main, args).exit_code == 0
    write_jsonl(corpus, [article(id="a1", title="Coffee"), article(id="a2", title="Tea")])
    result = CliRunner().invoke(main, [*args, "--optimize"])
    assert result.exit_code == 0 and "1 added" in result.stdout
    assert "searchapp index --rebuild" in result.stderr  # the merge still ran, and was said
    assert SearchService(tmp_path / "ix").stats()["segments"] == 1
    monkeypatch.setenv("SEARCHAPP_CODEC", "whoosh")  # Whoosh's own merge: nothing to say
    write_jsonl(corpus, [article(id="a1", title="Coffee")])
    result = CliRunner().invoke(main, [*args, "--optimize"])
    assert result.exit_code == 0 and "--rebuild" not in result.stderr
