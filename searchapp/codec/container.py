"""The on-disk container of the columnar codec: a JSON header, then named little-endian arrays.

Layout: the 8-byte magic, the header length (uint32 LE), the UTF-8 JSON header, zero padding to
a multiple of 8, then each array 8-byte aligned. The header names every array with its offset,
dtype, element count and CRC-32, plus free-form "meta". Arrays are read with np.frombuffer over
an mmap of the file, so opening a segment costs a header parse, not a read of its postings;
`verify` recomputes every checksum for `searchapp check`.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import tempfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np

MAGIC = b"SACOL\x00\x01\n"
_ALIGN = 8


class DamagedFile(OSError):
    """A segment file whose header, sizes or checksums do not hold.

    An OSError (like EIO: the file's data is bad), so every caller that reports an unreadable
    index as damaged — with the command that rebuilds it — reports this too.
    """


class Spool:
    """An array built in an anonymous temporary file (stored fields and postings at 200k
    stories are hundreds of MB the writer need not hold); write_container copies it in."""

    def __init__(self, folder: str | os.PathLike[str], dtype: Any = np.uint8) -> None:
        self._fh = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 - closed in close()
        self.dtype = np.dtype(dtype).newbyteorder("<")
        self.size = 0  # bytes
        self.crc = 0

    @property
    def count(self) -> int:
        return self.size // self.dtype.itemsize

    def write(self, data: bytes | memoryview) -> None:
        self._fh.write(data)
        self.size += len(data)
        self.crc = zlib.crc32(data, self.crc)

    def write_array(self, arr: np.ndarray) -> None:
        view = memoryview(cast(Any, np.ascontiguousarray(arr, dtype=self.dtype))).cast("B")
        self.write(view)

    def copy_to(self, out: Any) -> None:
        self._fh.flush()
        self._fh.seek(0)
        while chunk := self._fh.read(1 << 22):
            out.write(chunk)

    def close(self) -> None:
        self._fh.close()


def write_container(
    path: Path, arrays: Mapping[str, np.ndarray | Spool], meta: dict[str, Any]
) -> None:
    """Write arrays and meta to path (a new file; the caller fsyncs the generation)."""
    entries: dict[str, list[Any]] = {}
    blobs: list[tuple[int, memoryview | Spool]] = []
    offset = 0
    for name, value in arrays.items():
        if isinstance(value, Spool):
            entries[name] = [offset, value.dtype.str, value.count, value.crc]
            blobs.append((offset, value))
            offset += (value.size + _ALIGN - 1) // _ALIGN * _ALIGN
            continue
        arr = np.ascontiguousarray(value)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        view = memoryview(cast(Any, arr)).cast("B")
        entries[name] = [offset, arr.dtype.str, int(arr.size), zlib.crc32(view)]
        blobs.append((offset, view))
        offset += (len(view) + _ALIGN - 1) // _ALIGN * _ALIGN
    header = json.dumps({"arrays": entries, "meta": meta}, ensure_ascii=False).encode("utf-8")
    start = len(MAGIC) + 4 + len(header)
    start = (start + _ALIGN - 1) // _ALIGN * _ALIGN
    with open(path, "wb") as fh:
        fh.write(MAGIC + struct.pack("<I", len(header)) + header)
        fh.write(b"\0" * (start - fh.tell()))
        for off, blob in blobs:
            pad = start + off - fh.tell()
            if pad:
                fh.write(b"\0" * pad)
            if isinstance(blob, Spool):
                blob.copy_to(fh)
            else:
                fh.write(blob)


class Container:
    """A read-only view of one container file: meta and arrays (memory-mapped)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, data: bytes | None = None):
        self.path = str(path) if path is not None else "<memory>"
        self._mmap: mmap.mmap | None = None
        if data is None:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < len(MAGIC) + 4:
                    raise DamagedFile(f"{self.path} is truncated ({size} bytes)")
                self._mmap = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            self._buf: Any = self._mmap
        else:
            self._buf = data
        buf = self._buf
        if bytes(buf[: len(MAGIC)]) != MAGIC:
            raise DamagedFile(f"{self.path} is not a searchapp columnar segment file")
        (hlen,) = struct.unpack("<I", buf[len(MAGIC) : len(MAGIC) + 4])
        hstart = len(MAGIC) + 4
        try:
            header = json.loads(bytes(buf[hstart : hstart + hlen]).decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DamagedFile(f"{self.path} has an unreadable header: {exc}") from None
        try:
            self.meta: dict[str, Any] = header["meta"]
            self._entries: dict[str, list[Any]] = header["arrays"]
        except (KeyError, TypeError):
            raise DamagedFile(f"{self.path} has a header without its array table") from None
        self._start = (hstart + hlen + _ALIGN - 1) // _ALIGN * _ALIGN
        size = len(buf)
        for name, entry in self._entries.items():
            try:
                off, dtype, count, _crc = entry
                end = self._start + off + np.dtype(dtype).itemsize * count
            except (ValueError, TypeError):
                raise DamagedFile(f"{self.path}: array {name!r} is described wrongly") from None
            if end > size or off < 0 or count < 0:
                raise DamagedFile(f"{self.path}: array {name!r} runs past the end of the file")

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return list(self._entries)

    def array(self, name: str) -> np.ndarray:
        """Return the named array (a read-only view of the file)."""
        if name not in self._entries:
            raise DamagedFile(f"{self.path} lacks its {name!r} array")
        off, dtype, count, _crc = self._entries[name]
        return np.frombuffer(
            self._buf, dtype=np.dtype(dtype), count=count, offset=self._start + off
        )

    def raw(self, name: str) -> memoryview:
        """Return the named array's bytes."""
        return memoryview(cast(Any, self.array(name))).cast("B")

    def verify(self) -> list[str]:
        """Recompute every array's checksum; return the problems (none = intact)."""
        problems = []
        for name, entry in self._entries.items():
            if zlib.crc32(self.raw(name)) != entry[3]:
                where = os.path.basename(self.path)
                problems.append(f"{where}: array {name!r} fails its checksum")
        return problems

    def close(self) -> None:
        # Views handed out keep the map alive; dropping our reference lets it close with them.
        self._mmap = None
        self._buf = None
