"""Finding inline script and style in templates and pages (issue 15: a Content-Security-Policy with no
inline script or style). Used by tests/test_csp.py and tests/browser/test_csp.py."""

import re
from html.parser import HTMLParser

from parindex import csp

# Script types a browser runs (an absent type is JavaScript); application/json data blocks
# (json_script) are not run, so the policy does not concern them.
RUNNABLE_SCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module"}


class _InlineFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self._check(tag, attrs)
        if tag == "style":
            self.found.append("<style> element")
        if tag == "script":
            values = dict(attrs)
            kind = (values.get("type") or "").strip().lower()
            if not values.get("src") and kind in RUNNABLE_SCRIPT_TYPES:
                self._script = kind or "script"
                self._text = []

    def handle_startendtag(self, tag, attrs):
        self._check(tag, attrs)

    def handle_data(self, data):
        if self._script is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.found.append(f"inline <script>: {''.join(self._text).strip()[:80]!r}")
            self._script = None

    def _check(self, tag, attrs):
        for name, value in attrs:
            name = name.lower()
            handler = name.startswith(("on", "hx-on", "data-hx-on"))
            javascript_url = name in {"href", "src", "action", "formaction"} and (
                (value or "").strip().lower().startswith("javascript:")
            )
            if name == "style" or handler or javascript_url:
                self.found.append(f"<{tag} {name}={value!r}>")


def inline_bits(html: str) -> list[str]:
    """Every inline script, inline style, handler attribute and javascript: URL of a rendered page."""
    finder = _InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.found


# In template source: template tags may sit anywhere, so the checks are patterns, not a parser.
TEMPLATE_PATTERNS = {
    "<style> block": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"""[\s"'}]style\s*=""", re.I),
    "handler attribute (on…=)": re.compile(r"""<[^>]*?[\s"'}]on[a-z]+\s*=""", re.I | re.S),
    "htmx hx-on handler": re.compile(r"""[\s"'}](data-)?hx-on""", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}
_SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I | re.S)
_TYPE = re.compile(r"""\btype\s*=\s*["']?([^"'\s>]+)""", re.I)


def template_bits(source: str) -> list[str]:
    """The inline script and style of a template's source, as 'what: the line'."""
    found = []
    for what, pattern in TEMPLATE_PATTERNS.items():
        for match in pattern.finditer(source):
            found.append(f"{what}: {_line(source, match.start())}")
    for match in _SCRIPT_TAG.finditer(source):
        attrs = match.group(1)
        kind = _TYPE.search(attrs)
        if re.search(r"\bsrc\s*=", attrs, re.I) or (
            kind and kind.group(1).lower() not in RUNNABLE_SCRIPT_TYPES
        ):
            continue
        found.append(f"inline <script>: {_line(source, match.start())}")
    return found


def _line(source: str, at: int) -> str:
    number = source.count("\n", 0, at) + 1
    start = source.rfind("\n", 0, at) + 1
    end = source.find("\n", at)
    return f"line {number}: {source[start : end if end != -1 else None].strip()[:120]}"


def parse_policy(header: str) -> dict[str, list[str]]:
    """'default-src 'self'; img-src 'self' data:' → {"default-src": ["'self'"], "img-src": [...]}."""
    policy = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            policy[words[0]] = words[1:]
    return policy


# The policy of every ParIndex page (parindex.settings PARINDEX_CSP_POLICY, the list).
POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


# The admin's: the same, with the inline attributes of Django's and django-import-export's templates
# allowed by their hashes (parindex.csp).
ADMIN_POLICY = {
    **POLICY,
    "style-src": ["'self'", "'unsafe-hashes'", *map(csp.source_hash, csp.ADMIN_INLINE_STYLES)],
    "script-src": ["'self'", "'unsafe-hashes'", *map(csp.source_hash, csp.ADMIN_INLINE_HANDLERS)],
}


def assert_policy(response, where: str, expected=None):
    header = response.get("Content-Security-Policy")
    assert header, f"{where}: no Content-Security-Policy header"
    assert parse_policy(header) == (expected or POLICY), f"{where}: {header}"
