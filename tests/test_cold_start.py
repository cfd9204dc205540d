"""A one-query `search` process imports and builds only what its search needs (issue 12).

Its speed is measured by bench/run.py (cold CLI); these tests guard the means without timing:
which modules a whole `search` process has imported when it ends, and the per-process work
that is now made once (letter histograms of a lexicon) or only on demand (date orders).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
from click.testing import CliRunner

from searchapp import cli, fuzzy
from searchapp.cli import LAZY_COMMANDS, main, search
from searchapp.generation import _orders
from searchapp.models import SearchRequest
from searchapp.search import SearchService
from tests.conftest import REPO, SAMPLE, build_index, write_jsonl

# Modules a `search` process must not import: the web app, Ray and the sharded index, the
# indexer and its worker processes, the other commands and what only they use.
NOT_ON_THE_SEARCH_PATH = (
    "flask",
    "werkzeug",
    "jinja2",
    "waitress",
    "ray",
    "searchapp.web",
    "searchapp.cluster.coordinator",
    "searchapp.cluster.layout",
    "searchapp.indexer",
    "searchapp.indexrun",
    "searchapp.rebuild",
    "searchapp.formats",
    "searchapp.validation",
    "searchapp.tags",
    "searchapp.children",
    "searchapp.manifest",
    "searchapp.cli_index",
    "searchapp.cli_research",
    "searchapp.research",
    "searchapp.researcher",
    "searchapp.browse",
    "searchapp.export",
    "multiprocessing",
    "whoosh.writing",
    "whoosh.multiproc",
    "difflib",
    "importlib.metadata",
)

# Run the `search` console script's entry point as the script does; list the modules at exit.
SEARCH_PROCESS = """
import atexit, json, sys
atexit.register(lambda: print("\\n" + json.dumps(sorted(sys.modules))))
sys.argv = ["search", *json.loads(sys.argv[1])]
from searchapp.cli import search_main
search_main()
"""


def search_process(*args: str) -> tuple[str, set[str]]:
    """Run a whole `search ARGS` process; return its output and the modules it imported."""
    out = subprocess.run(
        [sys.executable, "-c", SEARCH_PROCESS, json.dumps(list(args))],
        capture_output=True, text=True, check=True, cwd=REPO,
    )
    text, _, last = out.stdout.rstrip("\n").rpartition("\n")
    return text, set(json.loads(last))


def heavy(modules: set[str]) -> list[str]:
    return sorted(
        m for m in modules for name in NOT_ON_THE_SEARCH_PATH
        if m == name or m.startswith(name + ".")
    )


@pytest.mark.parametrize("codec", ["whoosh", "columnar"])
def test_a_search_process_imports_only_the_search_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codec: str
) -> None:
    if codec == "columnar":
        monkeypatch.setenv("SEARCHAPP_CODEC", "columnar")
    corpus = write_jsonl(tmp_path / "corpus" / "sample.jsonl", SAMPLE)
    build_index(corpus, tmp_path / "ix")
    # A typo: the search, its snippets, facets and the did-you-mean all run.
    text, modules = search_process("cofee", "--index", str(tmp_path / "ix"), "--no-color")
    assert 'showing results for "coffee"' in text and "2 results" in text, text
    assert "searchapp.spelling" in modules and "searchapp.highlight" in modules
    assert heavy(modules) == []


def test_every_format_keeps_off_the_other_commands(sample_index: Path) -> None:
    for fmt in ("json", "jsonl"):
        _text, modules = search_process("oil", "--index", str(sample_index), "--format", fmt)
        # jsonl/csv export imports export.py, and only that: nothing else of the list.
        assert [m for m in heavy(modules) if m != "searchapp.export"] == [], fmt


def test_the_lazy_commands_are_the_commands_their_modules_define() -> None:
    from searchapp import cli_index, cli_research

    defined = {c.name: c for c in (*cli_research.RESEARCH_COMMANDS, cli_index.index,
                                   cli_index.check)}
    assert set(LAZY_COMMANDS) == set(defined)
    ctx = click.Context(main)
    for name in LAZY_COMMANDS:
        assert main.get_command(ctx, name) is defined[name]
        assert getattr(cli, name) is defined[name]  # `from searchapp.cli import check` works
    with pytest.raises(AttributeError):
        _ = cli.nope
    assert main.get_command(ctx, "nope") is None
    listed = main.list_commands(ctx)
    assert listed == sorted(listed) and {"search", "serve", "index", "trends"} <= set(listed)


def test_help_lists_and_runs_the_lazy_commands(sample_index: Path) -> None:
    result = CliRunner().invoke(main, ["--help"])
    for name in ("index", "check", "trends", "compare", "related", "significant", "search"):
        assert f"  {name} " in result.output, result.output
    result = CliRunner().invoke(main, ["check", "--index", str(sample_index)])
    assert result.exit_code == 0 and "OK" in result.output, result.output
    result = CliRunner().invoke(main, ["nope"])
    assert result.exit_code == 2 and "No such command" in result.output


def test_a_relevance_search_does_not_sort_by_date(service: SearchService) -> None:
    assert service.search(SearchRequest(q="trade")).total == 4
    gen = service.generation()
    assert gen._date_orders is None
    newest = service.search(SearchRequest(q="trade", sort="newest"))
    assert gen._date_orders is not None
    expected = _orders(gen.facets)
    assert np.array_equal(gen.newest, expected[0]) and np.array_equal(gen.oldest, expected[1])
    assert [h.id for h in newest.hits] == ["gold1", "oil1", "coffee2", "undated1"]


def _lexicon_files(index_dir: Path) -> list[Path]:
    return sorted(index_dir.glob("gen-*/lexicon-*-body.hist.npz"))


def test_lexicon_histograms_are_kept_beside_the_segment(service: SearchService) -> None:
    assert service.search(SearchRequest(q="cofee")).corrected_query == "coffee"
    files = _lexicon_files(service.index_dir)
    assert files, "no histogram file written"
    reader = service.generation().searcher().reader()
    fresh = fuzzy.terms_within(reader, "body", "tarde", 2)
    # A new process reads the histograms back and finds the same words.
    fuzzy._LEXICONS.clear()
    fuzzy._EXPANSIONS.clear()
    leaf = reader.leaf_readers()[0][0]
    saved = fuzzy.segment_lexicon(leaf, "body")
    with np.load(files[0]) as data:
        assert np.array_equal(saved.hist, data["hist"])
    rebuilt = fuzzy.Lexicon.from_words(saved.words)
    assert np.array_equal(saved.hist, rebuilt.hist)
    fuzzy._EXPANSIONS.clear()
    assert fuzzy.terms_within(reader, "body", "tarde", 2) == fresh and "trade" in fresh


def test_histograms_of_other_words_or_damaged_are_not_used(service: SearchService) -> None:
    service.search(SearchRequest(q="cofee"))
    path = _lexicon_files(service.index_dir)[0]
    reader = service.generation().searcher().reader()
    leaf = reader.leaf_readers()[0][0]
    good = fuzzy.segment_lexicon(leaf, "body")
    # Same shape, other words' counts (every letter zero): rejected by the CRC of the words.
    with np.load(path) as data:
        crc = data["crc"]
    with path.open("wb") as fh:
        np.savez(fh, crc=crc + 1, hist=np.zeros_like(good.hist))
    fuzzy._LEXICONS.clear()
    assert np.array_equal(fuzzy.segment_lexicon(leaf, "body").hist, good.hist)
    with np.load(path) as data:  # and written again, right
        assert np.array_equal(data["hist"], good.hist) and data["crc"][0] == crc[0]
    path.write_bytes(path.read_bytes()[:50])  # truncated
    fuzzy._LEXICONS.clear()
    fuzzy._EXPANSIONS.clear()
    assert np.array_equal(fuzzy.segment_lexicon(leaf, "body").hist, good.hist)
    assert "coffe" in fuzzy.terms_within(reader, "body", "cofee", 1)  # the stem


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from searchapp.cli import search_main; search_main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO
    )


def test_the_search_script_ends_with_all_its_output_and_its_exit_code(sample_index: Path) -> None:
    # The process ends without Python's teardown (cli._end_process): nothing may be lost.
    for args in (("trade", "--no-color"), ("", "--format", "json"), ("oil", "--format", "csv")):
        out = run_script(*args, "--index", str(sample_index))
        expected = CliRunner().invoke(search, [*args, "--index", str(sample_index)])
        assert out.returncode == 0 and expected.exit_code == 0, out.stderr
        # took_ms differs between two runs: compare the rest.
        assert re.sub(r"\(\d+\.\d ms\)|\"took_ms\": [\d.]+", "", out.stdout) == re.sub(
            r"\(\d+\.\d ms\)|\"took_ms\": [\d.]+", "", expected.output
        )
        assert len(out.stdout) > 200
    bad = run_script("oil", "--from", "tomorrowish", "--index", str(sample_index))
    assert bad.returncode == 2 and "Error:" in bad.stderr and "--from" in bad.stderr
    missing = run_script("oil", "--index", str(sample_index.parent / "nope"))
    assert missing.returncode == 1 and "no index in" in missing.stderr
    usage = run_script("--limit", "0")
    assert usage.returncode == 2 and "--limit" in usage.stderr


@pytest.mark.parametrize(
    "words",
    [[], [""], ["", ""], ["kremlin", "", "défi", "北京", "z"], ["x\ny", "z"], ["\n"], ["a", "b\n"]],
)
def test_lexicon_lengths_and_code_points_without_a_call_per_word(words: list[str]) -> None:
    lengths, codes = fuzzy._lengths_and_codes(words)
    assert lengths.dtype == np.int64 and codes.dtype == np.uint32
    assert lengths.tolist() == [len(w) for w in words]
    assert codes.tolist() == [ord(c) for c in "".join(words)]


THREADS_AT_EXIT = """
import atexit, json, os, sys
atexit.register(lambda: print("\\n" + json.dumps(
    [len(os.listdir("/proc/self/task")), os.environ.get("OPENBLAS_NUM_THREADS")])))
from searchapp.cli import search_main
search_main()
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_a_search_process_starts_no_blas_thread_pool(
    sample_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def threads_and_setting(**env: str) -> list[Any]:
        for name in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        out = subprocess.run(
            [sys.executable, "-c", THREADS_AT_EXIT, "cofee", "--index", str(sample_index)],
            capture_output=True, text=True, check=True, cwd=REPO,
        )
        assert "coffee" in out.stdout
        result: list[Any] = json.loads(out.stdout.rstrip("\n").rpartition("\n")[2])
        return result

    assert threads_and_setting() == [1, "1"]  # numpy loaded with no BLAS worker thread
    # A user's own setting is left alone (here: numpy starts its pool of 2).
    threads, setting = threads_and_setting(OMP_NUM_THREADS="2")
    assert setting is None and threads >= 2


@pytest.mark.parametrize("keep", [0, 40, 1000])
def test_a_damaged_facet_cache_is_rebuilt_not_an_error(sample_index: Path, keep: int) -> None:
    from searchapp import facets

    assert SearchService(sample_index).search(SearchRequest(q="oil")).total == 1
    path = next(sample_index.glob("gen-*/facets-*.npz"))
    good = path.read_bytes()
    path.write_bytes(good[:keep])  # truncated (before: BadZipFile out of every search)
    facets._SEGMENT_CACHE.clear()
    page = SearchService(sample_index).search(SearchRequest(q="oil"))
    assert page.total == 1 and page.facets["section"][0].value == "Energy"
    with np.load(path) as data:  # and written again
        assert int(data["n"][0]) == len(SAMPLE)
