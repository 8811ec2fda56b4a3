"""Object reads, an idempotent retry and a delete each cost one statement on the
statement pool, and none goes through SQLAlchemy's engine."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event

from .statements import statement_log
from .test_objects import upload


async def test_reads_a_retry_and_a_delete_are_one_statement_each(client, alice, storage_app,
                                                                 monkeypatch):
    key = {"Idempotency-Key": "counted"}
    oid = (await upload(client, alice, b"counted payload", headers=key)).json()["id"]
    db = storage_app.state.services.objects.db
    through_engine: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        task = asyncio.current_task()
        # The service's own jobs (workflow timers, sweeper) use the engine by design.
        if task is None or not task.get_name().startswith("background:"):
            through_engine.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        with statement_log(db.pool, monkeypatch) as log:
            base = f"/v1/objects/{oid}"
            for request in (client.get(f"{base}/metadata", headers=alice.headers),
                            client.head(base, headers=alice.headers),
                            client.get(base, headers=alice.headers),
                            client.get("/v1/objects", headers=alice.headers),
                            upload(client, alice, b"counted payload", headers=key)):
                sent = await log.of(request)
                assert len(sent) == 1 and "FROM objects" in sent[0], sent
            deleted = await log.of(client.delete(base, headers=alice.headers))
            assert len(deleted) == 1 and deleted[0].startswith("DELETE FROM objects")
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", on_execute)
    assert through_engine == []
    assert (await client.get(base, headers=alice.headers)).status_code == 404
