"""The index's writer lock: one indexer at a time, and the leftovers of a killed one stopped.

An flock on index/.lock (store.LOCK). The holder writes its pid, start time and process group
into the file, so a later indexer can tell a live holder from the children of an indexer that
was killed alone and still hold the descriptor (_reap_orphans). Apart from store.py to keep
each under ~400 lines; children.py is imported where used (not on a search's path).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from searchapp.errors import IndexBusyError
from searchapp.store import LOCK


def _holder(fd: int) -> tuple[int, int, int] | None:
    """Return the (pid, start time, process group) the lock holder wrote, if readable."""
    try:
        parts = os.pread(fd, 100, 0).split()
        pid, start, group = (int(x) for x in parts[:3])
    except (OSError, ValueError):
        return None
    return pid, start, group


def _reap_orphans(path: Path, fd: int) -> bool:
    """Stop the leftovers of a dead indexer that still hold its lock; True if there were any.

    Children fork with the lock's descriptor. Ours close it at once and die with their
    parent (children.py), but a child of an older version, or one that could not be stopped,
    keeps the lock of an indexer that is gone. They share its process group and started after
    it; a waiting indexer never keeps the file open (it closes it between tries).
    """
    from searchapp import children

    holder = _holder(fd)
    if holder is None:
        return False
    pid, start, group = holder
    alive = children.process_start(pid)
    if alive is not None and alive[0] == start:
        return False  # the indexer itself is alive: the index is busy
    leftovers = []
    for other in children.holders_of(str(path)):
        info = children.process_start(other)
        if info is not None and info[1] == group and info[0] >= start:
            leftovers.append(other)
    # Twice, 0.1 s apart: anything just opening the file to try the lock is not a leftover,
    # and a record that changed meanwhile was a new holder's, read before it wrote its own.
    time.sleep(0.1)
    if _holder(fd) != holder:
        return False
    leftovers = [p for p in children.holders_of(str(path)) if p in leftovers]
    for other in leftovers:
        with contextlib.suppress(OSError):
            os.kill(other, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(children.process_start(p) for p in leftovers):
        time.sleep(0.05)
    return bool(leftovers)


@contextlib.contextmanager
def writer_lock(index_dir: Path, wait: float = 5.0) -> Iterator[None]:
    """Hold the index's writer lock; raise IndexBusyError if another indexer keeps it.

    The holder writes its pid, start time and process group into the lock file, so that a
    later indexer can tell a live holder from the leftovers of a killed one (_reap_orphans).
    """
    from searchapp import children

    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / LOCK
    deadline = time.monotonic() + wait
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
            reaped = _reap_orphans(path, fd)
            os.close(fd)  # not kept while waiting: see _reap_orphans
            if reaped:
                continue
            if time.monotonic() >= deadline:
                holders = ", ".join(map(str, children.holders_of(str(path)))) or "unknown"
                raise IndexBusyError(
                    f"index busy: another `searchapp index` (process {holders}) is writing "
                    f"{index_dir}; wait for it to finish and run this again"
                ) from None
            time.sleep(0.1)
    children.parent_only(fd)
    try:
        me = children.process_start(os.getpid())
        record = f"{os.getpid()} {me[0] if me else 0} {os.getpgrp()}\n".encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)
        yield
    finally:
        # A record is left behind only by a holder that died: that is how leftovers are known.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        children.forget(fd)
        os.close(fd)  # closing the descriptor releases the flock
