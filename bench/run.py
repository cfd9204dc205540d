"""Benchmark searchapp against its targets and against tantivy and SQLite FTS5.

    python bench/run.py [--scale 1] [--scale 10] [--out bench/results] [--work DIR] [--quick]

For each scale N the Reuters-21578 collection is rendered N times (21,578 x N stories, see
/work/shared/tools/reuters_to_corpus.py) into DIR/sN (cached between runs), then:

* indexing: `searchapp index --rebuild` as a child process: wall time, stories/s, peak RSS of
  the largest process and of the whole process tree, index size on disk;
* incremental: `searchapp index` with no change, after one file changed, after one file
  deleted (end to end, a fresh process each);
* cold CLI: `search Sochi --index I` as a fresh process, median of 5 (OS file cache warm);
* query latency in process on a warm SearchService: p50/p95 of a fixed query mix with
  snippets and all facets, and of the landing page (empty query);
* the same stories in tantivy and SQLite FTS5, with top-10, top-10 + section counts and
  landing (newest 10 + section counts).

Results are merged into OUT/results.json (one entry per scale) and OUT/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from searchapp.errors import QueryError
from searchapp.models import SearchRequest
from searchapp.search import SearchService

ROOT = Path(__file__).resolve().parent.parent
RENDER = Path("/work/shared/tools/reuters_to_corpus.py")
BASE_STORIES = 21_578
MB = 1024 * 1024

# Plain full-text queries: every engine runs these (AND between words, as searchapp does).
WORDS = [
    "oil",
    "coffee",
    '"trade deficit"',
    "gold prices",
    '"james baker"',
    "bank OR banks",
    "opec",
]
# The searchapp mix: the words above plus filtered searches, all with snippets and facets.
MIX: list[SearchRequest] = [SearchRequest(q=q) for q in WORDS] + [
    SearchRequest(q="oil", filters={"section": ("Energy",)}),
    SearchRequest(q="", date_from="1987-03-01", date_to="1987-03-31"),
    SearchRequest(q="", filters={"topics": ("coffee",)}),
    SearchRequest(q="prices", filters={"topics": ("coffee",)}),
    SearchRequest(q="oil", date_from="1987-03-01", date_to="1987-03-31"),
]
LANDING = SearchRequest(q="")


# -- helpers ----------------------------------------------------------------------------------


def pctl(samples: list[float]) -> dict[str, float]:
    """p50/p95/max in milliseconds, rounded for the report."""
    arr = np.asarray(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 3),
        "p95_ms": round(float(np.percentile(arr, 95)), 3),
        "max_ms": round(float(arr.max()), 3),
        "n": len(samples),
    }


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _tree_rss(root: int, pss: bool = False) -> int:
    """Sum of RSS over root and its descendants (the indexer forks writer processes).

    pss=True sums PSS instead (/proc/PID/smaps_rollup): a page shared by n processes (a
    forked worker's copy-on-write view of its parent) counts 1/n in each, so the sum is what
    the machine holds for the tree."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)  # fields[1] is the ppid
        rss[pid] = int(fields[21]) * page  # field 24 of stat (rss in pages)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _pss(pid) if pss else rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run cmd; return wall seconds, peak RSS of its largest process and of its whole tree.

    os.wait4 gives the rusage of this one child (and its waited-for descendants), where
    RUSAGE_CHILDREN would mix in every earlier child of this process. ru_maxrss is the peak of
    the single largest process, so a sampler adds up the tree every 50 ms as well.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT, text=True
    )
    peak_tree = peak_pss = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_tree, peak_pss
        n = 0
        while not done.is_set():
            peak_tree = max(peak_tree, _tree_rss(proc.pid))
            if n % 4 == 0:  # smaps_rollup walks page tables: every 200 ms is enough
                peak_pss = max(peak_pss, _tree_rss(proc.pid, pss=True))
            n += 1
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # Read the pipes while the child runs, so a chatty child cannot block on a full pipe.
    out_err: list[str] = []
    readers = [
        threading.Thread(target=lambda s=s: out_err.append(s.read()), daemon=True)
        for s in (proc.stdout, proc.stderr)
        if s is not None
    ]
    for t in readers:
        t.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    for t in readers:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {''.join(out_err)}")
    return {
        "seconds": wall,
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
        "tree_rss_mb": round(peak_tree / MB, 1),
        "tree_pss_mb": round(peak_pss / MB, 1),
        # CPU seconds of the child and its waited-for descendants: on a shared machine this
        # moves far less than wall time with the load.
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "output": "".join(out_err).strip(),
    }


def timed(fn: Callable[[], Any], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def timed_each(fn: Callable[[Any], Any], args: Iterable[Any], reps: int) -> list[float]:
    """Time fn(arg) reps times for every arg, round-robin, so no query gets a warmer cache."""
    args = list(args)
    out = []
    for _ in range(reps):
        for arg in args:
            t = time.perf_counter()
            fn(arg)
            out.append(time.perf_counter() - t)
    return out


# -- corpus -----------------------------------------------------------------------------------


def render(work: Path, scale: int) -> tuple[Path, Path]:
    """Render (once) the TASS files and the jsonl of the same stories; return both paths."""
    corpus, jsonl = work / "corpus", work / "stories.jsonl"
    py = sys.executable
    for form, out in (("tass", corpus), ("jsonl", jsonl)):
        marker = work / f".{form}.done"
        if marker.exists():
            continue
        if out.is_dir():
            shutil.rmtree(out)  # a half-rendered corpus from an interrupted run
        print(f"  rendering {form} x{scale} -> {out}", flush=True)
        subprocess.run([py, str(RENDER), form, str(out), "--copies", str(scale)], check=True)
        marker.touch()
    return corpus, jsonl


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def epoch(iso: str | None) -> int:
    return int(datetime.fromisoformat(iso).timestamp()) if iso else 0


# -- searchapp --------------------------------------------------------------------------------


def bench_index(corpus: Path, index: Path, n_files: int) -> dict[str, Any]:
    py = sys.executable
    cmd = [py, "-m", "searchapp.cli", "index", "--corpus", str(corpus), "--index", str(index)]
    print("  searchapp: full index --rebuild ...", flush=True)
    full = run_child([*cmd, "--rebuild", "-q"])
    res: dict[str, Any] = {
        "stories": n_files,
        "seconds": round(full["seconds"], 2),
        "stories_per_s": round(n_files / full["seconds"]),
        "max_rss_mb": full["max_rss_mb"],
        "tree_rss_mb": full["tree_rss_mb"],
        "tree_pss_mb": full["tree_pss_mb"],
        "cpu_s": full["cpu_s"],
        "load_1min_after": os.getloadavg()[0],
        "index_mb": round(dir_bytes(index) / MB, 1),
        "summary": full["output"],
    }
    print(f"    {res['seconds']} s, {res['stories_per_s']} stories/s", flush=True)

    # Incremental runs. The corpus is a cache shared by runs, so put every file back after.
    files = sorted(corpus.iterdir())
    changed, deleted = files[len(files) // 3], files[2 * len(files) // 3]
    changed_text, deleted_text = changed.read_bytes(), deleted.read_bytes()
    try:
        res["update_nochange_s"] = round(run_child([*cmd, "-q"])["seconds"], 3)
        with changed.open("a", encoding="utf-8") as fh:
            fh.write("\nA sentence appended by the benchmark.\n")
        res["update_changed_s"] = round(run_child([*cmd, "-q"])["seconds"], 3)
        deleted.unlink()
        upd = run_child([*cmd, "-q"])
        res["update_deleted_s"] = round(upd["seconds"], 3)
        res["update_max_rss_mb"] = upd["max_rss_mb"]
    finally:
        changed.write_bytes(changed_text)
        deleted.write_bytes(deleted_text)
    run_child([*cmd, "-q"])  # back to the pristine corpus for the query runs
    print(
        f"    update: none {res['update_nochange_s']} s, changed {res['update_changed_s']} s,"
        f" deleted {res['update_deleted_s']} s",
        flush=True,
    )
    res.update(bench_changed(cmd, changed, deleted))
    print(
        f"    --changed: one file {res['changed_file_s']} s ({res['changed_file_cpu_s']} s CPU),"
        f" deleted {res['changed_deleted_s']} s",
        flush=True,
    )
    return res


_SCHED_WRAPPER = (
    "import atexit, runpy, sys\n"
    "def _report():\n"
    "    with open('/proc/self/schedstat') as fh:\n"
    "        print('schedstat', *fh.read().split()[:2], file=sys.stderr)\n"
    "atexit.register(_report)\n"
    "sys.argv[0] = 'searchapp'\n"
    "runpy.run_module('searchapp.cli', run_name='__main__')\n"
)


def bench_changed(cmd: list[str], changed: Path, deleted: Path, reps: int = 5) -> dict[str, Any]:
    """`index --changed FILE`: the files a feed names, without a scan of the corpus.

    reps runs, each after appending a sentence to the file (median wall and CPU seconds:
    the CPU figure holds on a shared machine), then one naming a deleted file.
    """
    changed_text, deleted_text = changed.read_bytes(), deleted.read_bytes()
    walls: list[float] = []
    cpus: list[float] = []
    waits: list[float] = []
    # The same command, run through a wrapper that reports, at exit, how long the process
    # waited for a CPU (/proc/self/schedstat: on-CPU ns, run-queue ns): wall less that wait
    # is what an idle machine would show, give or take cache and disk contention.
    wrapped = [cmd[0], "-c", _SCHED_WRAPPER, *cmd[3:]]
    assert cmd[1:3] == ["-m", "searchapp.cli"], cmd
    try:
        for i in range(reps):
            with changed.open("a", encoding="utf-8") as fh:
                fh.write(f"\nSentence {i} appended by the benchmark.\n")
            run = run_child([*wrapped, "-q", "--changed", str(changed)])
            if "1 updated" not in run["output"]:
                raise RuntimeError(f"--changed did not update the file: {run['output']}")
            walls.append(run["seconds"])
            cpus.append(run["cpu_s"])
            sched = run["output"].rpartition("schedstat ")[2].split()
            waits.append(int(sched[1]) / 1e9)
        deleted.unlink()
        gone = run_child([*cmd, "-q", "--changed", str(deleted)])
    finally:
        changed.write_bytes(changed_text)
        deleted.write_bytes(deleted_text)
    run_child([*cmd, "-q", "--changed", str(changed), "--changed", str(deleted)])
    return {
        "changed_file_s": round(statistics.median(walls), 3),
        "changed_file_cpu_s": round(statistics.median(cpus), 3),
        "changed_file_wall_less_wait_s": round(
            statistics.median(w - q for w, q in zip(walls, waits, strict=True)), 3
        ),
        "changed_file_runs_s": [round(w, 3) for w in walls],
        "changed_deleted_s": round(gone["seconds"], 3),
    }


def bench_cold(index: Path, reps: int = 5) -> dict[str, Any]:
    script = Path(sys.executable).parent / "search"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "searchapp.cli", "search"]
    cmd = [*base, "Sochi", "--index", str(index)]
    run_child(cmd)  # warm the OS file cache: we measure a cold process, not a cold disk
    runs = [run_child(cmd) for _ in range(reps)]
    bare = [run_child([sys.executable, "-c", "pass"])["seconds"] for _ in range(reps)]
    # The same with searchapp's bytecode compiled, as after `pip install .` or any earlier run
    # (an editable install under PYTHONDONTWRITEBYTECODE=1, as on this machine, compiles
    # every module in every process: ~40-55 ms). Removed afterwards, so the next figure
    # starts as this one did.
    pkg = ROOT / "searchapp"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(pkg)], check=True)
    try:
        compiled = [run_child(cmd) for _ in range(reps)]
    finally:
        for cache in pkg.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
    return {
        "median_ms": round(statistics.median(r["seconds"] for r in runs) * 1000, 1),
        "runs_ms": [round(r["seconds"] * 1000, 1) for r in runs],
        "compiled_median_ms": round(
            statistics.median(r["seconds"] for r in compiled) * 1000, 1
        ),
        "max_rss_mb": max(r["max_rss_mb"] for r in runs),
        "bare_python_ms": round(statistics.median(bare) * 1000, 1),
    }


def bench_queries(index: Path, reps: int) -> dict[str, Any]:
    t = time.perf_counter()
    svc = SearchService(index)
    first_landing = svc.search(LANDING)  # the first one also opens the index and loads facets
    res: dict[str, Any] = {"first_landing_ms": round((time.perf_counter() - t) * 1000, 1)}
    t = time.perf_counter()
    svc.search(MIX[0])
    res["first_query_ms"] = round((time.perf_counter() - t) * 1000, 1)
    res["landing_total"] = first_landing.total
    totals = {f"{r.q}|{sorted(r.filters.items())}|{r.date_from}": svc.search(r).total for r in MIX}
    res["mix_totals"] = totals

    mix: list[float] = []
    mix_cpu: list[float] = []
    per_query: dict[str, list[float]] = {k: [] for k in totals}
    for _ in range(reps):
        for key, req in zip(totals, MIX, strict=True):
            c = time.process_time()
            t = time.perf_counter()
            svc.search(req)
            dt = time.perf_counter() - t
            mix_cpu.append(time.process_time() - c)
            mix.append(dt)
            per_query[key].append(dt)
    res["mix"] = pctl(mix)
    # CPU time of this process per request: on a shared machine the wall figure above moves
    # with the other jobs' load (x5-10 at load 12 on 2 cores), this much less.
    res["mix_cpu"] = pctl(mix_cpu)
    # The same mix with no posting-list cache: what a query costs the first time it is seen
    # (the warm figure above reuses decoded posting lists across repetitions).
    cold = SearchService(index, term_cache=0)
    cold.search(LANDING)
    res["mix_uncached"] = pctl(timed_each(cold.search, MIX, max(1, reps // 4)))
    res["per_query_p50_ms"] = {k: pctl(v)["p50_ms"] for k, v in per_query.items()}
    res["landing"] = pctl(timed(lambda: svc.search(LANDING), reps * 5))
    words = [SearchRequest(q=q, snippets=False, facet_limit=10) for q in WORDS]
    res["words_no_snippets"] = pctl(timed_each(svc.search, words, reps))
    # Fuzzy expansion walks the term dictionary (issue 12's figure: kremlin~2, all facets).
    fuzzy = SearchRequest(q="kremlin~2")
    try:
        res["fuzzy_total"] = svc.search(fuzzy).total
        res["fuzzy"] = pctl(timed(lambda: svc.search(fuzzy), max(3, reps // 2)))
    except QueryError as exc:  # over the time limit: recorded, not fatal to the run
        res["fuzzy_refused"] = str(exc)
    return res


# -- reference engines ------------------------------------------------------------------------


def bench_tantivy(stories: list[dict[str, Any]], tmp: Path, reps: int) -> dict[str, Any]:
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("title", stored=True)
    sb.add_text_field("body", stored=True)  # stored, as searchapp stores it for snippets
    sb.add_text_field("section", stored=True, fast=True, tokenizer_name="raw")
    sb.add_integer_field("ts", stored=True, fast=True, indexed=True)
    schema = sb.build()
    path = tmp / "tantivy"
    path.mkdir()
    t = time.perf_counter()
    index = tantivy.Index(schema, path=str(path))
    writer = index.writer(256 * MB)
    for s in stories:
        writer.add_document(
            tantivy.Document(
                title=s["title"], body=s["body"], section=s["section"], ts=epoch(s["date"])
            )
        )
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    secs = time.perf_counter() - t
    searcher = index.searcher()
    assert searcher.num_docs == len(stories), searcher.num_docs
    agg = {"sections": {"terms": {"field": "section", "size": 100}}}

    def parse(q: str) -> Any:
        return index.parse_query(q, ["title", "body"], conjunction_by_default=True)

    def top(q: str) -> list[str]:
        hits = searcher.search(parse(q), 10).hits
        return [searcher.doc(addr)["title"][0] for _score, addr in hits]

    def faceted(q: str) -> None:
        top(q)
        searcher.aggregate(parse(q), agg)

    def landing() -> None:
        hits = searcher.search(tantivy.Query.all_query(), 10, order_by_field="ts").hits
        [searcher.doc(addr)["title"][0] for _k, addr in hits]
        searcher.aggregate(tantivy.Query.all_query(), agg)

    return {
        "seconds": round(secs, 2),
        "stories_per_s": round(len(stories) / secs),
        "index_mb": round(dir_bytes(path) / MB, 1),
        "top10": pctl(timed_each(top, WORDS, reps)),
        "facets": pctl(timed_each(faceted, WORDS, reps)),
        "landing": pctl(timed(landing, reps * 5)),
        "totals": {q: searcher.search(parse(q), 1, count=True).count for q in WORDS},
    }


def bench_fts5(stories: list[dict[str, Any]], tmp: Path, reps: int) -> dict[str, Any]:
    path = tmp / "fts5.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body, section UNINDEXED, ts UNINDEXED)")
    rows = ((s["title"], s["body"], s["section"], epoch(s["date"])) for s in stories)
    t = time.perf_counter()
    with db:
        db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)", rows)
    secs = time.perf_counter() - t
    top_sql = "SELECT title FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 10"
    facet_sql = "SELECT section, count(*) FROM docs WHERE docs MATCH ? GROUP BY section"

    def top(q: str) -> None:
        db.execute(top_sql, (q,)).fetchall()

    def faceted(q: str) -> None:
        top(q)
        db.execute(facet_sql, (q,)).fetchall()

    def landing() -> None:
        db.execute("SELECT title FROM docs ORDER BY ts DESC LIMIT 10").fetchall()
        db.execute("SELECT section, count(*) FROM docs GROUP BY section").fetchall()

    res = {
        "seconds": round(secs, 2),
        "stories_per_s": round(len(stories) / secs),
        "index_mb": round(path.stat().st_size / MB, 1),
        "top10": pctl(timed_each(top, WORDS, reps)),
        "facets": pctl(timed_each(faceted, WORDS, reps)),
        "landing": pctl(timed(landing, reps * 5)),
        "totals": {
            q: db.execute("SELECT count(*) FROM docs WHERE docs MATCH ?", (q,)).fetchone()[0]
            for q in WORDS
        },
    }
    db.close()
    return res


# -- one scale --------------------------------------------------------------------------------


def bench_scale(scale: int, work_root: Path, reps: int) -> dict[str, Any]:
    work = work_root / f"s{scale}"
    work.mkdir(parents=True, exist_ok=True)
    corpus, jsonl = render(work, scale)
    n_files = sum(1 for _ in corpus.iterdir())
    index = work / "index"
    shutil.rmtree(index, ignore_errors=True)
    result: dict[str, Any] = {
        "scale": scale,
        "stories": n_files,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    result["index"] = bench_index(corpus, index, n_files)
    print("  searchapp: cold CLI ...", flush=True)
    result["cold_cli"] = bench_cold(index)
    print("  searchapp: queries ...", flush=True)
    result["queries"] = bench_queries(index, reps)
    stories = load_jsonl(jsonl)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        print("  tantivy ...", flush=True)
        result["tantivy"] = bench_tantivy(stories, Path(tmp), reps)
        print("  sqlite fts5 ...", flush=True)
        result["fts5"] = bench_fts5(stories, Path(tmp), reps)
    return result


# -- targets and report -----------------------------------------------------------------------


def _uncached_p95(r: dict[str, Any]) -> float:
    return float(r["queries"].get("mix_uncached", {}).get("p95_ms", float("nan")))


def targets(r: dict[str, Any]) -> list[tuple[str, float, float, str]]:
    """(name, measured, limit, unit) for every target that applies at this scale.

    "≥" targets are stored with a negative sign convention handled in verdict()."""
    s, ix = r["scale"], r["index"]
    out: list[tuple[str, float, float, str]] = [
        ("indexing rate", ix["stories_per_s"], -3000, "stories/s"),
    ]
    if s == 1:
        out += [
            ("query p95 (mix)", r["queries"]["mix"]["p95_ms"], 20, "ms"),
            ("query p95 (mix, no posting cache)", _uncached_p95(r), 20, "ms"),
            ("landing p95", r["queries"]["landing"]["p95_ms"], 20, "ms"),
            ("cold `search Sochi`", r["cold_cli"]["median_ms"], 250, "ms"),
        ]
    q = r["queries"]
    # Issue 12 (columnar storage engine): the stricter figures.
    if s == 1:
        out += [("indexing rate (issue 12)", ix["stories_per_s"], -8000, "stories/s")]
    if s == 10:
        out += [
            ("full index of 215,780 (issue 12)", ix["seconds"], 40, "s"),
            ("peak RSS, process tree (issue 12)", ix["tree_rss_mb"], 1000, "MB"),
            ("peak PSS, process tree (issue 12)", ix.get("tree_pss_mb", float("nan")), 1000, "MB"),
            ("query p95 (mix) (issue 12)", q["mix"]["p95_ms"], 20, "ms"),
            ("query p95 (mix, no posting cache) (issue 12)", _uncached_p95(r), 40, "ms"),
            (
                "re-index one changed file, `--changed` (issue 12)",
                ix.get("changed_file_s", ix["update_changed_s"]),
                0.5,
                "s",
            ),
            ("cold `search Sochi` (issue 12)", r["cold_cli"]["median_ms"], 200, "ms"),
            (
                "cold `search Sochi`, bytecode compiled (issue 12)",
                r["cold_cli"].get("compiled_median_ms", float("nan")),
                200,
                "ms",
            ),
        ]
    if s == 10 and "fuzzy" in q:
        out += [("fuzzy `kremlin~2` p50 (issue 12)", q["fuzzy"]["p50_ms"], 50, "ms")]
    if s == 10:
        out += [
            ("full index of 215,780", ix["seconds"], 75, "s"),
            ("re-index one changed file", ix["update_changed_s"], 1, "s"),
            ("peak RSS, largest process", ix["max_rss_mb"], 1024, "MB"),
            ("peak RSS, process tree", ix["tree_rss_mb"], 1024, "MB"),
            ("query p95 (mix)", r["queries"]["mix"]["p95_ms"], 50, "ms"),
            ("query p95 (mix, no posting cache)", _uncached_p95(r), 50, "ms"),
            ("landing p95", r["queries"]["landing"]["p95_ms"], 50, "ms"),
        ]
    return out


def verdict(value: float, limit: float) -> tuple[str, str]:
    """PASS/MISS and the gap as a factor (negative limit: at least |limit|)."""
    if limit < 0:
        ok, factor = value >= -limit, -limit / value
    else:
        ok, factor = value <= limit, value / limit
    return ("pass" if ok else "MISS"), f"{factor:.2f}x of target" if not ok else "ok"


def ratio(ours: float, ref: float, higher_is_better: bool = False) -> str:
    """How many times slower (or faster) searchapp is than the reference engine."""
    if not ours or not ref:
        return "-"
    slower = ref / ours if higher_is_better else ours / ref
    return f"{slower:,.1f}x slower" if slower >= 1 else f"{1 / slower:,.1f}x faster"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"Machine: {m['nproc']} CPUs, Python {m['python']}, {m['platform']}. "
        f"Codec: {results.get('codec', 'whoosh')}.",
        "",
        "| scale | stories | index s (CPU s) | stories/s | peak RSS largest / tree / tree PSS MB "
        "| index MB "
        "| update: none / changed / deleted s | cold CLI ms (compiled) | mix p50 / p95 ms "
        "| mix uncached p50 / p95 ms | landing p50 / p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    scales = sorted(results["scales"].values(), key=lambda r: r["scale"])
    for r in scales:
        ix, q = r["index"], r["queries"]
        unc = q.get("mix_uncached", {})
        lines.append(
            f"| {r['scale']} | {r['stories']:,} | {ix['seconds']} ({ix.get('cpu_s', '–')}) "
            f"| {ix['stories_per_s']:,} | {ix['max_rss_mb']:,.0f} / {ix['tree_rss_mb']:,.0f} / "
            f"{ix.get('tree_pss_mb', float('nan')):,.0f} | {ix['index_mb']:,.0f} "
            f"| {ix['update_nochange_s']} / {ix['update_changed_s']} / {ix['update_deleted_s']} "
            f"| {r['cold_cli']['median_ms']} ({r['cold_cli'].get('compiled_median_ms', '–')}) "
            f"| {q['mix']['p50_ms']} / {q['mix']['p95_ms']} "
            f"| {unc.get('p50_ms', '–')} / {unc.get('p95_ms', '–')} "
            f"| {q['landing']['p50_ms']} / {q['landing']['p95_ms']} |"
        )
    lines += [
        "",
        "Reference engines, same stories (p50 / p95 ms; ours = searchapp ÷ engine, at p50):",
        "",
        "| scale | engine | stories/s | index MB | top-10 | top-10 + section counts | landing "
        "| ours: stories/s | ours: search | ours: landing |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in scales:
        ix, q = r["index"], r["queries"]
        ours_words = q["words_no_snippets"]["p50_ms"]
        for name in ("tantivy", "fts5"):
            e = r[name]
            lines.append(
                f"| {r['scale']} | {'tantivy' if name == 'tantivy' else 'SQLite FTS5'} "
                f"| {e['stories_per_s']:,} | {e['index_mb']:,.0f} "
                f"| {e['top10']['p50_ms']} / {e['top10']['p95_ms']} "
                f"| {e['facets']['p50_ms']} / {e['facets']['p95_ms']} "
                f"| {e['landing']['p50_ms']} / {e['landing']['p95_ms']} "
                f"| {ratio(ix['stories_per_s'], e['stories_per_s'], higher_is_better=True)} "
                f"| {ratio(ours_words, e['facets']['p50_ms'])} "
                f"| {ratio(q['landing']['p50_ms'], e['landing']['p50_ms'])} |"
            )
    lines += ["", "Targets:", "", "| scale | target | measured | limit | verdict |"]
    lines.append("|---|---|---|---|---|")
    for r in scales:
        for name, value, limit, unit in targets(r):
            ok, gap = verdict(value, limit)
            sign = "≥" if limit < 0 else "≤"
            lines.append(
                f"| {r['scale']} | {name} | {value:,} {unit} | {sign} {abs(limit):,} {unit} "
                f"| {ok} ({gap}) |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, action="append", help="copies of Reuters (default 1 10)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--work", type=Path, default=Path("/tmp/searchapp-bench"))
    ap.add_argument("--quick", action="store_true", help="scale 1 only, fewer repetitions")
    ap.add_argument("--reps", type=int, default=None, help="repetitions of the query mix")
    ap.add_argument(
        "--codec",
        choices=["whoosh", "columnar"],
        default="columnar",
        help="index with the columnar codec (the default; results in OUT/columnar) or "
        "Whoosh's own (results in OUT)",
    )
    ap.add_argument(
        "--jsonl",
        action="store_true",
        help="render each scale as one JSON Lines file; rebuild and query mix only "
        "(bench/million.py; results in OUT/million.*): --scale 46 is the 1M run",
    )
    ap.add_argument(
        "--segment-docs",
        type=int,
        default=None,
        help="with --jsonl: documents per segment of the columnar rebuild (bulk.SEGMENT_DOCS)",
    )
    args = ap.parse_args(list(argv) if argv is not None else None)
    # The indexer reads this (searchapp.indexrun.codec_choice); children inherit it.
    os.environ["SEARCHAPP_CODEC"] = args.codec
    if args.codec == "columnar" and args.out == ROOT / "bench" / "results":
        args.out = args.out / "columnar"
    scales = args.scale or ([1] if args.quick else [1, 10])
    reps = args.reps or (5 if args.quick else 20)
    if args.jsonl:
        import million  # bench/million.py, beside this file

        hooks = {"run_child": run_child, "bench_queries": bench_queries, "render": RENDER}
        million.main(args, hooks, args.reps or 10)
        return

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.json"
    # Merge with earlier runs so that `--scale 10` alone keeps the scale-1 figures.
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"scales": {}}
    results["codec"] = args.codec
    results["machine"] = {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for scale in scales:
        print(f"scale {scale} ({scale * BASE_STORIES:,} stories)", flush=True)
        results["scales"][str(scale)] = bench_scale(scale, args.work, reps)
        results["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        path.write_text(json.dumps(results, indent=2) + "\n")
        (args.out / "results.md").write_text(markdown(results))
    print()
    print(markdown(results))


if __name__ == "__main__":
    main()
