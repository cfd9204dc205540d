"""The little of Ray that searchapp uses, behind functions that turn its errors into ours.

Ray is an optional extra (``pip install -e '.[cluster]'``): nothing outside searchapp/cluster
imports this module, and a one-folder index never loads Ray.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from searchapp.errors import NoIndexError, SearchAppError

# A local cluster (no address given) stays small: searches are light, and the machine is shared.
# $SEARCHAPP_RAY_CPUS sets its size (one shard builds per CPU at a time).
LOCAL_CPUS = min(2, os.cpu_count() or 1)
PROBE_SECONDS = 3.0


class ShardFailed(NoIndexError):
    """A remote call failed with an error that is not one of ours."""


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SearchAppError(
            "a sharded index needs Ray: install it with `pip install -e '.[cluster]'` "
            "(or `pip install 'ray>=2.60'`)"
        ) from None
    return ray


def _probe(address: str) -> None:
    """Fail fast on an address nothing listens at (Ray itself retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise NoIndexError(
            f"--ray-address {address!r} is not HOST:PORT: give the head node's address, "
            "e.g. 10.0.0.5:6379 (what `ray start --head` prints), or auto"
        )
    try:
        socket.create_connection((host, int(port)), timeout=PROBE_SECONDS).close()
    except OSError as exc:
        raise NoIndexError(
            f"cannot reach the Ray cluster at {address!r} ({exc.strerror or exc}): start one "
            "with `ray start --head` and give its address, or leave --ray-address out to "
            "start a local one"
        ) from None


def _local_cpus() -> int:
    text = os.environ.get("SEARCHAPP_RAY_CPUS", "").strip()
    if not text:
        return LOCAL_CPUS
    if not text.isdigit() or int(text) < 1:
        raise SearchAppError(f"SEARCHAPP_RAY_CPUS={text!r} is not a CPU count: use 1, 2, ...")
    return int(text)


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join the Ray cluster at address ("auto", "host:6379"), or start a local one."""
    ray = _ray()
    if ray.is_initialized():
        return
    # Ray's start-up notes (e.g. "token authentication is enabled") would mix with a CLI's
    # output; its errors still show.
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address and address != "auto":
        _probe(address)
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=num_cpus or _local_cpus(), include_dashboard=False, **quiet)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise NoIndexError(
            f"cannot reach the Ray cluster at {address!r} ({exc}): start one with "
            "`ray start --head` and give its address (`--ray-address HOST:6379`), or leave "
            "--ray-address out to start a local one"
        ) from exc


def shutdown() -> None:
    """Leave the Ray cluster (and stop it, when this process started it)."""
    ray = _ray()
    if ray.is_initialized():
        ray.shutdown()


def remote_function(fn: Any, **options: Any) -> Any:
    """Return fn as a Ray task (one CPU each, so N shards use the cluster's CPUs in parallel)."""
    return _ray().remote(num_cpus=1, **options)(fn)


def remote_class(cls: Any, **options: Any) -> Any:
    """Return cls as a Ray actor class."""
    return _ray().remote(**options)(cls)


def unwrap(exc: BaseException) -> BaseException:
    """Return the exception a remote call raised on its side (our errors cross unchanged)."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def is_task_error(exc: BaseException) -> bool:
    """Return whether exc is an error the remote code raised (not a dead or slow actor)."""
    ray = _ray()
    return isinstance(exc, ray.exceptions.RayTaskError)


def get(ref: Any, what: str, timeout: float | None = None) -> Any:
    """Wait for one remote result; an error of ours raised remotely is raised here as itself."""
    ray = _ray()
    try:
        return ray.get(ref, timeout=timeout)
    except ray.exceptions.RayTaskError as exc:
        cause = unwrap(exc)
        if isinstance(cause, SearchAppError):
            raise cause from None
        # Not one of ours (odd damage, a bug): that shard cannot answer; the others may.
        raise ShardFailed(f"{what} failed ({type(cause).__name__}: {cause})") from None


def is_dead(exc: BaseException) -> bool:
    """Return whether an actor error means it will not come back (killed for good)."""
    return isinstance(exc, _ray().exceptions.ActorDiedError)


def failures() -> tuple[type[BaseException], ...]:
    """Return the errors of a shard that died, is restarting, or did not answer in time."""
    ray = _ray()
    ex = ray.exceptions
    return (ex.RayActorError, ex.ActorUnavailableError, ex.GetTimeoutError, ex.ObjectLostError)
