"""Request and response models of the `/v1` traversal API (both graph services)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from ..graph_schema import ID_PATTERN

NodeId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Props = dict[str, str | int | float | bool | None]


class Direction(StrEnum):
    OUT = "out"
    IN = "in"
    BOTH = "both"


class NodeIn(BaseModel):
    id: NodeId
    labels: list[str] = Field(min_length=1, max_length=3,
                              description="labels of the schema (Person, Device, ...)")
    props: Props = Field(default_factory=dict)


class NodePatch(BaseModel):
    props: Props = Field(description="properties to set; null removes one")


class RelIn(BaseModel):
    start_id: NodeId
    end_id: NodeId
    type: str = Field(description="a relationship type of the schema (OWNS, HANDLES, ...)")
    props: Props = Field(default_factory=dict)


class NodeBatch(BaseModel):
    nodes: list[NodeIn] = Field(min_length=1)


class RelBatch(BaseModel):
    relationships: list[RelIn] = Field(min_length=1)


class NodeOut(BaseModel):
    id: str
    labels: list[str]
    props: dict[str, Any]
    created_at: int | None = None
    updated_at: int | None = None
    degree: int | None = None


class RelOut(BaseModel):
    start_id: str
    end_id: str
    type: str
    props: dict[str, Any]
    created_at: int | None = None
    updated_at: int | None = None


class Neighbour(BaseModel):
    node: NodeOut
    depth: int


class NeighbourPage(BaseModel):
    items: list[Neighbour]
    next_cursor: str | None


class PathOut(BaseModel):
    length: int
    nodes: list[NodeOut]
    relationships: list[RelOut]


class Subgraph(BaseModel):
    root: str
    nodes: list[NodeOut]
    relationships: list[RelOut]
    truncated: bool


class BatchResult(BaseModel):
    upserted: int


class PersonView(StrEnum):
    DEVICES = "devices"
    SESSIONS = "sessions"
    RESOURCES = "resources"
    AGENTS = "agents"


class PersonViewOut(BaseModel):
    person_id: str
    view: PersonView
    items: list[NodeOut]
