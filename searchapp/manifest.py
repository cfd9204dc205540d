"""The manifest of an index generation, and the plan of an incremental run (pure functions).

The manifest records, per corpus file, its size and mtime when last read and the ids of the
stories it holds, plus every story's content hash and the tag vocabulary. On disk it is
manifest.bin in the generation (encode_manifest: a few blobs, no object per entry;
store.read_manifest / write_manifest); generations of older versions hold manifest.json, the
to_json() form, in the
same form since schema 3: ``{"schema": N, "files": {path: [mtime_ns, size, [ids]]},
"hashes": {id: sha1}, "vocab": {"topics": {tag: n}, "persons": {name: n}}}``, still read.

An incremental run is: changed_files() says which files to read; the indexer reads and
validates them; plan_update() says what to write and delete and returns the next manifest.
Neither touches the disk, so the rules below are tested alone (tests/test_indexer.py).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, NamedTuple, cast


class FileStat(NamedTuple):
    """What a stat() says of a corpus file: enough to tell that it changed.

    (FileStat and FileEntry are immutable NamedTuples rather than frozen dataclasses: a
    frozen dataclass takes ~1.2 us to make, a NamedTuple ~0.2, and an update of a 216k-file
    corpus makes 216k of each before it knows what changed.)
    """

    mtime_ns: int
    size: int


def stat_file(path: str | os.PathLike[str]) -> FileStat | None:
    """Return a file's FileStat, or None when it cannot be stat'ed (gone, no permission)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return FileStat(st.st_mtime_ns, st.st_size)


class FileEntry(NamedTuple):
    """One corpus file in the manifest: its stat when last read, and its stories' ids."""

    mtime_ns: int = 0
    size: int = 0
    ids: tuple[str, ...] = ()

    def matches(self, stat: FileStat | None) -> bool:
        """True when the file looks unchanged since it was read (same size and mtime)."""
        return stat is not None and stat.mtime_ns == self.mtime_ns and stat.size == self.size


@dataclass
class Manifest:
    """A generation's record of what it indexed from which file."""

    schema: int = 0
    files: dict[str, FileEntry] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    vocab: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        """Read the on-disk form (an empty or foreign dict gives an empty manifest)."""
        files = {}
        for name, entry in dict(data.get("files") or {}).items():
            mtime, size, ids = entry[:3]
            files[name] = FileEntry(int(mtime), int(size), tuple(ids))
        return cls(
            schema=int(data.get("schema") or 0),
            files=files,
            hashes=dict(data.get("hashes") or {}),
            vocab={k: dict(v) for k, v in dict(data.get("vocab") or {}).items()},
        )

    def to_json(self) -> dict[str, Any]:
        """Return the on-disk form (the one older versions read too).

        A FileEntry is a tuple, which JSON writes as the array [mtime_ns, size, [ids]].
        """
        return {
            "schema": self.schema,
            "files": self.files,
            "hashes": self.hashes,
            "vocab": self.vocab,
        }


# The binary form (store.write_manifest): a JSON header naming the blobs that follow, each
# with its length and CRC-32. Strings are NUL-joined (paths and ids hold no NUL: validation.py),
# numbers are little-endian int64 arrays. Reading 216k files' entries takes ~0.3 s where the
# JSON form took ~1.2 s (its parse, then one object per entry), writing ~0.2 s against ~0.7.
BINARY_MAGIC = b"SAMANI\x00\x01"


class ManifestError(ValueError):
    """A binary manifest that does not decode (damaged, or another program's file)."""


def encode_manifest(manifest: Manifest) -> bytes:
    """Return the binary form of a manifest."""
    import numpy as np  # here: an update of a few files (manifest_view.py) does without it

    files = manifest.files
    entries = files.values()
    blobs = {
        "names": "\0".join(files).encode("utf-8"),
        "mtime": np.fromiter((e.mtime_ns for e in entries), np.int64, len(files)).tobytes(),
        "size": np.fromiter((e.size for e in entries), np.int64, len(files)).tobytes(),
        "counts": np.fromiter(map(len, (e.ids for e in entries)), np.int64, len(files)).tobytes(),
        "ids": "\0".join(i for e in entries for i in e.ids).encode("utf-8"),
        "hash_ids": "\0".join(manifest.hashes).encode("utf-8"),
        "hashes": "\0".join(manifest.hashes.values()).encode("utf-8"),
    }
    header = {
        "schema": manifest.schema,
        "vocab": manifest.vocab,
        "counts": [len(files), len(manifest.hashes)],
        "blobs": [[name, len(blob), zlib.crc32(blob)] for name, blob in blobs.items()],
    }
    head = json.dumps(header, ensure_ascii=False).encode("utf-8")
    return b"".join([BINARY_MAGIC, struct.pack("<I", len(head)), head, *blobs.values()])


def read_blobs(data: bytes) -> tuple[bytes, dict[str, Any], dict[str, bytes]]:
    """Return the binary form's header (its bytes and its JSON) and its blobs by name, each
    blob's length and CRC checked; raise ManifestError if they do not hold together."""
    if data[: len(BINARY_MAGIC)] != BINARY_MAGIC:
        raise ManifestError("not a searchapp manifest")
    start = len(BINARY_MAGIC) + 4
    try:
        (hlen,) = struct.unpack("<I", data[len(BINARY_MAGIC) : start])
        head = data[start : start + hlen]
        header = json.loads(head.decode("utf-8"))
        blobs: dict[str, bytes] = {}
        at = start + hlen
        for name, length, crc in header["blobs"]:
            blob = data[at : at + length]
            if len(blob) != length or zlib.crc32(blob) != crc:
                raise ManifestError(f"the manifest's {name} fail their checksum")
            blobs[name] = blob
            at += length
    except (KeyError, TypeError, ValueError, struct.error) as exc:
        if isinstance(exc, ManifestError):
            raise
        raise ManifestError(f"the manifest does not decode ({exc})") from None
    return head, header, blobs


def decode_manifest(data: bytes) -> Manifest:
    """Read the binary form; raise ManifestError if it does not hold together."""
    import numpy as np

    _head, header, blobs = read_blobs(data)
    try:
        n_files, n_hashes = header["counts"]
        names = _split(blobs["names"], n_files)
        mtimes = np.frombuffer(blobs["mtime"], np.int64).tolist()
        sizes = np.frombuffer(blobs["size"], np.int64).tolist()
        counts = np.frombuffer(blobs["counts"], np.int64)
        all_ids = _split(blobs["ids"], int(counts.sum()))
        ids: Iterable[tuple[str, ...]]
        if len(counts) and (counts == 1).all():
            ids = zip(all_ids)  # one story a file (TASS): 1-tuples, made in C
        else:
            ends = np.cumsum(counts).tolist()
            starts = [0, *ends[:-1]] if ends else []
            ids = [tuple(all_ids[a:b]) for a, b in zip(starts, ends, strict=True)]
        hash_ids = _split(blobs["hash_ids"], n_hashes)
        hashes = _split(blobs["hashes"], n_hashes)
        if not len(names) == len(mtimes) == len(sizes) == len(counts):
            raise ManifestError("the manifest's file table does not add up")
        # tuple.__new__ straight from C: FileEntry's own __new__ is Python (~0.2 s at 216k).
        entries = map(tuple.__new__, repeat(FileEntry), zip(mtimes, sizes, ids, strict=True))
        return Manifest(
            schema=int(header["schema"]),
            files=dict(zip(names, cast(Iterable[FileEntry], entries), strict=True)),
            hashes=dict(zip(hash_ids, hashes, strict=True)),
            vocab={k: dict(v) for k, v in dict(header["vocab"]).items()},
        )
    except (KeyError, TypeError, ValueError, struct.error) as exc:
        if isinstance(exc, ManifestError):
            raise
        raise ManifestError(f"the manifest does not decode ({exc})") from None


def _split(blob: bytes, count: int) -> list[str]:
    """NUL-joined strings back into a list of count strings."""
    if count == 0:
        return []
    parts = blob.decode("utf-8").split("\0")
    if len(parts) != count:
        raise ManifestError(f"the manifest holds {len(parts)} strings where it says {count}")
    return parts


class Scanned(NamedTuple):
    """One corpus file as this run found it.

    ``stories`` holds (id, content hash) of each story read and validated from it this run,
    in file order, or None when the file was not read (it looked unchanged). ``failed``: the
    file could not be read at all; ``troubled``: some of its stories were skipped.
    """

    stat: FileStat | None
    stories: tuple[tuple[str, str], ...] | None = None
    failed: bool = False
    troubled: bool = False


@dataclass
class Plan:
    """What an incremental run must do, and the manifest it leaves."""

    manifest: Manifest
    write: list[str] = field(default_factory=list)  # ids to (re)write: new, changed or moved
    delete: list[str] = field(default_factory=list)  # ids no file holds any more
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)


def stat_files(names: Iterable[str]) -> dict[str, FileStat | None]:
    """stat_file() of every name (one tight loop: 216k files are a second of Python)."""
    out: dict[str, FileStat | None] = {}
    stat, make = os.stat, FileStat
    for name in names:
        try:
            st = stat(name)
        except OSError:
            out[name] = None
            continue
        out[name] = make(st.st_mtime_ns, st.st_size)
    return out


def changed_files(manifest: Manifest, stats: Mapping[str, FileStat | None]) -> list[str]:
    """Return the files to read: new ones, and those whose size or mtime changed."""
    get = manifest.files.get
    return [
        name
        for name, stat in stats.items()
        if (entry := get(name)) is None
        or stat is None
        or stat.mtime_ns != entry.mtime_ns
        or stat.size != entry.size
    ]


def plan_update(manifest: Manifest, files: Mapping[str, Scanned]) -> Plan:
    """Compare the corpus as scanned (every file, read or not) with the manifest.

    Rules: a file missing from ``files`` is gone, and its stories are deleted; a story whose
    hash changed, or that moved to another file, is written again; an id still held by a file
    that was not read may not be taken by another file (a duplicate, skipped); a file that
    failed keeps its entry as it was; a troubled file deletes none of its old stories and is
    recorded with no stat, so that the next run reads it again.
    """
    old = manifest.files
    # Work in proportion to the files read, not the corpus: an update of one file in a
    # 216k-file corpus must not loop over 216k entries more often than it has to.
    gone = [name for name in old if name not in files]
    out_files = dict(old)
    for name in gone:
        del out_files[name]
    out = Manifest(
        schema=manifest.schema,
        files=out_files,
        hashes=dict(manifest.hashes),
        vocab=manifest.vocab,
    )
    plan = Plan(out)
    held: dict[str, str] | None = None

    def held_by(story_id: str, reader: str, previous: frozenset[str]) -> str | None:
        """The file that held story_id before (None: no file did)."""
        nonlocal held
        if story_id in previous:
            return reader
        if held is None:  # only a new or moved story needs the whole map
            held = {i: name for name, entry in old.items() for i in entry.ids}
        return held.get(story_id)

    def owner(holder: str | None) -> bool:
        """True when the holder is a file not read this run (its ids stay its own)."""
        scanned = files.get(holder) if holder is not None else None
        return scanned is not None and scanned.stories is None and not scanned.failed

    kept_somewhere: set[str] = set()
    maybe_gone: list[str] = []
    for name, scanned in files.items():
        if scanned.failed or scanned.stories is None:
            continue
        previous = old[name].ids if name in old else ()
        previous_set = frozenset(previous)
        kept: list[str] = []
        for story_id, digest in scanned.stories:
            holder = held_by(story_id, name, previous_set)
            if holder is not None and holder != name and owner(holder):
                plan.duplicates.append((name, f"duplicate id {story_id!r}: {holder} has it"))
                continue
            kept.append(story_id)
            moved = holder is not None and holder != name
            if out.hashes.get(story_id) != digest or moved:
                plan.write.append(story_id)
                if story_id in manifest.hashes:
                    plan.updated += 1
                else:
                    plan.added += 1
                out.hashes[story_id] = digest
            else:
                plan.unchanged += 1
        kept_somewhere.update(kept)
        if scanned.troubled:
            kept_somewhere.update(previous)
            out.files[name] = FileEntry(0, 0, tuple(sorted(set(previous) | set(kept))))
            continue
        maybe_gone.extend(previous)
        stat = scanned.stat or FileStat(0, 0)
        out.files[name] = FileEntry(stat.mtime_ns, stat.size, tuple(kept))
    for name in gone:
        maybe_gone.extend(old[name].ids)
    plan.delete = list(dict.fromkeys(i for i in maybe_gone if i not in kept_somewhere))
    for story_id in plan.delete:
        out.hashes.pop(story_id, None)
    return plan
