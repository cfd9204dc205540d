"""Sharded indexes on a local Ray cluster (issue 15): the same answers as one index of the same
stories, shard faults answered completely or marked partial, updates landing in the right shard.

Marked `cluster` (deselect with `-m "not cluster"`); skipped without Ray (`pip install -e
'.[cluster]'`). One local Ray cluster (2 CPUs, no dashboard) serves the whole module and is
shut down at its end.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import re
import signal
import threading
import time
import traceback
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from searchapp import results
from searchapp.cluster import fold, layout
from searchapp.errors import NoIndexError, QueryError, SearchAppError
from searchapp.generation import article_from_stored
from searchapp.models import SearchPage, SearchRequest
from searchapp.search import Matches, SearchService
from tests.conftest import SAMPLE, article, build_index, write_jsonl

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[cluster]'")

# Slow too: each test starts a local Ray cluster (seconds), so the fast run leaves them out.
pytestmark = [pytest.mark.cluster, pytest.mark.slow]
# Search time limit in these tests: answers are compared, not timed (the machine may be busy).
LIMIT = 120.0

WORDS = [
    "oil", "prices", "coffee", "trade", "deficit", "bank", "rates", "gold", "wheat", "crude",
    "exports", "talks", "minister", "shares", "profit", "loss", "dollar", "yen", "market",
    "strike", "harvest", "frost", "tanker", "pipeline", "budget",
]
SECTIONS = ["Energy", "Economy", "Metals", "Agriculture & Commodities", "São Paulo Desk"]
PLACES = ["London", "Tokyo", "São Paulo", "Bogota", ""]
PERSONS = ["James Baker", "Paul Volcker", "Karl Otto Pöhl", "Satoshi Sumita"]


def _story(i: int, rng: random.Random) -> dict[str, Any]:
    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))
    # Every fifth story has its neighbour's time and every 17th none: ties in date (and in
    # score) are ordered by id, in one index as across shards.
    j = i - 1 if i % 5 == 4 else i
    when = datetime(1987, 1, 1, tzinfo=timezone.utc) + timedelta(hours=13 * j, minutes=j)
    return article(
        id=f"s{i:03d}",
        title=" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))).capitalize(),
        lead=" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 8))),
        body=f"LONDON, {when:%B} {when.day}. /Reuters/. {body}.",
        date=None if i % 17 == 0 else when.isoformat(),
        section=SECTIONS[i % len(SECTIONS)],
        topics=sorted({rng.choice(WORDS) for _ in range(rng.randint(0, 3))}),
        persons=sorted({rng.choice(PERSONS) for _ in range(rng.randint(0, 2))}),
        place=PLACES[i % len(PLACES)],
    )


def make_corpus(root: Path, n: int = 120, files: int = 6) -> Path:
    """Write n generated stories (plus the shared SAMPLE) over several .jsonl files."""
    rng = random.Random(15)
    stories = [_story(i, rng) for i in range(n)]
    corpus = root / "corpus"
    for f in range(files):
        write_jsonl(corpus / f"part{f}.jsonl", stories[f::files])
    write_jsonl(corpus / "sample.jsonl", SAMPLE)
    return corpus


# Forks of this process while Ray runs in it (os.register_at_fork cannot be undone: it records
# only while _RAY_UP is set).
_RAY_UP = threading.Event()
_FORKS: list[str] = []


def _note_fork() -> None:
    if _RAY_UP.is_set():
        caller = traceback.extract_stack()[:-1]
        _FORKS.append(" <- ".join(f"{f.name} ({Path(f.filename).name})" for f in caller[-6:]))


os.register_at_fork(before=_note_fork)


@pytest.fixture(scope="module")
def ray_local(request: pytest.FixtureRequest) -> Any:
    """One small local Ray cluster for the module, shut down (with its processes) at the end.

    Nothing may fork this process while Ray runs in it (Ray's "forking new processes"
    anti-pattern: a forked child shares the driver's sockets and inherits locks held by its
    threads, and can hang). The session's Reuters index forks readers and a two-process writer
    as it builds: it is built before the cluster starts when a test here needs it (built inside
    the cluster, the Reuters test failed or hung without a traceback on a loaded machine). The
    module fails if anything forked meanwhile all the same.
    """
    mine = [i for i in request.session.items if i.module is request.module]
    if any("reuters_index" in item.fixturenames for item in mine):
        # Without ../shared the Reuters test skips with the reason.
        with contextlib.suppress(pytest.skip.Exception):
            request.getfixturevalue("reuters_index")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    _RAY_UP.set()
    yield ray
    _RAY_UP.clear()
    ray.shutdown()
    assert not _FORKS, f"this process forked while Ray ran in it: {_FORKS}"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, ray_local: Any) -> dict[str, Path]:
    """The generated corpus as one index and as 3 shards."""
    root = tmp_path_factory.mktemp("cluster")
    corpus = make_corpus(root)
    build_index(corpus, root / "one")
    report = layout.build(corpus, root / "three", shards=3)
    assert report.total == 120 + len(SAMPLE)
    return {"corpus": corpus, "one": root / "one", "three": root / "three"}


@pytest.fixture(scope="module")
def cluster(small: dict[str, Path]) -> Any:
    from searchapp.cluster.coordinator import ClusterService

    service = ClusterService(small["three"], time_limit=LIMIT)
    yield service
    service.close()


def page_form(page: SearchPage) -> dict[str, Any]:
    """A page as JSON, without what may differ between two runs (time, partial flag)."""
    data = page.to_dict()
    data.pop("took_ms")
    partial = data.pop("partial")
    assert partial is None, f"a partial answer: {partial}"
    return data


def one_ranking(service: SearchService, req: SearchRequest, need: int) -> list[tuple[str, Any]]:
    """(id, unrounded score) of one index's first `need` results, as its pages order them."""
    gen = service.generation()
    ev = service.evaluator(gen)
    sel = results.select(ev, service._prepare(ev, req))
    return [
        (article_from_stored(ev.searcher.stored_fields(d)).id, s)
        for d, s in results.ordered(ev, sel, need)
    ]


def first_difference(a: Any, b: Any, path: str = "page") -> str | None:
    """Return where two JSON-like values first differ, in a line (None when they are equal).

    pytest's own diff of two large pages (facet_limit=0, 100 hits) takes minutes: a failing
    comparison must say at once which request and which field."""
    if type(a) is not type(b):
        return f"{path}: {a!r:.200} != {b!r:.200}"
    if isinstance(a, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            if key not in a or key not in b:
                return f"{path}.{key}: only in {'the cluster' if key in b else 'one index'}"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None if len(a) == len(b) else f"{path}: {len(a)} items != {len(b)}"
    return None if a == b else f"{path}: {a!r:.200} != {b!r:.200}"


def assert_same(one: SearchService, cluster: Any, req: SearchRequest) -> None:
    """The cluster answers req as one index does: page, facets, order, scores to 1e-9."""
    try:
        expected = one.search(req)
    except QueryError as exc:
        with pytest.raises(QueryError) as err:
            cluster.search(req)
        assert str(err.value) == str(exc), req
        return
    found = first_difference(page_form(expected), page_form(cluster.search(req)))
    if found:
        pytest.fail(f"{req}\n  one index vs 3 shards, first difference: {found}", pytrace=False)
    need = min(expected.total, 60)
    a = one_ranking(one, req, need)
    b = cluster.ranking(req, need)
    found = first_difference([i for i, _ in a], [i for i, _ in b], "ranking")
    if found:
        pytest.fail(f"{req}\n  one index vs 3 shards: {found}", pytrace=False)
    for (i, x), (_, y) in zip(a, b, strict=True):
        if not ((x is None and y is None) or abs(x - y) <= 1e-9):
            pytest.fail(f"{req}\n  score of {i}: {x!r} (one index) != {y!r}", pytrace=False)


def requests(words: list[str], sections: list[str], topics: list[str]) -> list[SearchRequest]:
    """At least 100 requests: words, phrases, operators, filters, dates, sorts, deep pages."""
    reqs = [SearchRequest(), SearchRequest(sort="oldest"), SearchRequest(page=3)]
    for w in words:
        reqs.append(SearchRequest(q=w))
        reqs.append(SearchRequest(q=w, sort="newest", per_page=7))
    for a, b in itertools.pairwise(words):
        reqs.append(SearchRequest(q=f'"{a} {b}"'))
        reqs.append(SearchRequest(q=f"{a} OR {b}", page=2, per_page=5))
        reqs.append(SearchRequest(q=f"{a} NOT {b}"))
    for w, s in zip(words, sections * 10, strict=False):
        reqs.append(SearchRequest(q=w, filters={"section": (s.lower(),)}, facet_limit=0))
    for w, t in zip(words, topics * 10, strict=False):
        reqs.append(SearchRequest(q=f"{w[:3]}*", filters={"topics": (t,)}, sort="oldest"))
    reqs += [
        SearchRequest(q="title:oil^2 crude", date_from="1987-02", date_to="1987-03-15"),
        SearchRequest(q="date:1987-03 trade"),
        SearchRequest(q="prices~", per_page=3, page=4),
        SearchRequest(q='"oil prices"~4 OR gold'),
        SearchRequest(q="defecit"),  # did-you-mean
        SearchRequest(q="coffe exports"),  # typo-tolerant fallback
        SearchRequest(q="deficit with Japan?"),
        SearchRequest(filters={"place": ("sao paulo",)}, sort="newest"),
        SearchRequest(filters={"persons": ("james baker",)}),
        SearchRequest(filters={"section": ("Enrgy",)}),  # refused with the same suggestion
        SearchRequest(q="oil", page=999),  # refused: past the last page
    ]
    return reqs


def test_small_corpus_in_3_shards_answers_like_one_index(
    small: dict[str, Path], cluster: Any
) -> None:
    one = SearchService(small["one"], time_limit=LIMIT)
    fd = one.generation().facets
    sections = fd.values["section"]
    topics = fd.values["topics"]
    reqs = requests(WORDS[:14], sections, topics)
    assert len(reqs) >= 100
    for req in reqs:
        assert_same(one, cluster, req)


def test_every_shard_holds_only_its_ids(small: dict[str, Path]) -> None:
    dirs = layout.read_layout(small["three"])
    seen: Counter[str] = Counter()
    for k, d in enumerate(dirs):
        ids = [a.id for a in SearchService(d).export(SearchRequest())]
        assert ids and all(layout.shard_of(i, 3) == k for i in ids)
        seen.update(ids)
    assert sum(seen.values()) == len(seen) == 120 + len(SAMPLE)


def test_export_suggest_stats_and_articles_match_one_index(
    small: dict[str, Path], cluster: Any
) -> None:
    one = SearchService(small["one"], time_limit=LIMIT)
    for req in (SearchRequest(), SearchRequest(q="oil OR gold"), SearchRequest(sort="oldest")):
        assert [a.id for a in cluster.export(req)] == [a.id for a in one.export(req)]
    assert list(cluster.export(SearchRequest(q="oil", filters={"section": ("energy",)}))) == list(
        one.export(SearchRequest(q="oil", filters={"section": ("energy",)}))
    )
    for prefix in ("ja", "oil", "pa", "k"):
        ours, theirs = cluster.suggest(prefix), one.suggest(prefix)
        # Facet values are summed exactly; titles are ranked by each shard's own scorer.
        assert [d for d in ours if d["kind"] != "title"] == [
            d for d in theirs if d["kind"] != "title"
        ]
    stats, expected = cluster.stats(), one.stats()
    for key in ("stories", "first_date", "last_date", "undated", "top"):
        assert stats[key] == expected[key]
    assert stats["shards"] == 3 and stats["partial"] is None
    assert cluster.get_article("coffee2") == one.get_article("coffee2")
    with pytest.raises(SearchAppError, match="no article"):
        cluster.get_article("nope")


def _count_places(m: Matches, _gen: Any) -> dict[str, int]:
    # A view over a result set (module level: Ray ships a reference to the shards).
    return dict(m.facets.count_terms("place", m.mask))


def test_views_over_matches_sum_to_one_index(small: dict[str, Path], cluster: Any) -> None:
    from searchapp.cluster.views import map_matches

    one = SearchService(small["one"], time_limit=LIMIT)
    req = SearchRequest(q="oil OR trade", date_from="1987-02")
    total: Counter[str] = Counter()
    gens, parts = map_matches(cluster, req, _count_places)
    assert len(gens) == len(parts) == 3
    for part in parts:
        total.update(part)
    assert dict(total) == _count_places(one.matches(req), None)


def _same(label: str, expected: Any, found: Any) -> None:
    difference = first_difference(expected, found, label)
    if difference:
        pytest.fail(f"one index vs 3 shards, first difference: {difference}", pytrace=False)


def test_research_views_on_3_shards_equal_one_index(small: dict[str, Path], cluster: Any) -> None:
    from searchapp.cluster.views import ClusterResearch
    from searchapp.researcher import Research

    one = Research(SearchService(small["one"], time_limit=LIMIT))
    many = ClusterResearch(cluster)
    reqs = [
        SearchRequest(), SearchRequest(q="oil OR trade"), SearchRequest(q="prices crude~"),
        SearchRequest(q="gold", filters={"section": ("metals", "energy")}),
        SearchRequest(q="bank", date_from="1987-02", date_to="1987-03-20"),
    ]
    shown = Counter[str]()
    for req in reqs:
        for by, interval in itertools.product((None, "persons", "topics", "place", "section"),
                                              (None, "day", "week", "month", "year")):
            data = one.trends(req, by, interval, 3)[0]
            label = f"trends {req.q!r} by={by} {interval}"
            _same(label, data, many.trends(req, by, interval, 3)[0])
            shown["series"] += len(data["series"])
        queries = ["oil", "trade deficit", "gold OR wheat", "nothingatall"]
        for interval in (None, "week", "month"):
            data = one.compare(req, queries, interval)[0]
            _same(f"compare {req.q!r} {interval}", data, many.compare(req, queries, interval)[0])
        for field, value in (("persons", "james baker"), ("topics", "OIL"), ("place", "london"),
                             ("section", "energy")):
            for with_ in ("persons", "topics", "place", "section"):
                data = one.related(req, field, value, with_, 5)
                _same(f"related {req.q!r} {field}={value} with {with_}", data,
                      many.related(req, field, value, with_, 5))
                shown["related"] += len(data["related"])
        for field in ("topics", "persons", "place", "section", "words"):
            for min_count in (1, 3):
                data = one.significant(req, field, 10, min_count)
                _same(f"significant {req.q!r} {field} min_count={min_count}", data,
                      many.significant(req, field, 10, min_count))
                shown[f"significant {field}"] += len(data["significant"])
    # Significant words sample the stories one index samples: the same ids, spread over the
    # results in (time, id) order, whatever the document numbers (125 results: 100 sampled).
    from searchapp.cluster import words
    from searchapp.cluster.views import map_matches
    from searchapp.researcher import sampled, time_keys

    svc = SearchService(small["one"], time_limit=LIMIT)
    for req in reqs:
        found, gen = svc.matches(req), svc.generation()
        seq = gen.oldest[found.mask[gen.oldest]]
        searcher = gen.searcher()

        def id_of(d: int, searcher: Any = searcher) -> str:
            return results.stored_id(searcher, d)

        expected = [id_of(d) for d in sampled(time_keys(found.facets, seq), seq, id_of)]
        _gens, parts = map_matches(cluster, req, words.key_counts)
        sample = words.sample_ids(parts, lambda fn, req=req: map_matches(cluster, req, fn)[1])
        _same(f"sample of {req.q!r}", expected, sample)
        shown["unsampled"] += len(seq) - len(expected)
    # The comparisons compared something: series, related values and significant terms.
    assert all(shown[k] for k in ("series", "related", "significant topics", "significant words",
                                  "unsampled"))
    assert one.resolve("persons", "karl otto pohl") == many.resolve("persons", "karl otto pohl")
    for ask in (lambda r: r.trends(SearchRequest(), "nope", None),
                lambda r: r.related(SearchRequest(), "persons", "Nobody Atall", "topics"),
                lambda r: r.significant(SearchRequest(), "words", 0)):
        with pytest.raises(QueryError) as expected:
            ask(one)
        with pytest.raises(QueryError, match=re.escape(str(expected.value))):
            ask(many)


def test_research_pages_api_and_cli_on_a_sharded_index(
    small: dict[str, Path], cluster: Any
) -> None:
    from searchapp.cli import main
    from searchapp.config import Settings
    from searchapp.web import create_app

    one = create_app(Settings(index_dir=small["one"])).test_client()
    three = create_app(Settings(index_dir=small["three"])).test_client()
    for url in ("/api/trends?q=oil&by=persons", "/api/compare?q=oil&q=gold&section=energy",
                "/api/related?field=topics&value=oil&with=persons",
                "/api/significant?q=trade&field=words&min_count=2"):
        _same(url, one.get(url).get_json(), three.get(url).get_json())
    for url in ("/trends?q=oil", "/compare?q=oil&q=gold", "/person/James%20Baker", "/topic/oil"):
        assert three.get(url).status_code == 200, url
    assert three.get("/api/trends?interval=fortnight").status_code == 400
    runner = CliRunner()
    args = ["significant", "oil OR trade", "--field", "persons", "--format", "json"]
    a = runner.invoke(main, [*args, "--index", str(small["one"])])
    b = runner.invoke(main, [*args, "--index", str(small["three"])])
    assert a.exit_code == b.exit_code == 0, b.output
    _same("cli significant", json.loads(a.output), json.loads(b.output))


def test_merges_are_the_single_index_rules() -> None:
    # spelling.best_correction over shards: the closest candidate, then the one in most stories
    # counted over every shard ("trace" wins on the first shard alone, "trade" over both).
    answers = [
        {"Trabe": [(1, "trace", "trace", "trace"), (1, "trade", "trade", "trade")]},
        {"Trabe": [(1, "trade", "trade", "trade")]},
    ]
    counts = [{"trace": 3, "trade": 1}, {"trade": 3}]

    def weights(stems: list[str]) -> dict[str, int]:
        return {s: sum(c.get(s, 0) for c in counts) for s in stems}

    assert fold.corrected("oil Trabe", answers, weights, lambda stem: stem) == "oil Trade"
    assert fold.corrected("oil Trabe", answers[:1], lambda s: counts[0], str) == "oil Trace"
    assert fold.corrected("oil Trabe", [{"Trabe": None}, *answers], weights, str) is None
    assert layout.shard_of("00042", 3) == layout.shard_of("00042", 3)
    spread = Counter(layout.shard_of(f"id{i}", 4) for i in range(4000))
    assert set(spread) == {0, 1, 2, 3} and min(spread.values()) > 900


def test_kill_9_of_a_shard_under_load_answers_complete_or_partial(
    small: dict[str, Path], cluster: Any
) -> None:
    one = SearchService(small["one"], time_limit=LIMIT)
    expected = one.search(SearchRequest(q="oil OR trade")).total
    pid, _gen = ray.get(cluster.actors[1].ping.remote())
    answers: list[SearchPage] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                answers.append(cluster.search(SearchRequest(q="oil OR trade")))
            except Exception as exc:  # the test reports any error below
                errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    while len(answers) < 5 and not errors:
        time.sleep(0.05)
    before = len(answers)
    os.kill(pid, signal.SIGKILL)  # one process: the shard actor, as a crash would
    while len(answers) < before + 20 and not errors:
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    for page in answers:
        assert page.total == expected or (
            page.partial is not None and page.partial.startswith("2 of 3 shards answered")
        )
    new_pid, _gen = ray.get(cluster.actors[1].ping.remote())
    assert new_pid != pid  # Ray restarted the actor in a new process
    assert cluster.search(SearchRequest(q="oil OR trade")).total == expected


def test_a_shard_killed_for_good_is_started_again(small: dict[str, Path], cluster: Any) -> None:
    expected = SearchService(small["one"], time_limit=LIMIT).search(SearchRequest(q="gold")).total
    ray.kill(cluster.actors[2], no_restart=True)
    page = cluster.search(SearchRequest(q="gold"))
    assert page.partial is None and page.total == expected


def test_a_shard_that_stays_down_gives_a_marked_partial_answer(
    tmp_path: Path, small: dict[str, Path], ray_local: Any
) -> None:
    import shutil

    from searchapp.cli import search
    from searchapp.cluster.coordinator import ClusterService, ShardsDown
    from searchapp.config import Settings
    from searchapp.store import current_generation
    from searchapp.web import create_app

    full = SearchService(small["one"], time_limit=LIMIT).search(SearchRequest(q="oil")).total
    three = tmp_path / "three"
    shutil.copytree(small["three"], three)
    gen = current_generation(layout.shard_dir(three, 0))
    assert gen is not None
    for toc in gen.glob("*.toc"):
        toc.write_bytes(b"\0garbage")  # shard 0 is damaged: it cannot answer until rebuilt
    service = ClusterService(three)
    try:
        page = service.search(SearchRequest(q="oil"))
        assert page.partial is not None and page.partial.startswith("2 of 3 shards answered")
        assert "shard-000" in page.partial and 0 < page.total < full
        assert page.to_dict()["partial"] == page.partial
        with pytest.raises(ShardsDown, match="export refused: 2 of 3 shards answered"):
            service.export(SearchRequest(q="oil"))
    finally:
        service.close()
    # The same on the page, in the JSON API and on the CLI.
    client = create_app(Settings(index_dir=three)).test_client()
    assert client.get("/api/search?q=oil").get_json()["partial"].startswith("2 of 3 shards")
    html = client.get("/?q=oil").get_data(as_text=True)
    assert "Partial answer: 2 of 3 shards answered" in html
    out = CliRunner().invoke(search, ["oil", "--index", str(three)])
    assert out.exit_code == 0 and "partial answer: 2 of 3 shards answered" in out.output
    # A research view is a sum over every shard: refused rather than silently smaller.
    answer = client.get("/api/trends?q=oil")
    assert answer.status_code == 503 and "2 of 3 shards answered" in answer.get_data(as_text=True)


def test_missing_shard_and_wrong_shard_count_are_clear_errors(
    tmp_path: Path, small: dict[str, Path]
) -> None:
    import shutil

    three = tmp_path / "three"
    shutil.copytree(small["three"], three)
    with pytest.raises(SearchAppError, match="holds 3 shards, not 4"):
        layout.build(small["corpus"], three, shards=4)
    with pytest.raises(SearchAppError, match="one-folder index"):
        layout.build(small["corpus"], small["one"], shards=2)
    with pytest.raises(SearchAppError, match="not a sharded index"):
        layout.build(small["corpus"], tmp_path / "plain")
    shutil.rmtree(three / "shard-001")
    with pytest.raises(NoIndexError, match="missing shard"):
        layout.read_layout(three)


def test_incremental_update_lands_in_the_right_shard(
    tmp_path: Path, small: dict[str, Path]
) -> None:
    import shutil

    corpus = tmp_path / "corpus"
    shutil.copytree(small["corpus"], corpus)
    index = tmp_path / "three"
    layout.build(corpus, index, shards=3)
    one_dir = tmp_path / "one"
    build_index(corpus, one_dir)
    lines = (corpus / "part0.jsonl").read_text(encoding="utf-8").splitlines()
    changed = json.loads(lines[0])
    changed["title"] = "Zanzibar cloves corner the market"
    lines[0] = json.dumps(changed)
    (corpus / "part0.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    gone = [json.loads(x)["id"] for x in (corpus / "part1.jsonl").read_text().splitlines()]
    (corpus / "part1.jsonl").unlink()
    report = layout.build(corpus, index)  # an update: the manifest says 3 shards
    assert (report.updated, report.deleted, report.added) == (1, len(gone), 0)
    home = layout.shard_of(changed["id"], 3)
    for k, d in enumerate(layout.read_layout(index)):
        service = SearchService(d)
        page = service.search(SearchRequest(q="zanzibar"))
        assert [h.id for h in page.hits] == ([changed["id"]] if k == home else [])
        ids = {a.id for a in service.export(SearchRequest())}
        assert not ids & set(gone)
    # And through the coordinator, exactly one index given the same update (deleted stories
    # count in BM25's statistics until their segment is merged, in both).
    from searchapp.cluster.coordinator import ClusterService

    build_index(corpus, one_dir)
    service = ClusterService(index, time_limit=LIMIT)
    try:
        for req in (SearchRequest(q="zanzibar"), SearchRequest(), SearchRequest(q="oil")):
            assert_same(SearchService(one_dir, time_limit=LIMIT), service, req)
    finally:
        service.close()


def test_cli_and_web_serve_a_sharded_index(small: dict[str, Path], cluster: Any) -> None:
    from searchapp.cli import main, search
    from searchapp.config import Settings
    from searchapp.web import create_app

    runner = CliRunner()
    out = runner.invoke(search, ["oil", "--index", str(small["three"]), "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    expected = SearchService(small["one"], time_limit=LIMIT).search(SearchRequest(q="oil"))
    assert data["total"] == expected.total and data["partial"] is None
    out = runner.invoke(search, ["oil", "--section", "enrgy", "--index", str(small["three"])])
    assert out.exit_code == 2 and "did you mean 'Energy'" in out.output
    assert "Traceback" not in out.output
    out = runner.invoke(main, ["stats", "--index", str(small["three"])])
    assert out.exit_code == 0 and f"stories    {120 + len(SAMPLE):,} " in out.output
    out = runner.invoke(main, ["show", "coffee2", "--index", str(small["three"])])
    assert out.exit_code == 0 and "Colombia coffee exports fall" in out.output
    client = create_app(Settings(index_dir=small["three"])).test_client()
    body = client.get("/api/search?q=oil&section=energy").get_json()
    assert body["total"] == SearchService(small["one"], time_limit=LIMIT).search(
        SearchRequest(q="oil", filters={"section": ("Energy",)})
    ).total
    assert client.get("/?q=oil").status_code == 200
    assert client.get("/api/search?q=oil&section=nope").status_code == 400


def test_bad_ray_address_is_refused_at_once(small: dict[str, Path]) -> None:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    for address, message in (("127.0.0.1:1", "cannot reach the Ray cluster at '127.0.0.1:1'"),
                             ("nonsense", "is not HOST:PORT")):
        proc = subprocess.run(
            [sys.executable, "-m", "searchapp.cli", "stats", "--index", str(small["three"]),
             "--ray-address", address],
            capture_output=True, text=True, env=env, timeout=120,
        )
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_cli_index_with_shards(tmp_path: Path, small: dict[str, Path], ray_local: Any) -> None:
    from searchapp.cli import main

    runner = CliRunner()
    out = runner.invoke(
        main, ["index", "--corpus", str(small["corpus"]), "--index", str(tmp_path / "ix"),
               "--shards", "2", "-q"],
    )
    assert out.exit_code == 0, out.output
    assert f"{120 + len(SAMPLE)} stories" in out.output
    assert json.loads((tmp_path / "ix" / "cluster.json").read_text())["shards"] == 2
    out = runner.invoke(
        main, ["index", "--corpus", str(small["corpus"]), "--index", str(tmp_path / "ix"),
               "--shards", "3", "-q"],
    )
    assert out.exit_code == 1 and "holds 2 shards, not 3" in out.output


# -- Reuters in 3 shards against one index ---------------------------------------------------


@pytest.fixture(scope="module")
def reuters_three(reuters_dir: dict[str, Path], ray_local: Any) -> Path:
    index = reuters_dir["root"] / "three"
    if not layout.is_cluster(index):
        layout.build(reuters_dir["tass"], index, shards=3)
    return index


@pytest.mark.slow
def test_reuters_in_3_shards_answers_like_one_index(
    reuters_index: Path, reuters_three: Path
) -> None:
    from searchapp.cluster.coordinator import ClusterService

    one = SearchService(reuters_index, time_limit=LIMIT)
    fd = one.generation().facets
    top_sections = [v for v, _ in fd.count_terms("section", fd.live)[:10]]
    top_topics = [v for v, _ in fd.count_terms("topics", fd.live)[:10]]
    words = ["oil", "coffee", "deficit", "bank", "dollar", "wheat", "opec", "profit",
             "strike", "shares", "yen", "gold", "tariffs", "merger"]
    reqs = requests(words, top_sections, top_topics)
    reqs += [SearchRequest(q="japan trade", page=p, per_page=20) for p in (1, 5, 20)]
    reqs += [SearchRequest(q="", page=p, per_page=100) for p in (1, 50, 216)]
    assert len(reqs) >= 100
    service = ClusterService(reuters_three, time_limit=LIMIT)
    try:
        for req in reqs:
            assert_same(one, service, req)
        # Facets over the whole collection, every value.
        everything = SearchRequest(facet_limit=0)
        found = first_difference(
            page_form(one.search(everything)), page_form(service.search(everything))
        )
        assert found is None, found
        ids = np.array([a.id for a in service.export(SearchRequest(q="oil OR gas"))])
        assert list(ids) == [a.id for a in one.export(SearchRequest(q="oil OR gas"))]
    finally:
        service.close()


def _ids_on(shard: int, n: int, prefix: str) -> list[str]:
    """Return n story ids that land on the given shard of 3."""
    found = (f"{prefix}{i:03d}" for i in itertools.count())
    return list(itertools.islice((i for i in found if layout.shard_of(i, 3) == shard), n))


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory, ray_local: Any) -> dict[str, Path]:
    """Copies of one story on three shards, and a misspelling whose best correction is only
    the most common word once the shards' counts are added."""
    root = tmp_path_factory.mktemp("copies")
    body = (
        "LONDON, March 2 - Oil prices rose in London as dealers weighed the OPEC accord "
        "on output quotas for the second quarter, traders said"
    )
    sends = [_ids_on(k, 1, "c")[0] for k in range(3)]
    stories = [
        article(id=sid, title="OIL PRICES RISE" if k else "Oil  prices rise",
                body=body + (". Dealers expect more gains" if k == 2 else ""),
                date=f"1987-03-02T11:{20 + 4 * k}:00+00:00", section="Energy")
        for k, sid in enumerate(sends)
    ]
    # The same title hours later with another body: not a copy.
    stories.append(article(id="c900", title="Oil prices rise", body="Gold fell in Zurich on "
                           "the oil news, dealers said", date="1987-03-02T18:00:00+00:00"))
    stories += [
        article(id=f"o{i:02d}", title=f"Oil report {i}", body=f"Oil prices and crude stocks {i}",
                date=f"1987-03-{3 + i:02d}T09:00:00+00:00", section="Energy")
        for i in range(7)
    ]
    # "trace" in 3 stories of shard 0; "trade" in 1 there and 3 elsewhere: 4 in all.
    stories += [article(id=i, body="A trace of gold was found") for i in _ids_on(0, 3, "t")]
    stories += [article(id=i, body="The trade gap widened") for i in _ids_on(0, 1, "u")]
    stories += [
        article(id=i, body="The trade gap widened") for k in (1, 2) for i in _ids_on(k, 2, "u")
    ][:3]
    corpus = write_jsonl(root / "corpus" / "copies.jsonl", stories).parent
    build_index(corpus, root / "one")
    layout.build(corpus, root / "three", shards=3)
    return {"one": root / "one", "three": root / "three"}


def test_copies_on_different_shards_fold_and_did_you_mean_counts_every_shard(
    copies: dict[str, Path],
) -> None:
    from searchapp.cluster.coordinator import ClusterService

    one = SearchService(copies["one"], time_limit=LIMIT)
    first = one.search(SearchRequest(q="oil prices", per_page=3))
    assert first.copies == 2 and len(first.hits[0].copies) == 2  # the test can fail
    fixed = one.search(SearchRequest(q="trabe"))
    assert fixed.corrected_query == "trade" and fixed.total == 4
    service = ClusterService(copies["three"], time_limit=LIMIT)
    try:
        reqs = [SearchRequest(q="oil prices", per_page=p, page=n) for p in (1, 2, 3)
                for n in (1, 2, 3)]
        reqs += [
            SearchRequest(q="oil", sort="newest", per_page=2, page=2),
            SearchRequest(q="oil", sort="oldest", per_page=4),
            SearchRequest(filters={"section": ("energy",)}, per_page=5),
            SearchRequest(q="trabe"), SearchRequest(q="oil trabe"), SearchRequest(q="Trace"),
        ]
        for req in reqs:
            assert_same(one, service, req)
    finally:
        service.close()
