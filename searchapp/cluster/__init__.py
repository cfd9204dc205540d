"""Sharded indexes served by a Ray cluster (the optional `cluster` extra).

layout.py builds N ordinary indexes split by a stable hash of the story id; shard.py is what
each shard's Ray actor answers; coordinator.py merges the answers behind SearchService's API;
merge.py holds the pure merges; views.py (and words.py) sum the research views over the shards.
docs/cluster.md says how to run it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The file that marks a sharded index folder. Checked here, not through layout.py, so that a
# one-query CLI process on an ordinary index does not import the indexer (~30 ms).
MANIFEST = "cluster.json"


def is_cluster(index_dir: Path) -> bool:
    """Return whether index_dir holds a sharded index."""
    return (Path(index_dir) / MANIFEST).is_file()


def open_service(index_dir: Path, ray_address: str | None = None) -> Any:
    """Return the service for an index folder: a ClusterService for a sharded index (Ray is
    imported only then), else the ordinary SearchService."""
    if is_cluster(Path(index_dir)):
        from searchapp.cluster.coordinator import ClusterService

        return ClusterService(Path(index_dir), ray_address=ray_address)
    from searchapp.search import SearchService

    return SearchService(Path(index_dir))


def open_research(service: Any) -> Any:
    """Return the research views over a service: researcher.Research over one index, or
    views.ClusterResearch, summing the shards' counts, over a sharded one."""
    if is_cluster(Path(service.index_dir)):
        from searchapp.cluster.views import ClusterResearch

        return ClusterResearch(service)
    from searchapp.researcher import Research

    return Research(service)
