"""Look up a few files' entries in a generation's manifest without decoding all of it.

An update of the files a feed names (`searchapp index --changed FILE...`) needs the entries of
those files, the hashes of their stories, and which file holds an id: a handful of look-ups.
Decoding manifest.bin's 216k entries takes ~0.35 s and writing them back ~0.3 s, so this path
reads the blobs as bytes and searches them (``bytes.find`` and ``count`` run in C), and writes
what it changed as a small delta (manifest.delta) that every reader applies on top of
manifest.bin (store.read_manifest). The delta names the manifest.bin it applies to (the CRC-32
of its header, which holds every blob's CRC), so a delta left beside a newer manifest.bin by a
killed run is stale and ignored. Past DELTA_LIMIT entries the next run folds it into a new
manifest.bin (store.write_manifest removes the delta).
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from array import array
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from searchapp.manifest import (
    BINARY_MAGIC,
    FileEntry,
    Manifest,
    ManifestError,
    decode_manifest,
    read_blobs,
)

DELTA_FORMAT = "searchapp-manifest-delta"
# Entries (files plus hashes) a delta may hold before it is folded into manifest.bin: the
# delta is JSON read in whole by every run (~1 us an entry), the fold costs ~0.7 s at 216k.
DELTA_LIMIT = 20_000


@dataclass
class Delta:
    """Changes on top of one manifest.bin: None removes a file or a hash."""

    base: int  # CRC-32 of the manifest.bin header it applies to
    files: dict[str, FileEntry | None] = field(default_factory=dict)
    hashes: dict[str, str | None] = field(default_factory=dict)
    vocab: dict[str, dict[str, int]] | None = None
    counts: tuple[int, int] = (0, 0)  # files and stories after applying it

    def size(self) -> int:
        return len(self.files) + len(self.hashes)


def encode_delta(delta: Delta) -> bytes:
    data = {
        "format": DELTA_FORMAT,
        "base": delta.base,
        "counts": list(delta.counts),
        "files": delta.files,  # a FileEntry is a tuple: JSON's [mtime_ns, size, [ids]]
        "hashes": delta.hashes,
        "vocab": delta.vocab,
    }
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return struct.pack("<I", zlib.crc32(body)) + body


def decode_delta(data: bytes) -> Delta:
    """Read a delta; raise ManifestError if it is damaged."""
    try:
        (crc,) = struct.unpack("<I", data[:4])
        body = data[4:]
        if zlib.crc32(body) != crc:
            raise ManifestError("the manifest delta fails its checksum")
        raw = json.loads(body.decode("utf-8"))
        if raw.get("format") != DELTA_FORMAT:
            raise ManifestError("not a searchapp manifest delta")
        files = {
            name: None if e is None else FileEntry(int(e[0]), int(e[1]), tuple(e[2]))
            for name, e in raw["files"].items()
        }
        n_files, n_stories = raw["counts"]
        return Delta(
            base=int(raw["base"]),
            files=files,
            hashes=dict(raw["hashes"]),
            vocab=raw["vocab"],
            counts=(int(n_files), int(n_stories)),
        )
    except (KeyError, TypeError, ValueError, IndexError, struct.error) as exc:
        if isinstance(exc, ManifestError):
            raise
        raise ManifestError(f"the manifest delta does not decode ({exc})") from None


def manifest_crc(data: bytes) -> int:
    """The CRC-32 of a manifest.bin's header (it lists every blob's CRC and length): the
    identity a delta names."""
    start = len(BINARY_MAGIC) + 4
    try:
        (hlen,) = struct.unpack("<I", data[len(BINARY_MAGIC) : start])
    except struct.error:
        return -1
    return zlib.crc32(data[start : start + hlen])


def apply_delta(manifest: Manifest, delta: Delta) -> Manifest:
    """Apply a delta to a decoded manifest, in place; return it."""
    for name, entry in delta.files.items():
        if entry is None:
            manifest.files.pop(name, None)
        else:
            manifest.files[name] = entry
    for story_id, digest in delta.hashes.items():
        if digest is None:
            manifest.hashes.pop(story_id, None)
        else:
            manifest.hashes[story_id] = digest
    if delta.vocab is not None:
        manifest.vocab = delta.vocab
    return manifest


class _Strings:
    """A NUL-joined blob of count strings, searched as bytes."""

    def __init__(self, blob: bytes, count: int) -> None:
        self.blob = blob
        self.count = count
        self._parts: list[bytes] | None = None

    def index(self, value: str) -> int:
        """Position of value among the strings, or -1 (strings hold no NUL: validation.py)."""
        if self.count == 0:
            return -1
        key = value.encode("utf-8")
        blob = self.blob
        if blob.startswith(key + b"\0") or blob == key:
            return 0
        pos = blob.find(b"\0" + key + b"\0")
        if pos < 0:
            if not blob.endswith(b"\0" + key):
                return -1
            pos = len(blob) - len(key) - 1
        return blob.count(b"\0", 0, pos + 1)

    def get(self, i: int) -> str:
        blob = self.blob
        if self._parts is None:
            # Strings of one width (content hashes): string i starts at i * (width + 1),
            # which the count of NULs before it confirms (a C scan, no object per string).
            width = blob.find(b"\0")
            start, end = i * (width + 1), i * (width + 1) + width
            if (
                width > 0
                and blob[end : end + 1] in (b"\0", b"")
                and b"\0" not in blob[start:end]
                and blob.count(b"\0", 0, start) == i
            ):
                return blob[start:end].decode("utf-8")
            self._parts = blob.split(b"\0")  # ~10 ms at 216k strings, once per run
            if len(self._parts) != self.count:
                raise ManifestError(
                    f"the manifest holds {len(self._parts)} strings where it says {self.count}"
                )
        return self._parts[i].decode("utf-8")


def _int64s(blob: bytes) -> array[int]:
    """A little-endian int64 blob as an array (numpy is not imported on this path: ~80 ms)."""
    out = array("q")
    out.frombytes(blob)
    if sys.byteorder == "big":
        out.byteswap()
    return out


class ManifestBin:
    """manifest.bin checked (every blob's CRC) but not decoded: look-ups by name and id."""

    def __init__(self, data: bytes) -> None:
        head, header, blobs = read_blobs(data)
        self.data = data
        try:
            n_files, n_hashes = (int(n) for n in header["counts"])
            self.crc = zlib.crc32(head)
            self.schema = int(header["schema"])
            self.vocab: dict[str, dict[str, int]] = {
                k: dict(v) for k, v in dict(header["vocab"]).items()
            }
            self.n_files, self.n_hashes = n_files, n_hashes
            self.names = _Strings(blobs["names"], n_files)
            self.mtimes = _int64s(blobs["mtime"])
            self.sizes = _int64s(blobs["size"])
            counts = self.counts = _int64s(blobs["counts"])
            self._ends: list[int] | None = None  # file i holds ids ends[i-1] .. ends[i]-1
            self.ids = _Strings(blobs["ids"], sum(counts))
            self.hash_ids = _Strings(blobs["hash_ids"], n_hashes)
            self.hashes = _Strings(blobs["hashes"], n_hashes)
            if not len(self.mtimes) == len(self.sizes) == len(counts) == n_files:
                raise ManifestError("the manifest's file table does not add up")
        except (KeyError, TypeError, ValueError, struct.error) as exc:
            if isinstance(exc, ManifestError):
                raise
            raise ManifestError(f"the manifest does not decode ({exc})") from None

    def first_name(self) -> str | None:
        blob = self.names.blob
        return (
            blob[: blob.find(b"\0")].decode("utf-8")
            if b"\0" in blob
            else (blob.decode("utf-8") if self.n_files else None)
        )

    def entry(self, name: str) -> FileEntry | None:
        i = self.names.index(name)
        if i < 0:
            return None
        first = sum(self.counts[:i])
        ids = tuple(self.ids.get(j) for j in range(first, first + self.counts[i]))
        return FileEntry(self.mtimes[i], self.sizes[i], ids)

    def hash_of(self, story_id: str) -> str | None:
        j = self.hash_ids.index(story_id)
        return None if j < 0 else self.hashes.get(j)

    def holder(self, story_id: str) -> str | None:
        j = self.ids.index(story_id)
        if j < 0:
            return None
        if self._ends is None:
            self._ends = list(accumulate(self.counts))
        return self.names.get(bisect_right(self._ends, j))


class ManifestView:
    """A generation's manifest as manifest.bin plus its delta, for look-ups."""

    def __init__(self, base: ManifestBin, delta: Delta | None) -> None:
        self.base = base
        if delta is None or delta.base != base.crc:
            delta = Delta(base.crc, counts=(base.n_files, base.n_hashes))  # none, or stale
        self.delta = delta
        self.schema = base.schema
        self.vocab = delta.vocab if delta.vocab is not None else base.vocab
        self._held: dict[str, str] | None = None
        self._full: Manifest | None = None

    def decode(self) -> None:
        """Decode the whole manifest for the look-ups: faster than searching the blobs once
        a run names hundreds of files."""
        self._full = self.manifest()
        self._held = {i: name for name, e in self._full.files.items() for i in e.ids}

    @property
    def files(self) -> int:
        return self.delta.counts[0]

    @property
    def stories(self) -> int:
        return self.delta.counts[1]

    def entry(self, name: str) -> FileEntry | None:
        if self._full is not None:
            return self._full.files.get(name)
        if name in self.delta.files:
            return self.delta.files[name]
        return self.base.entry(name)

    def hash_of(self, story_id: str) -> str | None:
        if self._full is not None:
            return self._full.hashes.get(story_id)
        if story_id in self.delta.hashes:
            return self.delta.hashes[story_id]
        return self.base.hash_of(story_id)

    def holder(self, story_id: str) -> str | None:
        """The file whose entry lists story_id (None: no file)."""
        if self._held is None:
            self._held = {
                i: name for name, e in self.delta.files.items() if e is not None for i in e.ids
            }
        if story_id in self._held or self._full is not None:
            return self._held.get(story_id)
        name = self.base.holder(story_id)
        # A file the delta rewrote no longer lists it (or the look-up above had found it).
        return None if name is not None and name in self.delta.files else name

    def manifest(self) -> Manifest:
        """The whole manifest, decoded (for the fold into a new manifest.bin)."""
        full = self._full if self._full is not None else decode_manifest(self.base.data)
        return apply_delta(full, self.delta)


def partial_manifest(
    view: ManifestView, names: list[str], read_ids: Mapping[str, Any]
) -> tuple[Manifest, set[str]]:
    """The part of the manifest an update of names touches, and the other files it names.

    It holds the named files' entries and their stories' hashes, plus, for every id read
    this run that the file did not hold before, the hash and the file that holds it (a move
    or a duplicate): what plan_update() looks at. read_ids: file name -> ids read from it.
    """
    part = Manifest(schema=view.schema, vocab=view.vocab)
    for name in names:
        entry = view.entry(name)
        if entry is not None:
            part.files[name] = entry
    holders: set[str] = set()
    for name, ids in read_ids.items():
        previous = set(part.files[name].ids) if name in part.files else set()
        for story_id in ids:
            if story_id in previous:
                continue
            holder = view.holder(story_id)
            if holder is not None and holder not in part.files:
                entry = view.entry(holder)
                if entry is not None:
                    part.files[holder] = entry
                    holders.add(holder)
    for entry in list(part.files.values()):
        for story_id in entry.ids:
            digest = view.hash_of(story_id)
            if digest is not None:
                part.hashes[story_id] = digest
    for ids in read_ids.values():
        for story_id in ids:
            if story_id not in part.hashes and (digest := view.hash_of(story_id)) is not None:
                part.hashes[story_id] = digest  # a hash without a file (should not happen)
    return part, holders


def next_delta(view: ManifestView, before: Manifest, after: Manifest) -> Delta:
    """The view's delta plus what turned the partial manifest before into after."""
    old = view.delta
    files = dict(old.files)
    hashes = dict(old.hashes)
    n_files, n_stories = old.counts
    for name in before.files.keys() | after.files.keys():
        new = after.files.get(name)
        if new != before.files.get(name):
            files[name] = new
            n_files += (new is not None) - (name in before.files)
    for story_id in before.hashes.keys() | after.hashes.keys():
        digest = after.hashes.get(story_id)
        if digest != before.hashes.get(story_id):
            hashes[story_id] = digest
            n_stories += (digest is not None) - (story_id in before.hashes)
    return Delta(old.base, files, hashes, after.vocab, (n_files, n_stories))
