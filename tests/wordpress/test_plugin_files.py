"""Static checks of the plugin's files: syntax, headers, style rules, translations."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness.wordpress import HARNESS_WP_DIR, PLUGIN_DIR

PHP_FILES = sorted(PLUGIN_DIR.rglob("*.php")) + sorted(HARNESS_WP_DIR.rglob("*.php"))
needs_php = pytest.mark.skipif(shutil.which("php") is None, reason="php-cli is required")


@needs_php
@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: str(p.relative_to(PLUGIN_DIR.parents[1])))
def test_php_lint(path: Path):
    done = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def plugin_header() -> dict[str, str]:
    text = (PLUGIN_DIR / "orderchatz.php").read_text(encoding="utf-8")
    return dict(re.findall(r"^ \* ([A-Za-z ]+?):\s+(.+)$", text.split("*/", 1)[0], re.M))


def test_main_file_header():
    header = plugin_header()
    assert header["Plugin Name"] == "OrderChatz"
    assert header["Requires at least"] == "6.1"
    assert header["Requires PHP"] == "7.4"
    assert header["Requires Plugins"] == "woocommerce"
    assert header["Text Domain"] == "orderchatz"
    assert header["License"] == "GPL-2.0-or-later"
    assert header["Domain Path"] == "/languages"
    assert "WC requires at least" in header and "WC tested up to" in header


def test_readme_txt_is_in_wordpress_org_format():
    text = (PLUGIN_DIR / "readme.txt").read_text(encoding="utf-8")
    assert text.startswith("=== OrderChatz ===\n")
    for field in ("Requires at least: 6.1", "Requires PHP: 7.4", "Stable tag: 0.1.0", "License: GPL-2.0-or-later"):
        assert field in text
    for section in ("== Description ==", "== Installation ==", "== Frequently Asked Questions ==", "== Changelog =="):
        assert section in text
    assert plugin_header()["Version"] in text


def test_main_file_stays_small_and_calls_one_add_hooks():
    text = (PLUGIN_DIR / "orderchatz.php").read_text(encoding="utf-8")
    code = text.split("*/", 1)[1]
    assert len(code.splitlines()) < 40
    assert code.count("add_hooks()") == 1
    assert "add_action" not in code and "function " not in code


def test_exactly_one_class_calls_the_http_api():
    callers = {path.name for path in PLUGIN_DIR.rglob("*.php")
               if re.search(r"\bwp_(safe_)?remote_(post|get|request|head)\s*\(", path.read_text(encoding="utf-8"))}
    assert callers == {"class-orderchatz-sidecar-client.php"}


def test_one_class_per_file_with_the_prefix():
    for path in (PLUGIN_DIR / "includes").glob("*.php"):
        classes = re.findall(r"^(?:final |abstract )?class (\w+)", path.read_text(encoding="utf-8"), re.M)
        assert len(classes) == 1, path.name
        assert classes[0].startswith("OrderChatz_")
        assert path.name == "class-" + classes[0].lower().replace("_", "-") + ".php"


def test_every_php_file_refuses_direct_access():
    for path in PLUGIN_DIR.rglob("*.php"):
        text = path.read_text(encoding="utf-8")
        assert "defined( 'ABSPATH' ) || exit;" in text or "defined( 'WP_UNINSTALL_PLUGIN' ) || exit;" in text, path.name


def test_no_secret_reaches_javascript():
    for path in (PLUGIN_DIR / "assets").rglob("*.js"):
        assert "secret" not in path.read_text(encoding="utf-8").lower(), path.name


def po_messages(path: Path) -> dict[str, str]:
    """msgid → msgstr of a .po/.pot file (enough of the format for our own files)."""
    messages, key, current = {}, None, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("msgid "):
            key, current = "id", [line[6:]]
            msgid_parts = current
        elif line.startswith("msgstr "):
            key, current = "str", [line[7:]]
            msgstr_parts = current
        elif line.startswith('"') and current is not None:
            current.append(line)
        elif not line.strip() and key == "str":
            decode = lambda parts: "".join(bytes(p[1:-1], "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8") for p in parts)
            messages[decode(msgid_parts)] = decode(msgstr_parts)
            key, current = None, None
    messages.pop("", None)
    return messages


def test_zh_tw_translates_every_template_string():
    template = po_messages(PLUGIN_DIR / "languages" / "orderchatz.pot")
    zh_tw = po_messages(PLUGIN_DIR / "languages" / "orderchatz-zh_TW.po")
    assert set(template) == set(zh_tw)
    assert all(zh_tw.values())
    assert zh_tw["This link has expired."] == "這個連結已過期。"


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="gettext is required")
def test_template_is_in_sync_with_the_source(tmp_path):
    """Regenerate the .pot's strings with xgettext (the command used to make it)."""
    out = tmp_path / "fresh.pot"
    files = ["orderchatz.php", "uninstall.php"] + sorted(str(p.relative_to(PLUGIN_DIR)) for p in (PLUGIN_DIR / "includes").glob("*.php"))
    subprocess.run(["xgettext", "--language=PHP", "--from-code=UTF-8", "--add-comments=translators:",
                    "--keyword=__", "--keyword=_e", "--keyword=esc_html__", "--keyword=esc_html_e",
                    "--keyword=esc_attr__", "--keyword=esc_attr_e", "--keyword=_x:1,2c", "--keyword=_n:1,2",
                    "--sort-by-file", "-o", str(out), *files], cwd=PLUGIN_DIR, check=True, timeout=60)
    fresh = set(po_messages(out))
    committed = set(po_messages(PLUGIN_DIR / "languages" / "orderchatz.pot"))
    assert fresh <= committed, f"strings missing from the .pot: {fresh - committed}"
    assert len(committed - fresh) <= 1  # only the plugin header's Description is added by hand


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext is required")
def test_mo_is_compiled_from_the_po(tmp_path):
    fresh = tmp_path / "fresh.mo"
    subprocess.run(["msgfmt", "--check", "-o", str(fresh), str(PLUGIN_DIR / "languages" / "orderchatz-zh_TW.po")],
                   check=True, timeout=60)
    assert fresh.read_bytes() == (PLUGIN_DIR / "languages" / "orderchatz-zh_TW.mo").read_bytes()
