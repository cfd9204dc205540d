"""Duplicate collapse and did-you-mean over every shard, by the single index's rules.

dupes.collapse folds copies of one story into one hit while a page is filled; copies may sit on
different shards, so the coordinator walks the merged order itself and compares the stories of
each hit's block (same day, same title length) that the shards send as texts (dupes.py's
fingerprints hash per process and cannot travel). spelling.best_correction ranks candidates by
how many stories use them: the shards send their candidates, then the weights of every
candidate summed over the shards.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

from whoosh.support.levenshtein import distance

from searchapp import dupes, spelling
from searchapp.cluster.shard import Part

# (shard, docnum, score) of one merged result, as merge.Picked.
Picked = tuple[int, int, float | None]
Member = tuple[int, int, str, str, str]  # (block, docnum, id, title, body) from one shard


def blocks_of(parts: dict[int, Part]) -> dict[tuple[int, int], int]:
    """Return the dupes.py block of every (shard, docnum) the shards ranked."""
    return {
        (k, key[3]): block
        for k, part in parts.items()
        for key, block in zip(part.keys, part.blocks, strict=True)
    }


def collapse(
    merged: list[Picked], blocks: dict[tuple[int, int], int],
    members: dict[int, list[Member]], want: int,
) -> tuple[list[Picked], dict[tuple[int, int], tuple[str, ...]]]:
    """dupes.collapse's walk over the merged order: the first `want` hits and each hit's copies
    (ids, in id order as dupes.copy_ids gives them). members: each shard's results in the
    blocks of the merged stories."""
    by_block: dict[int, list[tuple[int, int, Any]]] = {}
    prints: dict[tuple[int, int], dupes.Fingerprint] = {}
    for k, answer in members.items():
        for block, doc, sid, title, body in answer:
            by_block.setdefault(block, []).append((k, doc, sid))
            prints[(k, doc)] = dupes.fingerprint(SimpleNamespace(id=sid, title=title, body=body))
    hits: list[Picked] = []
    copies: dict[tuple[int, int], tuple[str, ...]] = {}
    taken: set[tuple[int, int]] = set()
    for shard, doc, score in merged:
        me = (shard, doc)
        if me in taken:
            continue
        same = by_block.get(blocks[me], []) if blocks[me] >= 0 else []
        others = [(k, d) for k, d, _id in same if (k, d) != me and (k, d) not in taken]
        found = [o for o in others if dupes.same_story(prints[me], prints[o])] if others else []
        taken.update(found)
        taken.add(me)
        hits.append((shard, doc, score))
        if found:
            copies[me] = tuple(sorted(prints[o].id for o in found))
        if len(hits) == want:
            break
    return hits, copies


Candidates = dict[str, list[tuple[int, str, str, str]] | None]


def corrected(
    text: str, answers: Iterable[Candidates], weights: Callable[[list[str]], dict[str, int]],
    surface: Callable[[str], str | None],
) -> str | None:
    """spelling.corrected over every shard: a word any shard knows stays; another becomes
    spelling.best_correction's pick, stories counted over every shard. weights(stems) sums
    the shards' counts; surface(stem) is the word a story uses for a stem (the first shard's
    that holds it: one index reads its first story's, see docs/cluster.md)."""
    known: set[str] = set()
    cands: dict[str, set[tuple[int, str, str, str]]] = {}
    for answer in answers:
        for word, found in answer.items():
            if found is None:
                known.add(word)
            else:
                cands.setdefault(word, set()).update(found)
    stems = sorted({c[3] for word, found in cands.items() if word not in known for c in found})
    weight = weights(stems) if stems else {}
    changed = False

    def best(word: str) -> str | None:
        lower = word.lower()
        edits = spelling.max_edits(lower)
        ranked = sorted((d, -weight.get(s, 0), c, f) for d, c, f, s in cands.get(word, ()))
        for _dist, neg_weight, cand, from_stem in ranked[: spelling.MAX_TRIED]:
            if neg_weight == 0:
                continue
            shown = surface(from_stem) if from_stem else cand
            if not shown or shown == lower:
                continue
            dist = distance(shown, lower)
            if dist <= edits and -neg_weight >= (spelling.MIN_STORIES_AT_2 if dist >= 2 else 1):
                return shown
        return None

    def fix(m: re.Match[str]) -> str:
        nonlocal changed
        word = m.group(1)
        if word in spelling._OPERATORS or word in known:
            return word
        found = best(word)
        if found is None:
            return word
        changed = True
        return spelling._same_case(word, found)

    result = spelling._WORD.sub(fix, text)
    return result if changed else None
