"""From a prepared request to its result set, its page of hits and its export order.

A request is evaluated once into masks (the query's documents, each filter's, the date range's,
the final set); the page is a partial sort of the scores (ties newest first) and only its
stories' stored fields are read. Newest/oldest pages come from orders the Generation keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from whoosh import query

from searchapp import dupes, scoring, spelling
from searchapp.errors import NotFoundError, QueryError
from searchapp.evaluator import Evaluator
from searchapp.facets import assemble
from searchapp.generation import Damaged, article_from_stored
from searchapp.highlight import highlight_terms, snippet
from searchapp.models import Hit, SearchPage, SearchRequest
from searchapp.reading import Reading, read_query


@dataclass(frozen=True)
class Prepared:
    """A checked request: filters resolved to the index's values, its query read."""

    req: SearchRequest
    reading: Reading  # how the query text was read (reading.py)
    start: int | None  # date bounds, epoch seconds
    stop: int | None
    exclude: int | None = None  # the story a "more like this" query starts from
    # False on a shard of a sharded index: which phrases no story holds is decided over every
    # shard (searchapp/cluster), so a phrase missing here still matches nothing here.
    relax_empty: bool = True

    @property
    def q(self) -> Any:
        """The Whoosh query of everything searched, None for "every story"."""
        return self.reading.query


@dataclass
class Selection:
    """The documents a request selects, as masks over document numbers."""

    base: np.ndarray  # the query alone
    filters: dict[str, np.ndarray]  # each facet filter alone
    dates: np.ndarray | None  # the date range alone
    final: np.ndarray  # all of them together: the results
    sort: str
    scores: np.ndarray | None  # relevance of every document (None without a query)
    tier: np.ndarray | None = None  # stories holding every soft word (lenient reading)


def like_query(searcher: Any, article_id: str) -> tuple[Any, int]:
    """Return a query for stories like an article (its key terms), and its document number."""
    docnum = searcher.document_number(id=article_id)
    if docnum is None:
        raise NotFoundError(f'no article with id "{article_id}" in the index')
    article = article_from_stored(searcher.stored_fields(docnum))
    text = " ".join([article.title, article.title, article.lead, article.body])
    terms = searcher.key_terms_from_text("body", text, numterms=15)
    if not terms:
        raise QueryError(f'article "{article_id}" has too few words to find similar ones')
    q = query.Or([query.Term("body", t, boost=float(w)) for t, w in terms])
    return q, docnum


def match_reading(
    ev: Evaluator, reading: Reading, relax_empty: bool = True
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Return (matching stories, scores, all-words tier) of a reading.

    Hard parts (phrases, +/-, fields, expressions) must match; a phrase no story holds is
    read as its words instead. Then a story needs at least one soft word, and the stories
    holding every soft word form the first tier (all words first, then most words).
    """
    fd = ev.fd
    if reading.empty:
        return fd.live.copy(), None, None
    if reading.nothing:
        return np.zeros(fd.n, dtype=bool), np.zeros(fd.n), None
    if reading.required is not None:
        base, scores = ev.evaluate(reading.required)
    else:
        base, scores = fd.live.copy(), np.zeros(fd.n)
    for label, phrase, _words in list(reading.phrases):
        m, sc = ev.evaluate(phrase)
        if m.any() or not relax_empty:
            base &= m
            scores += sc
        else:
            reading.relax(label)
    if not reading.words:
        return base, scores, None
    every = base.copy()
    some = np.zeros(fd.n, dtype=bool)
    for word in reading.words:
        m, sc = ev.evaluate(word)
        every &= m
        some |= m
        scores += sc
    base &= some
    return base, np.where(base, scores, 0.0), every & base


def select(ev: Evaluator, p: Prepared) -> Selection:
    """Compute the query's documents, each filter's, and the final result set."""
    fd = ev.fd
    base, scores, tier = match_reading(ev, p.reading, p.relax_empty)
    if p.exclude is not None:
        base[p.exclude] = False
    filters = {name: fd.value_mask(name, values) for name, values in p.req.filters.items()}
    bounded = p.start is not None or p.stop is not None
    dates = fd.date_mask(p.start, p.stop) if bounded else None
    final = base.copy()
    for m in filters.values():
        final &= m
    if dates is not None:
        final &= dates
    # Without a query there is nothing to rank by: relevance means newest first.
    sort = p.req.sort
    if scores is None and sort == "relevance":
        sort = "newest"
    return Selection(base, filters, dates, final, sort, scores, tier)


def ordered(ev: Evaluator, sel: Selection, need: int) -> list[tuple[int, float | None]]:
    """Return the first `need` results in the selection's order, as (docnum, score)."""
    if sel.sort == "relevance":
        return top(ev, sel.final, sel.scores, need, sel.tier)
    order = ev.gen.newest if sel.sort == "newest" else ev.gen.oldest
    seq = order[sel.final[order]]
    ts, dated = ev.fd.ts[seq[: need + 1]], ev.fd.has_date[seq[: need + 1]]
    docs = by_id(
        ev.searcher, seq, [ts, dated], need, descending=sel.sort == "newest",
        more=lambda n: [ev.fd.ts[seq[:n]], ev.fd.has_date[seq[:n]]],
    )
    return [(int(d), None) for d in docs]


def stored_id(searcher: Any, docnum: int) -> str:
    """Return a story's id from its stored fields (a corrupt record is damage, not a bug)."""
    try:
        value = searcher.stored_fields(docnum)["id"]
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise Damaged(f"a stored story cannot be read: {exc}") from exc
    if not isinstance(value, str):
        raise Damaged("a stored story has no text id")
    return value


def by_id(
    searcher: Any, docs: np.ndarray, keys: list[np.ndarray], need: int, descending: bool,
    more: Callable[[int], list[np.ndarray]] | None = None,
) -> np.ndarray:
    """Return the first `need` of docs (sorted by keys, given for a prefix of docs), stories
    equal on every key ordered by their id (descending or not) instead of document number.

    Document numbers depend on how an index was built (one folder, or shards that number their
    own); ids do not, so one index and a sharded one order ties alike. Only the tied stories
    within reach of the page have their ids read; more(n) gives the keys of a longer prefix
    when the group tied with the last story shown runs past the keys given.
    """
    end = min(need, len(docs))
    if end <= 0:
        return docs[:0]
    while True:
        stacked = np.stack(keys)
        same = np.all(stacked[:, 1:] == stacked[:, :-1], axis=0)  # docs i and i+1 tie
        known = stacked.shape[1]
        while end < known and same[end - 1]:
            end += 1
        if end < known or known >= len(docs) or more is None:
            break
        keys = more(min(len(docs), known * 2))
    docs = docs[:end].copy()
    i = 0
    while i < end:
        j = i
        while j + 1 < end and same[j]:
            j += 1
        if j > i:
            group = docs[i : j + 1]
            ids = [stored_id(searcher, int(d)) for d in group]
            idx = sorted(range(len(group)), key=ids.__getitem__, reverse=descending)
            docs[i : j + 1] = group[idx]
        i = j + 1
    return docs[:need]


def top(
    ev: Evaluator,
    final: np.ndarray,
    scores: np.ndarray | None,
    need: int,
    tier: np.ndarray | None = None,
) -> list[tuple[int, float | None]]:
    """Return the best `need` results as (docnum, score): stories with every word first,
    then by score, ties newest first, then by id (by_id)."""
    docs = np.flatnonzero(final)
    if scores is None or len(docs) == 0 or need == 0:
        return []
    doc_scores = np.round(scores[docs], 9)
    top_tier = tier[docs].astype(np.int8) if tier is not None else None
    ts = ev.fd.ts

    def ranked(n: int) -> tuple[np.ndarray, list[np.ndarray]]:
        order = scoring.ranked(docs, doc_scores, top_tier, ts, n)
        tiers = top_tier[order] if top_tier is not None else np.zeros(len(order), np.int8)
        return order, [tiers, doc_scores[order], ts[docs[order]]]

    order, keys = ranked(need + 1)
    if len(order) > need:
        # The group tied with the last story shown may run past need + 1: rank more of them.
        while len(order) < len(docs) and all(k[need - 1] == k[-1] for k in keys):
            order, keys = ranked(min(len(docs), 2 * len(order)))
    # order holds positions in docs: by_id reads the ids of document numbers.
    picked = by_id(ev.searcher, docs[order], keys, need, descending=True)
    score_of = dict(zip(docs[order].tolist(), doc_scores[order].tolist(), strict=True))
    return [(int(d), float(score_of[int(d)])) for d in picked]


def run_page(ev: Evaluator, p: Prepared) -> SearchPage:
    """Return the request's page, with facets over the whole result set."""
    req = p.req
    sel = select(ev, p)
    total = int(sel.final.sum())
    pages = max(1, -(-total // req.per_page))
    if req.page > pages:
        raise QueryError(
            f"page {req.page} is past the last page ({pages}) of {total} results: "
            f"use a page from 1 to {pages}"
        )
    landing = p.reading.empty and not sel.filters and sel.dates is None and not req.like
    facets, truncated = assemble(
        ev.fd, sel.base, sel.filters, sel.dates, sel.final, req.facet_limit,
        ev.gen.landing if landing else None,
    )
    lo = (req.page - 1) * req.per_page
    # Copies of one story become one hit (dupes.py); total and facets count every story.
    picked, copies = dupes.collapse(ev, sel, ordered, lo, req.per_page)
    return SearchPage(
        query=req.q if not req.like else f"like:{req.like}",
        total=total,
        page=req.page,
        per_page=req.per_page,
        took_ms=0.0,
        sort=sel.sort,
        hits=hits(ev.searcher, p.q, picked, req.snippets, dupes.copy_ids(ev, copies)),
        facets=facets,
        truncated=truncated,
        request=req,
        # Tiers only mean something with two soft words or more.
        total_all=(
            int((sel.final & sel.tier).sum())
            if sel.tier is not None and len(p.reading.words) > 1
            else None
        ),
        reading=p.reading.to_dict() if not p.reading.strict and not p.reading.empty else None,
        copies=sum(len(c) for c in copies.values()),
    )


def hits(
    searcher: Any,
    q: Any,
    picked: list[tuple[int, float | None]],
    snippets: bool,
    copies: dict[int, tuple[str, ...]] | None = None,
) -> list[Hit]:
    """Copy the picked stories into Hits, with snippets marking the query's words (and the
    ids of each story's copies, when given)."""
    terms = highlight_terms(q, searcher.reader()) if q is not None and snippets else set()
    out = []
    for docnum, score in picked:
        article = article_from_stored(searcher.stored_fields(docnum))
        out.append(
            Hit(
                id=article.id,
                title=article.title,
                date=article.iso_date,
                section=article.section,
                topics=article.topics,
                persons=article.persons,
                place=article.place,
                score=round(score, 4) if score is not None else None,
                snippet=snippet([article.body, article.lead], terms) if snippets else "",
                lead=article.lead,
                title_made=article.title_made,
                copies=(copies or {}).get(docnum, ()),
            )
        )
    return out


def suggest_correction(ev: Evaluator, p: Prepared, page: SearchPage) -> None:
    """Offer did-you-mean on a page with few results; show the correction's on none."""
    if p.q is None or p.req.like or page.total >= spelling.SUGGEST_BELOW:
        return
    fixed = spelling.corrected(ev.searcher, p.req.q)
    if fixed is None:
        return
    try:
        reading = read_query(fixed, ev.searcher.schema, ev.searcher.reader(), p.req.strict)
    except QueryError:
        return
    other = run_page(ev, replace(p, req=replace(p.req, q=fixed, page=1), reading=reading))
    if other.total <= page.total:
        return
    page.offer_correction(fixed, other)
