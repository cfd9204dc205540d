"""Find a corpus's article files and read them: TASS-layout .txt files and .jsonl files."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from searchapp.children import pool_map
from searchapp.errors import ArticleError, CorpusError
from searchapp.formats.jsonl import iter_jsonl
from searchapp.formats.paths import path_suffix, source_name
from searchapp.formats.tass import parse_tass, read_tass_file
from searchapp.models import ParseProblem, RawArticle

__all__ = [
    "ARTICLE_SUFFIXES",
    "discover",
    "iter_jsonl",
    "parse_tass",
    "read_corpus",
    "read_paths",
    "read_tass_file",
    "scan",
]

ARTICLE_SUFFIXES = (".txt", ".jsonl")
# Files per task handed to a worker: large enough that pickling overhead stays small.
CHUNK_FILES = 512


def discover(corpus: Path) -> list[Path]:
    """List a corpus's article files: the .txt or .jsonl file itself, or a folder's, recursively."""
    return [Path(name) for name in _discover(corpus)[0]]


def scan(corpus: Path) -> tuple[list[Path], list[ParseProblem]]:
    """List a corpus's article files, and the entries passed over (e.g. links leaving it)."""
    names, problems = _discover(corpus)
    return [Path(name) for name in names], problems


def scan_names(corpus: Path) -> tuple[list[str], list[ParseProblem]]:
    """Like scan(), as path strings: 200k Path objects cost seconds an incremental run avoids."""
    return _discover(corpus)


def read_corpus(corpus: Path, workers: int = 1) -> tuple[list[RawArticle], list[ParseProblem]]:
    """Read every article of a corpus; a bad file or line becomes a ParseProblem, not an error."""
    paths, problems = _discover(corpus)
    raws, read_problems = read_paths(paths, workers)
    return raws, problems + read_problems


def read_paths(
    paths: Sequence[str | Path], workers: int = 1
) -> tuple[list[RawArticle], list[ParseProblem]]:
    """Read the given article files (in worker processes when there are many)."""
    problems: list[ParseProblem] = []
    if workers > 1 and len(paths) > CHUNK_FILES:
        chunks = [paths[i : i + CHUNK_FILES] for i in range(0, len(paths), CHUNK_FILES)]
        # Workers that die with the indexer, and a dead worker fails the run (children.py).
        results = pool_map(_read_chunk, chunks, min(workers, len(chunks)))
    else:
        results = [_read_chunk(paths)]
    raws: list[RawArticle] = []
    first_seen: dict[str, str] = {}
    for chunk_raws, chunk_problems in results:
        problems.extend(chunk_problems)
        for raw in chunk_raws:
            article = raw.article
            if article.id in first_seen:
                problems.append(
                    ParseProblem(
                        article.source or article.id,
                        f"duplicate id {article.id!r}, already read from "
                        f"{first_seen[article.id]}; this copy is skipped: rename or remove one.",
                    )
                )
                continue
            first_seen[article.id] = article.source or article.id
            raws.append(raw)
    return raws, problems


def _read_chunk(
    paths: Iterable[str | Path],
) -> tuple[list[RawArticle], list[ParseProblem]]:
    """Read some files in order, collecting articles and problems (runs in a worker too)."""
    raws: list[RawArticle] = []
    problems: list[ParseProblem] = []
    for name in paths:
        # Names stay strings (source_name gives pathlib's form): a Path per file and
        # Path.open cost ~0.2 s of the ~1.3 s that reading Reuters' 21,578 files took.
        source = str(name) if isinstance(name, Path) else source_name(name)
        if path_suffix(source).lower() == ".jsonl":
            path = Path(source)
            try:
                for item in iter_jsonl(path):
                    if isinstance(item, ParseProblem):
                        problems.append(item)
                    else:
                        raws.append(item)
            except OSError as exc:
                problems.append(
                    ParseProblem(str(path), f"the file cannot be read ({exc.strerror}); check it.")
                )
            continue
        try:
            raws.append(read_tass_file(source))
        except ArticleError as exc:
            problems.append(ParseProblem(exc.path, exc.reason))
    return raws, problems


def _discover(corpus: Path) -> tuple[list[str], list[ParseProblem]]:
    """List article files, and report symlinks that lead out of the corpus or nowhere."""
    if not corpus.exists():
        raise CorpusError(
            f"{corpus}: the corpus path does not exist; pass a folder of .txt articles "
            "or a .jsonl file."
        )
    if corpus.is_file():
        if corpus.suffix.lower() not in ARTICLE_SUFFIXES:
            raise CorpusError(
                f"{corpus}: a corpus file must be .txt (one article) or .jsonl (one per line); "
                "pass such a file or a folder of them."
            )
        return [str(corpus)], []
    if not corpus.is_dir():
        raise CorpusError(
            f"{corpus}: the corpus path is neither a folder nor a file; pass a folder of .txt "
            "articles or a .jsonl file."
        )
    found: list[str] = []
    problems: list[ParseProblem] = []
    # normpath: names must equal str(Path(name)), the form readers record as a source.
    _walk(os.path.normpath(corpus), corpus.resolve(), found, problems)
    # Sorting strings is several times faster than sorting Paths.
    found.sort()
    problems.sort(key=lambda problem: problem.path)
    return found, problems


def _walk(folder: str, root: Path, found: list[str], problems: list[ParseProblem]) -> None:
    """Collect article files under folder, skipping hidden entries and unsafe symlinks."""
    # scandir's entries know their type without a system call per file, which matters at 100k+.
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                try:
                    points_to_dir = entry.is_dir()
                except OSError:  # a symlink loop: _symlink_problem says so below
                    points_to_dir = False
                if points_to_dir:
                    problems.append(
                        ParseProblem(
                            entry.path,
                            "a symlinked folder is not followed; copy its articles into the "
                            "corpus instead.",
                        )
                    )
                elif entry.name.lower().endswith(ARTICLE_SUFFIXES):
                    problem = _symlink_problem(Path(entry.path), root)
                    if problem:
                        problems.append(problem)
                    else:
                        found.append(entry.path)
            elif entry.is_dir():
                _walk(entry.path, root, found, problems)
            elif entry.name.lower().endswith(ARTICLE_SUFFIXES):
                found.append(entry.path)


def _symlink_problem(path: Path, root: Path) -> ParseProblem | None:
    """Say why a symlinked article is skipped (broken, or pointing out of the corpus), if it is."""
    try:
        target = path.resolve()
    except (OSError, RuntimeError):  # Python 3.11 raises RuntimeError on a symlink loop
        return ParseProblem(str(path), "the symlink cannot be resolved (a loop?); remove it.")
    if not target.exists():
        return ParseProblem(str(path), "the symlink is broken; fix its target or remove it.")
    if not target.is_relative_to(root):
        return ParseProblem(
            str(path),
            f"the symlink points outside the corpus folder (to {target}); copy the file into the "
            "corpus instead.",
        )
    return None
