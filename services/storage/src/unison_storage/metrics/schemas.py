"""Request and response models of /v1/metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from unison_shared.jsonutil import StorableText

Short = Annotated[str, StringConstraints(min_length=1, max_length=256), StorableText]
Label = Annotated[str, StringConstraints(max_length=1024), StorableText]
Bucket = Literal["1m", "1h", "1d"]


class MetricIn(BaseModel):
    entity_type: Short
    entity_name: Short
    thread_id: Annotated[str, StringConstraints(max_length=128), StorableText] | None = None
    metric_name: Short
    value: float = Field(allow_inf_nan=False)
    labels: dict[Short, Label] = Field(default_factory=dict)
    timestamp: AwareDatetime | None = Field(default=None, description="default: now")


class MetricBatch(BaseModel):
    points: list[MetricIn] = Field(min_length=1, max_length=1000)


class Metric(BaseModel):
    id: str
    entity_type: str
    entity_name: str
    thread_id: str | None
    metric_name: str
    value: float
    labels: dict[str, str]
    timestamp: datetime


class MetricPage(BaseModel):
    items: list[Metric]
    next_cursor: str | None


class Recorded(BaseModel):
    recorded: int
    items: list[Metric]


class BucketStats(BaseModel):
    bucket_start: datetime
    count: int
    sum: float
    avg: float
    min: float
    max: float
    p50: float
    p95: float


class Aggregates(BaseModel):
    metric_name: str
    bucket: Bucket
    items: list[BucketStats] = Field(description="oldest bucket first")
