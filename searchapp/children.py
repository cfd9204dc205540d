"""Child processes that never outlive the indexer, and a parent that notices a dead child.

The indexer forks two kinds of children: the reader pool (formats.read_paths) and Whoosh's
writer processes (whoosh.multiproc). Killed alone (OOM killer, a container runtime, an
operator's `kill -9 PID`), a parent used to leave them running with parent 1, asleep on their
queue and holding the inherited writer lock, so every later run said "index busy" for ever.

Every child now runs guard_child() first:
- PR_SET_PDEATHSIG makes the kernel SIGKILL it the moment its parent dies (Linux);
- a watchdog thread polls os.getppid() as a belt (another OS, or a prctl that failed);
- it closes its copy of the writer lock's descriptor, so the lock belongs to the parent
  alone and is released by the parent's death even before the children are gone.

The other way round, a child killed alone used to leave the parent waiting for ever on a
queue the dead child held the lock of; the parent now checks its children while it waits
and stops the run with a clear error (the live index is untouched, see indexer.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from whoosh.multiproc import MpWriter, SubWriterTask
from whoosh.util import random_name
from whoosh.writing import SegmentWriter

from searchapp.errors import SearchAppError

T = TypeVar("T")
R = TypeVar("R")

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# How often a child checks that its parent lives, and a parent that its children do.
WATCH_INTERVAL = 0.2
# Children are forked: guard_child() knows its parent by pid, and the children of Whoosh's
# writer inherit its open index rather than pickling it (3.14 makes forkserver the default).
FORK = multiprocessing.get_context("fork")
# Descriptors only the process that opened them may keep (the writer lock): children close them.
_PARENT_ONLY_FDS: set[int] = set()


class ChildDiedError(SearchAppError):
    """A reader or writer child process died (killed) in the middle of a run."""


def parent_only(fd: int) -> None:
    """Mark a descriptor that forked children must close at once (the writer lock)."""
    _PARENT_ONLY_FDS.add(fd)


def forget(fd: int) -> None:
    """Unmark a descriptor that is about to be closed."""
    _PARENT_ONLY_FDS.discard(fd)


def _set_pdeathsig() -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies; False if not possible."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0)
    except (OSError, AttributeError):  # not Linux, or no prctl symbol
        return False


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(WATCH_INTERVAL)
        if os.getppid() != parent_pid:
            os._exit(1)  # no clean-up: the parent's next run removes what we wrote


def guard_child(parent_pid: int) -> None:
    """Run first in every child: die with the parent, and let go of its writer lock.

    PR_SET_PDEATHSIG fires when the thread that forked us ends, not the whole process; the
    indexer forks from the thread that runs it and joins its children before returning.
    """
    _set_pdeathsig()
    # The parent may have died between fork() and prctl(): nothing would signal us then.
    if os.getppid() != parent_pid:
        os._exit(1)
    for fd in list(_PARENT_ONLY_FDS):
        with contextlib.suppress(OSError):
            os.close(fd)
    _PARENT_ONLY_FDS.clear()
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _death(pid: int | None, exitcode: int | None) -> str:
    """Say how a child ended, for an error message."""
    if exitcode is None:
        return "process died (killed?)"
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        hint = " (the out-of-memory killer?)" if exitcode == -signal.SIGKILL else ""
        return f"process {pid} was killed by {name}{hint}"
    return f"process {pid} exited with status {exitcode}"


def _died(kind: str, pid: int | None, exitcode: int | None) -> ChildDiedError:
    return ChildDiedError(
        f"a {kind} {_death(pid, exitcode)}; the live index is unchanged: run the same "
        "command again (with --workers 1 if memory is short)"
    )


# -- the reader pool --------------------------------------------------------------------------


def pool_map(func: Callable[[T], R], items: Sequence[T], procs: int) -> list[R]:
    """map() over worker processes that die with us, failing (not hanging) if one dies.

    multiprocessing.Pool replaces a killed worker but loses its task (map() then waits for
    ever), and its terminate() blocks on the queue lock a worker killed while waiting still
    holds. ProcessPoolExecutor notices a dead worker and gives up cleanly.
    """
    with ProcessPoolExecutor(
        procs, mp_context=FORK, initializer=guard_child, initargs=(os.getpid(),)
    ) as executor:
        try:
            return list(executor.map(func, items))
        except BrokenProcessPool:
            # The executor SIGTERMs the other workers once one is dead: name the first one.
            dead = [
                (p.pid, p.exitcode)
                for p in executor._processes.values()
                if p.exitcode not in (None, 0, -signal.SIGTERM)
            ]
            pid, code = dead[0] if dead else (None, None)
            raise _died("reader", pid, code) from None


# -- Whoosh's writer processes ----------------------------------------------------------------


class _GuardedTask(SubWriterTask):  # type: ignore[misc]
    """Whoosh's writer child, guarded to die with its parent."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.parent_pid = os.getpid()  # runs in the parent, before the fork

    @staticmethod
    def _Popen(process_obj: Any) -> Any:  # always forked, whatever the default start method
        return FORK.Process._Popen(process_obj)  # type: ignore[attr-defined]

    def run(self) -> None:
        guard_child(self.parent_pid)
        super().run()


class GuardedMpWriter(MpWriter):  # type: ignore[misc]
    """Whoosh's multiprocess writer (multisegment), with children that die with the parent.

    It also never blocks without looking at its children: Whoosh's own MpWriter waits on a
    bounded queue and join()s with no timeout, so one child killed while it held the queue's
    read lock hung the run for ever; and its cancel() only flags the parent's copy of each
    task, leaving the children asleep on the queue.
    """

    def __init__(self, ix: Any, procs: int, **kwargs: Any) -> None:
        super().__init__(ix, procs=procs, multisegment=True, **kwargs)

    def _new_task(self) -> SubWriterTask:
        task = _GuardedTask(
            self.storage,
            self.indexname,
            self.jobqueue,
            self.resultqueue,
            self.subargs,
            self.multisegment,
        )
        self.tasks.append(task)
        task.start()
        return task

    def _check_tasks(self) -> None:
        for task in self.tasks:
            if task.exitcode not in (None, 0):
                raise _died("writer", task.pid, task.exitcode)

    def _put(self, item: Any) -> None:
        while True:
            try:
                self.jobqueue.put(item, timeout=WATCH_INTERVAL)
                return
            except queue.Full:
                self._check_tasks()

    def _enqueue(self) -> None:
        # As MpWriter._enqueue, with a put that watches the children.
        filename = f"{random_name()}.doclist"
        docs: list[Any] = self.docbuffer
        with self.temp_storage().create_file(filename).raw_file() as f:
            for item in docs:
                pickle.dump(item, f, 2)
        if len(self.tasks) < self.procs:
            self._new_task()
        self._put((filename, len(docs)))
        self.docbuffer: list[Any] = []

    def _commit(self, mergetype: Any, optimize: Any, merge: Any) -> None:
        # MpWriter._commit's multisegment path, waiting on children with a watch on each.
        if self.docbuffer:
            self._enqueue()
        for _task in self.tasks:
            self._put(None)
        finalsegments = self._merge_segments(mergetype, optimize, merge)
        for task in self.tasks:
            while task.exitcode is None:
                task.join(timeout=WATCH_INTERVAL)
                self._check_tasks()
        self._check_tasks()
        # Every child exited 0, so each one's result is already in the pipe.
        results = [self.resultqueue.get(timeout=30) for _task in self.tasks]
        finalsegments += [segment for _run, _fields, segment in results]
        if self._added:
            finalsegments.append(self._finalize_segment())
        else:
            self._close_segment()
        self._commit_toc(finalsegments)
        self._finish()

    def cancel(self) -> None:
        """Stop the children for real (SIGKILL), then discard this writer's files."""
        try:
            stop_all(self.tasks)
            # Documents still buffered for a dead child would make the exit wait for ever on
            # the queue's feeder thread.
            self.jobqueue.cancel_join_thread()
            self.resultqueue.cancel_join_thread()
        finally:
            SegmentWriter.cancel(self)


def stop_all(processes: Iterable[Any]) -> None:
    """SIGKILL and reap processes started with multiprocessing (those still running)."""
    for proc in processes:
        if proc.exitcode is None:
            with contextlib.suppress(OSError, ValueError):
                proc.kill()
    for proc in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            proc.join(timeout=10)


# -- looking at other processes (Linux /proc) -------------------------------------------------


def process_start(pid: int) -> tuple[int, int] | None:
    """Return (start time in clock ticks since boot, process group) of a live pid, or None.

    The start time tells a process from a later one that reused its pid.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = data[data.rindex(b")") + 2 :].split()
    if fields[0] == b"Z":  # a zombie holds nothing any more
        return None
    return int(fields[19]), int(fields[2])


def holders_of(path: str) -> list[int]:
    """Return the pids (other than ours) that have path open, as far as /proc lets us see."""
    try:
        target = os.stat(path)
    except OSError:
        return []
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            fds = os.listdir(f"/proc/{name}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(f"/proc/{name}/fd/{fd}")
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                found.append(int(name))
                break
    return found
