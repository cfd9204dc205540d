"""kill -9 of ONE process of a running indexer: the parent alone, or one of its children alone.

This is what the OOM killer, a container runtime or an operator's `kill -9 PID` does; killing
the whole process group (as these tests once did) hides what a lone kill leaves behind.

The corpus has enough files (> formats.CHUNK_FILES) for the reader pool and enough stories
(>= indexer.PARALLEL_MIN_DOCS) for Whoosh's writer processes, so the children exist to be
orphaned. After every kill: no process of that run is left, the index holds the old or the
new stories and `searchapp check` passes, and the next plain run ends with exactly the
corpus's stories. SEARCHAPP_KILLS sets the kills per mode (default 4: 12 per test);
SEARCHAPP_SEED replays the random moments.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from searchapp import writelock
from searchapp.formats import CHUNK_FILES
from searchapp.indexer import PARALLEL_MIN_DOCS
from searchapp.models import SearchRequest
from searchapp.search import SearchService
from tests.conftest import write_jsonl
from tests.test_reliability import KILLS, SEED, assert_clean, assert_healthy, cli, story

pytestmark = pytest.mark.slow

PER_FILE = 4
FILES = 600  # the corpus in update and rebuild modes: 2,400 stories
ADD_BASE = 100  # add mode: 100 files indexed, then FILES more added
assert FILES > CHUNK_FILES and FILES * PER_FILE >= PARALLEL_MIN_DOCS


def write_files(corpus: Path, files: range, edition: int = 1) -> None:
    """Write f<NNNN>.jsonl for each number in files, PER_FILE stories each."""
    for f in files:
        first = f * PER_FILE
        stories = (story(i, edition) for i in range(first, first + PER_FILE))
        write_jsonl(corpus / f"f{f:04d}.jsonl", stories)


def remove_files(corpus: Path, files: range) -> None:
    for f in files:
        (corpus / f"f{f:04d}.jsonl").unlink(missing_ok=True)


def corpus_ids(corpus: Path) -> set[str]:
    """The ids the corpus holds now (file f holds stories f*PER_FILE ...)."""
    ids = set()
    for path in corpus.glob("f*.jsonl"):
        f = int(path.stem[1:])
        ids.update(f"s{i:05d}" for i in range(f * PER_FILE, (f + 1) * PER_FILE))
    return ids


def stored(index: Path) -> list[str]:
    """Every stored story's id and edition marker, as 'id edition' strings."""
    articles = SearchService(index).export(SearchRequest(q="", snippets=False))
    return [f"{a.id} {a.body.rsplit(' ', 1)[-1]}" for a in articles]


def processes_naming(path: Path) -> list[str]:
    """Live processes whose command line names path (every process of an indexer run does)."""
    needle = str(path).encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if needle in cmdline:
            shown = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{name}: {shown}")
    return found


def assert_no_process_left(index: Path) -> None:
    # The kernel delivers PR_SET_PDEATHSIG at once; the bound only keeps a failure finite.
    deadline = time.monotonic() + 10
    while processes_naming(index) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_naming(index) == [], "processes of the killed run are still alive"


def children_of(pid: int) -> list[int]:
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue
            if int(stat[stat.rindex(b")") + 2 :].split()[1]) == pid:
                kids.append(int(name))
    return kids


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_indexer(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "searchapp.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def modes(tmp_path: Path) -> Iterator[tuple[Path, Path, list[str]]]:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    yield corpus, index, ["index", "--corpus", str(corpus), "--index", str(index), "-q"]
    # Whatever happened, never leave a process of ours behind for the next test.
    for line in processes_naming(index):
        os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)


def prepare(mode: str, corpus: Path, index: Path, common: list[str], turn: int) -> list[str]:
    """Bring the corpus to the state this turn's run should reach; return the run's args."""
    if turn == 0:  # the first index
        write_files(corpus, range(ADD_BASE if mode == "add" else FILES))
        assert cli(*common).returncode == 0
    if mode == "add":
        batch = range(ADD_BASE, ADD_BASE + FILES)
        remove_files(corpus, batch)
        assert cli(*common).returncode == 0  # a plain delete run: back to the small corpus
        write_files(corpus, batch)
        return common
    if mode == "update":
        write_files(corpus, range(FILES), edition=2 + turn)  # every story of every file changes
        return common
    # rebuild: alternately 100 files more or fewer, so old and new differ
    if turn % 2 == 0:
        write_files(corpus, range(FILES, FILES + 100))
    else:
        remove_files(corpus, range(FILES, FILES + 100))
    return [*common, "--rebuild"]


def check_after_kill(
    corpus: Path, index: Path, common: list[str], old: list[str], new_ids: set[str], new: str
) -> str:
    """The checks after any kill; returns 'old' or 'new' (what the killed run left)."""
    assert_no_process_left(index)
    left = sorted(stored(index))
    assert_healthy(index, {len(left)})
    assert left == old or {s.split()[0] for s in left} == new_ids, "neither old nor new stories"
    outcome = "old" if left == old else "new"
    if new and outcome == "new":
        assert {s.split()[1] for s in left} == {new}, "a mix of old and new versions"
    done = cli("check", "--index", str(index))
    assert done.returncode == 0, done.stderr
    done = cli(*common)  # the next plain run
    assert done.returncode == 0, done.stderr
    after = stored(index)
    assert {s.split()[0] for s in after} == new_ids and len(after) == len(new_ids)
    if new:
        assert {s.split()[1] for s in after} == {new}
    assert_clean(index)
    return outcome


def uncut(args: list[str]) -> float:
    """Run the indexer to the end and return its wall time (to aim the kills)."""
    started = time.monotonic()
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    return time.monotonic() - started


@pytest.mark.parametrize("mode", ["add", "update", "rebuild"])
def test_kill9_of_the_parent_alone(modes: tuple[Path, Path, list[str]], mode: str) -> None:
    corpus, index, common = modes
    rng = random.Random(f"{SEED}-parent-{mode}")
    print(f"SEARCHAPP_SEED={SEED} mode={mode} kills={KILLS}")
    outcomes = {"old": 0, "new": 0}
    duration = uncut(prepare(mode, corpus, index, common, 0))
    for turn in range(1, KILLS + 1):
        args = prepare(mode, corpus, index, common, turn)
        old = sorted(stored(index))
        proc = start_indexer(args)
        # Up to 1.2x an uncut run: most kills land mid-run (reading, writing, commit, switch).
        try:
            proc.wait(timeout=rng.uniform(0.1, duration * 1.2))
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)  # the parent's pid alone, never its group
            proc.wait(timeout=30)
        assert proc.stderr is not None
        assert proc.returncode in (0, -signal.SIGKILL), proc.stderr.read()
        proc.stderr.close()
        edition = f"edition{2 + turn}" if mode == "update" else ""
        outcomes[check_after_kill(corpus, index, common, old, corpus_ids(corpus), edition)] += 1
    print(f"{mode}: {outcomes} (uncut run {duration:.1f} s)")


@pytest.mark.parametrize("mode", ["add", "rebuild"])
def test_kill9_of_one_child_alone(modes: tuple[Path, Path, list[str]], mode: str) -> None:
    # add: the children are the reader pool; rebuild: readers, then Whoosh's writers.
    corpus, index, common = modes
    rng = random.Random(f"{SEED}-child-{mode}")
    print(f"SEARCHAPP_SEED={SEED} mode={mode} kills={KILLS}")
    outcomes: dict[str, int] = {}
    duration = uncut(prepare(mode, corpus, index, common, 0))
    for turn in range(1, KILLS + 1):
        args = prepare(mode, corpus, index, common, turn)
        old = sorted(stored(index))
        proc = start_indexer(args)
        started = time.monotonic()
        not_before = started + rng.uniform(0, duration * 0.8 if mode == "rebuild" else 0.2)
        victim = None
        while proc.poll() is None and time.monotonic() < started + 60:
            kids = children_of(proc.pid)
            if kids and time.monotonic() >= not_before:
                victim = max(kids, key=rss_kb)  # the biggest, as the OOM killer picks
                os.kill(victim, signal.SIGKILL)
                break
            time.sleep(0.005)
        # The parent must notice and stop (or have finished): never hang on a dead child.
        _out, err = proc.communicate(timeout=120)
        assert "Traceback" not in err, err
        if proc.returncode != 0:
            # The victim is named when its exit status could be read before the others'.
            said = "killed by SIGKILL" in err or "a reader process died" in err
            assert proc.returncode == 1 and said, (proc.returncode, err)
            assert "the live index is unchanged" in err
        key = f"exit {proc.returncode}" + ("" if victim else " (no child seen)")
        outcomes[key] = outcomes.get(key, 0) + 1
        check_after_kill(corpus, index, common, old, corpus_ids(corpus), "")
    print(f"{mode}: {outcomes} (uncut run {duration:.1f} s)")


def test_leftovers_of_a_dead_indexer_holding_the_lock_are_stopped(tmp_path: Path) -> None:
    # What an indexer killed alone left before children died with their parent (and what an
    # older version still leaves): a child holding the writer lock, its parent gone.
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    write_files(corpus, range(3))
    script = (
        "import os, sys, time\n"
        "from pathlib import Path\n"
        "from searchapp import writelock\n"
        "with writelock.writer_lock(Path(sys.argv[1]), wait=0):\n"
        "    if os.fork() == 0:\n"  # a bare fork, as Whoosh's writer makes: keeps the lock fd
        "        time.sleep(300); os._exit(0)\n"
        "    print('locked', flush=True); time.sleep(300)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(index)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        orphans = children_of(holder.pid)
        assert len(orphans) == 1
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        assert processes_naming(index), "the orphan should still hold the lock"
        done = cli("index", "--corpus", str(corpus), "--index", str(index), "--wait", "1")
        assert done.returncode == 0, done.stderr
        assert processes_naming(index) == []
        assert sorted(s.split()[0] for s in stored(index)) == sorted(corpus_ids(corpus))
    finally:
        for line in processes_naming(index):
            os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_a_live_holder_is_never_stopped(tmp_path: Path) -> None:
    # The leftovers rule must not touch a live indexer: it is busy, and the message names it.
    index = tmp_path / "index"
    with writelock.writer_lock(index, wait=0):
        done = cli("index", "--corpus", str(tmp_path), "--index", str(index), "--wait", "0.3")
        assert done.returncode == 1
        assert f"process {os.getpid()}" in done.stderr and "index busy" in done.stderr
