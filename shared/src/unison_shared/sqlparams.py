"""Statements written once with `:name` parameters (SQLAlchemy's style, which SQLite
repositories run through `text()`), compiled once for asyncpg's `$1, $2, ...`.

A repository can then share one SQL text between SQLite and PostgreSQL and still run
its PostgreSQL statements on the asyncpg connection, where a statement costs a fraction
of SQLAlchemy's execution layer. Values are always passed as parameters; this only
renames the placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# ":name" not preceded by a colon (the "::type" cast) or a word character (a time such
# as '10:30' inside a literal).
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@dataclass(frozen=True)
class Positional:
    sql: str
    names: tuple[str, ...]

    @classmethod
    def compile(cls, sql: str) -> Positional:
        order: list[str] = []

        def number(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in order:
                order.append(name)
            return f"${order.index(name) + 1}"

        return cls(_NAMED.sub(number, sql), tuple(order))

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The values in placeholder order; a missing name is a programming error."""
        return [params[name] for name in self.names]
