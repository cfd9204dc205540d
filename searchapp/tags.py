"""Split the 'Topics'/'Persons' lines, which join multi-word tags with plain spaces, into tags.

'Bashar Assad Vladimir Putin' could be two tags, four, or 'Bashar' and 'Assad Vladimir Putin':
the line alone cannot tell. TagSplitter reads the whole corpus first and then chooses, for every
line, the split with the lowest cost (dynamic programming over the line's words), where a tag's
cost falls with evidence that it is one tag and nothing else:

- mentions: the tag's words stand together in the story's title, lead or body ('Vladimir Putin'),
  as a phrase that the line's neighbouring words do not extend ('Bashar' alone is never mentioned:
  only as part of 'Bashar al-Assad'; a lowercase prefix joined by a hyphen, like 'al-', is dropped);
- vocabulary: how often the corpus confirms the tag: a line that holds a single word, tags given
  one per line, tags seeded with add_known, and the first-pass splits of all other lines;
- edges: how often a word begins or ends a line elsewhere in the corpus ('James' never ends one,
  so 'James | Baker' is an unlikely boundary);
- length: how many words the corpus's tags usually have (Reuters topics: one; names: one to three);
- capitalisation, in lines that mix cases (topics in sentence case, 'Foreign policy Syrian
  conflict'): a lowercase word rarely starts a tag, and a capital after a lowercase word usually
  does.

No list of names or topics is built in. The first pass splits every ambiguous line with the certain
evidence only; the final pass adds the vocabulary of the first pass, leaving out the line's own
votes so that a line cannot confirm itself. Output is deterministic.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from searchapp.models import Article, RawArticle

KINDS = ("topics", "persons")
MAX_TAG_WORDS = 8

# Costs, in nats. A tag costs TAG_COST; evidence lowers it. Tuned on the Reuters rendering and the
# reference TASS article together; see tools/check_tags.py.
TAG_COST = 1.0
# A mentioned phrase is evidence that grows with its length: two words found together by chance
# are much rarer than one.
MENTION_BONUS = 2.0
MENTION_WORD_BONUS = 1.0
SEED_COUNT = 5  # a tag given to add_known counts as this many confirmations
EDGE_PRIOR = 0.5  # the chance that a word with no history begins (or ends) a tag
EDGE_PRIOR_WEIGHT = 2.0  # pseudo-observations behind EDGE_PRIOR
LOWER_START_COST = 2.5  # mixed-case line: a tag that starts with a lowercase word
UPPER_INSIDE_COST = 1.5  # mixed-case line: a capitalised word after a lowercase one, same tag
PARTICLE_MAX_LETTERS = 3  # 'de', 'van', 'al': short lowercase words that may precede a surname
# Pseudo-counts of tag lengths before the corpus says otherwise (names and topics: 1-3 words).
LENGTH_PRIOR = {1: 2.0, 2: 2.0, 3: 1.0, 4: 0.5, 5: 0.25, 6: 0.125, 7: 0.0625, 8: 0.0625}

_PARTICLE_RE = re.compile(r"(?<![^\W_])[a-z]{1,3}-(?=[A-Z])")  # 'al-Assad' -> 'Assad'
_PHRASE_BREAK_RE = re.compile(r"[^\w\s'’\-]+|\n")  # punctuation ends a phrase; ' and - do not
_WORD_RE = re.compile(r"[^\W_]+")

Span = tuple[str, ...]


@dataclass
class _KindStats:
    """What the corpus says about one kind of tag (topics or persons)."""

    certain: Counter[Span] = field(default_factory=Counter)
    certain_lengths: Counter[tuple[str, int]] = field(default_factory=Counter)
    occurrences: Counter[str] = field(default_factory=Counter)
    starts: Counter[str] = field(default_factory=Counter)
    ends: Counter[str] = field(default_factory=Counter)
    # First-pass splits of the ambiguous lines, keyed by (article id, line).
    first_pass: dict[tuple[str, str], list[Span]] = field(default_factory=dict)
    vocabulary: Counter[Span] = field(default_factory=Counter)
    # Cost of a tag's length in words, by the case style of its line ('lower', 'capital',
    # 'mixed'): one corpus can hold lowercase codes and sentence-case topics side by side.
    length_cost: dict[str, dict[int, float]] = field(default_factory=dict)


@dataclass
class _Line:
    """One ambiguous line and the evidence that does not depend on the rest of the corpus."""

    kind: str
    key: tuple[str, str]
    words: list[str]
    keys: list[str]
    mentions: dict[tuple[int, int], bool]


class TagSplitter:
    """Learn tag evidence from a corpus, then split each article's joined tag lines."""

    def __init__(self) -> None:
        """Start with no evidence; call learn (and add_known) before finalize."""
        self._stats = {kind: _KindStats() for kind in KINDS}
        self._lines: dict[tuple[str, str, str], _Line] = {}
        self._fitted = True

    def add_known(self, kind: str, tags: Iterable[str]) -> None:
        """Seed the vocabulary with tags known to be whole (e.g. an existing index's facets)."""
        stats = self._kind(kind)
        for tag in tags:
            self._count_tag(stats, tag.split(), SEED_COUNT)
        self._fitted = False

    def learn(self, raws: Iterable[RawArticle]) -> None:
        """Gather evidence from articles; may be called several times before finalize."""
        for raw in raws:
            article = raw.article
            text_index: _TextIndex | None = None
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
                    self._count_edges(stats, keys, 1)
                    if text_index is None:
                        text_index = _TextIndex(article)
                    entry = _Line(kind, (article.id, line), words, keys, text_index.mentions(words))
                    self._lines[(kind, article.id, line)] = entry
        self._fitted = False

    def finalize(self, raw: RawArticle) -> Article:
        """Return the article with its tag lines split into the topics and persons tuples."""
        self._fit()
        article = raw.article
        found: dict[str, tuple[str, ...]] = {}
        for kind, line, given in (
            ("topics", raw.topics_line, article.topics),
            ("persons", raw.persons_line, article.persons),
        ):
            found[kind] = tuple(given) + tuple(self.split_line(kind, line, article))
        return replace(article, topics=found["topics"], persons=found["persons"])

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
            mentions = _TextIndex(article).mentions(words) if article else {}
            entry = _Line(kind, ("", line), words, keys, mentions)
            own_votes: list[Span] = []
            own_edges = False
        else:
            own_votes = self._stats[kind].first_pass.get(entry.key, [])
            own_edges = True
        spans = self._segment(entry, use_vocabulary=True, own_votes=own_votes, own_edges=own_edges)
        return [" ".join(words[i:j]) for i, j in spans]

    def _kind(self, kind: str) -> _KindStats:
        """Return the statistics of one kind, refusing unknown kinds."""
        if kind not in self._stats:
            raise ValueError(f"unknown tag kind {kind!r}; use one of {', '.join(KINDS)}")
        return self._stats[kind]

    @staticmethod
    def _count_tag(stats: _KindStats, words: list[str], weight: int) -> None:
        """Record a tag known to be whole."""
        if not words:
            return
        keys = [w.casefold() for w in words]
        stats.certain[tuple(keys)] += weight
        stats.certain_lengths[_style(words), len(words)] += weight
        TagSplitter._count_edges(stats, keys, weight)

    @staticmethod
    def _count_edges(stats: _KindStats, keys: Sequence[str], weight: int) -> None:
        """Record where a word sequence that begins and ends tags (a line, a tag) has its edges."""
        for key in keys:
            stats.occurrences[key] += weight
        stats.starts[keys[0]] += weight
        stats.ends[keys[-1]] += weight

    def _fit(self) -> None:
        """Run the first pass over all ambiguous lines and derive vocabulary and length costs."""
        if self._fitted:
            return
        for stats in self._stats.values():
            stats.first_pass.clear()
            # Certain tags are mostly one-word lines, a sample biased towards short tags: the
            # first pass uses the prior alone, the final pass the lengths the first pass found.
            stats.length_cost = _length_costs(Counter())
            stats.vocabulary = Counter(stats.certain)
        for entry in self._lines.values():
            stats = self._stats[entry.kind]
            spans = self._segment(entry, use_vocabulary=False, own_votes=[], own_edges=True)
            stats.first_pass[entry.key] = [tuple(entry.keys[i:j]) for i, j in spans]
        for stats in self._stats.values():
            lengths = Counter(stats.certain_lengths)
            for (_, line), votes in stats.first_pass.items():
                stats.vocabulary.update(votes)
                style = _style(line.split())
                lengths.update((style, len(span)) for span in votes)
            stats.length_cost = _length_costs(lengths)
        self._fitted = True

    def _segment(
        self, entry: _Line, use_vocabulary: bool, own_votes: list[Span], own_edges: bool
    ) -> list[tuple[int, int]]:
        """Return the cheapest split of a line as (start, end) word ranges."""
        costs = self._span_costs(entry, use_vocabulary, own_votes, own_edges)
        return _cheapest_split(len(entry.words), costs)

    def _span_costs(
        self, entry: _Line, use_vocabulary: bool, own_votes: list[Span], own_edges: bool
    ) -> dict[tuple[int, int], float]:
        """Cost of making words[i:j] one tag, for every span up to MAX_TAG_WORDS words."""
        stats = self._stats[entry.kind]
        words, keys, n = entry.words, entry.keys, len(entry.words)
        vocabulary = stats.vocabulary if use_vocabulary else stats.certain
        own = Counter(own_votes)
        style = _style(words)
        length_cost = stats.length_cost[style]
        # Evidence about this line's own edges says nothing about its inner boundaries.
        own_occ = Counter(keys) if own_edges else Counter()
        own_start = keys[0] if own_edges else None
        own_end = keys[-1] if own_edges else None

        def edge_cost(key: str, counts: Counter[str], own_key: str | None) -> float:
            seen = stats.occurrences[key] - own_occ[key]
            hits = counts[key] - (1 if key == own_key else 0)
            p = (hits + EDGE_PRIOR * EDGE_PRIOR_WEIGHT) / (seen + EDGE_PRIOR_WEIGHT)
            return -math.log(min(1.0, p / EDGE_PRIOR))

        # A boundary is unlikely only when the word before it never ends a tag AND the word after
        # it never starts one: lists in a fixed order (Reuters topics, names sorted by first name)
        # keep some tags from ever coming first, or last, in a line.
        start_at = [0.0] * n
        inside_at = [0.0] * n  # cost of word k continuing the tag of word k-1
        for k in range(1, n):
            start_at[k] = min(
                edge_cost(keys[k - 1], stats.ends, own_end),
                edge_cost(keys[k], stats.starts, own_start),
            )
            if style == "mixed":
                prev, word = words[k - 1], words[k]
                if word[0].islower():
                    start_at[k] += LOWER_START_COST
                elif word[0].isupper() and prev[0].islower() and len(prev) > PARTICLE_MAX_LETTERS:
                    inside_at[k] = UPPER_INSIDE_COST

        costs = {}
        for i in range(n):
            inside = 0.0
            for j in range(i + 1, min(n, i + MAX_TAG_WORDS) + 1):
                if j - 1 > i:
                    inside += inside_at[j - 1]
                span = tuple(keys[i:j])
                cost = TAG_COST + start_at[i] + inside + length_cost[j - i]
                votes = vocabulary[span] - own[span]
                if votes > 0:
                    cost -= math.log1p(votes)
                if entry.mentions.get((i, j)):
                    cost -= MENTION_BONUS + MENTION_WORD_BONUS * (j - i - 1)
                costs[(i, j)] = cost
        return costs


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


def split_corpus(raws: Iterable[RawArticle]) -> list[Article]:
    """Learn from all articles, then split every article's tag lines."""
    raws = list(raws)
    splitter = TagSplitter()
    splitter.learn(raws)
    return [splitter.finalize(raw) for raw in raws]


class _TextIndex:
    """An article's words, for finding where a tag is mentioned as a phrase."""

    def __init__(self, article: Article) -> None:
        """Tokenise title, lead and body; punctuation breaks a phrase (None marks a break)."""
        text = _PARTICLE_RE.sub("", f"{article.title}\n{article.lead}\n{article.body}")
        tokens: list[str | None] = []
        for chunk in _PHRASE_BREAK_RE.split(text):
            tokens.extend(_WORD_RE.findall(chunk))
            tokens.append(None)
        self.tokens = tokens
        self.lower = [t.casefold() if t else None for t in tokens]
        self.positions: dict[str, list[int]] = {}
        for pos, key in enumerate(self.lower):
            if key is not None:
                self.positions.setdefault(key, []).append(pos)

    def mentions(self, words: list[str]) -> dict[tuple[int, int], bool]:
        """For each span of a tag line, tell whether the text mentions it on its own."""
        parts = [_WORD_RE.findall(_PARTICLE_RE.sub("", w)) for w in words]
        n = len(words)
        result: dict[tuple[int, int], bool] = {}
        for i in range(n):
            for j in range(i + 1, min(n, i + MAX_TAG_WORDS) + 1):
                phrase = [p for part in parts[i:j] for p in part]
                if phrase:
                    before = parts[i - 1][-1].casefold() if i > 0 and parts[i - 1] else None
                    after = parts[j][0].casefold() if j < n and parts[j] else None
                    result[(i, j)] = self._mentioned(phrase, before, after)
        return result

    def _mentioned(self, phrase: list[str], before: str | None, after: str | None) -> bool:
        """Find the phrase not extended by the line's neighbouring words; names need a capital."""
        keys = [p.casefold() for p in phrase]
        # A name ('Young', 'De Kock') is mentioned only where its last word is capitalised;
        # 'young' in running text is not the person.
        needs_capital = phrase[-1][0].isupper()
        tokens, lower = self.tokens, self.lower
        for pos in self.positions.get(keys[0], ()):
            end = pos + len(keys)
            if lower[pos:end] != keys:
                continue
            if needs_capital and not tokens[end - 1][0].isupper():  # type: ignore[index]
                continue
            if before is not None and pos > 0 and lower[pos - 1] == before:
                continue
            if after is not None and end < len(lower) and lower[end] == after:
                continue
            return True
        return False


def _style(words: Sequence[str]) -> str:
    """Classify a line by the case of its words' first letters: lower, capital or mixed."""
    initials = [w[0] for w in words if w[0].isalpha()]
    if not any(c.isupper() for c in initials):
        return "lower"
    if all(c.isupper() for c in initials):
        return "capital"
    return "mixed"


def _length_costs(lengths: Counter[tuple[str, int]]) -> dict[str, dict[int, float]]:
    """Turn tag counts by (style, length) into costs (negative log probabilities), with a prior."""
    costs = {}
    for style in ("lower", "capital", "mixed"):
        counts = dict(LENGTH_PRIOR)
        for (tag_style, size), count in lengths.items():
            if tag_style == style:
                counts[min(size, MAX_TAG_WORDS)] += count
        total = sum(counts.values())
        costs[style] = {size: -math.log(count / total) for size, count in counts.items()}
    return costs
