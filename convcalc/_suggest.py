"""'Did you mean' hints for unknown names."""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """A suffix like ``" (did you mean 'stride'?)"``, or "" when nothing is close."""
    import difflib

    match = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""
