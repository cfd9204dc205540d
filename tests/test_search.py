"""The search service: query language, multi-select facets, dates, snippets, suggestions."""

from __future__ import annotations

from typing import Any

import pytest

from searchapp.errors import NotFoundError, QueryError
from searchapp.models import SearchRequest


def ids(page: Any) -> list[str]:
    return [h.id for h in page.hits]


def facet(page: Any, name: str) -> dict[str, int]:
    return {v.value: v.count for v in page.facets[name]}


def test_empty_query_lists_everything_newest_first_undated_last(service: Any) -> None:
    page = service.search(SearchRequest(q=""))
    assert page.total == 5
    assert ids(page) == ["gold1", "oil1", "coffee2", "coffee1", "undated1"]
    assert page.sort == "newest"


def test_oldest_first_keeps_undated_last(service: Any) -> None:
    page = service.search(SearchRequest(sort="oldest"))
    assert ids(page) == ["coffee1", "coffee2", "oil1", "gold1", "undated1"]


def test_and_by_default_or_not_and_phrases(service: Any) -> None:
    strict = SearchRequest(q="coffee exports", strict=True)
    assert set(ids(service.search(strict))) == {"coffee2"}
    assert set(ids(service.search(SearchRequest(q="gold OR oil")))) == {"gold1", "oil1"}
    assert set(ids(service.search(SearchRequest(q="trade NOT coffee")))) == {
        "oil1",
        "gold1",
        "undated1",
    }
    # "trade deficit" as a phrase: gold1 has "Deficit trade", not the phrase.
    assert set(ids(service.search(SearchRequest(q='"trade deficit"')))) == {"coffee2", "oil1"}
    assert set(ids(service.search(SearchRequest(q='"deficit trade"~3')))) >= {"gold1"}


def test_fields_wildcards_fuzzy(service: Any) -> None:
    assert ids(service.search(SearchRequest(q="title:gold"))) == ["gold1"]
    assert ids(service.search(SearchRequest(q='person:"james baker"', sort="oldest"))) == [
        "oil1",
        "gold1",
    ]
    assert ids(service.search(SearchRequest(q="topic:coffee", sort="oldest"))) == [
        "coffee1",
        "coffee2",
    ]
    assert ids(service.search(SearchRequest(q="place:bogota"))) == ["coffee2"]
    assert set(ids(service.search(SearchRequest(q="colom*")))) == {"coffee2"}
    assert set(ids(service.search(SearchRequest(q="volcker~")))) == {"gold1"}


def test_date_queries(service: Any) -> None:
    assert set(ids(service.search(SearchRequest(q="date:1987-03")))) == {"coffee1", "coffee2"}
    page = service.search(SearchRequest(q="date:[1987-03-04 to 1987-04-01]"))
    assert set(ids(page)) == {"coffee2", "oil1"}
    assert set(ids(service.search(SearchRequest(q="date:>=1987-04")))) == {"oil1", "gold1"}
    assert ids(service.search(SearchRequest(q="date:[TO 1987-03-02]"))) == ["coffee1"]
    assert ids(service.search(SearchRequest(q="date:1987-04-02 gold"))) == ["gold1"]
    assert service.search(SearchRequest(q="date:yesterday")).total == 0


def test_filters_or_within_and_across(service: Any) -> None:
    page = service.search(SearchRequest(filters={"section": ("Energy", "Metals")}))
    assert set(ids(page)) == {"oil1", "gold1"}
    page = service.search(SearchRequest(
        filters={"section": ("Energy", "Metals"), "persons": ("Paul Volcker",)}
    ))
    assert ids(page) == ["gold1"]
    page = service.search(SearchRequest(date_from="1987-03", date_to="1987-03-02"))
    assert ids(page) == ["coffee1"]


def test_multi_select_facet_ignores_its_own_filter(service: Any) -> None:
    page = service.search(SearchRequest(filters={"section": ("Energy",)}))
    assert page.total == 1
    # Every section is still counted, so a second one can be added.
    assert facet(page, "section") == {
        "Agriculture & Commodities": 2,
        "Energy": 1,
        "General News": 1,
        "Metals": 1,
    }
    # Other facets honour the section filter.
    assert facet(page, "persons") == {"James Baker": 1}


def test_facets_sorted_by_count_then_value_and_truncated(service: Any) -> None:
    page = service.search(SearchRequest(facet_limit=1))
    assert [v.value for v in page.facets["section"]] == ["Agriculture & Commodities"]
    assert page.truncated["section"] is True
    page = service.search(SearchRequest(facet_limit=0))
    assert [v.value for v in page.facets["persons"]] == ["James Baker", "Paul Volcker"]
    assert page.truncated["persons"] is False


def test_date_facets_and_day_histogram(service: Any) -> None:
    page = service.search(SearchRequest())
    assert facet(page, "year") == {"1987": 4}
    assert [v.value for v in page.facets["month"]] == ["1987-03", "1987-04"]
    assert facet(page, "day") == {
        "1987-03-02": 1,
        "1987-03-05": 1,
        "1987-04-01": 1,
        "1987-04-02": 1,
    }


def test_snippets_mark_original_words_and_escape(service: Any) -> None:
    page = service.search(SearchRequest(q="Donohue"))
    snippet = page.hits[0].snippet
    assert "<mark>Donohue</mark>" in snippet
    assert "&lt;" in snippet and "<Donohue" not in snippet
    page = service.search(SearchRequest(q="rising"))
    assert "<mark>rose</mark>" not in page.hits[0].snippet  # stems differ: rise vs rose
    page = service.search(SearchRequest(q="exported"))
    assert "<mark>exports</mark>" in page.hits[0].snippet


def test_did_you_mean_and_fallback(service: Any) -> None:
    page = service.search(SearchRequest(q="cofee"))
    assert page.suggestion == "coffee"
    assert page.corrected_query == "coffee"
    assert page.total == 2


def test_more_like_this(service: Any) -> None:
    page = service.search(SearchRequest(like="coffee1"))
    assert "coffee1" not in ids(page)
    assert ids(page)[0] == "coffee2"
    with pytest.raises(NotFoundError):
        service.search(SearchRequest(like="nope"))


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("AND OR", "nothing searchable"),
        ("*", "wildcards"),
        ("a*", "at least 2 letters"),
        ("colour~5", "fuzzy distance 5"),
        ("body:[a TO z]", "ranges of words"),
        ("foo:bar", 'unknown field "foo:"'),
        ('"unclosed', "unmatched double quote"),
        ("(a OR b", "parentheses"),
        ("date:notadate", "cannot read the date"),
        (" ".join(["word"] * 251), "at most 250"),
        (" OR ".join(f"a{c}*" for c in "bcdefghijkl"), "at most 10 are expanded"),
        ("x" * 5000, "at most 4,000"),
    ],
)
def test_bad_queries_say_why(service: Any, q: str, message: str) -> None:
    with pytest.raises(QueryError) as err:
        service.search(SearchRequest(q=q, strict=True))
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("req", "message"),
    [
        (SearchRequest(page=0), "pages start at 1"),
        (SearchRequest(page=9), "past the last page (1)"),
        (SearchRequest(per_page=101), "1 to 100"),
        (SearchRequest(sort="best"), 'sort "best"'),
        (SearchRequest(date_from="1987-13"), "not a real date"),
        (SearchRequest(date_from="March"), "YYYY, YYYY-MM or YYYY-MM-DD"),
        (SearchRequest(date_from="1988", date_to="1987"), "swap them"),
    ],
)
def test_bad_parameters_say_why(service: Any, req: SearchRequest, message: str) -> None:
    with pytest.raises(QueryError) as err:
        service.search(req)
    assert message in str(err.value)


def test_suggest_prefix(service: Any) -> None:
    values = [s["value"] for s in service.suggest("bak")]
    assert "James Baker" in values
    values = [s["value"] for s in service.suggest("colo")]
    assert "Colombia coffee exports fall" in values


def test_export_streams_every_match(service: Any) -> None:
    rows = list(service.export(SearchRequest(q="trade")))
    assert {r.id for r in rows} == {"coffee2", "oil1", "gold1", "undated1"}
    assert all(r.body for r in rows)


def test_get_article_and_unknown(service: Any) -> None:
    assert service.get_article("oil1").persons == ("James Baker",)
    with pytest.raises(NotFoundError):
        service.get_article("../../etc/passwd")


def test_tags_with_commas_filter_and_count_exactly(tmp_path: Any) -> None:
    from searchapp.search import SearchService
    from tests.conftest import article, build_index, write_jsonl

    corpus = write_jsonl(
        tmp_path / "c" / "a.jsonl",
        [article(id="s1", persons=["Smith, John", "Lee"]), article(id="s2", persons=["Lee"])],
    )
    build_index(corpus, tmp_path / "ix")
    service = SearchService(tmp_path / "ix")
    page = service.search(SearchRequest(filters={"persons": ("Smith, John",)}))
    assert ids(page) == ["s1"]
    assert facet(service.search(SearchRequest()), "persons") == {"Lee": 2, "Smith, John": 1}


@pytest.mark.parametrize(
    ("words", "slop"),
    [(["trade", "deficit"], 1), (["deficit", "trade"], 1), (["trade", "deficit"], 3)],
)
def test_phrase_matching_agrees_with_whoosh(service: Any, words: list[str], slop: int) -> None:
    from whoosh import query

    ev = service.evaluator(service.generation())
    q = query.Phrase("body", words, slop=slop)
    ours = ev.phrase_mask(q)
    assert (ours == ev.matched(q)).all()


def test_long_or_query_of_natural_language_words_runs(service: Any) -> None:
    """Ranking is judged with topics run as `w1 OR w2 OR ...`: 60 words must be searched."""
    words = ["coffee", "prices", "rise", "brazil", "frost", "traders"] * 10
    page = service.search(SearchRequest(q=" OR ".join(words)))
    assert page.hits[0].id in {"coffee1", "coffee2"}


def test_question_mark_ending_a_word_is_punctuation(service: Any) -> None:
    page = service.search(SearchRequest(q="why do coffee exports fall?", strict=True))
    assert ids(page) == ["coffee2"]
    assert set(ids(service.search(SearchRequest(q="colo?bia")))) == {"coffee2"}


def test_matches_is_the_result_set_of_search(service: Any) -> None:
    for req in (
        SearchRequest(q="trade"),
        SearchRequest(q="", filters={"topics": ("coffee",)}),
        SearchRequest(q="trade", date_from="1987-03-01", date_to="1987-03-31"),
    ):
        found = service.matches(req)
        page = service.search(SearchRequest(**{**req.__dict__, "per_page": 100}))
        assert int(found.mask.sum()) == page.total
        assert found.mask.shape == (found.facets.n,)


# -- issue 9: facet values as users type them, an empty archive, export guarded -------------


def test_facet_filters_ignore_case_and_accents(tmp_path: Any) -> None:
    from searchapp.search import SearchService
    from tests.conftest import SAMPLE, article, build_index, write_jsonl

    items = [*SAMPLE, article(id="sp1", place="São Paulo", section="Energy", topics=["crude"])]
    build_index(write_jsonl(tmp_path / "c" / "a.jsonl", items), tmp_path / "ix")
    service = SearchService(tmp_path / "ix")
    page = service.search(SearchRequest(filters={"section": ("energy",)}))
    assert set(ids(page)) == {"oil1", "sp1"}
    # The page's request holds the values the index holds (the sidebar ticks those).
    assert page.request is not None and page.request.filters["section"] == ("Energy",)
    upper = SearchRequest(filters={"topics": ("CRUDE",)})
    assert set(ids(service.search(upper))) == {"oil1", "sp1"}
    mixed = SearchRequest(filters={"persons": ("james BAKER",)})
    assert set(ids(service.search(mixed))) == {"oil1", "gold1"}
    # Both spellings the archive holds ("Sao Paulo", "São Paulo") are what a user means.
    plain = SearchRequest(filters={"place": ("sao paulo",)})
    assert set(ids(service.search(plain))) == {"sp1", "coffee1"}
    odd = SearchRequest(filters={"place": ("  SÃO  paulo ",)})
    assert set(ids(service.search(odd))) == {"sp1", "coffee1"}
    # An exact value stays exact.
    assert ids(service.search(SearchRequest(filters={"place": ("São Paulo",)}))) == ["sp1"]
    # Counts of the other facets honour the resolved filter.
    assert facet(service.search(SearchRequest(filters={"section": ("ENERGY",)})), "place") == {
        "London": 1,
        "São Paulo": 1,
    }


def test_facet_value_matching_nothing_names_the_facet_and_the_closest(service: Any) -> None:
    with pytest.raises(QueryError, match=r"no section 'Enrgy': did you mean 'Energy'\?"):
        service.search(SearchRequest(filters={"section": ("Enrgy",)}))
    with pytest.raises(QueryError, match=r"no person 'James Bakr': did you mean 'James Baker'"):
        service.matches(SearchRequest(filters={"persons": ("James Bakr",)}))
    with pytest.raises(QueryError, match=r"no topic 'zzzz'"):
        list(service.export(SearchRequest(filters={"topics": ("zzzz",)})))


def test_an_index_without_stories_finds_nothing(tmp_path: Any) -> None:
    from searchapp.search import SearchService
    from tests.conftest import build_index

    (tmp_path / "empty").mkdir()
    build_index(tmp_path / "empty", tmp_path / "ix")
    service = SearchService(tmp_path / "ix")
    for req in (SearchRequest(q="oil"), SearchRequest(), SearchRequest(sort="oldest")):
        page = service.search(req)
        assert page.total == 0 and page.hits == []
        assert all(values == [] for values in page.facets.values())
    assert list(service.export(SearchRequest(q="oil"))) == []
    assert int(service.matches(SearchRequest()).mask.sum()) == 0
    assert service.stats()["stories"] == 0
    assert service.suggest("oil") == []
    with pytest.raises(QueryError, match="no section 'Energy'"):
        service.search(SearchRequest(filters={"section": ("Energy",)}))


def test_export_is_inside_the_damage_guard(sample_index: Any) -> None:
    from searchapp import store
    from searchapp.errors import NoIndexError
    from searchapp.search import SearchService

    gen = store.current_generation(sample_index)
    assert gen is not None
    from tests.test_reliability import _scramble, segment_file

    _scramble(segment_file(gen, "stored"))
    with pytest.raises(NoIndexError, match="searchapp index --rebuild"):
        list(SearchService(sample_index).export(SearchRequest()))


def test_export_is_inside_the_time_limit(sample_index: Any) -> None:
    from searchapp.search import SearchService

    slow = SearchService(sample_index, time_limit=0.0)
    # Refused when asked, before a single row is produced (a 400 before a 200 header).
    with pytest.raises(QueryError, match="longer than"):
        slow.export(SearchRequest(q="trade OR coffee"))


def test_the_facet_table_is_the_one_source() -> None:
    import dataclasses

    from searchapp import facets, facetspec, schema
    from searchapp.cli import search
    from searchapp.models import Article

    names = [f.name for f in facetspec.TERM_FACETS]
    assert list(schema.FACET_FIELDS) == names
    assert list(facets.TERM_FACETS) == names
    assert {f.name for f in facetspec.TERM_FACETS if f.multi_valued} == facets.MULTI_VALUED
    # The request keys its filters by the table: no field per facet to add.
    request_fields = {f.name for f in dataclasses.fields(SearchRequest)}
    assert not set(names) & request_fields and set(names) <= set(Article.__dataclass_fields__)
    built = schema.build_schema()
    assert all(f.field in built and f.param in built for f in facetspec.TERM_FACETS)
    options = {opt for p in search.params for opt in p.opts}
    assert {f.option for f in facetspec.TERM_FACETS} <= options
    req = SearchRequest().with_filters({"place": ("London",), "topics": ("gold",)})
    assert req.filters == {"topics": ("gold",), "place": ("London",)}
    assert SearchRequest(filters={"place": (), "section": ["Energy"]}).filters == {
        "section": ("Energy",)
    }
    with pytest.raises(ValueError, match="no facet"):
        SearchRequest(filters={"sections": ("Energy",)})


def test_dotted_acronyms_match_what_readers_type(tmp_path: Any) -> None:
    """ "US" finds the agency's "U.S." and "UK" its "U.K." (schema 7); numbers keep dots."""
    from searchapp.search import SearchService
    from tests.conftest import article, build_index, write_jsonl

    stories = [
        article(id="dot", title="U.S. trade deficit widens", body="The U.S. deficit grew."),
        article(id="plain", title="US sanctions", body="Washington acted."),
        article(id="uk", title="U.K. rates", body="The U.K. held rates at 3.5 pct."),
        article(id="num", title="Rates", body="Growth of 35 pct."),
    ]
    build_index(write_jsonl(tmp_path / "c" / "a.jsonl", stories), tmp_path / "ix")
    service = SearchService(tmp_path / "ix")
    for q in ("US", "us", "U.S.", "u.s"):
        assert set(ids(service.search(SearchRequest(q=q)))) == {"dot", "plain"}, q
    page = service.search(SearchRequest(q="US trade deficit"))
    assert page.total_all == 1 and ids(page)[0] == "dot"  # every word: only the U.S. story
    assert ids(service.search(SearchRequest(q="UK"))) == ["uk"]
    assert ids(service.search(SearchRequest(q='"U.S. deficit"'))) == ["dot"]
    assert ids(service.search(SearchRequest(q="3.5"))) == ["uk"]
    assert ids(service.search(SearchRequest(q="35"))) == ["num"]
