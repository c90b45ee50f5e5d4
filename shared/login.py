"""Logging in to a page with an organisation's token, the same way in every service that
shows pages (the archive server, the TiB's page).

A token never travels in an address: `GET /logga-in` is a form, `POST /logga-in` carries
the token in the body, and only once the service has verified it does the answer set it as
an HttpOnly, SameSite=Strict cookie (Secure over https) and send the browser on with a
*relative* redirect to `next`, which must be a path of the same service (one leading "/";
never "//host" or a URL). Nothing here reads the Host header to build an address.
"""

from __future__ import annotations

import html
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from shared.access import install_log_redaction

LOGIN_PATH = "/logga-in"
LOGOUT_PATH = "/logga-ut"
COOKIE_MAX_AGE_S = 12 * 3600
# same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on the
# form's POST, which `same_origin` must refuse.
NO_STORE = {"Cache-Control": "private, no-store", "Referrer-Policy": "same-origin"}

_PAGE = """<!DOCTYPE html>
<html lang="sv">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – logga in</title></head>
<body>
<main>
<h1>{title}</h1>
<p role="alert" id="inloggning-meddelande">{message}</p>
<form method="post" action="{action}">
<input type="hidden" name="next" value="{next}">
<label for="nyckel">Nyckel</label>
<input id="nyckel" name="token" type="password" autocomplete="off" spellcheck="false" required>
<button type="submit" id="logga-in">Logga in</button>
</form>
<p>Nyckeln är din organisations. Den skickas bara i formuläret och sparas som en kaka som
bara den här tjänsten kan läsa.</p>
{extra}
</main>
</body>
</html>
"""


def safe_next(value: str | None, default: str) -> str:
    """`value` when it is a path of this service ("/…", not "//…" or "/\\…", no scheme,
    no host, no control characters); else `default`."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(ch) < 0x20 or ch == "\x7f" or ch == "\\" for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def login_url(next_path: str) -> str:
    return f"{LOGIN_PATH}?next={quote(next_path, safe='/')}"


def login_page(
    title: str,
    message: str,
    next_path: str,
    *,
    status: int = 200,
    extra_html: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The login form (Swedish). `message` is text; `extra_html` is trusted markup."""
    body = _PAGE.format(
        title=html.escape(title),
        message=html.escape(message),
        action=LOGIN_PATH,
        next=html.escape(next_path, quote=True),
        extra=extra_html,
    )
    all_headers = {**NO_STORE, **(headers or {})}
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", "Bearer")
    return HTMLResponse(body, status_code=status, headers=all_headers)


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def logged_in(request: Request, cookie: str, token: str, next_path: str) -> RedirectResponse:
    """303 to `next_path` (relative) with the verified token as the session cookie."""
    response = RedirectResponse(next_path, status_code=303, headers=NO_STORE)
    response.set_cookie(
        cookie,
        token,
        max_age=COOKIE_MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )
    return response


def logged_out(cookie: str) -> RedirectResponse:
    response = RedirectResponse(LOGIN_PATH, status_code=303, headers=NO_STORE)
    response.delete_cookie(cookie, path="/", httponly=True, samesite="strict")
    return response


def same_origin(request: Request) -> bool:
    """A POST's Origin, or else its Referer, when present, names the request's own host.

    With the SameSite=Strict cookie no other *site* can post with the user's cookie; this
    also refuses other origins of the same site (another port or service on the host).
    A request with neither header (not a browser form) passes; it carries no victim's
    cookie. `Origin: null` (an opaque or privacy-hidden origin) is refused."""
    host = request.headers.get("host", "").lower()
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != "null" and urlsplit(origin).netloc.lower() == host
    referer = request.headers.get("referer")
    if referer:
        return urlsplit(referer).netloc.lower() == host
    return True


def apply_access_defaults(app: FastAPI) -> None:
    """What every app factory applies: no trailing-slash redirects (Starlette builds those
    from the Host header; a wrong path is a 404 instead), and uvicorn's log lines without
    secrets (`api_key=` in an Open311 address, or a token pasted into one)."""
    app.router.redirect_slashes = False
    install_log_redaction()
