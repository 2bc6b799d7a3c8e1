"""The one way sockspec suggests a name for a misspelt one: "did you mean ...?".

Rules of this module:
- one matcher (difflib's, at its default cutoff) for every message that
  suggests a name: spec fields and values, baseline fields and ids, pyproject
  keys and values, impl names;
- `did_you_mean` gives the hint as it closes a clause: " (did you mean 'x'?)",
  or "" when nothing is close; `closest` gives the name alone, for a message
  that words the hint as a sentence of its own;
- text only: no I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, options: Iterable[str]) -> str | None:
    """The option most like `word`, or None when none is close."""
    found = difflib.get_close_matches(word, list(options), n=1)
    return found[0] if found else None


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the option most like `word`, or '' when none is close."""
    near = closest(word, options)
    return f" (did you mean {near!r}?)" if near is not None else ""
