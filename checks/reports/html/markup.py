"""Text into markup, shared by the page and its timelines.

Rules of this module:
- every text from the record goes through `escape`, in attributes too: rules,
  payloads, reasons and driver descriptions are text, never markup;
- times are shown in ms on the behaviour's own clock, steps counted from 1.
"""

from __future__ import annotations

import html


def escape(text: object) -> str:
    """`text` as HTML text or attribute value (quotes escaped too)."""
    return html.escape(str(text), quote=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def step_shown(step: int | None) -> str:
    """A record's step (1-based) as the timelines show it: "step 3", or "setup"."""
    return f"step {step}" if step is not None else "setup"
