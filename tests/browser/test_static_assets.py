"""Static checks of the panel's own files (no browser needed): the string catalog is complete in
both languages, nothing builds HTML from strings, the page carries no inline code (strict CSP),
and the JS+CSS stay within the 150 KB budget."""
from __future__ import annotations

import re

from tests.support import REPO

PANEL = REPO / "sidecar" / "orderchatz" / "panel"
STATIC = PANEL / "static"
SCRIPTS = sorted(STATIC.glob("*.js"))


def catalog_keys(language: str) -> set[str]:
    source = (STATIC / "i18n.js").read_text(encoding="utf-8")
    start = source.index(f"  {language}: {{")
    end = source.index("\n  },", start)
    return set(re.findall(r"\b([a-z][a-z0-9_]*):\s*\"", source[start:end]))


def test_both_languages_have_every_string():
    zh, en = catalog_keys("zh_TW"), catalog_keys("en")
    assert zh and zh == en, {"missing in en": zh - en, "missing in zh_TW": en - zh}


def test_every_translated_key_exists():
    keys = catalog_keys("zh_TW")
    used: set[str] = set()
    for path in SCRIPTS:
        used |= set(re.findall(r"\bt\(\s*\"([a-z0-9_]+)\"", path.read_text(encoding="utf-8")))
    html = (PANEL / "templates" / "panel.html").read_text(encoding="utf-8")
    used |= set(re.findall(r'data-i18n(?:-placeholder|-aria)?="([a-z0-9_]+)"', html))
    assert used - keys == set()


def test_no_html_strings_reach_the_dom():
    forbidden = re.compile(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(")
    offenders = [f"{p.name}:{n}" for p in SCRIPTS
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if forbidden.search(line)]
    assert offenders == []


def test_page_has_no_inline_code_for_the_strict_csp():
    html = (PANEL / "templates" / "panel.html").read_text(encoding="utf-8")
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html) == []
    assert "<style" not in html and " style=" not in html
    assert re.findall(r"\son[a-z]+=", html) == []


def test_javascript_and_css_fit_the_budget():
    total = sum(p.stat().st_size for p in STATIC.iterdir() if p.suffix in (".js", ".css"))
    assert total <= 150 * 1024, f"{total} bytes"
