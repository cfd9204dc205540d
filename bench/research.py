"""Benchmark the research endpoints: p50/p95 per endpoint against 30 ms (21.6k) / 100 ms (216k).

    python bench/research.py --index I [--index I2 ...] [--reps 20] [--out bench/results]
    python bench/research.py --scale 1 --scale 10 [--work DIR]   # render + index like run.py

Each endpoint runs a fixed mix of requests through the Flask app in process (routing, the
research question, JSON or HTML rendering: everything but the socket), on a warm app: one
search first loads the generation's facet arrays. "first" is each request's first run, when
no decoded word postings are cached yet (it matters for field=words only); p50/p95 are over
`reps` further rounds of the whole mix. CPU time (this process) is reported beside wall time:
on a shared machine (2 cores, several jobs) wall time includes waiting for a core.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from searchapp.config import Settings  # noqa: E402
from searchapp.web import create_app  # noqa: E402

MIX: dict[str, list[str]] = {
    "/api/trends": [
        "/api/trends",
        "/api/trends?q=oil&by=persons&top=5",
        "/api/trends?q=coffee&by=topics&interval=week",
        "/api/trends?q=gold+OR+silver&by=place&interval=day&from=1987-03&to=1987-04",
        "/api/trends?section=Energy&by=persons&interval=month",
    ],
    "/api/compare": [
        "/api/compare?q=oil&q=coffee&interval=month",
        "/api/compare?q=gold&q=silver&q=copper",
        "/api/compare?q=oil&q=coffee&q=gold&q=wheat&q=opec&interval=week",
    ],
    "/api/related": [
        "/api/related?field=persons&value=James+Baker&with=persons&top=20",
        "/api/related?field=topics&value=coffee&with=topics",
        "/api/related?field=place&value=London&with=persons&q=oil",
    ],
    "/api/significant (values)": [
        "/api/significant?q=oil&field=topics",
        "/api/significant?q=coffee&field=persons",
        "/api/significant?q=baker+treasury&field=place",
    ],
    "/api/significant (words)": [
        "/api/significant?q=oil&field=words",
        "/api/significant?q=coffee&field=words",
        "/api/significant?q=baker+treasury&field=words",
        "/api/significant?topic=grain&field=words",
    ],
    "/trends (page)": ["/trends?q=oil", "/trends?q=coffee&by=topics&interval=week"],
    "/compare (page)": ["/compare?q=oil&q=coffee&q=gold"],
    "/person/NAME (page)": ["/person/James%20Baker", "/topic/coffee", "/place/London"],
    # Phrase queries: the result set itself (SearchService.matches, as for /api/search) costs
    # most of these; the reference row is the same phrase searched, one hit per page.
    "phrases: /api/trends, /api/significant": [
        "/api/trends?q=%22trade+deficit%22&by=place&interval=month",
        "/api/significant?q=%22james+baker%22&field=topics",
    ],
    "phrases: /api/search (reference)": [
        "/api/search?q=%22trade+deficit%22&per_page=1",
        "/api/search?q=%22james+baker%22&per_page=1",
    ],
}
TARGETS = {21_578: 30.0, 215_780: 100.0}


def bench_index(index: Path, reps: int) -> dict[str, Any]:
    """Return per-endpoint timings (ms) on one index."""
    app = create_app(Settings(index_dir=index))
    client = app.test_client()
    stats = client.get("/api/search?q=&per_page=1").get_json()  # loads the facet arrays
    stories = int(stats["total"])
    first: dict[str, list[float]] = {}
    samples: dict[str, list[float]] = {name: [] for name in MIX}
    cpu: dict[str, list[float]] = {name: [] for name in MIX}
    for round_ in range(reps + 1):
        for name, urls in MIX.items():
            for url in urls:
                started, cpu_started = time.perf_counter(), time.process_time()
                response = client.get(url)
                took = (time.perf_counter() - started) * 1000
                cpu_took = (time.process_time() - cpu_started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{url}: HTTP {response.status_code} {response.data[:200]!r}")
                if round_ == 0:
                    first.setdefault(name, []).append(took)
                else:
                    samples[name].append(took)
                    cpu[name].append(cpu_took)
    target = TARGETS.get(stories, 100.0 if stories > 100_000 else 30.0)
    rows = {}
    for name, values in samples.items():
        arr = np.asarray(values)
        rows[name] = {
            "first_max_ms": round(max(first[name]), 1),
            "p50_ms": round(float(np.percentile(arr, 50)), 1),
            "p95_ms": round(float(np.percentile(arr, 95)), 1),
            "max_ms": round(float(arr.max()), 1),
            "cpu_p50_ms": round(float(np.percentile(cpu[name], 50)), 1),
            "cpu_p95_ms": round(float(np.percentile(cpu[name], 95)), 1),
            "target_ms": target,
        }
    return {
        "index": str(index),
        "stories": stories,
        "reps": reps,
        # The machine is shared: a load average above its cores inflates wall times.
        "load_average_1min": round(os.getloadavg()[0], 1),
        "cores": os.cpu_count(),
        "endpoints": rows,
    }


def markdown(results: list[dict[str, Any]]) -> str:
    """Return the results as a markdown section."""
    lines = ["# Research endpoints (issue 14)", ""]
    for res in results:
        lines += [
            f"## {res['stories']:,} stories ({res['reps']} rounds of the mix)",
            "",
            f"Load average {res['load_average_1min']} on {res['cores']} cores at the end of "
            "the run; wall times include waiting for a core, CPU times do not.",
            "",
            "| endpoint | first (max) | p50 | p95 | max | CPU p50 | CPU p95 | target p95 | |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for name, row in res["endpoints"].items():
            ok = "ok" if row["p95_ms"] <= row["target_ms"] else "OVER"
            lines.append(
                f"| {name} | {row['first_max_ms']} | {row['p50_ms']} | {row['p95_ms']} | "
                f"{row['max_ms']} | {row['cpu_p50_ms']} | {row['cpu_p95_ms']} | "
                f"{row['target_ms']:g} | {ok} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark on the given indexes (or render and index Reuters scales)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, action="append", default=[], help="an index dir")
    ap.add_argument("--scale", type=int, action="append", default=[], help="Reuters copies")
    ap.add_argument("--work", type=Path, default=Path("/tmp/searchapp-bench"))
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args(argv)
    indexes = list(args.index)
    for scale in args.scale:
        from bench.run import render  # the same rendering and cache as the main benchmark

        corpus, _truth = render(args.work / f"s{scale}", scale)
        index = args.work / f"s{scale}" / "research-index"
        if not (index / "CURRENT").exists():
            from searchapp.indexer import index_corpus

            index_corpus(corpus, index)
        indexes.append(index)
    if not indexes:
        ap.error("give --index DIR or --scale N")
    results = [bench_index(ix, args.reps) for ix in indexes]
    text = markdown(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "research.md").write_text(text + "\n", encoding="utf-8")
    (args.out / "research.json").write_text(json.dumps(results, indent=2) + "\n", "utf-8")


if __name__ == "__main__":
    main()
