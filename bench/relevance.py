"""Ranking quality on the relevance test collections, measured through the product's JSON API.

    python bench/relevance.py [--shared DIR] [--collection cran] [--work DIR] [--out FILE]

For each collection in SHARED/corpora/relevance/ (Cranfield and CACM by default): index its
docs.jsonl into a temporary index with `searchapp index`, serve it with `searchapp serve` on a
free loopback port, and run SHARED/tools/relevance_eval.py against it in both modes, "typed"
(each question as a person types it) and "or" (its words joined with OR). Prints one table
and writes it to bench/results/relevance.md (with the baselines of issue 10 beside it).

SHARED defaults to ../shared next to the repository (the collections are not in the repo).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = ROOT.parent / "shared"
COLLECTIONS = ("cran", "cacm")
MODES = ("typed", "or")
# Issue 10's best baseline per collection (bm25s, OR, Snowball, English stop words, k1 1.5,
# b 0.75): both modes must reach it.
BASELINE_NDCG = {"cran": 0.353, "cacm": 0.494}
METRICS = ("nDCG@10", "MAP@100", "P@10", "R@100")
_LINE = re.compile(r"^(\S+) \((\w+), (\d+) queries, (\d+) errors\): (.*)$")


def _bin(name: str) -> str:
    """Return the console script of the venv running this file (or the one on PATH)."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_up(base: str, proc: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"searchapp serve exited with code {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{base}/api/search?q=&per_page=1", timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"searchapp serve did not answer on {base} within {seconds:g} s")


def run_collection(shared: Path, name: str, work: Path) -> dict[str, dict[str, float]]:
    """Index, serve and score one collection; return {mode: {metric: value, errors: n}}."""
    coll = shared / "corpora" / "relevance" / name
    index = work / f"index-{name}"
    shutil.rmtree(index, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run(
        [
            _bin("searchapp"),
            "index",
            "--rebuild",
            "--corpus",
            str(coll / "docs.jsonl"),
            "--index",
            str(index),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"{name}: indexed in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [_bin("searchapp"), "serve", "--index", str(index), "--port", str(port), "--threads", "2"],
        stderr=subprocess.DEVNULL,
    )
    out: dict[str, dict[str, float]] = {}
    try:
        _wait_up(base, server)
        for mode in MODES:
            done = subprocess.run(
                [
                    sys.executable,
                    str(shared / "tools" / "relevance_eval.py"),
                    base,
                    str(coll),
                    "--mode",
                    mode,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            for line in done.stderr.splitlines():
                print(f"  {name} {mode}: {line}", file=sys.stderr)
            m = _LINE.match(done.stdout.strip().splitlines()[-1])
            if not m:
                raise SystemExit(f"cannot read the scorer's output: {done.stdout!r}")
            figures = {k: float(v) for k, v in (p.rsplit(" ", 1) for p in m.group(5).split(", "))}
            figures["queries"] = float(m.group(3))
            figures["errors"] = float(m.group(4))
            out[mode] = figures
            print(f"  {done.stdout.strip()}", file=sys.stderr)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return out


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    """Return the results as a Markdown table, one row per collection and mode."""
    rows = [
        "| collection | mode | queries | errors | "
        + " | ".join(METRICS)
        + " | baseline nDCG@10 | verdict |",
        "|---|---|---|---|" + "---|" * len(METRICS) + "---|---|",
    ]
    for name, modes in results.items():
        for mode, f in modes.items():
            base = BASELINE_NDCG.get(name)
            ok = base is None or (f["nDCG@10"] >= base and f["errors"] == 0)
            rows.append(
                f"| {name} | {mode} | {int(f['queries'])} | {int(f['errors'])} | "
                + " | ".join(f"{f[k]:.4f}" for k in METRICS)
                + f" | {base if base is not None else '–'} | {'pass' if ok else 'MISS'} |"
            )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--shared",
        type=Path,
        default=DEFAULT_SHARED,
        help="the shared data folder (default: ../shared beside the repo)",
    )
    ap.add_argument(
        "--collection",
        action="append",
        choices=COLLECTIONS,
        help="collection to run (repeatable; default: all)",
    )
    ap.add_argument("--work", type=Path, help="keep the indexes here (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "relevance.md")
    a = ap.parse_args()
    relevance = a.shared / "corpora" / "relevance"
    tool = a.shared / "tools" / "relevance_eval.py"
    if not relevance.is_dir() or not tool.is_file():
        raise SystemExit(
            f"the relevance collections are not in {a.shared} (need corpora/relevance/ and "
            "tools/relevance_eval.py): put the shared data folder beside the repository or "
            "pass --shared DIR"
        )
    names = a.collection or list(COLLECTIONS)
    work = a.work or Path(tempfile.mkdtemp(prefix="searchapp-relevance-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = {name: run_collection(a.shared, name, work) for name in names}
    finally:
        if a.work is None:
            shutil.rmtree(work, ignore_errors=True)
    text = table(results)
    print(text)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(
        "# Ranking quality on the relevance collections\n\n"
        f"`python bench/relevance.py`, {stamp}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs. Each question is sent to `/api/search?per_page=100` as typed, "
        "and as its words joined with OR (`relevance_eval.py --mode typed|or`). Baseline: "
        "issue 10's best BM25 (bm25s, OR, Snowball, English stop words, k1 1.5, b 0.75).\n\n"
        f"{text}\n",
        encoding="utf-8",
    )
    print(f"written to {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
