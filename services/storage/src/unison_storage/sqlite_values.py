"""How the SQLite repositories store the values PostgreSQL has types for.

- Timestamps: ISO-8601 UTC text in one fixed width, `YYYY-MM-DDTHH:MM:SS.ffffff`
  (microseconds, PostgreSQL's precision, no offset), so comparing the text orders the
  instants. Read back as timezone-aware UTC datetimes, like timestamptz.
- "now" comes from Python as a parameter (SQLite's clock has millisecond precision and
  no transaction time): `now(conn)` is fixed for the whole transaction, like
  PostgreSQL's now(), so the rows one operation writes share one timestamp.
- JSON: the text the services encoded, decoded with the standard library on the way out
  (integers of any size stay exact, as with the PostgreSQL codec in unison_shared.db).
- UUIDs: their canonical text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

_MIN = datetime.min.replace(tzinfo=UTC)
_MAX = datetime.max.replace(tzinfo=UTC)


_NOW = "unison_transaction_now"


def now(conn: AsyncConnection) -> datetime:
    """The current transaction's time: taken at its first call, then kept until the
    transaction ends (the transaction object is remembered on the connection)."""
    sync = conn.sync_connection
    transaction = sync.get_transaction() if sync is not None else None
    known = conn.info.get(_NOW)
    if transaction is not None and known is not None and known[0] is transaction:
        at: datetime = known[1]
        return at
    at = datetime.now(UTC)
    if transaction is not None:
        conn.info[_NOW] = (transaction, at)
    return at


def ts(value: datetime) -> str:
    """A datetime as stored text; one without an offset is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # an offset that pushes year 1 or 9999 out of range
        utc = _MIN if value.year == 1 else _MAX
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds")


def ts_opt(value: datetime | None) -> str | None:
    return None if value is None else ts(value)


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def parse_ts_opt(text: str | None) -> datetime | None:
    return None if text is None else parse_ts(text)


def loads(text: str) -> Any:
    return json.loads(text)


def loads_opt(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# SQL fragment: the current time in the stored format, for column defaults only (every
# repository passes "now" from Python). strftime's %f gives milliseconds: pad to micros.
SQL_NOW_DEFAULT = "(strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000')"
