"""Split the 'Topics'/'Persons' lines, which join multi-word tags with plain spaces, into tags.

'Bashar Assad Vladimir Putin' could be two tags, four, or 'Bashar' and 'Assad Vladimir Putin':
the line alone cannot tell. TagSplitter reads the whole corpus first and then chooses, for every
line, the split with the lowest cost (dynamic programming over the line's words). A tag's cost is
the cost of its length, less the evidence that it is one tag:

- mentions: the tag's words stand together in the story's title, lead or body ('Vladimir Putin'),
  and not only inside a longer phrase that the line also holds ('Bashar' appears only as part of
  'Bashar al-Assad': evidence against 'Bashar' alone). A lowercase prefix joined by a hyphen,
  like 'al-', is dropped; a name needs its last word capitalised ('young' is not Young);
- vocabulary: tags the corpus confirms: lines holding a single word, tags given one per line,
  tags seeded with add_known, and the first-pass splits of all other lines;
- contexts: a span that recurs in other lines between varied neighbours (or line edges) is a unit
  ('James Baker' recurs after 'Greenspan' and at line starts; 'Baker Volcker' does not recur);
- edges: a boundary is unlikely after a word that never ends a line AND before a word that never
  starts one ('James | Baker');
- length: how many words the corpus's tags have, learnt separately for lines in lowercase
  (codes such as 'earn acq money-fx': one word each), in capitals (names) and in mixed case;
- capitalisation, in mixed-case lines (sentence-case topics, 'Foreign policy Syrian conflict'):
  a lowercase word rarely starts a tag, a capital inside one is rare.

No list of names or topics is built in. The first pass splits every ambiguous line without the
learnt vocabulary and lengths; the final pass adds them, leaving out the line's own first-pass
votes and contexts so that a line cannot confirm itself. Output is deterministic and does not
depend on the order of the articles.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar

from searchapp.models import Article, RawArticle
from searchapp.tagtext import (
    ALONE,
    INSIDE,
    MAX_TAG_WORDS,
    TextIndex,
    is_lower,
    is_particle,
    line_style,
)

KINDS = ("topics", "persons")
STYLES = ("lower", "capital", "mixed")

# Costs are in nats (natural-log units), tuned on the Reuters rendering and the reference TASS
# article together (tools/check_tags.py); no single one decides Reuters on its own.
# A phrase found verbatim is evidence that grows with its length: two words together by chance
# are much rarer than one.
MENTION_BONUS = 2.0
MENTION_WORD_BONUS = 2.0
INSIDE_ONLY_COST = 2.0  # the text has the words only inside a longer phrase of the line
SEED_COUNT = 5  # a tag given to add_known counts as this many confirmations
CONTEXT_WEIGHT = 1.0  # per log of the number of distinct contexts a span recurs in
EDGE_PRIOR = 0.5  # the chance that a word with no history begins (or ends) a tag
EDGE_PRIOR_WEIGHT = 2.0  # pseudo-observations behind EDGE_PRIOR
LOWER_START_COST = 2.5  # mixed-case line: a tag that starts with a lowercase word
UPPER_AFTER_LOWER_COST = 1.5  # mixed-case line: 'policy Syrian' inside one tag
UPPER_AFTER_UPPER_COST = 0.75  # mixed-case line: 'Economy Oil' inside one tag
# Pseudo-counts of tag lengths before the corpus says otherwise: lowercase lines are usually
# codes or keywords, one word each (compounds hyphenated: money-fx); names and sentence-case
# topics run to one to three words.
LENGTH_PRIOR = {
    "lower": {1: 8.0, 2: 1.0, 3: 0.5, 4: 0.25, 5: 0.125, 6: 0.0625, 7: 0.03, 8: 0.03},
    "capital": {1: 2.0, 2: 2.0, 3: 1.0, 4: 0.5, 5: 0.25, 6: 0.125, 7: 0.0625, 8: 0.0625},
    "mixed": {1: 2.0, 2: 2.0, 3: 1.0, 4: 0.5, 5: 0.25, 6: 0.125, 7: 0.0625, 8: 0.0625},
}
_LINE_EDGE = ""  # the context of a span at the start or end of a line

Span = tuple[str, ...]


@dataclass
class _Contexts:
    """The neighbours a span has across the corpus's lines."""

    left: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)

    def variety(self, own_left: str | None, own_right: str | None) -> int:
        """Count distinct contexts (each line edge counts apart), leaving one occurrence out."""
        sides = []
        for counts, own in ((self.left, own_left), (self.right, own_right)):
            edges = counts[_LINE_EDGE]
            words = len(counts) - (_LINE_EDGE in counts)
            if own == _LINE_EDGE:
                edges -= 1
            elif own is not None and counts[own] == 1:
                words -= 1
            sides.append(edges + words)
        return min(sides)


@dataclass
class _KindStats:
    """What the corpus says about one kind of tag (topics or persons)."""

    certain: Counter[Span] = field(default_factory=Counter)
    certain_lengths: Counter[tuple[str, int]] = field(default_factory=Counter)
    occurrences: Counter[str] = field(default_factory=Counter)
    starts: Counter[str] = field(default_factory=Counter)
    ends: Counter[str] = field(default_factory=Counter)
    # Every line and certain tag, as lowercased words, with how often it occurs.
    lines: Counter[Span] = field(default_factory=Counter)
    # The learnt counters above (TagSplitter.merge adds them); the rest is derived.
    LEARNT: ClassVar[tuple[str, ...]] = (
        "certain", "certain_lengths", "occurrences", "starts", "ends", "lines"
    )
    # Derived by _fit: contexts of the spans of ambiguous lines, first-pass splits keyed by
    # (article id, line), the vocabulary, and the cost of a tag's length by line style.
    contexts: dict[Span, _Contexts] = field(default_factory=dict)
    first_pass: dict[tuple[str, str], list[Span]] = field(default_factory=dict)
    vocabulary: Counter[Span] = field(default_factory=Counter)
    length_cost: dict[str, dict[int, float]] = field(default_factory=dict)


@dataclass
class _Line:
    """One ambiguous line and the evidence that does not depend on the rest of the corpus."""

    kind: str
    key: tuple[str, str]
    words: list[str]
    keys: list[str]
    mentions: dict[tuple[int, int], int]


class TagSplitter:
    """Learn tag evidence from a corpus, then split each article's joined tag lines."""

    def __init__(self) -> None:
        """Start with no evidence; call learn (and add_known) before finalize."""
        self._stats = {kind: _KindStats() for kind in KINDS}
        self._lines: dict[tuple[str, str, str], _Line] = {}
        self._fitted = False

    def add_known(self, kind: str, tags: Iterable[str]) -> None:
        """Seed the vocabulary with tags known to be whole (e.g. an existing index's facets)."""
        if kind not in self._stats:
            raise ValueError(f"unknown tag kind {kind!r}; use one of {', '.join(KINDS)}")
        for tag in tags:
            self._count_tag(self._stats[kind], tag.split(), SEED_COUNT)
        self._fitted = False

    def learn(self, raws: Iterable[RawArticle]) -> None:
        """Gather evidence from articles; may be called several times before finalize."""
        for raw in raws:
            article = raw.article
            text_index: TextIndex | None = None
            for kind, line, given in (
                ("topics", raw.topics_line, article.topics),
                ("persons", raw.persons_line, article.persons),
            ):
                stats = self._stats[kind]
                for tag in given:
                    self._count_tag(stats, tag.split(), 1)
                words = line.split()
                if len(words) == 1:
                    self._count_tag(stats, words, 1)
                elif words:
                    keys = [w.casefold() for w in words]
                    self._count_line(stats, keys, 1)
                    if text_index is None:
                        text_index = TextIndex(article)
                    entry = _Line(kind, (article.id, line), words, keys, text_index.mentions(words))
                    self._lines[(kind, article.id, line)] = entry
        self._fitted = False

    def merge(self, other: TagSplitter) -> None:
        """Add other's learnt evidence, as if this splitter had learnt other's stories too.

        The streamed rebuild (rebuild.py) learns each chunk of files in a worker and adds the
        chunks up here. Learnt evidence is counters (added) and lines keyed by story id
        (merged); what fit derives from them is rebuilt before the next split.
        """
        for kind, stats in other._stats.items():
            mine = self._stats[kind]
            for name in _KindStats.LEARNT:
                getattr(mine, name).update(getattr(stats, name))
        self._lines.update(other._lines)
        self._fitted = False

    def fit(self) -> None:
        """Derive what splitting needs from the evidence now (else the first split does it)."""
        self._fit()

    def finalize(self, raw: RawArticle) -> Article:
        """Return the article with its tag lines split into the topics and persons tuples."""
        article = raw.article
        if not raw.topics_line and not raw.persons_line:
            return article
        topics = tuple(article.topics) + tuple(self.split_line("topics", raw.topics_line, article))
        persons = tuple(article.persons) + tuple(
            self.split_line("persons", raw.persons_line, article)
        )
        return replace(article, topics=topics, persons=persons)

    def split_line(self, kind: str, line: str, article: Article | None = None) -> list[str]:
        """Split one joined tag line; article (title, lead, body) supplies mentions."""
        words = line.split()
        if len(words) <= 1:
            return words
        self._fit()
        entry = self._lines.get((kind, article.id, line)) if article else None
        if entry is None:
            # A line that learn() never saw: judge it against the corpus as it stands.
            keys = [w.casefold() for w in words]
            mentions = TextIndex(article).mentions(words) if article else {}
            entry = _Line(kind, ("", line), words, keys, mentions)
            costs = self._span_costs(entry, final=True, learnt=False)
        else:
            costs = self._span_costs(entry, final=True, learnt=True)
        return [" ".join(words[i:j]) for i, j in _cheapest_split(len(words), costs)]

    @staticmethod
    def _count_tag(stats: _KindStats, words: list[str], weight: int) -> None:
        """Record a tag known to be whole."""
        if not words:
            return
        keys = [w.casefold() for w in words]
        stats.certain[tuple(keys)] += weight
        stats.certain_lengths[line_style(words), len(words)] += weight
        TagSplitter._count_line(stats, keys, weight)

    @staticmethod
    def _count_line(stats: _KindStats, keys: Sequence[str], weight: int) -> None:
        """Record a line (or a whole tag): its words, and which of them begin and end it."""
        stats.lines[tuple(keys)] += weight
        for key in keys:
            stats.occurrences[key] += weight
        stats.starts[keys[0]] += weight
        stats.ends[keys[-1]] += weight

    def _fit(self) -> None:
        """Gather span contexts, run the first pass, and derive vocabulary and length costs."""
        if self._fitted:
            return
        for kind, stats in self._stats.items():
            stats.contexts = _contexts(
                stats.lines, [e.keys for e in self._lines.values() if e.kind == kind]
            )
            stats.first_pass.clear()
            stats.length_cost = _length_costs(Counter())
            stats.vocabulary = Counter(stats.certain)
        for entry in self._lines.values():
            costs = self._span_costs(entry, final=False, learnt=True)
            spans = _cheapest_split(len(entry.words), costs)
            self._stats[entry.kind].first_pass[entry.key] = [
                tuple(entry.keys[i:j]) for i, j in spans
            ]
        for stats in self._stats.values():
            lengths = Counter(stats.certain_lengths)
            for (_, line), votes in stats.first_pass.items():
                stats.vocabulary.update(votes)
                style = line_style(line.split())
                lengths.update((style, len(span)) for span in votes)
            stats.length_cost = _length_costs(lengths)
        self._fitted = True

    def _span_costs(self, entry: _Line, final: bool, learnt: bool) -> dict[tuple[int, int], float]:
        """Cost of making words[i:j] one tag, for every span up to MAX_TAG_WORDS words."""
        # final: use the first pass's vocabulary and lengths (else only certain tags and the
        # prior); learnt: the line is in the corpus statistics, so its own share is left out.
        stats = self._stats[entry.kind]
        words, keys, n = entry.words, entry.keys, len(entry.words)
        own_votes = Counter(stats.first_pass.get(entry.key, [])) if final and learnt else Counter()
        vocabulary = stats.vocabulary if final else stats.certain
        style = line_style(words)
        length_cost = stats.length_cost[style]
        # The line's own words and edges are in the statistics when it was learnt; they say
        # nothing about its inner boundaries, so they are taken out again.
        own_occ = Counter(keys) if learnt else Counter()
        own_start = keys[0] if learnt else None
        own_end = keys[-1] if learnt else None

        def edge_cost(key: str, counts: Counter[str], own_edge: str | None) -> float:
            seen = stats.occurrences[key] - own_occ[key]
            hits = counts[key] - (key == own_edge)
            p = (hits + EDGE_PRIOR * EDGE_PRIOR_WEIGHT) / (seen + EDGE_PRIOR_WEIGHT)
            return -math.log(min(1.0, p / EDGE_PRIOR))

        # Lists in a fixed order (Reuters topics, names sorted by first name) keep some tags from
        # ever coming first, or last, in a line: only both edges together count against a cut.
        start_at = [0.0] * n
        inside_at = [0.0] * n  # cost of word k continuing the tag of word k-1
        for k in range(1, n):
            start_at[k] = min(
                edge_cost(keys[k - 1], stats.ends, own_end),
                edge_cost(keys[k], stats.starts, own_start),
            )
            if style == "mixed":
                prev, word = words[k - 1], words[k]
                if is_lower(word):
                    start_at[k] += LOWER_START_COST
                elif word[0].isupper():
                    if not is_lower(prev):
                        inside_at[k] = UPPER_AFTER_UPPER_COST
                    elif not is_particle(words, k - 1):
                        inside_at[k] = UPPER_AFTER_LOWER_COST

        costs = {}
        for i in range(n):
            inside = 0.0
            for j in range(i + 1, min(n, i + MAX_TAG_WORDS) + 1):
                if j - 1 > i:
                    inside += inside_at[j - 1]
                span = tuple(keys[i:j])
                cost = start_at[i] + inside + length_cost[min(j - i, MAX_TAG_WORDS)]
                votes = vocabulary[span] - own_votes[span]
                if votes > 0:
                    cost -= math.log1p(votes)
                contexts = stats.contexts.get(span)
                if contexts is not None:
                    left = keys[i - 1] if i > 0 else _LINE_EDGE
                    right = keys[j] if j < n else _LINE_EDGE
                    own = (left, right) if learnt else (None, None)
                    # One context is what any span seen once has: only variety is evidence.
                    cost -= CONTEXT_WEIGHT * math.log(max(1, contexts.variety(*own)))
                mention = entry.mentions.get((i, j), 0)
                if mention == ALONE:
                    cost -= MENTION_BONUS + MENTION_WORD_BONUS * (j - i - 1)
                elif mention == INSIDE:
                    cost += INSIDE_ONLY_COST
                costs[(i, j)] = cost
        return costs


def split_corpus(raws: Iterable[RawArticle]) -> list[Article]:
    """Learn from all articles, then split every article's tag lines."""
    raws = list(raws)
    splitter = TagSplitter()
    splitter.learn(raws)
    return [splitter.finalize(raw) for raw in raws]


def _cheapest_split(n: int, costs: dict[tuple[int, int], float]) -> list[tuple[int, int]]:
    """Choose the spans covering words 0..n with the lowest total cost (dynamic programming)."""
    best = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(max(0, j - MAX_TAG_WORDS), j):
            cost = best[i] + costs[(i, j)]
            # Strictly lower only, longest last tag first: ties keep fewer, longer tags.
            if cost < best[j] - 1e-9:
                best[j], back[j] = cost, i
    spans = []
    j = n
    while j > 0:
        spans.append((back[j], j))
        j = back[j]
    return spans[::-1]


def _contexts(lines: Counter[Span], ambiguous: list[list[str]]) -> dict[Span, _Contexts]:
    """Collect, for every span of the ambiguous lines, its neighbours across all lines."""
    wanted = {
        tuple(keys[i:j])
        for keys in ambiguous
        for i in range(len(keys))
        for j in range(i + 1, min(len(keys), i + MAX_TAG_WORDS) + 1)
    }
    contexts: dict[Span, _Contexts] = {}
    for line, count in lines.items():
        n = len(line)
        for i in range(n):
            for j in range(i + 1, min(n, i + MAX_TAG_WORDS) + 1):
                span = line[i:j]
                if span in wanted:
                    entry = contexts.setdefault(span, _Contexts())
                    entry.left[line[i - 1] if i > 0 else _LINE_EDGE] += count
                    entry.right[line[j] if j < n else _LINE_EDGE] += count
    return contexts


def _length_costs(lengths: Counter[tuple[str, int]]) -> dict[str, dict[int, float]]:
    """Turn tag counts by (style, length) into costs (negative log probabilities), with a prior."""
    costs = {}
    for style in STYLES:
        counts = dict(LENGTH_PRIOR[style])
        for (tag_style, size), count in lengths.items():
            if tag_style == style:
                counts[min(size, MAX_TAG_WORDS)] += count
        total = sum(counts.values())
        costs[style] = {size: -math.log(count / total) for size, count in counts.items()}
    return costs
