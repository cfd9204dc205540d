"""Typo handling and duplicate collapse: what they cost on a real index.

    python bench/fuzzy.py --index I [--index I2 ...] [--reps 5] [--whoosh] [--out bench/results]

For each index, on a warm SearchService (facets loaded):

* fuzzy: the first fuzzy search (it reads the lexicons of the searched fields from Whoosh
  and writes them beside the segments), the first after a restart (read back from those
  files), then p50/p95 of whole searches (snippets, facets) for a mix of ``word~1`` and
  ``word~2`` queries, with the expansion memo cleared before each one (what a word costs the
  first time it is typed);
* did-you-mean: whole searches of misspelt queries that get a correction;
* collapse: the plain query mix of bench/run.py with duplicate collapse on and off
  (results.dupes.collapse swapped for a plain slice), pages 1 and 20;
* --whoosh: Whoosh's own expansion of ``kremlin~2`` over the five searched fields, for
  reference (seconds).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from whoosh import query as wquery

from searchapp import dupes, fuzzy, results
from searchapp.models import SearchRequest
from searchapp.schema import DEFAULT_FIELDS
from searchapp.search import SearchService

# The same timing helper and plain query mix as bench/run.py (the collapse figures compare).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import WORDS, pctl

FUZZY = [
    "kremlin~2",
    "opec~",
    "gorbachev~2",
    "prices~2",
    "kremiln~",
    "petroleum~2",
    "coffee~",
    "economy~2",
    "reagan~",
    "brazil~2",
    "tonnes~",
    "dollar~2",
]
TYPOS = ["Kremiln", "Gorbachov", "petrolium", "Thatchr", "cofee pricse", "economc"]


def timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def plain(ev: Any, sel: Any, ordered: Any, lo: int, per_page: int) -> Any:
    return ordered(ev, sel, lo + per_page)[lo:], {}


def bench_index(index: Path, reps: int, whoosh: bool) -> dict[str, Any]:
    svc = SearchService(index)
    out: dict[str, Any] = {"stories": svc.search(SearchRequest(q="")).total}
    # The first fuzzy search of a new index reads the lexicons from Whoosh and writes them
    # beside the segments; after a restart they are read back from those files.
    for old in svc.generation().gen.glob("lexicon-*.txt"):
        old.unlink()
    out["first_fuzzy_ms"] = round(timed(lambda: svc.search(SearchRequest(q="kremlin~2"))) * 1e3)
    fuzzy._LEXICONS.clear()
    fuzzy._EXPANSIONS.clear()
    first = timed(lambda: svc.search(SearchRequest(q="kremlin~2")))
    out["first_fuzzy_after_restart_ms"] = round(first * 1e3)
    samples: list[float] = []
    per_query: dict[str, list[float]] = {q: [] for q in FUZZY}
    for _ in range(reps):
        for q in FUZZY:
            fuzzy._EXPANSIONS.clear()
            per_query[q].append(timed(lambda q=q: svc.search(SearchRequest(q=q))))
            samples.append(per_query[q][-1])
    out["fuzzy"] = pctl(samples)
    out["fuzzy_p50_ms"] = {q: pctl(v)["p50_ms"] for q, v in per_query.items()}
    # The expansion alone (five fields), without evaluation, facets or snippets.
    reader = svc.generation().searcher().reader()
    expansion: list[float] = []
    for _ in range(reps):
        fuzzy._EXPANSIONS.clear()
        t = time.perf_counter()
        for field in DEFAULT_FIELDS:
            fuzzy.terms_within(reader, field, "kremlin", 2, 0)
        expansion.append(time.perf_counter() - t)
    out["kremlin2_expansion"] = pctl(expansion)
    out["fuzzy_totals"] = {q: svc.search(SearchRequest(q=q)).total for q in FUZZY}
    samples = []
    for _ in range(reps):
        for q in TYPOS:
            fuzzy._EXPANSIONS.clear()
            samples.append(timed(lambda q=q: svc.search(SearchRequest(q=q))))
    out["did_you_mean"] = pctl(samples)
    out["corrections"] = {q: svc.search(SearchRequest(q=q)).corrected_query for q in TYPOS}
    for label, page in (("page1", 1), ("page20", 20)):
        for mode, fn in (("on", dupes.collapse), ("off", plain)):
            results.dupes.collapse = fn  # type: ignore[assignment]
            try:
                # Only the queries that have that many pages.
                reqs = [
                    SearchRequest(q=q, page=page)
                    for q in WORDS
                    if svc.search(SearchRequest(q=q, snippets=False)).total > (page - 1) * 10 + 10
                ]
                for r in reqs:
                    svc.search(r)
                samples = [timed(lambda r=r: svc.search(r)) for _ in range(reps) for r in reqs]
            finally:
                results.dupes.collapse = dupes.collapse  # type: ignore[assignment]
            out[f"mix_{label}_collapse_{mode}"] = pctl(samples)
    if whoosh:
        gen = svc.generation()
        s = gen.searcher()
        reader = s.reader()
        t = time.perf_counter()
        for field in DEFAULT_FIELDS:
            list(wquery.FuzzyTerm(field, "kremlin", maxdist=2, prefixlength=0)._btexts(reader))
        out["whoosh_kremlin2_expansion_ms"] = round((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, action="append", required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--whoosh", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    found = {str(i): bench_index(i, args.reps, args.whoosh) for i in args.index}
    text = json.dumps(found, indent=2)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "fuzzy.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
