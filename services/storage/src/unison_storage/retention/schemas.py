"""Retention and maintenance API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

DataClassName = Literal["traces", "threads", "evals", "workflows", "metrics", "memory"]
Days = Annotated[int | None, Field(ge=1, le=36500)]


class Policy(BaseModel):
    data_class: DataClassName
    days: int
    default_days: int
    source: Literal["default", "tenant"]


class Policies(BaseModel):
    items: list[Policy]


class PoliciesIn(BaseModel):
    """Days to keep per data class for the caller's tenant; `null` goes back to the
    default, a class left out is unchanged."""

    model_config = ConfigDict(extra="forbid")
    traces: Days = None
    threads: Days = None
    evals: Days = None
    workflows: Days = None
    metrics: Days = None
    memory: Days = None


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dry_run: bool = False
    classes: Annotated[list[DataClassName] | None, Field(min_length=1)] = None


class ClassReport(BaseModel):
    rows: int = 0
    bytes: int = Field(default=0, description="the rows' size (pg_column_size)")
    objects: int = Field(default=0, description="payload objects freed (dry run: "
                         "referenced by expired rows, an upper bound)")
    object_bytes: int = 0
    batches: int = 0
    longest_batch_ms: float = 0.0


class Report(BaseModel):
    dry_run: bool
    started_at: datetime
    duration_ms: float
    classes: dict[str, ClassReport]
