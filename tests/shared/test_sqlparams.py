"""`Positional`: :name placeholders become $n once, in first-use order, casts and
literals untouched."""

from __future__ import annotations

import pytest

from unison_shared.sqlparams import Positional


def test_placeholders_numbered_in_first_use_order_and_reused():
    stmt = Positional.compile(
        "UPDATE t SET a = :v, b = CAST(:m AS jsonb) WHERE id = :id AND a <= :v - 1")
    assert stmt.sql == "UPDATE t SET a = $1, b = CAST($2 AS jsonb) WHERE id = $3 AND a <= $1 - 1"
    assert stmt.names == ("v", "m", "id")
    assert stmt.args({"id": 7, "m": "{}", "v": 3, "unused": 0}) == [3, "{}", 7]


def test_casts_and_literals_are_not_parameters():
    stmt = Positional.compile("SELECT :x::jsonb, '10:30'::time, now()::date WHERE y = :y")
    assert stmt.sql == "SELECT $1::jsonb, '10:30'::time, now()::date WHERE y = $2"
    assert stmt.names == ("x", "y")


def test_a_missing_value_is_an_error_not_a_null():
    with pytest.raises(KeyError):
        Positional.compile("SELECT :a").args({})
