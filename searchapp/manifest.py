"""The manifest of an index generation, and the plan of an incremental run (pure functions).

The manifest records, per corpus file, its size and mtime when last read and the ids of the
stories it holds, plus every story's content hash and the tag vocabulary. On disk it is
manifest.json in the generation (store.read_manifest / write_manifest), in the same form since
schema 3: ``{"schema": N, "files": {path: [mtime_ns, size, [ids]]}, "hashes": {id: sha1},
"vocab": {"topics": {tag: n}, "persons": {name: n}}}``.

An incremental run is: changed_files() says which files to read; the indexer reads and
validates them; plan_update() says what to write and delete and returns the next manifest.
Neither touches the disk, so the rules below are tested alone (tests/test_indexer.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple


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
        if (entry := get(name)) is None or stat is None or stat != entry[:2]
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
