"""searchapp: full-text, faceted search over a news agency's archive."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # The version is read from the installed package's metadata on first use only: importing
    # importlib.metadata costs ~25 ms, a tenth of a one-query CLI process.
    if name != "__version__":
        raise AttributeError(f"module 'searchapp' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        # pyproject.toml holds the one version number; an installed package reports it.
        return version("searchapp")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"
