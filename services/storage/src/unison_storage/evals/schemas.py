"""Evaluation API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from unison_shared.jsonutil import StorableText

Name = Annotated[str, Field(min_length=1, max_length=256), StorableText]
RunStatus = Literal["running", "completed", "failed"]


class DatasetIn(BaseModel):
    name: Name
    version: int | None = Field(default=None, ge=1,
                                description="default: one above the newest of this name")
    description: Annotated[str, Field(max_length=4096), StorableText] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Dataset(BaseModel):
    id: str
    name: str
    version: int
    description: str | None
    metadata: dict[str, Any]
    frozen: bool = Field(description="a run used it: items can no longer be added")
    item_count: int
    created_by: str
    created_at: datetime


class DatasetPage(BaseModel):
    items: list[Dataset]
    next_cursor: str | None = None


class ItemIn(BaseModel):
    input: Any
    expected: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    id: Annotated[str, Field(min_length=1, max_length=128), StorableText] | None = None


class ItemsIn(BaseModel):
    items: list[ItemIn] = Field(min_length=1, max_length=1000)


class Item(BaseModel):
    id: str
    seq: int
    input: Any
    expected: Any
    metadata: dict[str, Any]


class ItemPage(BaseModel):
    items: list[Item]
    next_cursor: str | None = None


class RunIn(BaseModel):
    dataset_id: str = Field(min_length=1, max_length=64)
    model_name: Name
    config: dict[str, Any] = Field(default_factory=dict)


class RunPatch(BaseModel):
    status: RunStatus | None = None
    summary: dict[str, Any] | None = None


class Run(BaseModel):
    id: str
    dataset_id: str
    model_name: str
    config: dict[str, Any]
    status: RunStatus
    summary: dict[str, Any] | None
    created_by: str
    started_at: datetime
    completed_at: datetime | None


class RunPage(BaseModel):
    items: list[Run]
    next_cursor: str | None = None


class ScoreIn(BaseModel):
    item_id: str = Field(min_length=1, max_length=128)
    metric: Name
    value: float = Field(allow_inf_nan=False)
    reason: Annotated[str, Field(max_length=8192), StorableText] | None = None
    scorer: Annotated[str, Field(max_length=256), StorableText] = ""


class ScoresIn(BaseModel):
    scores: list[ScoreIn] = Field(min_length=1, max_length=5000)


class ScoresStored(BaseModel):
    stored: int = Field(description="scores written (a repeated one replaces the earlier)")


class MetricSummary(BaseModel):
    metric: str
    count: int
    mean: float
    min: float
    max: float
    p50: float
    p95: float


class RunSummary(BaseModel):
    run_id: str
    metrics: list[MetricSummary]


class MetricComparison(BaseModel):
    metric: str
    shared_items: int = Field(description="items both runs scored on this metric")
    mean_a: float
    mean_b: float
    delta: float = Field(description="mean_b - mean_a")
    b_better: int
    a_better: int
    ties: int


class Comparison(BaseModel):
    run_a: str
    run_b: str
    metrics: list[MetricComparison]
