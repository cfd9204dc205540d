"""Path names as strings, in pathlib's form, without building Path objects.

Reading a corpus takes a name per file; a Path per file and Path.open cost ~0.2 s of the
~1.3 s that reading Reuters' 21,578 files took, so the readers keep names as strings and
derive what they need (the source recorded with a story, its id, its kind) here.
tests/test_exact.py compares each with pathlib.
"""

from __future__ import annotations

from pathlib import Path


def source_name(name: str) -> str:
    """Return str(Path(name)), building a Path only for a name not in that form already.

    pathlib drops empty and '.' parts and a trailing slash; a name with none of those is its
    own form (the corpus scan's names are such), anything else goes through Path.
    """
    if (
        name
        and "//" not in name
        and not name.endswith(("/", "/."))
        and "/./" not in name
        and not name.startswith("./")
        and name != "."
    ):
        return name
    return str(Path(name))


def path_stem(source: str) -> str:
    """Return Path(source).stem for a name in pathlib's form (source_name's)."""
    name = _final_part(source)
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _final_part(source: str) -> str:
    """Return Path(source).name: the last part ('.' alone names the folder, no part)."""
    return "" if source == "." else source[source.rfind("/") + 1 :]


def path_suffix(source: str) -> str:
    """Return Path(source).suffix for a name in pathlib's form (source_name's)."""
    name = _final_part(source)
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""
