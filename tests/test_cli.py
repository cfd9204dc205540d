"""The command line: index, search in every format, errors as exit codes with a sentence."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
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
