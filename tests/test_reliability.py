"""Reliability: a second indexer, searches during commits, disk full, damaged index files,
costly queries, and a short load run (kill -9 while indexing: tests/test_kills.py).

Loop sizes come from the environment so that CI stays short and tools/soak.py can run the
full-size loops with the same code:

    SEARCHAPP_KILLS          kills per mode in tests/test_kills.py (default 4; soak: 20+)
    SEARCHAPP_LOAD_SECONDS   load-test duration (default 5; soak: 60)
    SEARCHAPP_LOAD_OUT       if set, the load test writes its p50/p95 there as JSON
    SEARCHAPP_SEED           seed of the random kill delays (default: random, printed)
"""

from __future__ import annotations

import errno
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from searchapp import store, writelock
from searchapp.errors import QueryError, SearchAppError
from searchapp.indexer import index_corpus
from searchapp.models import SearchRequest
from searchapp.search import SearchService
from tests.conftest import write_jsonl

KILLS = int(os.environ.get("SEARCHAPP_KILLS", "4"))
LOAD_SECONDS = float(os.environ.get("SEARCHAPP_LOAD_SECONDS", "5"))
SEED = int(os.environ.get("SEARCHAPP_SEED", str(random.randrange(1_000_000))))

PER_FILE = 250  # stories per generated .jsonl file

VOCABULARY = (
    "market price trade coffee crude gold bank rate growth export import deficit budget "
    "minister talks shares profit loss quarter output farm grain wheat sugar cocoa steel ship "
    "port strike union loan debt bond yield dollar yen mark sterling oil gas plant mine metal "
    "copper tonne"
)
WORDS = VOCABULARY.split()


# -- corpus and index helpers ---------------------------------------------------------------


def story(i: int, edition: int = 1) -> dict[str, Any]:
    """Return generated story i; its body ends with 'editionN' so versions can be told apart."""
    r = random.Random(i)
    body = " ".join(r.choice(WORDS) for _ in range(120))
    return {
        "id": f"s{i:05d}",
        "title": " ".join(r.choice(WORDS) for _ in range(6)).capitalize(),
        "lead": "",
        "body": f"{body} edition{edition}",
        "date": f"1987-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00+00:00",
        "section": r.choice(["Economy", "Energy", "Metals"]),
        "topics": [r.choice(WORDS)],
        "persons": [],
        "place": "London",
        "photo_credit": "",
    }


def write_part(corpus: Path, part: int, edition: int = 1, per_file: int = PER_FILE) -> Path:
    """Write generated file part<N>.jsonl holding stories part*per_file .. +per_file."""
    first = part * per_file
    return write_jsonl(
        corpus / f"part{part}.jsonl", (story(i, edition) for i in range(first, first + per_file))
    )


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `python -m searchapp.cli ARGS` and return the finished process."""
    return subprocess.run(
        [sys.executable, "-m", "searchapp.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def count(index: Path) -> int:
    """Return the number of stories a fresh service sees in the live generation."""
    return SearchService(index).search(SearchRequest(q="", per_page=1, snippets=False)).total


def editions(index: Path) -> set[str]:
    """Return the set of 'editionN' markers over every stored story (reads them all)."""
    articles = list(SearchService(index).export(SearchRequest(q="", snippets=False)))
    return {a.body.rsplit(" ", 1)[-1] for a in articles}


def assert_healthy(index: Path, allowed: set[int]) -> int:
    """Check the live generation completely; return its story count (one of allowed)."""
    gen = store.current_generation(index)
    assert gen is not None, f"CURRENT names no generation: {list(index.iterdir())}"
    _, problems = store.check_generation(index)
    assert problems == [], problems
    total = count(index)
    assert total in allowed, f"{total} stories, expected one of {sorted(allowed)}"
    # Every stored story must decode, not just be counted.
    exported = list(SearchService(index).export(SearchRequest(q="", snippets=False)))
    assert len(exported) == total
    return total


def assert_clean(index: Path) -> None:
    """Only the live generation and at most one older one remain; no temporaries anywhere."""
    live = store.current_generation(index)
    assert live is not None
    gens = sorted(p for p in index.iterdir() if p.name.startswith(store.GEN_PREFIX))
    others = [g for g in gens if g != live]
    assert len(others) <= 1, f"stray generations: {[g.name for g in gens]}, live {live.name}"
    for g in others:
        assert store.generation_number(g) < store.generation_number(live), g
    temps = [str(p.relative_to(index)) for p in index.rglob("*.tmp")]
    # Whoosh writes its TOC as _MAIN_N.toc.<timestamp> and renames it.
    temps += [p.name for p in live.glob("_MAIN_*.toc.*")]
    assert temps == [], f"temporaries left behind: {temps}"


# -- 2. a second indexer while one runs -----------------------------------------------------


def test_second_indexer_is_refused_while_searches_work(
    sample_corpus: Path, sample_index: Path
) -> None:
    args = ["index", "--corpus", str(sample_corpus), "--index", str(sample_index)]
    with writelock.writer_lock(sample_index, wait=0):
        started = time.monotonic()
        done = cli(*args, "--wait", "0.5")
        waited = time.monotonic() - started
        # Searching needs no lock: it works while the indexer holds it.
        page = SearchService(sample_index).search(SearchRequest(q="coffee"))
    assert done.returncode != 0
    assert "index busy" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert waited < 30  # it gave up instead of waiting for ever
    assert page.total == 2
    # Once the lock is free the same command succeeds.
    assert cli(*args, "--wait", "0.5").returncode == 0


# -- 3. searches during rebuilds and updates ------------------------------------------------


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str, timeout: float = 10) -> tuple[int, Any]:
    """GET url; return (status, parsed JSON body); non-JSON bodies raise ValueError."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Server:
    """`searchapp serve` in a subprocess on a free loopback port."""

    def __init__(self, index: Path, threads: int = 8) -> None:
        self.port = free_port()
        # A file, not a pipe: waitress logs a line per queued task under load, and a full
        # pipe would block the server mid-test.
        self.log_path = index.parent / f"serve-{self.port}.log"
        self.log = self.log_path.open("wb")
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "searchapp.cli", "serve", "--index", str(index)),
                *("--port", str(self.port), "--threads", str(threads)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _ = get_json(self.base + "/api/search?q=&per_page=1", timeout=2)
                if status == 200:
                    return
            except (OSError, ValueError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("searchapp serve did not answer within 30 s")
            time.sleep(0.1)

    def errors(self) -> str:
        """Return the server's log without waitress's queue-depth chatter."""
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(line for line in lines if "queue depth" not in line)

    def stop(self) -> None:
        """Stop the server (it is our own child)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def server_factory() -> Iterator[Callable[[Path], Server]]:
    servers: list[Server] = []

    def start(index: Path) -> Server:
        server = Server(index)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# Every other search is the match-all one, whose total must be a committed count.
MIX = [
    "",
    "trade",
    "",
    "coffee OR gold",
    "",
    '"crude oil"',
    "",
    "pri*",
    "",
    "bank -loan",
    "",
    "sugar~1",
]


def _commit_loop(corpus: Path, index: Path, commits: int = 10) -> set[int]:
    """Run commits (adds, optimizing adds, rebuilds); return every committed story count."""
    counts = {count(index)}
    for n in range(commits):
        write_jsonl(corpus / f"extra{n}.jsonl", (story(10_000 + n * 20 + i) for i in range(20)))
        report = index_corpus(corpus, index, rebuild=n % 3 == 2, optimize=n % 3 == 1, wait=30)
        counts.add(report.total)
        assert count(index) == report.total
    return counts


def _hammer(
    query: Callable[[str], int], stop: threading.Event, seen: list[int], errors: list[str]
) -> None:
    """Search the mix until stop; append match-all totals to seen and failures to errors."""
    i = 0
    while not stop.is_set():
        q = MIX[i % len(MIX)]
        i += 1
        try:
            total = query(q)
        except Exception as exc:  # every failure, of any kind, is what we count
            errors.append(f"{q!r}: {type(exc).__name__}: {exc}")
            continue
        if q == "":
            seen.append(total)


def _run_clients(
    query: Callable[[str], int], corpus: Path, index: Path, log: Callable[[], str] = str
) -> None:
    stop = threading.Event()
    seen: list[int] = []
    errors: list[str] = []
    threads = [
        threading.Thread(target=_hammer, args=(query, stop, seen, errors), daemon=True)
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    try:
        counts = _commit_loop(corpus, index)
        time.sleep(0.3)  # let the clients see the last generation too
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    assert errors == [], f"{len(errors)} failed searches, first: {errors[:3]}\n{log()[-3000:]}"
    # The searches must have overlapped the commits, or this test proved nothing.
    assert len(set(seen)) >= 3, f"match-all totals seen: {sorted(set(seen))}"
    assert set(seen) <= counts, f"totals {sorted(set(seen) - counts)} were never committed"
    print(f"{len(seen)} match-all searches, totals {sorted(set(seen))}, commits {sorted(counts)}")


@pytest.fixture
def live_corpus(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus"
    for part in range(3):
        write_part(corpus, part, per_file=100)
    index = tmp_path / "index"
    index_corpus(corpus, index)
    return corpus, index


@pytest.mark.slow  # concurrency: ten commits under eight searching threads
def test_http_searches_during_commits(
    live_corpus: tuple[Path, Path], server_factory: Callable[[Path], Server]
) -> None:
    corpus, index = live_corpus
    server = server_factory(index)

    def query(q: str) -> int:
        params = urllib.parse.urlencode({"q": q, "per_page": 5, "facet_limit": 5})
        status, body = get_json(f"{server.base}/api/search?{params}", timeout=20)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {body}")
        return int(body["total"])

    _run_clients(query, corpus, index, server.errors)


@pytest.mark.slow  # concurrency: ten commits under eight searching threads
def test_inprocess_searches_during_commits(live_corpus: tuple[Path, Path]) -> None:
    corpus, index = live_corpus
    service = SearchService(index)  # one service shared by every thread, as in the web app

    def query(q: str) -> int:
        return service.search(SearchRequest(q=q, per_page=5, facet_limit=5)).total

    _run_clients(query, corpus, index)


# -- 4. disk full -----------------------------------------------------------------------------


def _enospc(*_args: Any, **_kwargs: Any) -> Any:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _fail_after(calls: int, real: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap real so that it raises ENOSPC from its calls+1-th call on."""
    state = {"n": 0}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        state["n"] += 1
        if state["n"] > calls:
            _enospc()
        return real(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize("where", ["rebuild-write", "update-write", "clone", "manifest"])
def test_disk_full_leaves_index_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    from whoosh.filedb.structfile import StructFile

    corpus = tmp_path / "corpus"
    index = tmp_path / "index"
    if where.endswith("-write"):
        # The fault is injected into Whoosh's own file writer: its codec, not the default
        # columnar one (whose twin is tests/test_codec.py's disk-full test).
        monkeypatch.setenv("SEARCHAPP_CODEC", "whoosh")
    for part in range(2):
        write_part(corpus, part, per_file=100)
    index_corpus(corpus, index)
    live = store.current_generation(index)
    write_part(corpus, 2, per_file=100)  # 100 new stories to write

    if where.endswith("-write"):
        # Fail partway: after some of the writes of the commit have gone through.
        monkeypatch.setattr(StructFile, "write", _fail_after(200, StructFile.write))
    elif where == "clone":
        monkeypatch.setattr(store.os, "link", _enospc)
        monkeypatch.setattr(store.shutil, "copy2", _enospc)
    else:
        monkeypatch.setattr(store, "write_atomic", _enospc)
    with pytest.raises(SearchAppError) as info:
        index_corpus(corpus, index, rebuild=where == "rebuild-write")
    message = str(info.value)
    assert "disk full" in message and "unchanged" in message, message
    monkeypatch.undo()

    assert store.current_generation(index) == live
    assert_healthy(index, {200})
    report = index_corpus(corpus, index)
    assert report.total == 300
    assert_healthy(index, {300})
    assert_clean(index)


@pytest.mark.parametrize(
    "where",
    [
        "rebuild-write",
        "update-write",
        pytest.param("clone"),
        "manifest",
    ],
)
def test_disk_full_leaves_no_partial_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    # A disk-full run must give back what it wrote: a half copy left behind keeps the disk full.
    from whoosh.filedb.structfile import StructFile

    corpus = tmp_path / "corpus"
    index = tmp_path / "index"
    if where.endswith("-write"):
        monkeypatch.setenv("SEARCHAPP_CODEC", "whoosh")  # Whoosh's writer, as above
    write_part(corpus, 0, per_file=50)
    index_corpus(corpus, index)
    live = store.current_generation(index)
    assert live is not None
    write_part(corpus, 1, per_file=50)
    if where.endswith("-write"):
        monkeypatch.setattr(StructFile, "write", _fail_after(100, StructFile.write))
    elif where == "clone":
        monkeypatch.setattr(store.os, "link", _enospc)
        monkeypatch.setattr(store.shutil, "copy2", _enospc)
    else:
        monkeypatch.setattr(store, "write_atomic", _enospc)
    with pytest.raises(SearchAppError, match="disk full"):
        index_corpus(corpus, index, rebuild=where == "rebuild-write")
    gens = [p.name for p in index.iterdir() if p.name.startswith(store.GEN_PREFIX)]
    assert gens == [live.name], f"the failed run left {gens}"


# -- 5. damaged index -----------------------------------------------------------------------


def _truncate_toc(gen: Path) -> None:
    toc = next(gen.glob("_MAIN_*.toc"))
    toc.write_bytes(toc.read_bytes()[: toc.stat().st_size // 3])


def _scramble(path: Path) -> None:
    # Flip bits all through the file, keeping its size: a bad disk block, not a missing file.
    data = bytearray(path.read_bytes())
    for k in range(16, len(data), 97):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))


def segment_file(gen: Path, kind: str) -> Path:
    """A segment's postings or stored-fields file, in whichever codec wrote it (Whoosh's
    .pst / _stored.col, or the columnar .sat / .sad)."""
    patterns = {"postings": ("*.pst", "*.sat"), "stored": ("*_stored.col", "*.sad")}[kind]
    return next(p for pattern in patterns for p in sorted(gen.glob(pattern)))


DAMAGES: dict[str, Callable[[Path], None]] = {
    "truncated-toc": _truncate_toc,
    "corrupt-postings": lambda gen: _scramble(segment_file(gen, "postings")),
    "corrupt-stored": lambda gen: _scramble(segment_file(gen, "stored")),
}


@pytest.mark.parametrize(
    "damage",
    [
        "truncated-toc",
        pytest.param("corrupt-postings"),
        pytest.param("corrupt-stored"),
    ],
)
def test_damaged_index_is_reported_with_the_fix(tmp_path: Path, damage: str) -> None:
    from searchapp.config import Settings
    from searchapp.web import create_app

    corpus = tmp_path / "corpus"
    index = tmp_path / "index"
    for part in range(2):
        write_part(corpus, part, per_file=150)
    index_corpus(corpus, index)
    gen = store.current_generation(index)
    assert gen is not None
    DAMAGES[damage](gen)

    # The web app first: a search that reads damaged data fails with 503 and the fix. A TOC or
    # postings are read by every search; stored fields only by searches that show hits, so
    # there "/?q=x" (a stop word: nothing shown) may still answer, but never with a 500.
    client = create_app(Settings(index_dir=index)).test_client()
    showing_hits = ("/?q=trade", "/api/search?q=trade", "/api/search")
    for url in ("/?q=x", "/api/search?q=x", *showing_hits):
        resp = client.get(url)
        text = resp.get_data(as_text=True)
        assert "Traceback" not in text and 'File "' not in text
        if damage == "corrupt-stored" and url not in showing_hits:
            assert resp.status_code in (200, 400, 503), (url, resp.status_code)
            continue
        assert resp.status_code == 503, (url, resp.status_code, text[:300])
        assert "searchapp index --rebuild" in text, (url, text[:300])

    done = cli("check", "--index", str(index))
    assert done.returncode != 0, done.stdout
    assert "searchapp index --rebuild" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr

    done = cli("index", "--corpus", str(corpus), "--index", str(index), "--rebuild", "-q")
    assert done.returncode == 0, done.stderr
    assert cli("check", "--index", str(index)).returncode == 0
    assert_healthy(index, {300})
    client = create_app(Settings(index_dir=index)).test_client()
    assert client.get("/api/search?q=trade").status_code == 200
    assert client.get("/?q=trade").status_code == 200


# -- 6. query guard -------------------------------------------------------------------------


def _abusive_queries() -> dict[str, dict[str, Any]]:
    prefixes = [f"{a}{b}*" for a in "abcde" for b in "abcde"]
    return {
        "star": {"q": "*"},
        "one-letter-prefix": {"q": "a*"},
        "25-prefixes": {"q": " OR ".join(prefixes)},
        "fuzzy-5": {"q": "word~5"},
        "term-range": {"q": "body:[a TO z]"},
        "1000-words": {"q": " ".join(f"w{i}" for i in range(1000))},
        "200-parens": {"q": "(" * 200 + "trade" + ")" * 200},
        "100kb": {"q": "trade " * 17_000},
        "page-0": {"q": "trade", "page": 0},
        "page-huge": {"q": "trade", "page": 10**9},
        "per-page-1000": {"q": "trade", "per_page": 1000},
    }


ABUSE = _abusive_queries()


@pytest.fixture(scope="module")
def guard_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("guard")
    for part in range(4):
        write_part(root / "corpus", part, per_file=250)
    index_corpus(root / "corpus", root / "index")
    return root / "index"


@pytest.mark.parametrize("name", list(ABUSE))
def test_costly_query_is_refused_or_bounded(guard_index: Path, name: str) -> None:
    params = ABUSE[name]
    service = SearchService(guard_index)
    started = time.monotonic()
    try:
        page = service.search(SearchRequest(**params))
    except QueryError as exc:
        assert len(str(exc)) > 20  # a sentence, not a bare code
    else:
        assert len(page.hits) <= 100
    assert time.monotonic() - started < 1.0, f"{name} took {time.monotonic() - started:.2f} s"


@pytest.mark.parametrize("name", ["star", "25-prefixes", "fuzzy-5", "page-huge", "1000-words"])
def test_costly_query_cli_exit_2(guard_index: Path, name: str) -> None:
    params = ABUSE[name]
    args = ["search", params["q"], "--index", str(guard_index), "--format", "json"]
    if "page" in params:
        args += ["--page", str(params["page"])]
    done = cli(*args, timeout=30)
    assert done.returncode == 2, (done.returncode, done.stderr[-300:])
    assert done.stderr.startswith("Error: ") and "Traceback" not in done.stderr


@pytest.mark.parametrize("name", list(ABUSE))
def test_costly_query_http_400(guard_index: Path, name: str) -> None:
    from searchapp.config import Settings
    from searchapp.web import create_app

    client = create_app(Settings(index_dir=guard_index)).test_client()
    query = urllib.parse.urlencode(ABUSE[name])
    started = time.monotonic()
    resp = client.get(f"/api/search?{query}")
    assert time.monotonic() - started < 1.0
    body = resp.get_json()
    if resp.status_code == 200:
        assert len(body["hits"]) <= 100
    else:
        # A 100 KB query is refused by the URL limit (414) before it is parsed.
        assert resp.status_code in (400, 414), resp.status_code
        assert len(body["error"]) > 20, body


@pytest.mark.parametrize("q", ['"trade deficit"', "pri*", "body:cop*"])
def test_time_limit_works_off_the_main_thread(guard_index: Path, q: str) -> None:
    service = SearchService(guard_index, time_limit=0.000001)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            service.search(SearchRequest(q=q, snippets=False))
            outcome.append(None)
        except BaseException as exc:  # report anything back to the main thread
            outcome.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join(timeout=10)
    assert outcome, "the search thread hung"
    assert isinstance(outcome[0], QueryError), repr(outcome[0])
    assert "took longer" in str(outcome[0])


# -- 7. load ----------------------------------------------------------------------------------

LOAD_MIX = [
    {"q": ""},
    {"q": "trade"},
    {"q": "coffee OR gold", "section": "Economy"},
    {"q": '"crude oil"'},
    {"q": "pri*", "sort": "newest"},
    {"q": "bank", "from": "1987-03", "to": "1987-06"},
    {"q": "sugar~1", "page": 2},
    {"q": "export", "topic": "grain"},
]
LOAD_CLIENTS = 4
MAX_REQUESTS = 200_000  # a bound in count as well as in time


@pytest.mark.slow  # concurrency/load: tools/soak.py runs it at full size
def test_load(guard_index: Path, server_factory: Callable[[Path], Server]) -> None:
    server = server_factory(guard_index)
    urls = [f"{server.base}/api/search?{urllib.parse.urlencode(p)}" for p in LOAD_MIX]
    deadline = time.monotonic() + LOAD_SECONDS
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        i = n
        while time.monotonic() < deadline and len(latencies) < MAX_REQUESTS:
            url = urls[i % len(urls)]
            i += 1
            started = time.perf_counter()
            try:
                status, body = get_json(url, timeout=10)
                ok = status == 200 and "total" in body
            except Exception as exc:  # any failure counts as an error
                ok, body = False, f"{type(exc).__name__}: {exc}"
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                if not ok:
                    errors.append(f"{url}: {str(body)[:200]}")

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(LOAD_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=LOAD_SECONDS + 30)
    assert not any(t.is_alive() for t in threads), "a load client hung"
    assert errors == [], f"{len(errors)} errors of {len(latencies)}, first: {errors[:3]}"
    ms = sorted(x * 1000 for x in latencies)
    result = {
        "requests": len(ms),
        "seconds": LOAD_SECONDS,
        "clients": LOAD_CLIENTS,
        "stories": count(guard_index),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 2),
        "rps": round(len(ms) / LOAD_SECONDS, 1),
    }
    print(f"load: {result}")
    out = os.environ.get("SEARCHAPP_LOAD_OUT")
    if out:
        Path(out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    assert len(ms) >= LOAD_CLIENTS
