"""Fuzzy expansion (fuzzy.py) and did-you-mean (spelling.py): typos with transpositions and
two edits are caught, real words are left alone, and word~N matches what Whoosh's FuzzyTerm
matches."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from whoosh import fields, index, query
from whoosh.support.levenshtein import distance

from searchapp import fuzzy
from searchapp.cli import search
from searchapp.models import SearchRequest
from searchapp.query import parse_query
from searchapp.search import SearchService
from tests.conftest import article, build_index, write_jsonl


@pytest.mark.parametrize("maxdist", [0, 1, 2, 3])
def test_osa_within_agrees_with_whoosh_distance(maxdist: int) -> None:
    rng = random.Random(7 + maxdist)
    for _ in range(150):
        text = "".join(rng.choice("abcé") for _ in range(rng.randint(0, 7)))
        words = ["".join(rng.choice("abcé") for _ in range(rng.randint(1, 9))) for _ in range(40)]
        letters, lengths = fuzzy.letter_matrix(words)
        found = fuzzy.osa_within(letters, lengths, text, maxdist).tolist()
        assert found == [distance(w, text) <= maxdist for w in words], text


def test_transposition_is_one_edit() -> None:
    letters, lengths = fuzzy.letter_matrix(["kremlin", "gorbachev", "kremlni"])
    assert fuzzy.osa_within(letters, lengths, "kremiln", 1).tolist() == [True, False, False]
    assert fuzzy.osa_within(letters, lengths, "kremiln", 2).tolist() == [True, False, True]


def _words(rng: random.Random, n: int) -> list[str]:
    # A small alphabet makes many words within 1-2 edits of each other (and of transpositions).
    return ["".join(rng.choice("aeiknlmr") for _ in range(rng.randint(1, 9))) for _ in range(n)]


@pytest.fixture
def two_segments(tmp_path: Path) -> Any:
    """A Whoosh index of two segments (a MultiReader: Whoosh's documented, Damerau form)."""
    schema = fields.Schema(t=fields.TEXT(stored=True))
    ix = index.create_in(str(tmp_path), schema)
    rng = random.Random(3)
    for _ in range(2):
        with ix.writer() as w:
            for _ in range(150):
                w.add_document(t=" ".join([*_words(rng, 6), "kremlin", "gorbachev"]))
            w.merge = False
    return ix


@pytest.mark.parametrize("maxdist", [0, 1, 2])
@pytest.mark.parametrize("prefix", [0, 1, 2, 9])
def test_expansion_equals_whoosh_fuzzyterm(two_segments: Any, maxdist: int, prefix: int) -> None:
    with two_segments.searcher() as s:
        reader = s.reader()
        assert len(list(reader.leaf_readers())) == 2
        rng = random.Random(maxdist * 10 + prefix)
        for text in [*_words(rng, 40), "kremiln", "gorbachov", "x", ""]:
            theirs = query.FuzzyTerm("t", text, maxdist=maxdist, prefixlength=prefix)
            ours = fuzzy.FastFuzzyTerm("t", text, maxdist=maxdist, prefixlength=prefix)
            expected = sorted(theirs._btexts(reader))
            assert ours._btexts(reader) == expected, text
            # Whoosh's matcher, which expands per segment, finds every document of those words
            # (its own FuzzyTerm would not: tests/test_whoosh_bugs.py).
            words = query.Or([query.Term("t", w) for w in expected])
            assert list(s.docs_for_query(ours)) == list(s.docs_for_query(words))


def test_parsed_fuzzy_words_use_the_fast_expansion(service: Any) -> None:
    s = service.generation().searcher()
    q = parse_query("colombia~2 expotrs~", s.schema, s.reader())
    leaves = [n for n in q.leaves() if isinstance(n, query.FuzzyTerm)]
    assert leaves and all(isinstance(n, fuzzy.FastFuzzyTerm) for n in leaves)
    assert {n.maxdist for n in leaves} == {1, 2}


def test_fuzzy_query_finds_transposed_and_twice_misspelt_words(service: Any) -> None:
    assert [h.id for h in service.search(SearchRequest(q="expotrs~")).hits] == ["coffee2"]
    assert [h.id for h in service.search(SearchRequest(q="colmbai~2")).hits] == ["coffee2"]
    assert service.search(SearchRequest(q="colmbai~1")).total == 0


STORIES = [
    article(
        id="k1",
        title="Shultz likely to visit Moscow soon",
        body="The Kremlin said Mikhail Gorbachev would meet Shultz. Gorbachev spoke of arms.",
        date="1987-03-02T10:00:00+00:00",
    ),
    article(
        id="k2",
        title="Soviets outline economic targets",
        body="Gorbachev told the Kremlin planners that the economy must grow.",
        date="1987-03-03T10:00:00+00:00",
    ),
    article(
        id="k3",
        title="Grain sales",
        body="Wheat and maize. The Kremlin buys wheat. A note by Graff.",
        date="1987-03-04T10:00:00+00:00",
    ),
    article(
        id="k4",
        title="Economy grows",
        body="The economy grew; economic data were firm.",
        date="1987-03-05T10:00:00+00:00",
    ),
    article(
        id="k5",
        title="Summit talk",
        body="Gorbachev and Reagan may meet.",
        date="1987-03-06T10:00:00+00:00",
    ),
]


@pytest.fixture
def kremlin(tmp_path: Path) -> SearchService:
    corpus = write_jsonl(tmp_path / "c" / "k.jsonl", STORIES)
    build_index(corpus, tmp_path / "ix")
    return SearchService(tmp_path / "ix")


@pytest.mark.parametrize(
    ("typed", "meant", "found"),
    [
        ("Kremiln", "Kremlin", {"k1", "k2", "k3"}),  # a transposition; the word is in no title
        ("Gorbachov", "Gorbachev", {"k1", "k2", "k5"}),  # one substitution
        ("gorbchov", "gorbachev", {"k1", "k2", "k5"}),  # two edits, a word of 3+ stories
        ("econmy", "economy", {"k2", "k4"}),  # a body stem ("economi") shown as a word
    ],
)
def test_did_you_mean_catches_transpositions_and_two_edits(
    kremlin: SearchService, typed: str, meant: str, found: set[str]
) -> None:
    page = kremlin.search(SearchRequest(q=typed))
    assert page.suggestion == meant
    assert page.corrected_query == meant
    assert {h.id for h in page.hits} == found


def test_a_query_finding_some_stories_gets_the_suggestion_only(kremlin: SearchService) -> None:
    # "wheat" alone finds k3 (a lenient reading: most words), so the typo is only suggested;
    # case is kept and the known word left untouched.
    page = kremlin.search(SearchRequest(q="KREMILN wheat"))
    assert page.suggestion == "KREMLIN wheat" and page.corrected_query is None
    assert [h.id for h in page.hits] == ["k3"]


def test_real_words_get_no_suggestion(kremlin: SearchService) -> None:
    # "kremlin" is only in bodies and finds 1 story with "maize": it is not corrected.
    page = kremlin.search(SearchRequest(q="kremlin AND maize"))
    assert page.total == 1 and page.suggestion is None
    # A real word the archive lacks: "graff" (1 story) is 2 edits away, too rare to offer.
    page = kremlin.search(SearchRequest(q="giraffe"))
    assert page.total == 0 and page.suggestion is None
    # Short words get one edit only: "whet" -> "wheat" (1 edit) yes, "wat" -> nothing.
    assert kremlin.search(SearchRequest(q="whet")).suggestion == "wheat"
    assert kremlin.search(SearchRequest(q="wxt")).suggestion is None


def test_cli_shows_the_correction(tmp_path: Path, kremlin: SearchService) -> None:
    result = CliRunner().invoke(search, ["Gorbachov", "--index", str(tmp_path / "ix")])
    assert result.exit_code == 0, result.output
    assert 'showing results for "Gorbachev"' in result.output


@pytest.mark.slow  # Reuters-scale: builds (or reuses) the whole Reuters index
def test_reuters_kremlin_and_gorbachev(reuters_index: Path) -> None:
    svc = SearchService(reuters_index)
    for typed, meant in [("Kremiln", "Kremlin"), ("Gorbachov", "Gorbachev")]:
        page = svc.search(SearchRequest(q=typed))
        assert page.corrected_query == meant
        assert page.total == svc.search(SearchRequest(q=meant)).total > 0
    # Explicit fuzzy words find the word itself among their expansions.
    exact = {h.id for h in svc.search(SearchRequest(q="kremlin", per_page=100)).hits}
    page = svc.search(SearchRequest(q="kremlin~2", per_page=100))
    assert page.total > len(exact)
    assert svc.search(SearchRequest(q="kremiln~1")).total >= len(exact)


def test_a_new_generation_drops_the_old_lexicons(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "c" / "k.jsonl", STORIES)
    build_index(corpus, tmp_path / "ix")
    svc = SearchService(tmp_path / "ix")
    assert svc.search(SearchRequest(q="kremiln~")).total == 3
    old = str(svc.generation().gen)
    assert any(key[0] == old for key in fuzzy._LEXICONS.kept())
    write_jsonl(corpus, [*STORIES, article(id="k6", title="Kremlin walls", body="Red bricks.")])
    build_index(corpus, tmp_path / "ix")
    assert svc.search(SearchRequest(q="kremiln~")).total == 4
    assert not any(key[0] == old for key in fuzzy._LEXICONS.kept())


def test_lexicons_are_written_beside_the_segment_and_read_back(kremlin: SearchService) -> None:
    assert kremlin.search(SearchRequest(q="kremiln~")).total == 3
    gen = kremlin.generation().gen
    files = sorted(p.name for p in gen.glob("lexicon-*-body.txt"))
    assert files, "no lexicon file written"
    words = (gen / files[0]).read_text(encoding="utf-8").split("\n")
    assert "kremlin" in words and words == sorted(words)
    # A restarted server reads the file, not Whoosh's lexicon: a word only the file holds
    # is found (and the real words still are).
    (gen / files[0]).write_text("\n".join(sorted([*words, "kremlim"])), encoding="utf-8")
    fuzzy._LEXICONS.clear()
    fuzzy._EXPANSIONS.clear()
    reader = kremlin.generation().searcher().reader()
    assert fuzzy.terms_within(reader, "body", "kremlin", 1) == ["kremlim", "kremlin"]


def test_a_possessive_is_never_the_word_offered(tmp_path: Path) -> None:
    """The first story holding the stem writes only "Gorbachev's": the correction is still
    "Gorbachev" (before, it depended on which story came first in the index)."""
    stories = [
        article(id="p1", title="Talks", body="Gorbachev's plan. Gorbachev's aides met."),
        article(id="p2", title="Visit", body="Gorbachev spoke in Moscow."),
    ]
    build_index(write_jsonl(tmp_path / "c" / "a.jsonl", stories), tmp_path / "ix")
    page = SearchService(tmp_path / "ix").search(SearchRequest(q="Gorbachov"))
    assert page.corrected_query == "Gorbachev"
