"""One self-contained HTML page: a title, a text block and a plotly figure with its JavaScript
inside (opens offline). ``report --html`` and ``sweep`` write theirs with it."""

from __future__ import annotations

import html
from pathlib import Path


def write_page(path: str | Path, figure, text: str, title: str) -> Path:
    """Write the page (the text above the figure); returns the path written."""
    body = figure.to_html(full_html=False, include_plotlyjs=True)
    page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:1.5em}pre{font-size:13px;background:#f6f6f6;"
            "padding:1em;overflow:auto}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><pre>{html.escape(text)}</pre>{body}</body></html>\n")
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out
