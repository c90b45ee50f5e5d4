"""Security headers for every HTTP response, and a Content-Security-Policy without
'unsafe-inline' or 'unsafe-eval' for scripts.

- `content_security_policy()` builds the policy: scripts only from the page's own origin,
  plus a per-request nonce (pages the apps render) or the SHA-256 hashes of the inline
  scripts (published files, such as folium's maps, which carry them in a
  ``<meta http-equiv="Content-Security-Policy">`` too).
- `script_hashes()` gives those hashes the way a browser computes them.
- `SecurityHeadersMiddleware` (pure ASGI, so server-sent events are never buffered) puts
  the policy and the other headers on every response: rendered pages get the request's
  nonce (`request.state.csp_nonce`); HTML files sent from disk get the hashes of their
  inline scripts.

Styles may be inline (Leaflet and folium set style attributes); the policy is about scripts.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REFERRER_POLICY = "same-origin"
PERMISSIONS_POLICY = "geolocation=(self), camera=(), microphone=(), payment=(), usb=()"
FRAME_OPTIONS = "DENY"
NONCE_STATE_KEY = "csp_nonce"

# Types a browser runs as script (HTML's "JavaScript MIME type essence match", and module).
_JS_TYPES = frozenset(
    {
        "",
        "module",
        "importmap",  # not JavaScript, but checked against script-src all the same
        "speculationrules",
        "application/ecmascript",
        "application/javascript",
        "application/x-ecmascript",
        "application/x-javascript",
        "text/ecmascript",
        "text/javascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    }
)


# --- the policy -------------------------------------------------------------------------


def content_security_policy(
    *,
    nonce: str | None = None,
    script_hashes: Sequence[str] = (),
    for_meta: bool = False,
    img_sources: Sequence[str] = (),
) -> str:
    """The policy. `img_sources`: extra image origins (map tiles, see `tile_sources`).

    For a ``<meta>`` element (`for_meta`), frame-ancestors is left out: browsers ignore it
    there (and log an error)."""
    script_src = ["'self'"]
    if nonce:
        if not re.fullmatch(r"[A-Za-z0-9+/_-]+={0,2}", nonce):
            raise ValueError(f"not a valid CSP nonce: {nonce!r}")
        script_src.append(f"'nonce-{nonce}'")
    for h in script_hashes:
        if not re.fullmatch(r"'sha(256|384|512)-[A-Za-z0-9+/]+={0,2}'", h):
            raise ValueError(f"not a CSP hash source: {h!r}")
        if h not in script_src:
            script_src.append(h)
    img_src = ["'self'", "data:", "blob:", *(s for s in img_sources if _is_source(s))]
    directives = [
        "default-src 'self'",
        f"script-src {' '.join(script_src)}",
        "style-src 'self' 'unsafe-inline'",
        f"img-src {' '.join(dict.fromkeys(img_src))}",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
    if not for_meta:
        directives.append("frame-ancestors 'none'")
    return "; ".join(directives)


def _is_source(source: str) -> bool:
    """An origin or host source (no spaces, quotes, commas or semicolons)."""
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9.*:-]+", source))


def tile_sources(*tiles: str | None) -> list[str]:
    """The image origins of map tile settings: URL templates such as
    ``https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png`` (→ ``https://*.tile…``) or a
    folium/xyzservices provider name such as ``OpenStreetMap``. Empty or unknown: none."""
    out: list[str] = []
    for tile in tiles:
        url = (tile or "").strip()
        if url and "://" not in url:
            url = _provider_url(url) or ""
        if not url:
            continue
        parts = urlsplit(url.replace("{s}", "*"))
        if parts.scheme in ("http", "https") and parts.netloc:
            source = f"{parts.scheme}://{parts.netloc}"
            if _is_source(source) and source not in out:
                out.append(source)
    return out


def _provider_url(name: str) -> str | None:
    """The URL template of a provider name, as folium resolves it."""
    if name.lower() == "openstreetmap":
        name = "OpenStreetMap Mapnik"
    try:
        import xyzservices

        provider = xyzservices.providers.query_name(name)
        return str(provider["url"])
    except (ImportError, ValueError, KeyError, AttributeError, TypeError):
        return None


def security_headers(csp: str) -> dict[str, str]:
    """Every header the apps send: the policy and the rest."""
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": REFERRER_POLICY,
        "X-Frame-Options": FRAME_OPTIONS,
        "Permissions-Policy": PERMISSIONS_POLICY,
    }


def meta_tag(csp: str) -> str:
    """A ``<meta http-equiv>`` element carrying `csp` (for files opened from disk)."""
    from html import escape

    return f'<meta http-equiv="Content-Security-Policy" content="{escape(csp)}">'


# --- hashes of inline scripts -----------------------------------------------------------


def script_hashes(html: str) -> list[str]:
    """``'sha256-…'`` for every inline script that a browser would run, in document order
    and without repeats: the text of each ``<script>`` without ``src`` (and of a script
    type), as HTML's tokenizer reads it (line endings normalised, comments, raw-text
    elements and the script-data escape states observed), encoded as UTF-8."""
    out: list[str] = []
    for attrs, text in _scripts(html):
        if "src" in attrs:
            continue
        kind = attrs.get("type")
        if kind is None:
            language = attrs.get("language", "")
            kind = f"text/{language}" if language else ""
        if kind.strip(_WS + "\r").lower() not in _JS_TYPES:
            continue  # a data block (application/json …) is never run
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        source = f"'sha256-{base64.b64encode(digest).decode('ascii')}'"
        if source not in out:
            out.append(source)
    return out


_WS = "\t\n\f "
_END_DELIMS = _WS + "/>"
_RAW_TEXT = frozenset({"style", "xmp", "iframe", "noembed", "noframes", "noscript"})
_RCDATA = frozenset({"textarea", "title"})
_TAG_NAME = re.compile(r"[^\t\n\f />]*")


def _scripts(html: str) -> Iterable[tuple[dict[str, str], str]]:
    """(attributes, text) of every ``<script>`` element of an HTML document (HTML content,
    not inside SVG or MathML), following the HTML tokenizer's states."""
    doc = html.replace("\r\n", "\n").replace("\r", "\n")
    n, i = len(doc), 0
    while i < n:
        lt = doc.find("<", i)
        if lt < 0 or lt + 1 >= n:
            return
        c = doc[lt + 1]
        if doc.startswith("<!--", lt):
            i = _comment_end(doc, lt + 4)
        elif c in "!?":
            i = _after(doc, ">", lt + 2)  # doctype, bogus comment
        elif c == "/":
            if lt + 2 < n and doc[lt + 2].isascii() and doc[lt + 2].isalpha():
                i = _tag_end(doc, lt + 2)[0]
            elif lt + 2 < n and doc[lt + 2] == ">":
                i = lt + 3
            else:
                i = _after(doc, ">", lt + 2)
        elif c.isascii() and c.isalpha():
            m = _TAG_NAME.match(doc, lt + 1)
            assert m is not None
            name = m.group(0).lower()
            i, attrs = _tag_end(doc, m.end())
            if name == "script":
                end, text_end = _script_end(doc, i)
                yield attrs, doc[i:text_end].replace("\0", "\ufffd")
                i = end
            elif name in _RAW_TEXT or name in _RCDATA:
                i = _raw_end(doc, i, name)
            elif name == "plaintext":
                return
        else:
            i = lt + 1


def _after(doc: str, needle: str, start: int) -> int:
    at = doc.find(needle, start)
    return len(doc) if at < 0 else at + len(needle)


def _comment_end(doc: str, start: int) -> int:
    """The position after a comment whose text starts at `start` (after ``<!--``)."""
    if doc.startswith(">", start):
        return start + 1
    if doc.startswith("->", start):
        return start + 2
    ends = [at for at in (doc.find("-->", start), doc.find("--!>", start)) if at >= 0]
    if not ends:
        return len(doc)
    at = min(ends)
    return at + (3 if doc.startswith("-->", at) else 4)


def _tag_end(doc: str, i: int) -> tuple[int, dict[str, str]]:
    """Attributes from `i` (after the tag name) to the tag's ``>``: (position after it,
    attributes with lower-case names, first occurrence wins)."""
    n = len(doc)
    attrs: dict[str, str] = {}
    while i < n:
        while i < n and doc[i] in _WS + "/":
            i += 1
        if i >= n:
            break
        if doc[i] == ">":
            return i + 1, attrs
        start = i
        i += 1  # the first character may be "=" and still be part of the name
        while i < n and doc[i] not in _WS + "/>=":
            i += 1
        name = doc[start:i].lower()
        while i < n and doc[i] in _WS:
            i += 1
        value = ""
        if i < n and doc[i] == "=":
            i += 1
            while i < n and doc[i] in _WS:
                i += 1
            if i < n and doc[i] in "\"'":
                close = doc.find(doc[i], i + 1)
                close = n if close < 0 else close
                value, i = doc[i + 1 : close], close + 1
            else:
                start = i
                while i < n and doc[i] not in _WS + ">":
                    i += 1
                value = doc[start:i]
        attrs.setdefault(name, value)
    return n, attrs


def _is_end_tag(doc: str, at: int, name: str) -> bool:
    """Is there ``</name`` at `at`, followed by whitespace, ``/`` or ``>``?"""
    end = at + 2 + len(name)
    return (
        doc.startswith("</", at)
        and doc[at + 2 : end].lower() == name
        and end < len(doc)
        and doc[end] in _END_DELIMS
    )


def _raw_end(doc: str, i: int, name: str) -> int:
    """The position after a raw-text or RCDATA element's end tag."""
    while True:
        at = doc.find("</", i)
        if at < 0:
            return len(doc)
        if _is_end_tag(doc, at, name):
            return _tag_end(doc, at + 2 + len(name))[0]
        i = at + 2


def _script_end(doc: str, i: int) -> tuple[int, int]:
    """(position after the end tag, end of the script's text) of a script whose text
    starts at `i`: script data, escaped (after ``<!--``) and double escaped (after
    ``<!--`` … ``<script``) states, as in the HTML tokenizer."""
    n = len(doc)
    state = "data"
    while i < n:
        if state == "data":
            lt = doc.find("<", i)
            if lt < 0:
                return n, n
            if _is_end_tag(doc, lt, "script"):
                return _tag_end(doc, lt + 8)[0], lt
            if doc.startswith("<!--", lt):
                state, i = "escaped", lt + 2  # from the dashes: "<!-->" ends at once
            else:
                i = lt + 1
        else:
            close = doc.find("-->", i)
            close = n if close < 0 else close
            at = doc.find("<", i, close)
            while at >= 0:
                if state == "escaped" and _is_end_tag(doc, at, "script"):
                    return _tag_end(doc, at + 8)[0], at
                if state == "escaped" and _is_start_of(doc, at, "script"):
                    state = "double"
                    break
                if state == "double" and _is_end_tag(doc, at, "script"):
                    state = "escaped"
                    break
                at = doc.find("<", at + 1, close)
            if at >= 0:
                i = at + 7  # past "<script" / inside "</script"
                continue
            if close >= n:
                return n, n
            state, i = "data", close + 3
    return n, n


def _is_start_of(doc: str, at: int, name: str) -> bool:
    end = at + 1 + len(name)
    return doc[at + 1 : end].lower() == name and end < len(doc) and doc[end] in _END_DELIMS


# --- the middleware ---------------------------------------------------------------------


class SecurityHeadersMiddleware:
    """Sets `security_headers` on every HTTP response the app sends.

    - A fresh nonce per request, in ``scope["state"]["csp_nonce"]``
      (`request.state.csp_nonce`); rendered responses get a policy with it, so a template
      can mark its own inline scripts ``<script nonce="{{ nonce }}">``.
    - HTML files sent from disk (responses with ``Last-Modified``, as Starlette's
      `FileResponse` and `StaticFiles` send them) get the hashes of their inline scripts
      instead (the file's body is read in full for that; nothing else is buffered, so
      server-sent events stream as before). A ``304 Not Modified`` gets no policy, so the
      one the browser has stored with its copy stays.
    - Headers the route set itself win (e.g. a page's own ``Referrer-Policy``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        img_sources: Sequence[str] = (),
        hash_files: bool = True,
    ) -> None:
        self.app = app
        self.img_sources = tuple(img_sources)
        self.hash_files = hash_files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        state = dict(scope.get("state") or {})
        state[NONCE_STATE_KEY] = nonce
        scope = {**scope, "state": state}
        start: Message | None = None
        parts: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal start
            kind = message["type"]
            if kind == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                if self._hashes_body(scope, message["status"], headers):
                    start = message  # sent with the body, once the hashes are known
                    return
                if message["status"] == 304:
                    csp = None  # no body; the browser keeps the policy stored with its copy
                else:
                    csp = content_security_policy(nonce=nonce, img_sources=self.img_sources)
                await send(self._with_headers(message, headers, csp))
            elif start is not None and kind in ("http.response.body", "http.response.pathsend"):
                if kind == "http.response.pathsend":
                    parts.append(Path(message["path"]).read_bytes())
                    more = False
                else:
                    parts.append(message.get("body", b""))
                    more = bool(message.get("more_body"))
                if more:
                    return
                body = b"".join(parts)
                headers = MutableHeaders(raw=list(start.get("headers", [])))
                text = body.decode(_charset(headers), errors="replace")
                csp = content_security_policy(
                    script_hashes=script_hashes(text), img_sources=self.img_sources
                )
                await send(self._with_headers(start, headers, csp))
                await send({"type": "http.response.body", "body": body, "more_body": False})
            else:
                await send(message)

        await self.app(scope, receive, send_with_headers)

    def _hashes_body(self, scope: Scope, status: int, headers: MutableHeaders) -> bool:
        return (
            self.hash_files
            and status == 200
            and scope.get("method") != "HEAD"
            and "last-modified" in headers
            and "content-security-policy" not in headers
            and headers.get("content-encoding", "identity") == "identity"
            and headers.get("content-type", "").split(";")[0].strip().lower() == "text/html"
        )

    @staticmethod
    def _with_headers(message: Message, headers: MutableHeaders, csp: str | None) -> Message:
        for name, value in security_headers(csp or "").items():
            if name == "Content-Security-Policy" and csp is None:
                continue
            if name.lower() not in headers:
                headers[name] = value
        return {**message, "headers": headers.raw}


def _charset(headers: MutableHeaders) -> str:
    match = re.search(r"charset=\"?([\w.:-]+)", headers.get("content-type", ""), re.I)
    if match:
        try:
            "".encode(match.group(1))
            return match.group(1)
        except LookupError:
            pass
    return "utf-8"
