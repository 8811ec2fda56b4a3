"""Request and response models of /v1/vectors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from unison_shared.jsonutil import StorableText

Distance = Literal["cosine", "l2", "inner_product"]
Mode = Literal["vector", "text", "hybrid"]
CollectionName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,128}$")]
DocumentId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:@\-]{1,256}$")]
# Finite numbers only: JSON parsers here accept NaN and Infinity, pgvector does not.
Component = Annotated[float, Field(allow_inf_nan=False)]
Embedding = Annotated[list[Component], Field(min_length=1, max_length=2000)]
DocText = Annotated[str, StringConstraints(max_length=1_000_000), StorableText]
MAX_BATCH = 1000


class HnswOptions(BaseModel):
    m: int = Field(default=16, ge=2, le=100)
    ef_construction: int = Field(default=64, ge=4, le=1000)


class CollectionCreate(BaseModel):
    name: CollectionName
    dimension: int = Field(ge=1, le=2000)
    distance: Distance = "cosine"
    shared: bool = Field(default=False, description="household-shared (every person of "
                                                    "the household), not the caller's own")
    hnsw: HnswOptions = Field(default_factory=HnswOptions)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Collection(BaseModel):
    name: str
    dimension: int
    distance: Distance
    shared: bool
    person_id: str | None = Field(description="the owner; null for a shared collection")
    hnsw: HnswOptions
    metadata: dict[str, Any]
    created_by: str
    created_at: datetime


class CollectionList(BaseModel):
    items: list[Collection]


class CollectionDeleted(BaseModel):
    name: str
    documents: int


class DocumentIn(BaseModel):
    id: DocumentId
    embedding: Embedding
    text: DocText | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class UpsertBody(BaseModel):
    documents: list[DocumentIn] = Field(min_length=1, max_length=MAX_BATCH)


class UpsertResult(BaseModel):
    upserted: int


class Document(BaseModel):
    id: str
    embedding: list[float]
    text: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class DeleteBody(BaseModel):
    ids: list[DocumentId] | None = Field(default=None, max_length=MAX_BATCH)
    filter: dict[str, Any] | None = Field(
        default=None, description="delete every document the metadata filter matches")


class Deleted(BaseModel):
    deleted: int


class SearchBody(BaseModel):
    embedding: Embedding | None = None
    text: Annotated[str, StringConstraints(min_length=1, max_length=2000),
                    StorableText] | None = None
    mode: Mode = "vector"
    limit: int = Field(default=10, ge=1, le=1000)
    filter: dict[str, Any] | None = Field(
        default=None, description='metadata filter: {"field": value} (equality), '
                                  '{"field": {"$in": [...]}}, {"field": {"$gte": 1, '
                                  '"$lt": "2025-01-01T00:00:00Z"}} (numbers or dates)')
    include_embedding: bool = False


class SearchHit(BaseModel):
    id: str
    score: float = Field(description="vector: -distance; text: the text rank; hybrid: "
                                     "the reciprocal rank fusion score")
    distance: float | None = None
    text_rank: float | None = None
    text: str | None
    metadata: dict[str, Any]
    embedding: list[float] | None = None


class SearchResult(BaseModel):
    items: list[SearchHit]
    mode: Mode
    k_requested: int
    k_returned: int
    exhaustive: bool = Field(description="true when no matching document can be missing "
                                         "from the result (an exact scan, or fewer "
                                         "matches than requested)")
    strategy: Literal["exact", "hnsw", "text"]
