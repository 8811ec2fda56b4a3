"""A cap on request bodies, enforced before any handler buffers them.

FastAPI reads a JSON body whole before validating it, so without a cap one large request
could take a worker's memory. Routes that stream their body to storage (uploads) are
exempt by (method, path) and enforce their own limits while streaming.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import NEW_API_PREFIX


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int,
                 streaming: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streaming = streaming

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in self.streaming:
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", ()):
            if key == b"content-length" and (not value.isdigit()
                                             or int(value) > self.max_bytes):
                await self._reject(scope, send)
                return
        received = 0
        exceeded = False
        rejected = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Hand the app an empty, final chunk: whatever it answers about the
                    # truncated body is replaced by the 413 below.
                    exceeded = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal rejected
            if exceeded:
                if not rejected:
                    rejected = True
                    await self._reject(scope, send)
                return
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        detail = f"request body is larger than {self.max_bytes} bytes"
        if scope["path"].startswith(NEW_API_PREFIX):
            body = orjson.dumps({"type": "https://unison.dev/problems/payload-too-large",
                                 "title": "Payload too large", "status": 413,
                                 "detail": detail, "instance": scope["path"]})
            ctype = b"application/problem+json"
        else:
            body = orjson.dumps({"ok": False, "error": "too-large", "detail": detail})
            ctype = b"application/json"
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", ctype),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
