"""Stories equal in score and date are ordered by id (descending), whatever their document
numbers: results.top once read the ids of the wrong documents (positions in the result set
taken for document numbers), so one index and a sharded one ordered such ties differently."""

from __future__ import annotations

from pathlib import Path

from searchapp import results
from searchapp.generation import article_from_stored
from searchapp.models import SearchRequest
from searchapp.search import SearchService
from tests.conftest import article, build_index, write_jsonl


def test_ties_are_ordered_by_id_not_by_position(tmp_path: Path) -> None:
    when = "1987-03-02T10:00:00+00:00"
    stories = [article(id=f"z{i}", body=f"gold bullion {i}", date=when) for i in range(3)]
    # Equal score and date; written in an order that is neither the ids' nor its reverse.
    stories += [article(id=i, body="wheat harvest", date=when) for i in ("t1", "t3", "t2")]
    build_index(write_jsonl(tmp_path / "corpus" / "a.jsonl", stories).parent, tmp_path / "ix")
    service = SearchService(tmp_path / "ix")
    gen = service.generation()
    ev = service.evaluator(gen)
    sel = results.select(ev, service._prepare(ev, SearchRequest(q="wheat")))
    picked = results.ordered(ev, sel, 3)
    ids = [article_from_stored(ev.searcher.stored_fields(d)).id for d, _s in picked]
    assert ids == ["t3", "t2", "t1"]
    assert len({s for _d, s in picked}) == 1
