"""Forked worker processes for the bulk writer and the streamed rebuild.

ProcessPoolExecutor, not multiprocessing.Pool: a worker killed mid-task breaks the executor
(an error we report, naming the worker and its signal) where Pool would wait for the lost task
forever. Workers run children.guard_child, so they die with this process.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType
from typing import Any

from searchapp import children

# A job that is not a module-level function (a closure) reaches the workers by inheritance:
# map_forked() sets it before the pool forks.
_JOB: Callable[[Any], Any] | None = None


def _work(call: tuple[Callable[[Any], Any], Any]) -> Any:
    job, task = call
    return job(task)


def _inherited(task: Any) -> Any:
    assert _JOB is not None
    return _JOB(task)


class ForkedPool:
    """`workers` processes forked NOW, while this process is small, and reused by map().

    A forked worker starts with its parent's pages: the later the fork, the more each worker
    holds (and the more the process tree's resident memory counts). Jobs given to map() must
    be module-level functions (they are pickled by name); state they need and that exists
    before the fork can sit in module globals, anything later must travel in the tasks.
    """

    def __init__(self, workers: int) -> None:
        self._pool = ProcessPoolExecutor(
            workers,
            mp_context=children.FORK,
            initializer=children.guard_child,
            initargs=(os.getpid(),),
        )
        # With fork, the first submit starts every worker; keep them, to say how one died
        # (the pool forgets its workers when it breaks).
        self._pool.submit(int).result()
        self._procs = list((self._pool._processes or {}).values())

    def __enter__(self) -> ForkedPool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # On an error of the caller's, drop the tasks not started rather than run them.
        self._pool.shutdown(wait=True, cancel_futures=exc is not None)

    def close(self) -> None:
        """Let the workers finish and exit (their memory is freed before the caller goes on)."""
        self._pool.shutdown(wait=True)

    def map(self, job: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[Any]:
        """Yield job(task) for every task, in order; a dead worker raises ChildDiedError."""
        try:
            yield from self._pool.map(_work, [(job, task) for task in tasks])
        except GeneratorExit:
            # The caller stopped (an error of its own): drop the tasks not started.
            self._pool.shutdown(wait=True, cancel_futures=True)
            raise
        except BrokenProcessPool:
            for proc in self._procs:
                # A killed worker's exit code is known only once it is reaped: on a busy
                # machine the pool can break before that, so wait a little.
                proc.join(timeout=2)
            dead = [
                (p.pid, p.exitcode)
                for p in self._procs
                if p.exitcode not in (None, 0, -signal.SIGTERM)
            ]
            pid, code = dead[0] if dead else (None, None)
            raise children._died("columnar writer", pid, code) from None


def map_forked(job: Callable[[Any], Any], tasks: Sequence[Any], workers: int) -> Iterator[Any]:
    """Yield job(task) for every task, in order, computed by `workers` forked processes.

    The workers are forked when the first result is asked for and inherit this process's
    memory, so `job` may be a closure over anything.
    """
    global _JOB
    _JOB = job
    try:
        with ForkedPool(workers) as pool:
            yield from pool.map(_inherited, tasks)
    finally:
        _JOB = None
