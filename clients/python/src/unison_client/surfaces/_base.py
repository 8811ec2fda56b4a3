"""What every surface shares: the HTTP path and small helpers."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from .._http import HTTP

M = TypeVar("M", bound=BaseModel)


class Surface:
    def __init__(self, http: HTTP) -> None:
        self._http = http


def etag(version: int | str) -> str:
    """An `If-Match` value: a version number, an ETag as the service sent it, or `*`."""
    if isinstance(version, int):
        return f'"{version}"'
    if version == "*" or version.startswith(('"', 'W/"')):
        return version
    return f'"{version}"'


def body(model: BaseModel, *, unset: bool = False) -> dict[str, Any]:
    """A request model as JSON: fields left out are not sent (`unset`: only those set).
    Request models are built with `model_construct`: the service is the one validator,
    so bad input is always a ValidationError naming the field, never a local one."""
    if unset:
        return model.model_dump(mode="json", exclude_unset=True)
    return model.model_dump(mode="json", exclude_none=True)


def parse(model: type[M], content: bytes) -> M:
    return model.model_validate_json(content)
