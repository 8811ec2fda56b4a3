"""Caps on request bodies, enforced before any handler parses them.

FastAPI reads a JSON body whole before validating it, so without a cap one large request
could take a worker's memory. Routes that stream their body to storage (uploads) are
exempt by (method, path) and enforce their own limits while streaming.

A JSON body may also nest at most `max_json_depth` levels: deeper documents break
parsers and serialisers (a RecursionError on the way in, orjson's 254-level limit on
the way out) and would hide a `person_id` from the identity rule's scan. Such a body is
refused (422 on /v1, the legacy 400 elsewhere) before the app parses it.

A request whose body stops arriving (a Content-Length longer than what is sent, a
stalled upload) gets 408 after `body_timeout` seconds without a byte, on every route,
uploads included, instead of holding a connection and a worker until the client gives
up. (Incomplete request *headers* never reach the app: uvicorn reads them; bound them
at the proxy in front, e.g. nginx `client_header_timeout`.)
"""

from __future__ import annotations

import asyncio

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import NEW_API_PREFIX
from .jsonutil import nesting_exceeds


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int,
                 streaming: frozenset[tuple[str, str]] = frozenset(),
                 max_json_depth: int = 64, body_timeout: float = 15.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streaming = streaming
        self.max_json_depth = max_json_depth
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        streaming = (scope["method"], scope["path"]) in self.streaming
        is_json = False
        for key, value in scope.get("headers", ()):
            if key == b"content-length" and not streaming and (
                    not value.isdigit() or int(value) > self.max_bytes):
                await self._reject(scope, send, 413)
                return
            if key == b"content-type":
                is_json = b"json" in value.lower()
        received = 0
        refusal = 0  # the status that replaces the app's answer: 408, 413 or 422
        body_done = False

        async def next_message() -> Message:
            """The next message; while the body is incomplete, within body_timeout
            (after it, receive() also waits for a disconnect as long as it likes)."""
            nonlocal refusal, body_done
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                refusal = 408
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_receive() -> Message:
            nonlocal received, refusal
            if refusal:
                return {"type": "http.disconnect"}
            message = await next_message()
            if message["type"] != "http.request" or streaming:
                return message  # uploads enforce their own size limits while streaming
            chunks = [message.get("body", b"")]
            received += len(chunks[0])
            # A JSON body reaches the app whole or not at all: it is checked before the
            # app sees any of it (the app buffers it whole anyway to parse it).
            while (is_json and message.get("more_body", False)
                   and received <= self.max_bytes):
                message = await next_message()
                if message["type"] != "http.request":
                    return message
                chunks.append(message.get("body", b""))
                received += len(chunks[-1])
            if received > self.max_bytes:
                refusal = 413
            elif is_json and nesting_exceeds(b"".join(chunks), self.max_json_depth):
                refusal = 422
            if refusal:
                # Hand the app an empty, final chunk: whatever it answers about the
                # missing body is replaced by the refusal below.
                return {"type": "http.request", "body": b"", "more_body": False}
            if len(chunks) == 1:
                return message
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        rejected = False
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal rejected, started
            if refusal and not started:
                if not rejected:
                    rejected = True
                    await self._reject(scope, send, refusal)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            # The app failed over the body it was refused (an upload that saw the
            # client "disconnect" at the timeout): the refusal is the answer.
            if not refusal or started:
                raise
        if refusal and not rejected and not started:
            rejected = True
            await self._reject(scope, send, refusal)

    async def _reject(self, scope: Scope, send: Send, status: int) -> None:
        if status == 413:
            detail = f"request body is larger than {self.max_bytes} bytes"
            code, title, legacy = "payload-too-large", "Payload too large", "too-large"
        elif status == 408:
            detail = f"the request body stopped arriving for {self.body_timeout:g} s"
            code, title, legacy = "request-timeout", "Request timeout", "timeout"
        else:
            detail = f"body: JSON nested deeper than {self.max_json_depth} levels"
            code, title, legacy = "validation-failed", "Validation failed", "invalid-request"
        if scope["path"].startswith(NEW_API_PREFIX):
            body = orjson.dumps({"type": f"https://unison.dev/problems/{code}",
                                 "title": title, "status": status,
                                 "detail": detail, "instance": scope["path"]})
            ctype = b"application/problem+json"
        else:
            # Legacy callers get 400 for a body they should not have sent, as for any
            # malformed body; 408 and 413 keep their codes.
            status = status if status in (408, 413) else 400
            body = orjson.dumps({"ok": False, "error": legacy, "detail": detail})
            ctype = b"application/json"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", ctype),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
