"""Benchmark a sharded index on a local Ray cluster against one index of the same stories.

    python bench/cluster.py [--scale 10] [--shards 4] [--reps 20] [--work DIR] [--out FILE]

Needs the `cluster` extra (Ray). For Reuters x scale (rendered once into DIR/sN, shared with
bench/run.py), it measures:

* indexing: `searchapp index --shards N --rebuild` as a child process, with a local Ray cluster
  of 1 and of 2 CPUs (one Ray worker per CPU builds one shard at a time), against one index
  built the ordinary way (bench/run.py's figure when present, else built here);
* query latency in process, warm, p50/p95 of bench/run.py's query mix (snippets, all facets) and
  of the landing page: one SearchService against the ClusterService coordinator; the
  difference is the coordinator's overhead (three scatter-gathers through Ray, the merges);
* that every request of the mix gives the same page JSON both ways.

Results go to OUT (default bench/results/cluster-sSCALE.json) and are printed as a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import LANDING, MIX, ROOT, pctl, render

from searchapp.models import SearchRequest
from searchapp.search import SearchService


def build(corpus: Path, index: Path, shards: int | None, cpus: int) -> float:
    """Build an index as a child process (a sharded one on a fresh local Ray cluster)."""
    cmd = [sys.executable, "-m", "searchapp.cli", "index", "--rebuild", "-q",
           "--corpus", str(corpus), "--index", str(index)]
    if shards:
        cmd += ["--shards", str(shards)]
    env = {**os.environ, "SEARCHAPP_RAY_CPUS": str(cpus)}
    env.pop("RAY_ADDRESS", None)
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def latency(svc: Any, reps: int) -> dict[str, Any]:
    svc.search(LANDING)
    for req in MIX:
        svc.search(req)  # warm: posting lists decoded, actors' generations open
    mix = []
    for _ in range(reps):
        for req in MIX:
            t = time.perf_counter()
            svc.search(req)
            mix.append(time.perf_counter() - t)
    landing = []
    for _ in range(reps * 2):
        t = time.perf_counter()
        svc.search(LANDING)
        landing.append(time.perf_counter() - t)
    deep = []
    for _ in range(max(1, reps // 2)):
        t = time.perf_counter()
        svc.search(SearchRequest(q="oil", page=20, per_page=50))
        deep.append(time.perf_counter() - t)
    return {"mix": pctl(mix), "landing": pctl(landing), "oil_page_20x50": pctl(deep)}


def same_pages(one: SearchService, cluster: Any) -> int:
    """Return how many requests of the mix differ between the two (0 expected)."""
    def form(page: Any) -> dict[str, Any]:
        d = page.to_dict()
        d.pop("took_ms")
        d.pop("partial", None)
        return dict(d)

    return sum(form(one.search(r)) != form(cluster.search(r)) for r in [*MIX, LANDING])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=int, default=10)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--work", type=Path, default=Path("/tmp/searchapp-bench"))
    ap.add_argument("--out", type=Path, default=None, help="default bench/results/cluster-sN.json")
    args = ap.parse_args()
    args.out = args.out or ROOT / "bench" / "results" / f"cluster-s{args.scale}.json"

    work = args.work / f"s{args.scale}"
    work.mkdir(parents=True, exist_ok=True)
    corpus, _jsonl = render(work, args.scale)
    res: dict[str, Any] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_avg_at_start": os.getloadavg()[0],
        "scale": args.scale,
        "stories": None,
        "shards": args.shards,
    }
    one_dir = work / "index"
    if not (one_dir / "CURRENT").exists():
        res["index_one_s"] = round(build(corpus, one_dir, None, 2), 1)
    sharded = work / f"shards{args.shards}"
    for cpus in (1, 2):
        print(f"  indexing {args.shards} shards on {cpus} Ray CPU(s)", flush=True)
        res[f"index_shards_{cpus}cpu_s"] = round(build(corpus, sharded, args.shards, cpus), 1)

    from searchapp.cluster import raycore
    from searchapp.cluster.coordinator import ClusterService

    raycore.connect(num_cpus=2)
    one = SearchService(one_dir)
    res["stories"] = one.stats()["stories"]
    t = time.perf_counter()
    cluster = ClusterService(sharded)
    cluster.search(LANDING)
    res["cluster_first_landing_ms"] = round((time.perf_counter() - t) * 1000, 1)
    res["pages_differing"] = same_pages(one, cluster)
    res["one"] = latency(one, args.reps)
    res["cluster"] = latency(cluster, args.reps)
    res["overhead_ms"] = {
        k: {p: round(res["cluster"][k][p] - res["one"][k][p], 1) for p in ("p50_ms", "p95_ms")}
        for k in res["one"]
    }
    cluster.close()
    raycore.shutdown()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
