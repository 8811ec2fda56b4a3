"""Routing candidates: who has handled an intent type, and how well."""

from __future__ import annotations

from pydantic import BaseModel


class Candidate(BaseModel):
    id: str
    labels: list[str]
    score: float
    handled: int
    completed: int
    failed: int
    success_rate: float
    last_handled_at: int | None
    for_person: int
    on_device: int


class Candidates(BaseModel):
    intent_type: str
    candidates: list[Candidate]
