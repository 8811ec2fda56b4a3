"""Metadata filters of vector search and delete, compiled to SQL conditions.

A filter is a JSON object whose keys are metadata fields (top level), all of which must
match:

- `{"field": value}`: equality (`metadata @> {"field": value}`, any JSON value);
- `{"field": {"$eq": v, "$ne": v, "$in": [scalars], "$gt": b, "$gte": b, "$lt": b,
  "$lte": b}}`: operators, combined with AND. A range bound is a number (compared with
  numeric metadata values only) or an ISO 8601 date-time with a zone (compared with
  string metadata values that parse as one; others never match).

Every value is a bound parameter; the SQL text is built from constant fragments and
parameter numbers only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from unison_shared.errors import ValidationFailed
from unison_shared.jsonutil import encode_jsonb

MAX_CONDITIONS = 32
_RANGE_OPS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_OPS = {"$eq", "$ne", "$in", *_RANGE_OPS}


@dataclass
class Compiled:
    """SQL conditions over `metadata` and the arguments they bind, numbered after the
    statement's own first `offset` parameters."""

    offset: int
    conditions: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)

    def bind(self, value: Any) -> str:
        self.args.append(value)
        return f"${self.offset + len(self.args)}"

    @property
    def sql(self) -> str:
        return "".join(f" AND {c}" for c in self.conditions)


def _bad(field_name: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"filter.{field_name}: {problem}")


def _json(name: str, value: Any) -> str:
    return encode_jsonb(value, f"filter.{name}", 64 * 1024)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _date(field_name: str, value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise _bad(field_name, "a range bound is a number or an ISO 8601 date-time") from exc
    if at.tzinfo is None:
        raise _bad(field_name, "a date-time bound needs a zone (Z or +hh:mm)")
    return at


def _range(out: Compiled, name: str, op: str, bound: Any) -> None:
    key = out.bind(name)
    if isinstance(bound, bool) or not isinstance(bound, int | float | str):
        raise _bad(name, f"{op} takes a number or a date-time")
    if isinstance(bound, float) and not math.isfinite(bound):
        raise _bad(name, f"{op} takes a finite number")
    if isinstance(bound, str):
        at = _date(name, bound)
        out.conditions.append(
            f"(CASE WHEN jsonb_typeof(metadata -> {key}) = 'string' AND "
            f"pg_input_is_valid(metadata ->> {key}, 'timestamptz') "
            f"THEN (metadata ->> {key})::timestamptz END) {_RANGE_OPS[op]} "
            f"{out.bind(at)}::timestamptz")
        return
    out.conditions.append(
        f"(CASE WHEN jsonb_typeof(metadata -> {key}) = 'number' "
        f"THEN (metadata -> {key})::numeric END) {_RANGE_OPS[op]} {out.bind(bound)}::numeric")


def _operators(out: Compiled, name: str, ops: dict[str, Any]) -> None:
    if not ops:
        raise _bad(name, "an empty operator object")
    for op, operand in ops.items():
        if op not in _OPS:
            raise _bad(name, f"unknown operator {op[:32]!r}; one of {sorted(_OPS)}")
        if op == "$eq":
            out.conditions.append(
                f"metadata @> {out.bind(_json(name, {name: operand}))}::jsonb")
        elif op == "$ne":
            out.conditions.append(
                f"NOT metadata @> {out.bind(_json(name, {name: operand}))}::jsonb")
        elif op == "$in":
            if not isinstance(operand, list) or not operand or len(operand) > 1000 \
                    or not all(_scalar(v) for v in operand):
                raise _bad(name, "$in takes a list of 1 to 1000 scalars")
            out.conditions.append(
                f"jsonb_build_array(metadata -> {out.bind(name)}) <@ "
                f"{out.bind(_json(name, operand))}::jsonb")
        else:
            _range(out, name, op, operand)


def compile_filter(spec: dict[str, Any] | None, offset: int) -> Compiled:
    out = Compiled(offset)
    if not spec:
        return out
    if len(spec) > MAX_CONDITIONS:
        raise ValidationFailed(f"filter: at most {MAX_CONDITIONS} fields")
    for name, value in spec.items():
        if not name or len(name) > 256 or name.startswith("$") or "\x00" in name:
            raise ValidationFailed(f"filter: {name[:32]!r} is not a metadata field name")
        if isinstance(value, dict) and value and all(k.startswith("$") for k in value):
            _operators(out, name, value)
        else:
            out.conditions.append(
                f"metadata @> {out.bind(_json(name, {name: value}))}::jsonb")
    return out
