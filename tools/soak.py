"""Run the full-size reliability loops: kill -9 during indexing (20+ per mode) and a 60 s load.

    python tools/soak.py [--kills 20] [--load-seconds 60] [--load-out soak-load.json]

The tests are the ones CI runs (tests/test_kills.py, tests/test_reliability.py) with bigger
loop sizes passed in the environment, so the soak and CI can never drift apart.
Exit status: pytest's (0 = all passed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SELECTIONS = {
    "kill -9 of the indexer alone": ("tests/test_kills.py", "parent"),
    "kill -9 of one child alone": ("tests/test_kills.py", "child"),
    "searches during commits": ("tests/test_reliability.py", "searches_during_commits"),
    "load": ("tests/test_reliability.py", "test_load"),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="kills per mode (add/update/rebuild)")
    parser.add_argument("--load-seconds", type=float, default=60.0, help="load-test duration")
    parser.add_argument("--load-out", default="soak-load.json", help="where p50/p95 are written")
    parser.add_argument("--seed", type=int, default=None, help="seed of the kill delays")
    args = parser.parse_args()

    env = dict(os.environ)
    env["SEARCHAPP_KILLS"] = str(args.kills)
    env["SEARCHAPP_LOAD_SECONDS"] = str(args.load_seconds)
    env["SEARCHAPP_LOAD_OUT"] = str(Path(args.load_out).resolve())
    if args.seed is not None:
        env["SEARCHAPP_SEED"] = str(args.seed)

    results: list[tuple[str, int, float]] = []
    for label, (path, selector) in SELECTIONS.items():
        started = time.monotonic()
        # -s shows each test's own summary lines (kill outcomes, seed, latencies).
        cmd = [sys.executable, "-m", "pytest", path, "-k", selector]
        rc = subprocess.call([*cmd, "-q", "-s", "-p", "no:cacheprovider"], cwd=REPO, env=env)
        results.append((label, rc, time.monotonic() - started))

    print("\nsoak summary")
    for label, rc, seconds in results:
        print(f"  {label:<28} {'PASS' if rc == 0 else 'FAIL'}  ({seconds:.0f} s)")
    out = Path(env["SEARCHAPP_LOAD_OUT"])
    if out.exists():
        load = json.loads(out.read_text(encoding="utf-8"))
        print(
            f"  load: {load['requests']} requests, p50 {load['p50_ms']} ms, p95 {load['p95_ms']} ms"
        )
    return max(rc for _label, rc, _s in results)


if __name__ == "__main__":
    sys.exit(main())
