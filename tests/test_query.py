"""How queries are read and ranked: lenient reading, strict mode, all-words-first, BM25F."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from searchapp.errors import QueryError
from searchapp.models import SearchRequest
from tests.conftest import SAMPLE, SHARED, article, build_index, write_jsonl

# Stories for ranking: "allwords" holds alpha, beta and gamma once each in a long body;
# "twowords" repeats alpha and beta in its title and body, so plain BM25 ranks it first.
FILLER = " ".join(f"filler{i}" for i in range(60))
RANKING = [
    article(id="allwords", title="A long report", body=f"{FILLER} alpha beta gamma {FILLER}."),
    article(id="twowords", title="Alpha beta alpha beta", body="Alpha beta. Alpha beta."),
    article(id="alphaonly", title="Alpha notes", body="Alpha once.", section="Energy"),
    article(id="other1", title="Unrelated story", body="Nothing to see here."),
    article(id="other2", title="Another story", body="Still nothing here."),
]


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from searchapp.search import SearchService

    root = tmp_path_factory.mktemp("query")
    corpus = write_jsonl(root / "corpus" / "c.jsonl", SAMPLE + RANKING)
    build_index(corpus, root / "index")
    return SearchService(root / "index")


def ids(page: Any) -> list[str]:
    return [h.id for h in page.hits]


# -- lenient reading -----------------------------------------------------------------------

HOSTILE = [
    # (typed text, what strict mode says, what the lenient reading notes)
    ("coffee (", "parentheses do not balance", "unmatched `(`"),
    ("(", "parentheses do not balance", "unmatched `(`"),
    ("?", "only wildcards", "`?` ignored"),
    ('"', "unmatched double quote", 'unmatched `"`'),
    ('coffee "frost', "unmatched double quote", 'unmatched `"`'),
    ("AND OR", "only operators", "`AND`, `OR` ignored"),
    ("coffee AND", None, "`AND` ignored"),  # Whoosh itself drops a trailing AND
    ("title:", None, "`title:` has no word after it"),  # Whoosh reads it as the word "titl"
    ("date:notadate", "cannot read the date", "`date:notadate` was ignored"),
    ("coffee date:notadate", "cannot read the date", "`date:notadate` was ignored"),
    ("-", "nothing searchable", "`-` ignored"),
    ("coffee - frost", None, "`-` ignored"),
    ("foo:coffee", 'unknown field "foo:"', "`foo:` is not a field"),
    ("?transverse coffee", "at least 2 letters", "a wildcard needs 2 letters"),
    ("coffee OR ?", "would match almost every word", "`?` ignored"),
    ("coffee OR ?frost", "at least 2 letters", "a wildcard needs 2 letters"),
]


@pytest.mark.parametrize(("text", "strict_error", "note"), HOSTILE)
def test_lenient_reading_answers_hostile_input_and_says_how(
    svc: Any, text: str, strict_error: str | None, note: str
) -> None:
    page = svc.search(SearchRequest(q=text))
    assert page.reading is not None
    assert note in page.reading["text"]
    if "coffee" in text:
        assert {"coffee1", "coffee2"} <= set(ids(page))
    elif page.total == 0:
        assert page.reading["text"].startswith("nothing left to search for")
        # No query left must not mean "every story": the facets count nothing too.
        assert all(v.count == 0 for values in page.facets.values() for v in values)


@pytest.mark.parametrize(("text", "strict_error", "note"), HOSTILE)
def test_strict_mode_keeps_the_errors(
    svc: Any, text: str, strict_error: str | None, note: str
) -> None:
    if strict_error is None:
        pytest.skip("strict mode reads this one too")
    with pytest.raises(QueryError) as err:
        svc.search(SearchRequest(q=text, strict=True))
    assert strict_error in str(err.value)


def test_cost_limits_stay_errors_in_lenient_mode(svc: Any) -> None:
    for text, message in [
        ("x" * 5000, "at most 4,000"),
        (" ".join(["word"] * 251), "at most 250"),
        ("colour~5", "fuzzy distance 5"),
        ("*", "only wildcards would match everything"),
    ]:
        with pytest.raises(QueryError) as err:
            svc.search(SearchRequest(q=text))
        assert message in str(err.value)


def test_question_mark_before_punctuation_is_punctuation(svc: Any) -> None:
    page = svc.search(SearchRequest(q="coffee exports?--and frost?"))
    assert page.reading["words"] == ["coffee", "exports", "frost"]
    assert set(ids(svc.search(SearchRequest(q="colo?bia")))) == {"coffee2"}  # a wildcard


def test_stop_and_question_words_do_not_decide_matching(svc: Any) -> None:
    page = svc.search(SearchRequest(q="why did the coffee exports of Colombia fall?"))
    assert ids(page)[0] == "coffee2"  # the story with every searched word
    assert page.reading["words"] == ["coffee", "exports", "Colombia", "fall"]
    assert {"why", "did", "the", "of"} <= set(page.reading["common"])


def test_phrases_minus_not_and_plus_still_decide(svc: Any) -> None:
    # The phrase is required: gold1 has "Deficit trade", not "trade deficit".
    assert set(ids(svc.search(SearchRequest(q='"trade deficit"')))) == {"oil1", "coffee2"}
    assert set(ids(svc.search(SearchRequest(q='"trade deficit" oil')))) == {"oil1"}
    assert set(ids(svc.search(SearchRequest(q='"trade deficit" oil gold')))) == {"oil1"}
    assert set(ids(svc.search(SearchRequest(q="coffee -colombia")))) == {"coffee1"}
    assert set(ids(svc.search(SearchRequest(q="coffee NOT colombia")))) == {"coffee1"}
    page = svc.search(SearchRequest(q="+gold trade"))
    assert set(ids(page)) == {"gold1"}
    assert page.reading["required"] == ["gold"]
    # Explicit AND/OR: a boolean expression, read as typed.
    page = svc.search(SearchRequest(q="coffee AND frost"))
    assert ids(page) == ["coffee1"] and page.reading["expression"]


def test_a_phrase_no_story_holds_is_read_as_words(svc: Any) -> None:
    page = svc.search(SearchRequest(q='"frost deficit" coffee'))
    assert "no story holds the phrase" in page.reading["text"]
    assert {"coffee1", "coffee2"} <= set(ids(page))
    # One quoted word is a word, not a phrase: it decides nothing.
    page = svc.search(SearchRequest(q='"frost" coffee exports'))
    assert {"coffee1", "coffee2"} <= set(ids(page))


def test_all_words_first_then_most_words(svc: Any) -> None:
    # Plain BM25 (explicit OR) ranks the story repeating two words above the one with all 3.
    assert ids(svc.search(SearchRequest(q="alpha OR beta OR gamma")))[0] == "twowords"
    page = svc.search(SearchRequest(q="alpha beta gamma"))
    assert ids(page)[:3] == ["allwords", "twowords", "alphaonly"]
    assert (page.total, page.total_all) == (3, 1)
    assert page.totals_text == "1 story with all words, 2 more with some"
    assert page.to_dict()["totals"] == page.totals_text
    # Strict: every word required.
    assert ids(svc.search(SearchRequest(q="alpha beta gamma", strict=True))) == ["allwords"]


def test_totals_wording() -> None:
    from searchapp.models import SearchPage

    def page(total: int, total_all: int | None) -> SearchPage:
        return SearchPage("q", total, 1, 10, 0.0, "relevance", [], {}, {}, total_all=total_all)

    assert page(340, 12).totals_text == "12 stories with all words, 328 more with some"
    assert page(12, 12).totals_text == "12 stories with all words"
    assert page(1, None).totals_text == "1 story"
    assert page(0, 0).totals_text == "0 stories with all words"


def test_facets_count_what_the_page_lists(svc: Any) -> None:
    page = svc.search(SearchRequest(q="alpha beta gamma", per_page=100))
    assert sum(v.count for v in page.facets["section"]) == page.total == len(page.hits)
    assert {v.value: v.count for v in page.facets["section"]}["Energy"] == 1


def test_scores_are_bm25f_of_each_word(svc: Any) -> None:
    """Recompute one word's score by hand from Whoosh's stored statistics (scoring.py)."""
    from searchapp.schema import FIELD_BOOSTS
    from searchapp.scoring import K1, B

    page = svc.search(SearchRequest(q="alpha", per_page=100))
    reader = svc.generation().searcher().reader()
    n = reader.doc_count_all()
    fields = {"title": "alpha", "lead": "alpha", "body": "alpha", "person": "alpha"}
    holders: dict[int, dict[str, int]] = {}
    for name, text in fields.items():
        if (name, text) in reader:
            for docnum, freq in reader.postings(name, text).items_as("frequency"):
                holders.setdefault(docnum, {})[name] = freq
    idf = math.log(1 + (n - len(holders) + 0.5) / (len(holders) + 0.5))
    expected = {}
    for docnum, freqs in holders.items():
        tf = 0.0
        for name, freq in freqs.items():
            avg = reader.field_length(name) / n
            norm = (1 - B) + B * reader.doc_field_length(docnum, name) / avg
            tf += FIELD_BOOSTS[name] * freq / norm
        doc_id = json.loads(reader.stored_fields(docnum)["doc"])["id"]
        expected[doc_id] = round(idf * tf * (K1 + 1) / (K1 + tf), 4)
    assert {h.id: h.score for h in page.hits} == expected


# -- dates inside quotes (issue 9) ---------------------------------------------------------


def test_quoted_text_is_never_rewritten_as_a_date() -> None:
    from searchapp.query import rewrite_dates

    assert rewrite_dates('title:"date:2017-11"') == 'title:"date:2017-11"'
    assert rewrite_dates('"set the date:soon" date:2017-11') == '"set the date:soon" date:201711'
    assert rewrite_dates('date:"last week" x', now=None).startswith("date:[")


def test_quoted_date_text_searches_as_words(svc: Any) -> None:
    page = svc.search(SearchRequest(q='"set the date:soon"', strict=True))
    assert page.total == 0  # a phrase no story holds, not an error
    page = svc.search(SearchRequest(q='"set the date:soon"'))
    assert page.reading["words"] == ["set", "date", "soon"]


# -- the API, the CLI ------------------------------------------------------------------------


def test_api_reads_leniently_and_strict_1_keeps_the_400(tmp_path: Path) -> None:
    from searchapp.config import Settings
    from searchapp.web import create_app

    corpus = write_jsonl(tmp_path / "c" / "c.jsonl", SAMPLE)
    build_index(corpus, tmp_path / "ix")
    client = create_app(Settings(index_dir=tmp_path / "ix")).test_client()
    response = client.get("/api/search?q=coffee+(")
    assert response.status_code == 200
    body = response.get_json()
    assert "unmatched `(`" in body["reading"]["text"]
    assert {h["id"] for h in body["hits"]} == {"coffee1", "coffee2"}
    assert client.get("/api/search?q=coffee+(&strict=1").status_code == 400


def test_page_says_how_it_read_the_query_escaped(tmp_path: Path) -> None:
    from searchapp.config import Settings
    from searchapp.web import create_app

    corpus = write_jsonl(tmp_path / "c" / "c.jsonl", SAMPLE)
    build_index(corpus, tmp_path / "ix")
    client = create_app(Settings(index_dir=tmp_path / "ix")).test_client()
    text = client.get("/?q=coffee+exports+<b>x</b>+(").get_data(as_text=True)
    assert "Searched for the words coffee, exports" in text
    assert "unmatched <code>(</code> was ignored" in text
    assert "<b>x</b>" not in text and "&lt;b&gt;" in text
    assert "0 stories with all words, 2 more with some" in text


def test_cli_says_how_it_read_the_query(sample_index: Path) -> None:
    from searchapp.cli import search

    result = CliRunner().invoke(search, ["why coffee exports (", "--index", str(sample_index)])
    assert result.exit_code == 0, result.output
    assert "Searched for the words coffee, exports" in result.output
    assert "unmatched `(` was ignored" in result.output
    assert "1 story with all words, 1 more with some" in result.output
    result = CliRunner().invoke(search, ["coffee (", "--index", str(sample_index), "--strict"])
    assert result.exit_code == 2 and "parentheses" in result.output


# -- the relevance collections' questions ----------------------------------------------------


@pytest.mark.skipif(not (SHARED / "corpora" / "relevance").is_dir(), reason="needs ../shared")
def test_no_question_of_the_relevance_collections_is_refused(svc: Any) -> None:
    from searchapp.reading import read_query

    searcher = svc.generation().searcher()
    for name in ("cran", "cacm"):
        path = SHARED / "corpora" / "relevance" / name / "queries.tsv"
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.split("\t", 1)[1]
            if not text.strip():
                continue  # an empty question: the landing page
            reading = read_query(text, searcher.schema, searcher.reader())
            assert reading.words or reading.phrases, text
