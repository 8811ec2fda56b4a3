"""Raw ASGI calls into an app: the same request, byte for byte, to two apps."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI
from starlette.convertors import IntegerConvertor

from unison_devstack.tokens import mint_token
from unison_shared.testing import TEST_SECRET

REQUEST_ID = "0123456789abcdef0123456789abcdef"
TRACEPARENT = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"
TOKEN = mint_token(TEST_SECRET, person_id="p-routing", household_id="h-routing")


def _scope(method: str, path: str, *, root_path: str = "",
           headers: dict[str, str] | None = None) -> dict[str, Any]:
    base = {"authorization": f"Bearer {TOKEN}", "x-request-id": REQUEST_ID,
            "traceparent": TRACEPARENT, "host": "storage"}
    base.update(headers or {})
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": root_path + path,
            "raw_path": (root_path + path).encode(), "query_string": b"",
            "root_path": root_path, "client": ("127.0.0.1", 1), "server": ("storage", 80),
            "headers": [(k.encode(), v.encode()) for k, v in base.items()]}


async def _call(app: FastAPI, scope: dict[str, Any], body: bytes = b"") -> dict[str, Any]:
    """The response (status, headers, body) and the scope the app left behind."""
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = sorted((k.lower(), v) for k, v in message["headers"]
                                       if k.lower() != b"date")
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    answer["scope"] = scope
    return answer


def _sample_path(context: Any) -> str:
    path = context.path_format
    for name, convertor in context.param_convertors.items():
        path = path.replace("{" + name + "}",
                            "1" if isinstance(convertor, IntegerConvertor) else "x1")
    return str(path)
