"""The 1M-story run (issue 12): Reuters x N as one JSON Lines file, rebuilt and queried.

    python bench/run.py --codec columnar --jsonl --scale 46 [--segment-docs N] [--reps 10]

For each scale the collection is rendered once as DIR/jN/corpus/stories.jsonl (21,578 x N
stories; x46 is 992,588 stories, 1.0 GB). The renderer dates copy k of a story 400 x k days
after it, so at x46 the copies from k = 37 on are dated after today and the indexer would
skip them ("in the future": 196,274 stories at x46 in Nov 2026); such a copy is moved back by
400 x N days (before 1987, where no other copy is), so every story is indexed.

Then `searchapp index --rebuild` runs as a child process (wall and CPU seconds, peak RSS and
PSS of the process tree, index size, segments) and bench_queries measures the query mix on
it (warm and with no posting cache). --segment-docs sets codec/bulk.SEGMENT_DOCS in the child
(to compare one segment with several at a scale where one fits). tantivy and FTS5 are not run
beside it: bench_tantivy and bench_fts5 take the stories as one list of dicts in this process
(~5 GB at 1M stories on a 24 GB machine shared with other jobs). Results go to
OUT/million.json and OUT/million.md.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index

from searchapp import store

BASE_STORIES = 21_578
MB = 1024 * 1024


def render_jsonl(work: Path, scale: int, render_tool: Path) -> Path:
    """Render (once) the stories as one .jsonl file in a corpus folder; return the folder."""
    corpus = work / "corpus"
    marker = work / ".jsonl.done"
    if not marker.exists():
        shutil.rmtree(corpus, ignore_errors=True)
        corpus.mkdir(parents=True)
        print(f"  rendering jsonl x{scale} -> {corpus}", flush=True)
        out = corpus / "stories.jsonl"
        cmd = [sys.executable, str(render_tool), "jsonl", str(out), "--copies", str(scale)]
        subprocess.run(cmd, check=True)
        moved = _date_back(out, scale)
        print(f"  {moved:,} copies dated in the future moved {400 * scale} days back", flush=True)
        marker.touch()
    return corpus


# The first "date" key of a line (inside a JSON string a quote is escaped: \").
_DATE = re.compile(rb'(?<!\\)"date": "([^"]+)"')


def _date_back(path: Path, scale: int) -> int:
    """Move every story dated after now back by 400 x scale days (see the docstring)."""
    now = datetime.now(timezone.utc)
    shift = timedelta(days=400 * scale)
    moved = 0
    tmp = path.with_suffix(".tmp")
    with path.open("rb") as src, tmp.open("wb") as dst:
        for line in src:
            m = _DATE.search(line)
            if m:
                date = datetime.fromisoformat(m.group(1).decode())
                if date > now:
                    new = (date - shift).isoformat().encode()
                    line = line[: m.start(1)] + new + line[m.end(1) :]
                    moved += 1
            dst.write(line)
    tmp.replace(path)
    return moved


def _segments(index: Path) -> list[int]:
    gen = store.current_generation(index)
    assert gen is not None
    ix = whoosh_index.open_dir(str(gen))
    try:
        return [s.doc_count_all() for s in ix._segments()]
    finally:
        ix.close()


def bench_rebuild(
    corpus: Path, index: Path, run_child: Any, segment_docs: int | None
) -> dict[str, Any]:
    """`searchapp index --rebuild` of corpus as a child process (SEGMENT_DOCS set if given)."""
    setup = "import sys; from searchapp.codec import bulk; "
    if segment_docs:
        setup += f"bulk.SEGMENT_DOCS = {segment_docs}; "
    setup += "from searchapp.cli import main; sys.argv[0] = 'searchapp'; main()"
    args = ["index", "--corpus", str(corpus), "--index", str(index), "--rebuild", "-q"]
    shutil.rmtree(index, ignore_errors=True)
    print("  searchapp: index --rebuild ...", flush=True)
    run = run_child([sys.executable, "-c", setup, *args])
    segments = _segments(index)
    stories = sum(segments)
    res = {
        "stories": stories,
        "segments": segments,
        "seconds": round(run["seconds"], 1),
        "cpu_s": run["cpu_s"],
        "stories_per_s": round(stories / run["seconds"]),
        "max_rss_mb": run["max_rss_mb"],
        "tree_rss_mb": run["tree_rss_mb"],
        "tree_pss_mb": run["tree_pss_mb"],
        "index_mb": round(sum(p.stat().st_size for p in index.rglob("*") if p.is_file()) / MB),
        "summary": run["output"],
    }
    print(f"    {res['seconds']} s ({res['cpu_s']} CPU s), {len(segments)} segments", flush=True)
    return res


def bench_jsonl_scale(
    scale: int,
    work_root: Path,
    reps: int,
    segment_docs: int | None,
    hooks: dict[str, Any],
) -> dict[str, Any]:
    """Render, rebuild and query one scale; hooks: run.py's run_child, bench_queries, RENDER."""
    work = work_root / f"j{scale}"
    work.mkdir(parents=True, exist_ok=True)
    corpus = render_jsonl(work, scale, hooks["render"])
    index = work / "index"
    result: dict[str, Any] = {
        "scale": scale,
        "segment_docs": segment_docs,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    result["index"] = bench_rebuild(corpus, index, hooks["run_child"], segment_docs)
    print("  searchapp: queries ...", flush=True)
    result["queries"] = hooks["bench_queries"](index, reps)
    return result


def key(scale: int, segment_docs: int | None) -> str:
    """The results entry: the scale, and the segment size if one was set."""
    return f"{scale}" if not segment_docs else f"{scale}/seg{segment_docs}"


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| run | stories | segments | rebuild s (CPU s) | stories/s | peak RSS largest / tree "
        "/ tree PSS MB | index MB | mix p50 / p95 ms | mix uncached p50 / p95 ms "
        "| mix CPU p50 / p95 ms | landing p50 / p95 ms | kremlin~2 p50 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        ix, q = r["index"], r["queries"]
        unc = q.get("mix_uncached", {})
        cpu = q.get("mix_cpu", {})
        fuzzy = q.get("fuzzy", {}).get("p50_ms", "refused" if "fuzzy_refused" in q else "–")
        lines.append(
            f"| {name} | {ix['stories']:,} | {len(ix['segments'])} "
            f"| {ix['seconds']} ({ix['cpu_s']}) | {ix['stories_per_s']:,} "
            f"| {ix['max_rss_mb']:,.0f} / {ix['tree_rss_mb']:,.0f} / {ix['tree_pss_mb']:,.0f} "
            f"| {ix['index_mb']:,} | {q['mix']['p50_ms']} / {q['mix']['p95_ms']} "
            f"| {unc.get('p50_ms', '–')} / {unc.get('p95_ms', '–')} "
            f"| {cpu.get('p50_ms', '–')} / {cpu.get('p95_ms', '–')} "
            f"| {q['landing']['p50_ms']} / {q['landing']['p95_ms']} | {fuzzy} |"
        )
    return "\n".join(lines) + "\n"


def main(args: Any, hooks: dict[str, Any], reps: int) -> None:
    """run.py's --jsonl: every --scale as one JSON Lines file; results in OUT/million.*."""
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "million.json"
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    for scale in args.scale or [46]:
        print(f"jsonl scale {scale} ({scale * BASE_STORIES:,} stories)", flush=True)
        entry = bench_jsonl_scale(scale, args.work, reps, args.segment_docs, hooks)
        results[key(scale, args.segment_docs)] = entry
        path.write_text(json.dumps(results, indent=2) + "\n")
        (args.out / "million.md").write_text(markdown(results))
    print(markdown(results))
