"""Time one indexing run as a child process: wall, CPU, peak RSS of the process tree.

    python bench/indexing.py CORPUS INDEX [--codec columnar|whoosh] [--update] [--touch N]
                             [--code DIR]

A rebuild by default; --update runs `searchapp index` without --rebuild, and --touch N first
appends a sentence to the N-th corpus file (restored afterwards, and indexed again). Prints one
JSON line per run, with the indexer's stage times (`-v`) and the machine's load average, so A/B
runs on a shared machine can be compared by CPU seconds. --code DIR runs the searchapp package
found in DIR instead (e.g. `git archive main | tar -x -C /tmp/main-src`), for A/B runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import run_child


def index_once(
    corpus: Path, index: Path, codec: str, rebuild: bool, code: Path | None = None
) -> dict[str, Any]:
    env = dict(os.environ, SEARCHAPP_CODEC=codec)
    cmd = [sys.executable, "-m", "searchapp.cli", "index", "--corpus", str(corpus)]
    if code is not None:
        # -P: no working directory on sys.path, so PYTHONPATH's searchapp comes first.
        env["PYTHONPATH"] = str(code)
        cmd.insert(1, "-P")
    cmd += ["--index", str(index), "-v"] + (["--rebuild"] if rebuild else [])
    result = run_child(cmd, env=env)
    output = result.pop("output")
    result["stages"] = [line for line in output.splitlines() if "stage" in line]
    result["summary"] = output.splitlines()[-1] if output else ""
    result["load"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("index", type=Path)
    ap.add_argument("--codec", choices=("columnar", "whoosh"), default="columnar")
    ap.add_argument("--update", action="store_true", help="incremental run, no --rebuild")
    ap.add_argument("--touch", type=int, default=None, help="change the N-th file first")
    ap.add_argument("--code", type=Path, default=None, help="run the searchapp found in DIR")
    args = ap.parse_args()
    if args.touch is None:
        print(
            json.dumps(index_once(args.corpus, args.index, args.codec, not args.update, args.code))
        )
        return
    files = sorted(p for p in args.corpus.iterdir() if p.is_file())
    target = files[args.touch % len(files)]
    original = target.read_bytes()
    try:
        with target.open("a", encoding="utf-8") as fh:
            fh.write("\nA sentence appended by the benchmark.\n")
        print(json.dumps(index_once(args.corpus, args.index, args.codec, False, args.code)))
    finally:
        target.write_bytes(original)
    print(json.dumps(index_once(args.corpus, args.index, args.codec, False, args.code)))


if __name__ == "__main__":
    main()
