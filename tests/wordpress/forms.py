"""Tiny HTML form helpers for driving wp-admin with requests (no browser needed)."""
from __future__ import annotations

import html
import re


def form_fields(page_html: str, action_contains: str) -> tuple[str, dict[str, str]]:
    """(action URL, hidden input values) of the first form whose action contains the text."""
    for match in re.finditer(r"<form\b[^>]*\baction=\"([^\"]*)\"[^>]*>(.*?)</form>", page_html, re.S):
        action = html.unescape(match.group(1))
        if action_contains in action:
            fields = {}
            for tag in re.finditer(r"<input\b[^>]*>", match.group(2)):
                name = _attribute(tag.group(0), "name")
                value = _attribute(tag.group(0), "value")
                kind = _attribute(tag.group(0), "type")
                if name is not None and kind == "hidden":
                    fields[name] = value or ""
            return action, fields
    raise AssertionError(f"no form posting to {action_contains!r}")


def _attribute(tag: str, name: str) -> str | None:
    """An attribute's unescaped value; WordPress mixes single and double quotes."""
    match = re.search(rf"""\b{name}=(?:"([^"]*)"|'([^']*)')""", tag)
    if not match:
        return None
    return html.unescape(match.group(1) if match.group(1) is not None else match.group(2))
