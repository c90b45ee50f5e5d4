"""Serving the web apps (intake, TiB, the archive): uvicorn with timeouts, and a guard.

`serve(app, host, port, settings)` runs uvicorn with the `LAGESBILD_HTTP_…` limits:

- request line and headers must arrive within `http_header_timeout_s` of the connection
  opening (or of the first byte of the next request on a kept-alive connection); a client
  that started a request and stalls gets `408` and the connection is closed, one that never
  sent a byte is closed silently. Uvicorn itself has no such timeout (slowloris).
- request line + headers larger than `http_max_header_bytes` are refused (431);
- idle keep-alive connections are closed after `http_keep_alive_s`;
- more than `http_limit_concurrency` connections at once get 503 (uvicorn's);
- on shutdown, running requests get `http_shutdown_timeout_s` to finish.

`RequestGuard` is an ASGI middleware every app factory adds last (outermost, so it sees
the request before any route). It

- refuses a path holding a control character (`/%00`) or a query holding NUL with 400
  before a route (or a file lookup, or PostgreSQL) sees it;
- answers 408 when a request body has not fully arrived within `http_body_timeout_s` of
  the request's start (a slow or stalled upload), and stops the handler;
- logs a client that went away before its response as one line, not a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from html import escape
from typing import Any
from urllib.parse import unquote_to_bytes

import anyio
import h11
import uvicorn
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE, H11Protocol

from shared.config import Settings

log = logging.getLogger("lagesbild.http")

# (scope, status, error item) -> the response to send; each app answers in its own shape.
Respond = Callable[[Scope, int, dict[str, Any]], Response]


def error_item(code: str, message_sv: str, message_en: str) -> dict[str, Any]:
    return {"code": code, "message_sv": message_sv, "message_en": message_en, "field": None}


def json_refusal(scope: Scope, status: int, item: dict[str, Any]) -> Response:
    """`{"errors": [item]}`, the shape of the intake's and the TiB's API errors."""
    return JSONResponse({"errors": [item]}, status_code=status, headers={"Connection": "close"})


def html_refusal(scope: Scope, status: int, item: dict[str, Any]) -> Response:
    """A short Swedish page, for apps that serve pages (the archive)."""
    body = (
        '<!DOCTYPE html><html lang="sv"><meta charset="utf-8"><title>Fel</title>'
        f"<h1>{escape(item['message_sv'])}</h1></html>"
    )
    return HTMLResponse(body, status_code=status, headers={"Connection": "close"})


def bad_path_item() -> dict[str, Any]:
    return error_item(
        "invalid_path",
        "Adressen innehåller ett otillåtet tecken (NUL eller ett annat kontrolltecken). "
        "Kontrollera länken.",
        "The address holds a character that is not allowed (NUL or another control "
        "character). Check the link.",
    )


def body_timeout_item(seconds: float) -> dict[str, Any]:
    return error_item(
        "request_timeout",
        f"Förfrågan kom inte fram i tid (hela innehållet måste komma inom {seconds:g} "
        "sekunder). Kontrollera uppkopplingen och försök igen.",
        f"The request did not arrive in time (the whole body must arrive within {seconds:g} "
        "seconds). Check the connection and try again.",
    )


class _BodyTimeoutError(Exception):
    """Raised into the handler when its request body did not arrive in time."""


def _bad_target(scope: Scope) -> bool:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in scope.get("path", "")):
        return True
    query: bytes = scope.get("query_string", b"")
    return b"%00" in query or b"\x00" in unquote_to_bytes(query)


class RequestGuard:
    """See the module docstring. `respond` words a refusal in the app's own shape."""

    def __init__(
        self, app: ASGIApp, body_timeout_s: float = 30.0, respond: Respond = json_refusal
    ) -> None:
        self.app = app
        self.body_timeout_s = body_timeout_s
        self.respond = respond

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _bad_target(scope):
            log.info("refused a request with a control character in its address (400)")
            await self.respond(scope, 400, bad_path_item())(scope, receive, send)
            return
        await _Exchange(self, scope, receive, send).run()


class _Exchange:
    """One request through the guard: the body deadline, and who answered."""

    def __init__(self, guard: RequestGuard, scope: Scope, receive: Receive, send: Send) -> None:
        self.guard, self.scope, self._receive, self._send = guard, scope, receive, send
        self.deadline = time.monotonic() + guard.body_timeout_s
        self.body_done = False
        self.received = 0
        self.started = self.finished = False
        self.timed_out = self.answered_by_guard = self.client_gone = False

    @property
    def what(self) -> str:
        return f"{self.scope.get('method', '')} {self.scope.get('path', '')}"

    def _expected(self) -> str:
        length = dict(self.scope.get("headers", [])).get(b"content-length", b"")
        return f" of {length.decode('latin-1')}" if length.isdigit() else ""

    async def run(self) -> None:
        stopped_by = ""
        try:
            await self.guard.app(self.scope, self.receive, self.send)
        except Exception as exc:
            if not (self.timed_out or self.client_gone):
                raise  # a real error: the app's own handling (500 and its log) applies
            stopped_by = f"; the handler stopped with {type(exc).__name__}"
        if self.client_gone and not self.timed_out:
            # One line, once the handler is done: why it stopped is part of it.
            sent = "" if self.body_done else f" (got {self.received}{self._expected()} bytes)"
            log.info("client went away before the response: %s%s%s", self.what, sent, stopped_by)

    async def receive(self) -> Message:
        if self.timed_out:
            return {"type": "http.disconnect"}
        if self.body_done:
            message = await self._receive()
        else:
            message = await self._receive_body()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.body_done = self.body_done or not message.get("more_body", False)
        elif message["type"] == "http.disconnect" and not self.finished:
            self.client_gone = True
        return message

    async def _receive_body(self) -> Message:
        remaining = self.deadline - time.monotonic()
        with anyio.move_on_after(max(remaining, 0.0)):
            return await self._receive()
        # The body did not arrive in time: answer 408 (if nothing was sent yet) and stop.
        self.timed_out = True
        log.info(
            "request body not received within %g s: %s (got %d%s bytes); answered 408",
            self.guard.body_timeout_s,
            self.what,
            self.received,
            self._expected(),
        )
        if not self.started:
            response = self.guard.respond(
                self.scope, 408, body_timeout_item(self.guard.body_timeout_s)
            )
            await response(self.scope, self._disconnected, self._send)
            self.answered_by_guard = True
        raise _BodyTimeoutError()

    @staticmethod
    async def _disconnected() -> Message:
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.answered_by_guard:
            return  # the handler's late answer to a request the guard already refused
        if message["type"] == "http.response.start":
            self.started = True
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.finished = True
        await self._send(message)


# --- the server --------------------------------------------------------------------


def _raw_response(status: str, text: str) -> bytes:
    """A whole response written straight to the socket, for when h11 has no request yet."""
    data = (text + "\n").encode("utf-8")
    head = (
        f"HTTP/1.1 {status}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(data)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + data


class GuardedH11Protocol(H11Protocol):
    """Uvicorn's h11 protocol with a deadline for the request line and headers, and their
    size limit enforced also when they arrive in one piece (h11 checks it only while a
    request is incomplete)."""

    header_timeout_s: float = 10.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            return
        super().data_received(data)
        self._watch_head()

    def _head_too_large(self, data: bytes) -> bool:
        limit = self.config.h11_max_incomplete_event_size or DEFAULT_MAX_INCOMPLETE_EVENT_SIZE
        buffered = bytes(self.conn.trailing_data[0]) + data
        end = buffered.find(b"\r\n\r\n")
        if (len(buffered) if end < 0 else end) <= limit:
            return False
        log.info("request headers over %d bytes; answered 431", limit)
        self._stop_head_timer()
        self.transport.write(
            _raw_response(
                "431 Request Header Fields Too Large",
                f"Förfrågans huvuden är för stora (högst {limit} byte). "
                f"(Request headers over {limit} bytes.)",
            )
        )
        self.transport.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def _watch_head(self) -> None:
        waiting = self.conn.their_state is h11.IDLE and not self.transport.is_closing()
        if not waiting:
            self._stop_head_timer()
        elif self._head_timer is None and self.timeout_keep_alive_task is None:
            # Not while uvicorn's keep-alive timer runs: an idle kept-alive connection is
            # its business; the first byte of a next request cancels that timer.
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        pending = len(self.conn.trailing_data[0])
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        if pending:
            log.info(
                "request headers not received within %g s from %s (%d bytes); answered 408",
                self.header_timeout_s,
                client,
                pending,
            )
            text = (
                "Förfrågan kom inte fram i tid. Försök igen. "
                f"(Request headers not received within {self.header_timeout_s:g} s.)"
            )
            self.transport.write(_raw_response("408 Request Timeout", text))
        else:
            log.debug("closed a connection from %s that sent nothing", client)
        self.transport.close()


def protocol_class(header_timeout_s: float) -> type[GuardedH11Protocol]:
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"header_timeout_s": header_timeout_s})


def server_config(
    app: ASGIApp, host: str, port: int, settings: Settings | None = None, **options: Any
) -> uvicorn.Config:
    """Uvicorn's configuration with the `LAGESBILD_HTTP_…` limits (`options` override)."""
    s = settings or Settings()
    values: dict[str, Any] = {
        "http": protocol_class(s.http_header_timeout_s),
        "timeout_keep_alive": s.http_keep_alive_s,
        "h11_max_incomplete_event_size": s.http_max_header_bytes,
        "limit_concurrency": s.http_limit_concurrency,
        "timeout_graceful_shutdown": s.http_shutdown_timeout_s,
    }
    return uvicorn.Config(app, host=host, port=port, **(values | options))


def serve(
    app: ASGIApp, host: str, port: int, settings: Settings | None = None, **options: Any
) -> None:
    """Run `app` until stopped (SIGINT/SIGTERM), with the limits above."""
    uvicorn.Server(server_config(app, host, port, settings, **options)).run()
