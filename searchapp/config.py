"""Settings: one frozen dataclass, each field with a default and help text."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from searchapp.models import DEFAULT_FACET_LIMIT, DEFAULT_PER_PAGE
from searchapp.query import MAX_QUERY_CHARS


def _env_path(name: str, default: str) -> Path:
    return Path(os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    """Runtime settings of the web app (the CLI passes its options in)."""

    index_dir: Path = field(
        default_factory=lambda: _env_path("SEARCHAPP_INDEX", "index"),
        metadata={"help": "Index directory (also $SEARCHAPP_INDEX)."},
    )
    ray_address: str | None = field(
        default_factory=lambda: os.environ.get("RAY_ADDRESS") or None,
        metadata={"help": "Ray cluster serving a sharded index (also $RAY_ADDRESS)."},
    )
    max_query_chars: int = field(
        default=MAX_QUERY_CHARS, metadata={"help": "Longest query text accepted (longer: 400)."}
    )
    max_url_chars: int = field(
        default=16384, metadata={"help": "Longest request URL accepted (longer: 414)."}
    )
    max_body_bytes: int = field(
        default=64 * 1024, metadata={"help": "Largest request body accepted (larger: 413)."}
    )
    per_page: int = field(
        default=DEFAULT_PER_PAGE, metadata={"help": "Results per page by default."}
    )
    facet_limit: int = field(
        default=DEFAULT_FACET_LIMIT, metadata={"help": "Values shown per facet."}
    )


def describe() -> list[tuple[str, str]]:
    """Return (setting, help) for every setting, for docs and tests."""
    return [(f.name, f.metadata.get("help", "")) for f in fields(Settings)]
