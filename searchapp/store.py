"""The index directory: generations, the CURRENT pointer, the writer lock, durable writes.

Layout::

    index/
      CURRENT          name of the live generation ("gen-000007"), replaced atomically
      .lock            flock held by the one indexer at work
      gen-000007/      a Whoosh index plus manifest.bin (files, hashes, tag vocabulary) and,
                       after `index --changed`, manifest.delta (changes on top of it)

A rebuild writes a new generation beside the live one and switches CURRENT with an atomic
rename, so searches keep working on the old index until the new one is complete. Whoosh writes
no fsync (docs/whoosh-notes.md): we fsync the files and the directory before switching.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from whoosh import index as whoosh_index

from searchapp.errors import NoIndexError
from searchapp.schema import SCHEMA_VERSION

if TYPE_CHECKING:  # children.py and the manifest modules are imported where used: not on a
    # search's path (tests/test_cold_start.py)
    from searchapp.manifest import Manifest
    from searchapp.manifest_view import Delta, ManifestView

CURRENT = "CURRENT"
LOCK = ".lock"
# The manifest (manifest.py) in its binary form: at 216k files its JSON form took ~1.9 s to
# read and write in every incremental run (the parse, then one object per entry), this ~0.5 s.
# MANIFEST is the JSON form that versions before it wrote; it is still read.
MANIFEST_BIN = "manifest.bin"
MANIFEST = "manifest.json"
# Changes on top of manifest.bin written by `index --changed` (manifest_view.py).
MANIFEST_DELTA = "manifest.delta"
# The schema version a generation was written with, apart from the (large) manifest so that
# opening an index reads a few bytes: an index of an older schema is searched with another
# analyzer (stemmer, tokens) and would answer wrongly without a word, so it is refused.
SCHEMA_FILE = "SCHEMA"
GEN_PREFIX = "gen-"


def build_hint(index_dir: Path) -> str:
    """Return the command that builds an index in index_dir."""
    return f"run `searchapp index --index {index_dir}` to build it"


def current_generation(index_dir: Path) -> Path | None:
    """Return the live generation's directory, or None when there is none."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not name.startswith(GEN_PREFIX) or "/" in name:
        return None
    path = index_dir / name
    return path if path.is_dir() else None


def generation_number(path: Path) -> int:
    """Return N of a gen-N directory (0 for anything else)."""
    try:
        return int(path.name[len(GEN_PREFIX) :])
    except ValueError:
        return 0


def new_generation(index_dir: Path) -> Path:
    """Create and return an empty directory for the next generation."""
    index_dir.mkdir(parents=True, exist_ok=True)
    numbers = [generation_number(p) for p in index_dir.glob(GEN_PREFIX + "*")]
    path = index_dir / f"{GEN_PREFIX}{max(numbers, default=0) + 1:06d}"
    path.mkdir()
    return path


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (new and renamed files) to disk."""
    _fsync(path)


def fsync_tree(path: Path) -> None:
    """Flush every file in a directory, then the directory itself.

    A file with other links is a hard link into an older generation (clone_generation),
    flushed when that generation went live: an update of one story writes ~15 new files in
    a generation of ~40, and each fsync waits for the disk.
    """
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_nlink == 1:
                _fsync(Path(entry.path))
    _fsync(path)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old or the new content, never a torn one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def switch_to(index_dir: Path, gen: Path) -> None:
    """Make gen the live generation (atomic: readers see the old or the new one)."""
    fsync_tree(gen)
    write_atomic(index_dir / CURRENT, gen.name.encode("utf-8") + b"\n")


def previous_generation(index_dir: Path, gen: Path | None) -> Path | None:
    """Return the newest complete-looking generation older than gen (kept for late readers)."""
    if gen is None:
        return None
    older = [
        p
        for p in index_dir.glob(GEN_PREFIX + "*")
        if p.is_dir() and generation_number(p) < generation_number(gen) and has_manifest(p)
    ]
    return max(older, key=generation_number, default=None)


def remove_stale(index_dir: Path, keep: Path | None, previous: Path | None = None) -> list[str]:
    """Delete generations other than keep and previous, and temporaries of killed runs.

    The previous generation is kept one more round: a searcher that opened it just before
    the switch may still be reading its files.
    """
    removed = []
    for child in index_dir.iterdir():
        if child.name.startswith(GEN_PREFIX) and child.is_dir() and child not in (keep, previous):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
        elif child.name.startswith(".") and child.name.endswith(".tmp"):
            child.unlink(missing_ok=True)
            removed.append(child.name)
    return removed


def clone_generation(index_dir: Path, gen: Path) -> Path:
    """Return a new generation whose files are hard links to gen's (copy-on-write)."""
    new = new_generation(index_dir)
    try:
        for child in gen.iterdir():
            if (
                child.is_file()
                and not child.name.endswith(".tmp")
                and child.name != "MAIN_WRITELOCK"
            ):
                try:
                    os.link(child, new / child.name)
                except OSError:
                    shutil.copy2(child, new / child.name)  # a filesystem without hard links
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return new


def open_generation(index_dir: Path) -> tuple[Path, Any]:
    """Open the live generation's Whoosh index, or raise NoIndexError saying how to build it."""
    gen = current_generation(index_dir)
    if gen is None:
        raise NoIndexError(f"no index in {index_dir}: {build_hint(index_dir)}")
    check_schema(index_dir, gen)
    try:
        return gen, whoosh_index.open_dir(str(gen))
    except whoosh_index.EmptyIndexError as exc:
        raise NoIndexError(
            f"the index in {gen} is empty or damaged: rebuild it from the corpus with "
            f"`searchapp index --rebuild --index {index_dir}`"
        ) from exc
    except (OSError, EOFError, ValueError, pickle.UnpicklingError, struct.error, zlib.error) as exc:
        raise NoIndexError(
            f"the index in {gen} cannot be read ({exc}): rebuild it from the corpus with "
            f"`searchapp index --rebuild --index {index_dir}`"
        ) from exc


def has_manifest(gen: Path) -> bool:
    """True when gen holds a manifest (in either form): our indexer finished writing it."""
    return (gen / MANIFEST_BIN).exists() or (gen / MANIFEST).exists()


def read_manifest(gen: Path) -> Manifest:
    """Return a generation's manifest (empty when absent or unreadable: the next run of the
    indexer then rebuilds, its schema being unknown)."""
    from searchapp.manifest import Manifest, ManifestError, decode_manifest
    from searchapp.manifest_view import apply_delta, manifest_crc

    try:
        data = (gen / MANIFEST_BIN).read_bytes()
    except FileNotFoundError:
        try:
            legacy = json.loads((gen / MANIFEST).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return Manifest()
        return Manifest.from_json(legacy) if isinstance(legacy, dict) else Manifest()
    try:
        manifest = decode_manifest(data)
        delta = _read_delta(gen)
    except ManifestError:
        return Manifest()
    if delta is not None and delta.base == manifest_crc(data):
        apply_delta(manifest, delta)
    return manifest


def _read_delta(gen: Path) -> Delta | None:
    from searchapp.manifest_view import decode_delta

    try:
        return decode_delta((gen / MANIFEST_DELTA).read_bytes())
    except FileNotFoundError:
        return None


def read_view(gen: Path) -> ManifestView | None:
    """Return the generation's manifest for look-ups (manifest_view.py), or None when it has
    no readable manifest.bin (an older version's JSON, or damage: the full path decides)."""
    from searchapp.manifest import ManifestError
    from searchapp.manifest_view import ManifestBin, ManifestView

    try:
        return ManifestView(ManifestBin((gen / MANIFEST_BIN).read_bytes()), _read_delta(gen))
    except (FileNotFoundError, ManifestError):
        return None


def write_delta(gen: Path, delta: Delta) -> None:
    """Write the changes on top of the generation's manifest.bin (atomically)."""
    from searchapp.manifest_view import encode_delta

    write_atomic(gen / MANIFEST_DELTA, encode_delta(delta))


def write_manifest(gen: Path, manifest: Manifest) -> None:
    """Write a generation's manifest atomically, and its schema version beside it."""
    from searchapp.manifest import encode_manifest

    write_atomic(gen / MANIFEST_BIN, encode_manifest(manifest))
    # The delta applied to the old manifest.bin: folded in now (were a kill to leave it,
    # it names the old manifest.bin and readers ignore it).
    with contextlib.suppress(FileNotFoundError):
        (gen / MANIFEST_DELTA).unlink()
    # A generation cloned from one an older version wrote holds its JSON manifest: stale now.
    with contextlib.suppress(FileNotFoundError):
        (gen / MANIFEST).unlink()
    write_atomic(gen / SCHEMA_FILE, str(manifest.schema).encode("ascii"))


def check_schema(index_dir: Path, gen: Path) -> None:
    """Refuse a generation written by an older (or newer) schema, saying how to rebuild it."""
    try:
        found = (gen / SCHEMA_FILE).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if not has_manifest(gen):
            return  # not written by our indexer (a bare Whoosh index): nothing to compare
        found = "5 or older"  # versions before 6 wrote no SCHEMA file
    except (OSError, UnicodeDecodeError):
        found = "unreadable"
    if found != str(SCHEMA_VERSION):
        raise NoIndexError(
            f"the index in {index_dir} was built by another version of searchapp (schema "
            f"{found}; this one reads schema {SCHEMA_VERSION}): rebuild it from the corpus with "
            f"`searchapp index --rebuild --index {index_dir}` (plain `searchapp index` rebuilds "
            "it too)"
        )


def check_generation(index_dir: Path) -> tuple[Path | None, list[str]]:
    """Read every part of the live generation; return it and the problems found (none = OK)."""
    gen = current_generation(index_dir)
    if gen is None:
        return None, [f"no index in {index_dir}: {build_hint(index_dir)}"]
    # Imported here: they bring numpy, which an update of a few files does without.
    from searchapp.codec import verify_reader
    from searchapp.postings import leaf_postings, raw_postings

    problems: list[str] = []
    try:
        ix = whoosh_index.open_dir(str(gen))
        with ix.searcher() as searcher:
            reader = searcher.reader()
            stored = sum(1 for _ in reader.all_stored_fields())
            # Decode every posting list too: a corrupt postings file reads fine until a
            # search touches the damaged block.
            for sub, _offset in reader.leaf_readers():
                problems += verify_reader(sub)  # columnar segments: checksums and offsets
                for fieldname in sub.indexed_field_names():
                    for term in sub.lexicon(fieldname):
                        leaf_postings(raw_postings(sub, fieldname, term))
            if stored != searcher.doc_count():
                problems.append(f"{stored} stored stories but {searcher.doc_count()} indexed")
        expected = len(read_manifest(gen).hashes)
        if expected != stored:
            problems.append(f"the manifest lists {expected} stories, the index holds {stored}")
    # A damaged file surfaces as whatever its decoder raises (zlib.error, struct.error,
    # UnpicklingError, EOFError, KeyError...): any of them means "damaged", so catch them all.
    except Exception as exc:
        problems.append(f"cannot read {gen.name}: {type(exc).__name__}: {exc}")
    return gen, problems
