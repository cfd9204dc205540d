"""The command line: index, search in every format, errors as exit codes with a sentence."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from searchapp.cli import main, search
from searchapp.models import EXPORT_FIELDS
from tests.conftest import REFERENCE, SAMPLE, copy_reference


def run(*args: str) -> object:
    return CliRunner().invoke(search, list(args))


def test_index_summary_and_skipped_file(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    copy_reference(corpus)
    (corpus / "bad.txt").write_bytes(b"")
    result = CliRunner().invoke(
        main, ["index", "--corpus", str(corpus), "--index", str(tmp_path / "ix")]
    )
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output and "1 skipped" in result.output
    assert "bad.txt" in result.output


def test_missing_corpus_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["index", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "ix")]
    )
    assert result.exit_code == 1
    assert "nope" in result.output and "Traceback" not in result.output


def test_search_sochi_json(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    copy_reference(corpus)
    CliRunner().invoke(main, ["index", "--corpus", str(corpus), "--index", str(tmp_path / "ix")])
    result = CliRunner().invoke(
        search, ["Sochi", "--index", str(tmp_path / "ix"), "--format", "json"]
    )
    data = json.loads(result.output)
    hit = data["hits"][0]
    assert hit["id"] == REFERENCE
    assert hit["date"] == "2017-11-21T05:07:00+00:00"
    assert hit["section"] == "Russian Politics & Diplomacy"
    assert hit["topics"] == ["Foreign policy", "Syrian conflict"]
    assert hit["persons"] == ["Bashar Assad", "Vladimir Putin"]
    assert hit["place"] == "Sochi"
    assert "<mark>Sochi</mark>" in hit["snippet"]
    assert data["facets"]["section"] == [{"value": "Russian Politics & Diplomacy", "count": 1}]


def test_text_output_is_plain_when_piped(sample_index: Path) -> None:
    result = run("coffee", "--index", str(sample_index))
    assert result.exit_code == 0
    assert "2 results" in result.output and "\x1b[" not in result.output
    assert "Coffee prices rise in Brazil" in result.output


def test_jsonl_and_csv_export_every_match_with_all_fields(sample_index: Path) -> None:
    result = run("trade", "--index", str(sample_index), "--format", "jsonl", "--limit", "1")
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == 4
    assert set(rows[0]) == {
        "id",
        "title",
        "lead",
        "body",
        "date",
        "section",
        "topics",
        "persons",
        "place",
        "photo_credit",
    }
    result = run("", "--index", str(sample_index), "--format", "csv")
    table = list(csv.DictReader(io.StringIO(result.output)))
    assert len(table) == len(SAMPLE)
    assert table[0]["persons"] == "Paul Volcker; James Baker"


def test_filters_and_sort_flags(sample_index: Path) -> None:
    result = run(
        "",
        "--index",
        str(sample_index),
        "--format",
        "json",
        "--section",
        "Energy",
        "--section",
        "Metals",
        "--from",
        "1987-04",
        "--to",
        "1987-04-01",
    )
    data = json.loads(result.output)
    assert data["total"] == 1 and data["hits"][0]["id"] == "oil1"


def test_bad_query_exit_2_with_a_sentence(sample_index: Path) -> None:
    result = run("foo:bar", "--index", str(sample_index), "--strict")
    assert result.exit_code == 2
    assert 'unknown field "foo:"' in result.output and "Traceback" not in result.output
    result = run("coffee", "--index", str(sample_index), "--page", "7")
    assert result.exit_code == 2 and "past the last page" in result.output


def test_no_index_says_how_to_build_one(tmp_path: Path) -> None:
    result = run("x", "--index", str(tmp_path / "none"))
    assert result.exit_code == 1
    assert "searchapp index" in result.output


def test_suggest_and_stats(sample_index: Path) -> None:
    result = CliRunner().invoke(main, ["suggest", "bak", "--index", str(sample_index)])
    assert "James Baker\tperson\t2" in result.output
    result = CliRunner().invoke(main, ["stats", "--index", str(sample_index), "--format", "json"])
    data = json.loads(result.output)
    assert data["stories"] == 5 and data["undated"] == 1


def test_search_process_does_not_import_flask(sample_index: Path) -> None:
    code = (
        "import sys; from searchapp.cli import search; from searchapp.search import SearchService;"
        "print('flask' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_env_index_default(sample_index: Path) -> None:
    result = CliRunner().invoke(
        search, ["gold", "--format", "json"], env={"SEARCHAPP_INDEX": str(sample_index)}
    )
    assert json.loads(result.output)["total"] == 1


def test_facet_options_match_values_as_typed_and_a_miss_exits_2(sample_index: Path) -> None:
    result = run("oil", "--index", str(sample_index), "--section", "energy", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [h["id"] for h in json.loads(result.output)["hits"]] == ["oil1"]
    result = run("", "--index", str(sample_index), "--place", "london", "--topic", "GOLD")
    assert result.exit_code == 0 and "1 result" in result.output
    result = run("oil", "--index", str(sample_index), "--section", "Enrgy")
    assert result.exit_code == 2
    assert "no section 'Enrgy': did you mean 'Energy'?" in result.output
    assert "Traceback" not in result.output
    result = run("", "--index", str(sample_index), "--format", "csv", "--person", "nobody here")
    assert result.exit_code == 2 and "no person 'nobody here'" in result.output


def test_an_empty_archive_searches_with_exit_0(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    index = str(tmp_path / "ix")
    empty = str(tmp_path / "empty")
    done = CliRunner().invoke(main, ["index", "--corpus", empty, "--index", index])
    assert done.exit_code == 0, done.output
    result = run("x", "--index", index)
    assert result.exit_code == 0, result.output
    assert "0 results" in result.output and "Traceback" not in result.output
    result = run("x", "--index", index, "--format", "json")
    data = json.loads(result.output)
    assert data["total"] == 0 and all(v == [] for v in data["facets"].values())
    result = run("", "--index", index, "--format", "csv")
    assert result.exit_code == 0 and result.output.strip() == ",".join(EXPORT_FIELDS)
    result = CliRunner().invoke(main, ["stats", "--index", index, "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.output)["stories"] == 0


def test_index_and_corpus_come_from_the_environment(tmp_path: Path, sample_corpus: Path) -> None:
    env = {"SEARCHAPP_CORPUS": str(sample_corpus), "SEARCHAPP_INDEX": str(tmp_path / "envix")}
    done = CliRunner().invoke(main, ["index", "-q"], env=env)
    assert done.exit_code == 0 and "5 added" in done.output
    assert "Colombia" in CliRunner().invoke(search, ["colombia"], env=env).output


def test_version_is_the_package_version() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and version("searchapp") in result.output
    import searchapp

    assert searchapp.__version__ == version("searchapp")


# -- issue 13: facets in text, `show ID`; issue 9: "1 result", serve's port and log ----------


def test_text_output_shows_every_facet_within_the_limit(sample_index: Path) -> None:
    result = run("trade", "--index", str(sample_index), "--facet-limit", "1")
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line[:1].isupper()}
    for label in ("Section", "Topics", "People", "Place", "Months"):
        assert label in lines, result.output
    # One value each (the limit), and a mark that more exist where they do.
    assert lines["Topics"].count(" · ") == 0 and lines["Topics"].endswith("…")
    assert "James Baker 2" in lines["People"]
    months = run("trade", "--index", str(sample_index), "--facet-limit", "0").output
    assert "1987-03 1 · 1987-04 2" in months


def test_one_result_is_singular_and_ids_are_shown(sample_index: Path) -> None:
    result = run("gold", "--index", str(sample_index))
    assert result.output.startswith("1 result, page 1 of 1")
    assert "id gold1" in result.output


def test_show_prints_one_story_in_full(sample_index: Path) -> None:
    result = CliRunner().invoke(main, ["show", "oil1", "--index", str(sample_index)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Oil prices steady, OPEC meets"
    assert lines[1] == "Energy · London · April 1, 1987, 08:00 UTC"
    assert "id oil1" in lines
    assert "<Donohue Inc> said it would buy crude." in result.output
    assert "Persons: James Baker" in result.output and "Topics: crude" in result.output
    as_json = CliRunner().invoke(
        main, ["show", "oil1", "--index", str(sample_index), "--format", "json"]
    )
    assert json.loads(as_json.output)["body"].startswith("LONDON, April 1.")


def test_show_unknown_id_is_a_sentence(sample_index: Path) -> None:
    result = CliRunner().invoke(main, ["show", "no-such", "--index", str(sample_index)])
    assert result.exit_code == 1
    assert "no-such" in result.output and "Traceback" not in result.output


SERVE = (sys.executable, "-m", "searchapp.cli", "serve")


def _serve(index: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*SERVE, "--index", str(index), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_on_a_port_in_use_is_one_sentence(sample_index: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _serve(sample_index, port)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert out == ""
    assert err.strip().splitlines() == [
        f"Error: port {port} on 127.0.0.1 is already in use by another program: "
        f"stop it, or pick another port with --port {port + 1}"
    ]


def test_serve_start_line_and_request_log(sample_index: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = _serve(sample_index, port)
    try:
        assert proc.stderr is not None
        start = proc.stderr.readline()
        assert start.startswith(f"serving {sample_index}/ (5 stories) on http://127.0.0.1:{port}/")
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/?q=gold&x=%22", timeout=30).read()
        log_line = proc.stderr.readline().rstrip("\n")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    # Common Log Format: host ident user [time] "request" status bytes
    pattern = (
        r'127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
        r'"GET /\?q=gold&x=%22 HTTP/1\.1" 200 (\d+)'
    )
    m = re.fullmatch(pattern, log_line)
    assert m, log_line
    assert int(m.group(1)) == len(body)


def test_serve_quiet_logs_no_requests(sample_index: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = _serve(sample_index, port, "--quiet")
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("serving ")
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=gold", timeout=30).read()
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert "GET /api/search" not in err
