"""JSON that stays inert if a browser sniffs it as HTML (the API and the JSONL export)."""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider


def html_safe_json(text: str) -> str:
    """Escape <, >, & and ' inside JSON text: the same data, but inert if a browser sniffs it."""
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("'", "\\u0027")
    )


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, keeping to_dict()'s key order, with HTML-significant characters escaped."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialize obj like Flask does, then escape it with html_safe_json."""
        return html_safe_json(super().dumps(obj, **kwargs))
