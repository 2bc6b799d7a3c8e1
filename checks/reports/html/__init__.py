"""The HTML report: a run's record as one page a person reads in a browser.

Rules of this package:
- pure: `render` takes a `RunRecord` and returns the page as text; no I/O but
  reading its own stylesheet (style.css, package data); no pytest; writing the
  file is the caller's;
- self-contained: inline CSS and inline SVG, no script, no external resource
  (no font, image, stylesheet or link out of the page), so the file opens
  offline, from a CI artifact, years later;
- one concept a module: `page` (the document: header, servers, matrix,
  failures), `timeline` (the SVG layout of one item's events), `markup`
  (escaping and times, shared by both), and `style.css`;
- every text from the record goes through `markup.escape`, in attributes too.
"""

from __future__ import annotations

from sockspec.reports.html.page import render

__all__ = ["render"]
