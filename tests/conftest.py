"""Shared fixtures: articles built in code, corpora written under tmp_path, indexes per test."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = "000_fb76c108e539c208"
NEEDS_SHARED = "needs ../shared (the Reuters corpus and tools); CI has it"


def article(**fields: Any) -> dict[str, Any]:
    """Return a JSON-lines article with defaults for every field not given."""
    base = {
        "id": "a1",
        "title": "A title",
        "lead": "",
        "body": "Some body text.",
        "date": "1987-03-02T10:00:00+00:00",
        "section": "Economy",
        "topics": [],
        "persons": [],
        "place": "",
        "photo_credit": "",
    }
    base.update(fields)
    return base


def write_jsonl(path: Path, items: Iterable[dict[str, Any]]) -> Path:
    """Write articles as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    return path


def build_index(corpus: Path, index_dir: Path, **kwargs: Any) -> Any:
    """Index a corpus and return the report."""
    from searchapp.indexer import index_corpus

    return index_corpus(corpus, index_dir, **kwargs)


SAMPLE = [
    article(
        id="coffee1",
        title="Coffee prices rise in Brazil",
        body="SAO PAULO, March 2. /Reuters/. Coffee prices rose on frost fears, traders said.",
        date="1987-03-02T10:00:00+00:00",
        section="Agriculture & Commodities",
        topics=["coffee"],
        persons=[],
        place="Sao Paulo",
    ),
    article(
        id="coffee2",
        title="Colombia coffee exports fall",
        body="BOGOTA, March 5. /Reuters/. Coffee exports fell. The trade deficit widened.",
        date="1987-03-05T12:30:00+00:00",
        section="Agriculture & Commodities",
        topics=["coffee", "trade"],
        place="Bogota",
    ),
    article(
        id="oil1",
        title="Oil prices steady, OPEC meets",
        body="LONDON, April 1. /Reuters/. Oil prices held steady. <Donohue Inc> said it "
        "would buy crude. James Baker spoke on the trade deficit.",
        date="1987-04-01T08:00:00+00:00",
        section="Energy",
        topics=["crude"],
        persons=["James Baker"],
        place="London",
    ),
    article(
        id="gold1",
        title="Gold rises in London",
        body="LONDON, April 2. /Reuters/. Gold rose. Deficit trade figures were awaited.",
        date="1987-04-02T09:00:00+00:00",
        section="Metals",
        topics=["gold"],
        persons=["Paul Volcker", "James Baker"],
        place="London",
    ),
    article(
        id="undated1",
        title="Undated note on trade",
        body="A note about trade with no date.",
        date=None,
        section="General News",
        topics=[],
    ),
]


@pytest.fixture
def sample_corpus(tmp_path: Path) -> Path:
    """A small JSON-lines corpus."""
    return write_jsonl(tmp_path / "corpus" / "sample.jsonl", SAMPLE)


@pytest.fixture
def sample_index(tmp_path: Path, sample_corpus: Path) -> Path:
    """An index of the small corpus."""
    index_dir = tmp_path / "index"
    build_index(sample_corpus, index_dir)
    return index_dir


@pytest.fixture
def service(sample_index: Path) -> Any:
    """A SearchService over the small index."""
    from searchapp.search import SearchService

    return SearchService(sample_index)


@pytest.fixture(scope="session")
def reuters_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The Reuters corpus rendered in our layout and as JSON-lines truth (once per session)."""
    tool = SHARED / "tools" / "reuters_to_corpus.py"
    if not tool.exists():
        pytest.skip(NEEDS_SHARED)
    out = tmp_path_factory.mktemp("reuters")
    subprocess.run(
        [sys.executable, str(tool), "tass", str(out / "tass")], check=True, capture_output=True
    )
    subprocess.run(
        [sys.executable, str(tool), "jsonl", str(out / "truth.jsonl")],
        check=True,
        capture_output=True,
    )
    return {"tass": out / "tass", "truth": out / "truth.jsonl", "root": out}


@pytest.fixture(scope="session")
def reuters_index(reuters_dir: dict[str, Path]) -> Path:
    """An index of all 21,578 Reuters stories in our layout (once per session)."""
    index_dir = reuters_dir["root"] / "index"
    build_index(reuters_dir["tass"], index_dir)
    return index_dir


def copy_reference(dest: Path) -> Path:
    """Copy the reference TASS article (shipped in corpus/) into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    src = REPO / "corpus" / f"{REFERENCE}.txt"
    if not src.exists():
        src = SHARED / "corpora" / "tass" / f"{REFERENCE}.txt"
    return Path(shutil.copy(src, dest / f"{REFERENCE}.txt"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the Ray tests (marked `cluster`) after every other test of the session.

    ray.init starts native threads in this process, and ray.shutdown leaves some running (11
    here); a child forked from such a process (the indexer's readers and writers, the codec's
    bulk workers, the kill tests) can inherit a lock one of them held and hang (Ray's "forking
    new processes" anti-pattern). Nothing forks after the last test.
    """
    items.sort(key=lambda item: item.get_closest_marker("cluster") is not None)  # stable
