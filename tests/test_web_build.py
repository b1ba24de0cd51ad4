"""The built front end: pages that hold under a strict CSP, and complete string catalogues."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
DIST = WEB / "dist"
SRC = WEB / "src"
PAGES = ("index.html", "exercise.html")

# Keys built at run time (`status.${status}`…): each value the server may send needs a string.
DYNAMIC_KEYS = {
    "status": ("todo", "started", "solved"),
    "tests": ("passed", "failed", "error", "timeout", "memory", "output_limit"),
    "lang": ("python", "javascript"),
}


@pytest.fixture(scope="module")
def dist() -> Path:
    """web/dist, built by scripts/build-web (quick when up to date)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed to build the front end")
    subprocess.run(
        [str(ROOT / "scripts" / "build-web")], check=True, capture_output=True, timeout=600
    )
    return DIST


class _PageScan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.links: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts.append(found)
            self._in_script = True
        elif tag == "link":
            self.links.append(found)
        elif tag == "style":
            self.inline.append("<style>")
        for name, _ in attrs:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"{tag} {name}=")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("inline script")


def _scan(path: Path) -> _PageScan:
    scan = _PageScan()
    scan.feed(path.read_text("utf-8"))
    return scan


def _catalogue(name: str) -> dict[str, str]:
    """Parse web/src/i18n/<name>.js (one `"key": "text",` pair per line) without running it."""
    text = (SRC / "i18n" / f"{name}.js").read_text("utf-8")
    body = text[text.index("export default {") + len("export default ") : text.rindex("}") + 1]
    body = re.sub(r",\s*}$", "}", body.strip())
    loaded: dict[str, str] = json.loads(body)
    return loaded


def _used_keys() -> set[str]:
    keys: set[str] = set()
    for path in SRC.rglob("*"):
        if path.suffix == ".js":
            keys |= set(re.findall(r"\bt\(\s*\"([\w.]+)\"", path.read_text("utf-8")))
        elif path.suffix == ".html":
            text = path.read_text("utf-8")
            keys |= set(re.findall(r'data-i18n="([\w.]+)"', text))
            for attr in re.findall(r'data-i18n-attr="([^"]+)"', text):
                keys |= {pair.split(":")[1].strip() for pair in attr.split(";") if ":" in pair}
    for prefix, values in DYNAMIC_KEYS.items():
        keys |= {f"{prefix}.{value}" for value in values}
    return keys


def test_build_writes_both_pages_and_their_assets(dist: Path) -> None:
    for page in PAGES:
        scan = _scan(dist / page)
        sources = [s["src"] for s in scan.scripts] + [link["href"] for link in scan.links]
        assert sources, page
        for src in sources:
            assert src and src.startswith("/assets/"), (page, src)
            assert (dist / src.lstrip("/")).is_file(), (page, src)


def test_build_pages_have_no_inline_script_or_style(dist: Path) -> None:
    for page in PAGES:
        scan = _scan(dist / page)
        assert scan.inline == [], page
        assert all(s.get("type") == "module" and s.get("src") for s in scan.scripts), page


def test_build_assets_reference_nothing_remote(dist: Path) -> None:
    for path in (dist / "assets").rglob("*"):
        if path.suffix in {".js", ".css"}:
            text = path.read_text("utf-8")
            assert not re.search(r"""(?:src|href|url)\s*[=(]\s*["']?(?:https?:)?//""", text), path


def test_build_is_quick_when_nothing_changed(dist: Path) -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / "build-web")],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "up to date" in result.stdout


def test_catalogues_have_the_same_keys() -> None:
    fr, en = _catalogue("fr"), _catalogue("en")
    assert sorted(set(fr) - set(en)) == []
    assert sorted(set(en) - set(fr)) == []


def test_catalogues_have_the_same_placeholders() -> None:
    fr, en = _catalogue("fr"), _catalogue("en")
    for key, text in fr.items():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_catalogues_hold_every_key_the_code_uses() -> None:
    fr, en = _catalogue("fr"), _catalogue("en")
    used = _used_keys()
    assert sorted(used - set(fr)) == []
    assert sorted(used - set(en)) == []


def test_catalogues_hold_no_unused_key() -> None:
    assert sorted(set(_catalogue("fr")) - _used_keys()) == []


def test_sources_never_set_inline_styles_or_html_from_data() -> None:
    for path in SRC.rglob("*.js"):
        text = path.read_text("utf-8")
        assert 'setAttribute("style"' not in text, path
        assert "insertAdjacentHTML" not in text, path
        # The only HTML inserted is the server's sanitised instructions.
        allowed = 1 if path.name == "exercise-page.js" else 0
        assert text.count(".innerHTML") == allowed, path
