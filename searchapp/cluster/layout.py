"""A sharded index on disk, and its build: N ordinary searchapp indexes plus a manifest.

Layout::

    index/
      cluster.json     {"format": 1, "shards": 3, "hash": "blake2b-64"}
      shard-000/       an ordinary index directory (CURRENT, gen-…, .lock)
      shard-001/
      shard-002/

A story belongs to shard ``blake2b(id) mod N``: the same id always lands in the same shard, so
an update replaces the old version where it lives and a deletion finds it. Each shard is built
by the ordinary Indexer told to keep only its ids, so every shard keeps generations,
incremental updates and kill -9 safety. Shards build in parallel as Ray tasks.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from searchapp import store
from searchapp.cluster import MANIFEST, is_cluster
from searchapp.errors import NoIndexError, SearchAppError
from searchapp.indexer import IndexReport
from searchapp.models import ParseProblem

FORMAT = 1
MAX_SHARDS = 256


def shard_of(article_id: str, shards: int) -> int:
    """Return the shard that holds a story id (stable across runs, machines and Pythons)."""
    digest = hashlib.blake2b(article_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def shard_dir(index_dir: Path, k: int) -> Path:
    """Return shard k's index directory."""
    return index_dir / f"shard-{k:03d}"


def read_layout(index_dir: Path) -> list[Path]:
    """Return the shard directories of a sharded index, checking the manifest and each shard."""
    path = Path(index_dir) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        shards = int(data["shards"])
        if data.get("format") != FORMAT or not 1 <= shards <= MAX_SHARDS:
            raise ValueError("unknown format or shard count")
    except FileNotFoundError:
        raise NoIndexError(
            f"{index_dir} is not a sharded index (no {MANIFEST}): build one with "
            f"`searchapp index --shards N --index {index_dir}`"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NoIndexError(
            f"{path} cannot be read ({exc}): rebuild the sharded index with "
            f"`searchapp index --rebuild --shards N --index {index_dir}`"
        ) from exc
    dirs = [shard_dir(Path(index_dir), k) for k in range(shards)]
    missing = [d.name for d in dirs if store.current_generation(d) is None]
    if missing:
        raise NoIndexError(
            f"{index_dir} is missing shard(s) {', '.join(missing)} of {shards}: rebuild them "
            f"with `searchapp index --index {index_dir}` (or restore them from a backup)"
        )
    return dirs


def _plan(index_dir: Path, shards: int | None) -> int:
    """Return the shard count to build, writing the manifest of a new sharded index."""
    index_dir = Path(index_dir)
    if is_cluster(index_dir):
        count = len(read_layout_loose(index_dir))
        if shards is not None and shards != count:
            raise SearchAppError(
                f"{index_dir} holds {count} shards, not {shards}: another shard count moves "
                f"most stories, so build it in a new folder with `searchapp index --shards "
                f"{shards} --index NEW_FOLDER` and serve that one"
            )
        return count
    if shards is None:
        raise SearchAppError(f"{index_dir} is not a sharded index: give --shards N to make one")
    if not 1 <= shards <= MAX_SHARDS:
        raise SearchAppError(f"--shards {shards} is out of range: use 1 to {MAX_SHARDS}")
    if store.current_generation(index_dir) is not None:
        raise SearchAppError(
            f"{index_dir} holds a one-folder index: build the sharded index in a new folder "
            f"(`searchapp index --shards {shards} --index NEW_FOLDER`)"
        )
    index_dir.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "shards": shards, "hash": "blake2b-64 mod shards"}
    store.write_atomic(index_dir / MANIFEST, json.dumps(manifest).encode("utf-8"))
    return shards


def read_layout_loose(index_dir: Path) -> list[Path]:
    """Return the shard directories the manifest names, built or not (for the indexer)."""
    try:
        shards = int(json.loads((Path(index_dir) / MANIFEST).read_text("utf-8"))["shards"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SearchAppError(
            f"{index_dir / MANIFEST} cannot be read ({exc}): remove the folder and build it "
            "again with `searchapp index --shards N`"
        ) from exc
    return [shard_dir(Path(index_dir), k) for k in range(shards)]


def index_shard(
    corpus: str, index_dir: str, k: int, shards: int, rebuild: bool, workers: int, wait: float
) -> IndexReport:
    """Index shard k: the ordinary Indexer, keeping only the ids that hash to k."""
    from searchapp.indexer import Indexer

    def keep(article_id: str) -> bool:
        return shard_of(article_id, shards) == k

    indexer = Indexer(Path(corpus), Path(index_dir), workers=workers, lock_wait=wait, keep=keep)
    return indexer.run(rebuild=rebuild)


def merge_reports(reports: list[IndexReport]) -> IndexReport:
    """Sum the shards' reports; a file problem every shard met is listed once."""
    total = IndexReport()
    seen: set[tuple[str, str]] = set()
    for r in reports:
        total.added += r.added
        total.updated += r.updated
        total.deleted += r.deleted
        total.unchanged += r.unchanged
        total.total += r.total
        total.titles_made += r.titles_made
        total.files = max(total.files, r.files)  # every shard reads every file
        for p in r.skipped:
            if (p.path, p.reason) not in seen:
                seen.add((p.path, p.reason))
                total.skipped.append(ParseProblem(p.path, p.reason))
    return total


def build(
    corpus: Path, index_dir: Path, *, shards: int | None = None, rebuild: bool = False,
    ray_address: str | None = None, workers: int = 1, wait: float = 5.0,
) -> IndexReport:
    """Build or update a sharded index, one Ray task per shard (in parallel).

    workers=1: a shard's indexer then forks no readers or writers. Forking inside a Ray
    process is Ray's "forking new processes" anti-pattern (the child shares its sockets and
    the locks of its threads); the shards are the parallelism."""
    from searchapp.cluster.raycore import connect, get, remote_function

    count = _plan(Path(index_dir), shards)
    started = time.monotonic()
    connect(ray_address)
    task = remote_function(index_shard)
    refs = [
        task.remote(
            str(Path(corpus).resolve()), str(shard_dir(Path(index_dir), k).resolve()), k, count,
            rebuild, workers, wait,
        )
        for k in range(count)
    ]
    reports: list[Any] = [get(ref, what=f"shard {k}") for k, ref in enumerate(refs)]
    report = merge_reports(reports)
    report.seconds = time.monotonic() - started
    return report
