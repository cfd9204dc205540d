"""The tag splitter: joined 'Topics'/'Persons' lines back into tags."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from searchapp.formats.tass import read_tass_file
from searchapp.models import Article, RawArticle
from searchapp.tags import TagSplitter, split_corpus

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(__file__).resolve().parent / "fixtures" / "articles" / "000_fb76c108e539c208.txt"


def raw(
    article_id: str,
    topics_line: str = "",
    persons_line: str = "",
    body: str = "",
    topics: tuple[str, ...] = (),
    persons: tuple[str, ...] = (),
) -> RawArticle:
    """Build a RawArticle with only the fields the splitter reads."""
    article = Article(id=article_id, title="T", body=body, topics=topics, persons=persons)
    return RawArticle(article, topics_line=topics_line, persons_line=persons_line)


def split_one(target: RawArticle, corpus: list[RawArticle]) -> Article:
    """Learn from corpus plus target, then split target."""
    return split_corpus([*corpus, target])[-1]


def test_reference_article() -> None:
    article = split_corpus([read_tass_file(REFERENCE)])[0]
    assert article.topics == ("Foreign policy", "Syrian conflict")
    assert article.persons == ("Bashar Assad", "Vladimir Putin")


def test_reference_article_inside_a_corpus_of_codes_and_surnames() -> None:
    # Lowercase one-word codes and one-word surnames everywhere else must not drag the
    # reference's sentence-case topics and full names towards one word each.
    corpus = [
        raw(f"r{i}", topics_line=code, persons_line=name)
        for i, (code, name) in enumerate(
            [("earn", "Reagan"), ("acq", "Volcker"), ("money-fx", "Lawson")] * 30
        )
    ]
    corpus += [raw("multi", topics_line="earn acq", persons_line="Reagan Volcker")]
    article = split_one(read_tass_file(REFERENCE), corpus)
    assert article.topics == ("Foreign policy", "Syrian conflict")
    assert article.persons == ("Bashar Assad", "Vladimir Putin")


def test_already_split_lists_pass_through() -> None:
    given = raw("a", topics=("Foreign policy", "Syrian conflict"), persons=("Vladimir Putin",))
    article = split_corpus([given])[0]
    assert article == given.article


def test_vocabulary_from_tags_given_one_per_line() -> None:
    corpus = [
        raw("a", persons=("Sergey Lavrov", "Rex Tillerson")),
        raw("b", persons=("Rex Tillerson",)),
        raw("c", persons=("Sergey Lavrov", "Wang Yi")),
    ]
    target = raw("t", persons_line="Rex Tillerson Sergey Lavrov Wang Yi", body="No names here.")
    assert split_one(target, corpus).persons == ("Rex Tillerson", "Sergey Lavrov", "Wang Yi")


def test_vocabulary_from_lines_holding_one_tag() -> None:
    corpus = [raw(f"s{i}", persons_line=name) for i, name in enumerate(["Reagan", "Volcker"] * 3)]
    target = raw("t", persons_line="Reagan Volcker")
    assert split_one(target, corpus).persons == ("Reagan", "Volcker")


def test_mentions_in_the_text() -> None:
    target = raw(
        "t",
        persons_line="James Baker Paul Volcker",
        body="Treasury Secretary James Baker met Fed chairman Paul Volcker. Baker said little.",
    )
    assert split_corpus([target])[0].persons == ("James Baker", "Paul Volcker")


def test_mention_with_a_lowercase_particle() -> None:
    target = raw(
        "t",
        persons_line="Garcia De La Madrid Del Mazo",
        body="President Alan Garcia met Miguel de la Madrid and Alfredo del Mazo. Garcia left.",
    )
    assert split_corpus([target])[0].persons == ("Garcia", "De La Madrid", "Del Mazo")


def test_lowercase_word_is_not_a_name_mention() -> None:
    # 'young' in running text is not the person Young; 'Young' capitalised is.
    line = "Young Kaufman"
    assert split_corpus([raw("t", persons_line=line, body="A young Kaufman.")])[0].persons == (
        "Young Kaufman",
    )
    mentioned = raw("t", persons_line=line, body="Young said so. Kaufman agreed.")
    assert split_corpus([mentioned])[0].persons == ("Young", "Kaufman")


def test_words_that_never_end_a_line_stay_joined() -> None:
    corpus = [raw(f"b{i}", persons_line="James Baker") for i in range(5)]
    corpus += [raw(f"v{i}", persons_line="Volcker") for i in range(5)]
    corpus += [raw("m", persons_line="James Miller")]
    target = raw("t", persons_line="James Baker Volcker")
    assert split_one(target, corpus).persons == ("James Baker", "Volcker")


def test_lowercase_codes_are_one_word_each() -> None:
    corpus = [raw(f"c{i}", topics_line=code) for i, code in enumerate(["earn", "acq", "veg-oil"])]
    corpus += [raw(f"d{i}", topics_line="grain wheat corn") for i in range(3)]
    corpus += [raw("e", topics_line="money-fx interest"), raw("f", topics_line="trade")]
    target = raw("t", topics_line="veg-oil castor-oil oilseed earn")
    assert split_one(target, corpus).topics == ("veg-oil", "castor-oil", "oilseed", "earn")
    assert split_corpus(corpus)[3].topics == ("grain", "wheat", "corn")


def test_sentence_case_topics_without_other_evidence() -> None:
    target = raw("t", topics_line="Foreign policy Syrian conflict Economy Oil and gas industry")
    assert split_corpus([target])[0].topics == (
        "Foreign policy",
        "Syrian conflict",
        "Economy",
        "Oil and gas industry",
    )


def test_add_known_seeds_the_vocabulary() -> None:
    corpus = [raw(f"s{i}", persons_line=name) for i, name in enumerate(["Reagan", "Nakasone"] * 5)]
    target = raw("t", persons_line="Mohammed Ali Abal Khail Reagan")
    splitter = TagSplitter()
    splitter.add_known("persons", ["Mohammed Ali Abal Khail"])
    splitter.learn([*corpus, target])
    assert splitter.finalize(target).persons == ("Mohammed Ali Abal Khail", "Reagan")


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="unknown tag kind 'places'; use one of topics, persons"):
        TagSplitter().add_known("places", ["Sochi"])


def test_unseen_article_and_incremental_learning() -> None:
    splitter = TagSplitter()
    splitter.learn([raw("a", persons=("Sergey Lavrov", "Rex Tillerson"))])
    later = raw("b", persons_line="Sergey Lavrov Rex Tillerson")
    # finalize works on an article that learn() never saw, and learn() may be called again.
    assert splitter.finalize(later).persons == ("Sergey Lavrov", "Rex Tillerson")
    splitter.learn([later])
    assert splitter.finalize(later).persons == ("Sergey Lavrov", "Rex Tillerson")
    assert splitter.split_line("persons", "Rex Tillerson") == ["Rex Tillerson"]
    assert splitter.split_line("persons", "") == []


def test_deterministic_and_independent_of_order() -> None:
    corpus = [
        raw("a", persons_line="James Baker Volcker", topics_line="money-fx interest"),
        raw("b", persons_line="Volcker Greenspan", topics_line="interest"),
        raw("c", persons_line="James Baker", topics_line="money-fx dlr"),
        raw("d", persons_line="Greenspan James Baker", topics_line="dlr"),
        raw("e", persons_line="Greenspan"),
        raw("f", persons_line="Volcker"),
        read_tass_file(REFERENCE),
    ]
    first = split_corpus(corpus)
    assert split_corpus(corpus) == first
    assert split_corpus(corpus[::-1])[::-1] == first
    assert [a.persons for a in first[:4]] == [
        ("James Baker", "Volcker"),
        ("Volcker", "Greenspan"),
        ("James Baker",),
        ("Greenspan", "James Baker"),
    ]


def load_check_tags() -> ModuleType:
    """Import tools/check_tags.py, which is a script, not a package module."""
    spec = importlib.util.spec_from_file_location("check_tags", REPO / "tools" / "check_tags.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_reuters_agreement(reuters_dir: dict[str, Path]) -> None:
    # The session's Reuters rendering (conftest.reuters_dir): rendering it again cost 29 s.
    tass, jsonl = reuters_dir["tass"], reuters_dir["truth"]
    result = load_check_tags().check(tass, jsonl)
    assert result["read"] == result["compared"] == 21578
    assert result["problems"] == []
    percent = result["percent"]
    assert percent["persons"] >= 97.0, result["misses"]["persons"]
    for name in ("topics", "title", "section", "date", "place", "body"):
        assert percent[name] == 100.0, result["misses"][name]
