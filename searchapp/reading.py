"""How a typed query is read: leniently by default, strictly for scripts.

People type questions and paste text: "what similarity laws must be obeyed (heated aircraft?".
The lenient reading never fails on such text. It honours the syntax that parses (phrases,
+word, -word, NOT word, field:word, date: clauses, wildcards, AND/OR expressions) and reads
what cannot parse as plain words, noting each repair ("`(` was ignored"). Plain words are
*soft*: the evaluator ranks stories with every word first, then stories with some of them
(all-words-first). Stop words and question words are left out by the analyzer and decide
nothing. Phrases, +word, -word, NOT, fields and explicit AND/OR expressions are *hard*: they
decide matching as typed.

Cost limits (length, word count, wildcard expansion, fuzzy distance, nesting) are errors in
both modes: a lenient reading must not make an expensive query cheap to send.

The strict reading is query.parse_query: every word required, anything unreadable an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from whoosh import query

from searchapp.errors import QueryError
from searchapp.query import (
    _DATE_CLAUSE,
    MIN_WILDCARD_PREFIX,
    USER_FIELDS,
    CostError,
    Word,
    _is_null,
    _rewrite_date,
    check_counts,
    check_length,
    guard,
    make_parser,
    parse_query,
    strip_question_marks,
)
from searchapp.schema import DEFAULT_FIELDS, FIELD_BOOSTS, TOKEN_PATTERN

# Infix operators: with one of these the query is a boolean expression (read as typed).
INFIX = {"AND", "OR", "ANDNOT", "ANDMAYBE"}
_TOKEN = re.compile(
    r"""(?P<paren>[()])
      | (?P<item>[+-]?(?:[A-Za-z_]\w*:)?
                 (?:"[^"]*"(?:~\d+)?(?:\^\d+(?:\.\d+)?)?|\[[^\]]*\]|\{[^}]*\}|[^\s()"]+))""",
    re.VERBOSE,
)
_FIELDED = re.compile(r"([A-Za-z_]\w*):(.*)", re.DOTALL)
_SUBWORD = re.compile(TOKEN_PATTERN)
_PATTERN = re.compile(r"[*?]|~\d*$|\^\d")  # wildcard, fuzzy or boosted word: Whoosh parses it


@dataclass
class Reading:
    """How one query text was read, and the Whoosh queries it became."""

    text: str
    strict: bool = False
    required: Any = None  # what every result must match (None: nothing required)
    # Unfielded phrases: required, unless no story holds one (then read as its words).
    phrases: list[tuple[str, Any, list[tuple[str, Any]]]] = field(default_factory=list)
    words: list[Any] = field(default_factory=list)  # soft words' queries (each a Word)
    shown: list[str] = field(default_factory=list)  # the soft words as typed
    hard: list[str] = field(default_factory=list)  # phrases, +words, fields as typed
    excluded: list[str] = field(default_factory=list)  # -words and NOT words as typed
    common: list[str] = field(default_factory=list)  # words left out as too common
    notes: list[str] = field(default_factory=list)  # repairs: what was ignored and why
    expression: bool = False  # read as a boolean expression (AND/OR)

    @property
    def empty(self) -> bool:
        """True when the box was empty: every article, newest first."""
        return not self.text.strip()

    @property
    def nothing(self) -> bool:
        """True when text was typed but nothing searchable is left: no results, no error."""
        return not self.empty and self.required is None and not self.words and not self.phrases

    @property
    def query(self) -> Any:
        """One Whoosh query of everything searched (for highlighting)."""
        hard = ([self.required] if self.required is not None else []) + [
            q for _label, q, _words in self.phrases
        ]
        if not self.words:
            return None if not hard else query.And(hard) if len(hard) > 1 else hard[0]
        soft = query.Or(self.words) if len(self.words) > 1 else self.words[0]
        return query.And([*hard, soft]) if hard else soft

    def relax(self, label: str) -> None:
        """Read a phrase that no story holds as its words (so the page is not empty)."""
        for i, (name, _q, words) in enumerate(self.phrases):
            if name == label:
                del self.phrases[i]
                self.hard.remove(label)
                for shown, word in words:
                    if word not in self.words:
                        self.words.append(word)
                        self.shown.append(shown)
                self.notes.append(f"no story holds the phrase {label}: searched for its words")
                return

    def describe(self) -> str:
        """Say how the query was read, e.g. 'searched for the words a, b; `(` was ignored'."""
        if self.strict or self.empty:
            return ""
        parts = []
        if self.expression:
            parts.append(f"searched for {self.text.strip()} as a boolean expression")
        if self.shown:
            parts.append(
                "searched for the words " + ", ".join(self.shown)
                if len(self.shown) > 1
                else f"searched for the word {self.shown[0]}"
            )
        if self.hard:
            parts.append("required " + ", ".join(self.hard))
        if self.excluded:
            parts.append("excluded " + ", ".join(self.excluded))
        if self.common:
            parts.append("left out common words: " + ", ".join(self.common))
        parts += self.notes
        if self.nothing:
            parts.insert(0, "nothing left to search for")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The reading for the JSON API."""
        return {
            "strict": self.strict,
            "words": list(self.shown),
            "required": list(self.hard),
            "excluded": list(self.excluded),
            "common": list(self.common),
            "ignored": list(self.notes),
            "expression": self.expression,
            "text": self.describe(),
            "noteworthy": self.noteworthy,
        }

    @property
    def noteworthy(self) -> bool:
        """True when the reading says more than the words typed (worth showing)."""
        return bool(
            self.notes
            or self.common
            or self.hard
            or self.excluded
            or self.expression
            or self.nothing
        )


def read_query(
    text: str, schema: Any, reader: Any, strict: bool = False, now: datetime | None = None
) -> Reading:
    """Read query text; strict raises QueryError on anything unreadable, lenient never does.

    (Lenient still raises CostError, a QueryError, for queries over the cost limits.)
    """
    reading = Reading(text=text, strict=strict)
    if not text.strip():
        return reading
    if strict:
        reading.required = parse_query(text, schema, reader, now)
        return reading
    check_length(text.strip())
    if "*" in text and not text.replace("*", "").replace("?", "").strip():
        # A bare * asks for every word of the index: refused in both modes, as a cost limit.
        raise CostError(
            "a query of only wildcards would match everything: leave the box empty to "
            "browse every article, or type a word"
        )
    clean = _balance(strip_question_marks(text.strip()), reading.notes)
    tokens = [m.group(0) for m in _TOKEN.finditer(clean)]
    check_counts([t for t in tokens if t not in "()" and t not in INFIX and t != "NOT"])
    if any(t in INFIX for t in tokens):
        tokens = _drop_dangling(_plain_patterns(tokens, reading.notes), reading.notes)
        if any(t in INFIX for t in tokens):
            try:
                reading.required = parse_query(" ".join(tokens), schema, reader, now)
                reading.expression = True
                return reading
            except CostError:
                raise
            except QueryError as exc:
                reading.notes.append(f"{exc}; read as words instead")
                tokens = [t for t in tokens if t not in INFIX]
    _read_items(tokens, schema, reading, now)
    q = reading.query
    if q is not None:
        guard(q, reader)
    return reading


def _balance(text: str, notes: list[str]) -> str:
    """Drop an unmatched double quote and unmatched parentheses, noting each."""
    if text.count('"') % 2:
        cut = text.rfind('"')
        text = text[:cut] + " " + text[cut + 1 :]
        notes.append('an unmatched `"` was ignored')
    out, opened, dropped = [], [], set()
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            opened.append(i)
        elif not quoted and ch == ")":
            if opened:
                opened.pop()
            else:
                dropped.add(i)
        out.append(ch)
    dropped |= set(opened)
    for i in dropped:
        out[i] = " "
    for ch in sorted({text[i] for i in dropped}):
        notes.append(f"an unmatched `{ch}` was ignored")
    return "".join(out)


def _plain_patterns(tokens: list[str], notes: list[str]) -> list[str]:
    """In an expression, drop lone `?`/`*`/`-` and read too-short wildcards as words."""
    out = []
    for tok in tokens:
        if tok in "()" or tok in INFIX or tok == "NOT" or tok.startswith('"'):
            out.append(tok)
        elif not any(ch.isalnum() for ch in tok):
            notes.append(f"`{tok}` ignored")
        elif _short_wildcard(tok.lstrip("+-")):
            plain = re.sub(r"[*?]", "", tok)
            notes.append(_short_note(tok, plain))
            out.append(plain)
        else:
            out.append(tok)
    return out


def _short_wildcard(body: str) -> bool:
    """True for a wildcard with fewer letters before it than the guard allows ("?x", "a*")."""
    head = re.split(r"[*?]", body, maxsplit=1)[0]
    return bool(re.search(r"[*?]", body)) and len(head) < MIN_WILDCARD_PREFIX


def _short_note(typed: str, plain: str) -> str:
    return (
        f"`{typed}`: a wildcard needs {MIN_WILDCARD_PREFIX} letters before * or ?, "
        f"read as {plain or 'nothing'}"
    )


def _drop_dangling(tokens: list[str], notes: list[str]) -> list[str]:
    """Remove operators with nothing to join on one side ("oil AND", "AND OR", "( OR x)")."""
    out: list[str] = []
    dropped: list[str] = []
    for i, tok in enumerate(tokens):
        if tok in INFIX or tok == "NOT":
            nxt = next((t for t in tokens[i + 1 :]), None)
            prev = out[-1] if out else None
            needs_left = tok in INFIX
            left_ok = prev is not None and prev != "(" and prev not in INFIX and prev != "NOT"
            right_ok = nxt is not None and nxt != ")" and nxt not in INFIX
            if (needs_left and not left_ok) or not right_ok:
                dropped.append(tok)
                continue
        out.append(tok)
    if dropped:
        shown = ", ".join(f"`{t}`" for t in dict.fromkeys(dropped))
        notes.append(f"{shown} ignored: an operator needs words on both sides")
    return out


def _read_items(tokens: list[str], schema: Any, reading: Reading, now: datetime | None) -> None:
    """Read tokens without infix operators: soft words, and hard phrases/fields/+/-."""
    parser = make_parser(schema)
    positive: list[Any] = []
    negative: list[Any] = []
    seen: set[Any] = set()
    negate_next = False
    ignored: list[str] = []
    for tok in tokens:
        if tok in "()":
            continue  # grouping without operators changes nothing
        if tok == "NOT":
            negate_next = True
            continue
        sign = tok[0] if tok[0] in "+-" else ""
        body = tok[1:] if sign else tok
        if negate_next:
            sign, negate_next = "-", False
        if not body:
            ignored.append(f"`{tok}`")
            continue
        fielded = _FIELDED.fullmatch(body)
        if fielded and fielded.group(1).lower() not in USER_FIELDS:
            reading.notes.append(
                f"`{fielded.group(1)}:` is not a field (fields: title, lead, body, section, "
                "topic, person, place, date), read as a word"
            )
            body, fielded = body.replace(":", " "), None
        if fielded and not fielded.group(2):
            reading.notes.append(f"`{body}` has no word after it and was ignored")
            continue
        label = body  # as typed, for the reading (the date clause is rewritten below)
        if fielded and fielded.group(1).lower() == "date":
            try:
                m = _DATE_CLAUSE.fullmatch(body)
                if m is None:
                    raise QueryError(f'cannot read the date in "{body}"')
                body = _rewrite_date(m, (now or datetime.now(timezone.utc)).date())
            except CostError:
                raise
            except QueryError as exc:
                reading.notes.append(f"`{body}` was ignored ({exc})")
                continue
        if not sign and body.startswith('"') and len(_SUBWORD.findall(body)) == 1:
            # One quoted word is a word in quotes ("matches"), not a phrase: no operator.
            body = body.strip('"')
        elif not sign and not fielded and body.startswith('"'):
            q = _parse_one(parser, body, reading.notes)
            if q is not None:
                words = [(w, _word(schema, w)) for w in _SUBWORD.findall(body)]
                reading.phrases.append((body, q, [(w, q2) for w, q2 in words if q2]))
                reading.hard.append(body)
            continue
        if sign or fielded or body.startswith('"') or body.startswith(("[", "{")):
            q = _parse_one(parser, body, reading.notes)
            if q is None:
                reading.common.append(tok)
            elif sign == "-":
                negative.append(q)
                reading.excluded.append(label)
            else:
                positive.append(q)
                reading.hard.append(label)
            continue
        if not any(ch.isalnum() for ch in body):
            if body.strip(".,;:!") and set(body) & set("*?~^[]{}'"):
                ignored.append(f"`{body}`")
            continue
        if _short_wildcard(body):
            # "?transverse" (a marker in pasted text), "a*": too short a prefix to expand.
            plain = re.sub(r"[*?]", "", body)
            reading.notes.append(_short_note(body, plain))
            body = plain
        if _PATTERN.search(body):
            q = _parse_one(parser, body, reading.notes)
            if q is not None and q not in seen:
                seen.add(q)
                reading.words.append(q)
                reading.shown.append(body)
            continue
        for sub in _SUBWORD.findall(body):
            word = _word(schema, sub)
            if word is None:
                if sub.lower() not in (c.lower() for c in reading.common):
                    reading.common.append(sub)
            elif word not in seen:
                seen.add(word)
                reading.words.append(word)
                reading.shown.append(sub)
    if negate_next:
        ignored.append("`NOT`")
    if ignored:
        reading.notes.append(", ".join(dict.fromkeys(ignored)) + " ignored")
    if negative and not positive and not reading.words:
        positive.append(query.Every())
    parts = positive + [query.Not(q) for q in negative]
    if parts:
        reading.required = query.And(parts) if len(parts) > 1 else parts[0]


def _word(schema: Any, text: str) -> Word | None:
    """Return one typed word as a Word over the default fields (None: a stop word)."""
    terms = []
    for name in DEFAULT_FIELDS:
        for token in schema[name].process_text(text, mode="query"):
            terms.append(query.Term(name, token, boost=FIELD_BOOSTS[name]))
    return Word(terms) if terms else None


def _parse_one(parser: Any, text: str, notes: list[str]) -> Any:
    """Parse one hard item with Whoosh; note and drop what does not parse."""
    try:
        q = parser.parse(text)
    except RecursionError:
        raise CostError("the query is too deeply nested to parse: simplify it") from None
    except (ValueError, OverflowError):
        notes.append(f"`{text}` could not be read and was ignored")
        return None
    if _is_null(q):
        return None
    q = q.normalize()
    return None if _is_null(q) else q
