"""searchapp: full-text, faceted search over a news agency's archive."""

from importlib.metadata import PackageNotFoundError, version

try:
    # pyproject.toml holds the one version number; an installed package reports it.
    __version__ = version("searchapp")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
