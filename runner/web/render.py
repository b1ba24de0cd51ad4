"""Exercise instructions: Markdown (CommonMark, raw HTML off) rendered, then sanitised with nh3."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


@lru_cache(maxsize=1024)
def instructions_html(markdown: str) -> str:
    """Safe HTML for ``markdown``: nh3 strips scripts and handlers whatever slipped through."""
    return nh3.clean(_markdown.render(markdown))
