"""Models of storage's vector search (`/v1/vectors`), checked against its OpenAPI like
records.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from .records import Model

Distance = Literal["cosine", "l2", "inner_product"]
Mode = Literal["vector", "text", "hybrid"]


class HnswOptions(Model):
    m: int = 16
    ef_construction: int = 64


class CollectionCreate(Model):
    name: str
    dimension: int
    distance: Distance = "cosine"
    shared: bool = False
    hnsw: HnswOptions = HnswOptions()
    metadata: dict[str, Any] = {}


class Collection(Model):
    name: str
    dimension: int
    distance: Distance
    shared: bool
    person_id: str | None
    hnsw: HnswOptions
    metadata: dict[str, Any]
    created_by: str
    created_at: datetime


class CollectionList(Model):
    items: list[Collection]


class CollectionDeleted(Model):
    name: str
    documents: int


class DocumentIn(Model):
    id: str
    embedding: list[float]
    text: str | None = None
    metadata: dict[str, Any] = {}


class UpsertBody(Model):
    documents: list[DocumentIn]


class UpsertResult(Model):
    upserted: int


class Document(Model):
    id: str
    embedding: list[float]
    text: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class DeleteBody(Model):
    ids: list[str] | None = None
    filter: dict[str, Any] | None = None


class SearchBody(Model):
    embedding: list[float] | None = None
    text: str | None = None
    mode: Mode = "vector"
    limit: int = 10
    filter: dict[str, Any] | None = None
    include_embedding: bool = False


class SearchHit(Model):
    id: str
    score: float
    distance: float | None = None
    text_rank: float | None = None
    text: str | None
    metadata: dict[str, Any]
    embedding: list[float] | None = None


class SearchResult(Model):
    items: list[SearchHit]
    mode: Mode
    k_requested: int
    k_returned: int
    exhaustive: bool
    strategy: Literal["exact", "hnsw", "text"]
