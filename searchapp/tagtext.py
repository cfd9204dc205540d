"""Evidence about a tag line's words from the story itself and from their letters.

tags.TagSplitter weighs it: TextIndex grades where a span of the line is mentioned in the
story's title, lead or body (alone, or only inside a longer phrase the line also holds), and
line_style tells lowercase codes from capitalised names and sentence-case topics.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from searchapp.models import Article

MAX_TAG_WORDS = 8
PARTICLE_MAX_LETTERS = 3  # 'de', 'van', 'al': short lowercase words before a capitalised one
# Mention grades.
INSIDE = 1
ALONE = 2

PARTICLE_RE = re.compile(r"(?<![^\W_])[a-z]{1,3}-(?=[A-Z])")  # 'al-Assad' -> 'Assad'
# What may stand between two words of one phrase in the text: spaces, hyphens, apostrophes, and
# a hyphenated lowercase prefix ('Bashar al-Assad'); punctuation or a line break ends a phrase.
_GAP_RE = re.compile(r"[ \t\u00a0'’\-]*(?:[a-z]{1,3}-)?")
WORD_RE = re.compile(r"[^\W_]+")


class TextIndex:
    """An article's text, for finding where a tag line's words are mentioned as phrases."""

    def __init__(self, article: Article) -> None:
        """Keep title, lead and body; each on its own line, so no phrase spans two of them."""
        self.text = f"{article.title}\n{article.lead}\n{article.body}"

    def mentions(self, words: list[str]) -> dict[tuple[int, int], int]:
        """Grade each span of a tag line: ALONE, only INSIDE a longer line phrase, or absent (0)."""
        parts = [WORD_RE.findall(PARTICLE_RE.sub("", w)) for w in words]
        tokens, capitals = self._tokens({p.casefold() for part in parts for p in part})
        positions: dict[str, list[int]] = {}
        for pos, token in enumerate(tokens):
            if token is not None:
                positions.setdefault(token, []).append(pos)
        n = len(words)
        result: dict[tuple[int, int], int] = {}
        for i in range(n):
            for j in range(i + 1, min(n, i + MAX_TAG_WORDS) + 1):
                phrase = [p for part in parts[i:j] for p in part]
                if not phrase:
                    continue
                keys = [p.casefold() for p in phrase]
                before = parts[i - 1][-1].casefold() if i > 0 and parts[i - 1] else None
                after = parts[j][0].casefold() if j < n and parts[j] else None
                # A name ('Young', 'De Kock') is mentioned only where its last word is
                # capitalised: 'young' in running text is not the person.
                needs_capital = phrase[-1][0].isupper()
                grade = 0
                for pos in positions.get(keys[0], ()):
                    end = pos + len(keys)
                    if tokens[pos:end] != keys or (needs_capital and not capitals[end - 1]):
                        continue
                    if (before is not None and pos > 0 and tokens[pos - 1] == before) or (
                        after is not None and end < len(tokens) and tokens[end] == after
                    ):
                        grade = INSIDE
                        continue
                    grade = ALONE
                    break
                result[(i, j)] = grade
        return result

    def _tokens(self, wanted: set[str]) -> tuple[list[str | None], list[bool]]:
        """List the text's occurrences of the wanted words, with None where a phrase breaks."""
        # Scanning for the line's own words only (one regex, in C) is far cheaper than
        # tokenising the whole text; any other word or punctuation between two hits breaks it.
        # Longest first; ties by text, so one set of words gives one pattern (cached).
        # A match is a whole word (bounded by non-word characters) whichever alternative
        # matched it, so the order only decides which is tried first.
        ordered = sorted(wanted, key=lambda w: (-len(w), w))
        pattern = _words_pattern("|".join(re.escape(w) for w in ordered))
        text = self.text
        tokens: list[str | None] = []
        capitals: list[bool] = []
        last_end = -1
        for match in pattern.finditer(text):
            if last_end >= 0 and not _GAP_RE.fullmatch(text, last_end, match.start()):
                tokens.append(None)
                capitals.append(False)
            word = match.group()
            tokens.append(word.casefold())
            capitals.append(word[0].isupper())
            last_end = match.end()
        return tokens, capitals


@functools.lru_cache(maxsize=2048)
def _words_pattern(alternatives: str) -> re.Pattern[str]:
    """Compile the pattern of a line's words, once per set of words.

    Lines recur (the same names, the same codes): Reuters' 2,239 ambiguous lines hold 578
    sets. re's own cache (512 patterns, shared with every other regex) compiled most of them
    again; learning took 0.25 s, 0.19 s with this cache.
    """
    return re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)


def is_lower(word: str) -> bool:
    """Tell whether a word starts in lowercase once a hyphenated particle is dropped."""
    word = PARTICLE_RE.sub("", word)
    return word[0].islower()


def is_particle(words: Sequence[str], k: int) -> bool:
    """Tell whether words[k] is a short lowercase word before a capitalised one ('de Gaulle')."""
    word = words[k]
    return (
        len(word) <= PARTICLE_MAX_LETTERS
        and word[0].islower()
        and k + 1 < len(words)
        and words[k + 1][0].isupper()
    )


def line_style(words: Sequence[str]) -> str:
    """Classify a line by its words' first letters: lower, capital, or mixed (sentence case)."""
    lower = upper = False
    for k, word in enumerate(words):
        if is_lower(word):
            lower = lower or not is_particle(words, k)
        elif word[0].isupper():
            upper = True
    if not upper:
        return "lower"
    return "mixed" if lower else "capital"

