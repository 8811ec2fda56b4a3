"""The graph kit itself: migrations run once and are recorded in the graph; a query
without a tenant filter never reaches the server."""

from __future__ import annotations

import pytest

from unison_shared.graph import Dialect, Graph, UnscopedQuery, create_driver
from unison_shared.graph_migrations import applied, discover, migrate, migrations_root

from .. import graph_servers


@pytest.fixture
async def fresh_graph(cg_settings_factory):
    graph_servers.arcadedb().ensure_database("kit_test")
    settings = cg_settings_factory().graph.model_copy(update={"database": "kit_test"})
    driver = create_driver(settings)
    yield Graph(driver, settings)
    await driver.close()


async def test_migrations_run_once_and_are_recorded(fresh_graph):
    folder = migrations_root() / "context_graph"
    names = [m.name for m in discover(folder, fresh_graph.dialect)]
    assert names[0] == "0001_schema"
    first = await migrate(fresh_graph, folder, "kit")
    assert first in (names, [])  # [] when an earlier run of this session applied them
    assert await migrate(fresh_graph, folder, "kit") == []
    assert await applied(fresh_graph, "kit") == set(names)
    rows = await fresh_graph.run_unscoped("test.constraints", "SHOW CONSTRAINTS", write=False)
    assert any(r.get("labelsOrTypes") == ["Entity"] and r.get("properties") == ["tenant", "id"]
               for r in rows.records)


async def test_unscoped_queries_are_refused(fresh_graph):
    with pytest.raises(UnscopedQuery):
        await fresh_graph.run("bad", "MATCH (n) RETURN n", {})
    with pytest.raises(UnscopedQuery):
        await fresh_graph.run("bad", "MATCH (n {tenant: $tenant}) RETURN n", {"tenant": ""})


def test_dialect_only_migration_files(tmp_path):
    for name in ("0001_base.cypher", "0002_x.neo4j.cypher", "0002_x.arcadedb.cypher",
                 "0003_tail.cypher"):
        (tmp_path / name).write_text("RETURN 1;")
    assert [(m.name, m.dialect) for m in discover(tmp_path, Dialect.ARCADEDB)] == [
        ("0001_base", None), ("0002_x", Dialect.ARCADEDB), ("0003_tail", None)]
    assert [m.path.name for m in discover(tmp_path, Dialect.NEO4J)] == [
        "0001_base.cypher", "0002_x.neo4j.cypher", "0003_tail.cypher"]
    (tmp_path / "bad name.cypher").write_text("")
    with pytest.raises(ValueError, match="bad name"):
        discover(tmp_path, Dialect.NEO4J)
