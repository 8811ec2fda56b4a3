"""Older context service (person_profiles, dashboard_state, conversation_sessions) into
the context database, through the context service's own rules: profiles and dashboards
are validated (card numbers refused, PINs hashed) and sealed under each person's key.

Idempotent: a person's profile or dashboard, or a session, that already exists is
skipped, so a second run imports nothing and says so."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unison_context.wiring import Services
from unison_shared.database import Database
from unison_shared.errors import UnisonError

from . import legacy_crypto
from .common import CellError, Progress, context_for, json_cell, legacy_time, no_progress
from .pg_source import PostgresSource
from .report import ImportReport, TableReport
from .sqlite_source import SqliteSource

Source = SqliteSource | PostgresSource

TABLES = ("person_profiles", "dashboard_state", "conversation_sessions")


@dataclass
class ContextImport:
    tenant: str
    root_secret: bytes | None = None
    key_handles: dict[str, str] = field(default_factory=dict)
    households: dict[str, str] = field(default_factory=dict)  # person -> tenant override


class ContextImporter:
    def __init__(self, db: Database, services: Services, opts: ContextImport) -> None:
        self.db = db
        self.svc = services
        self.opts = opts

    def _value(self, person: str, raw: Any, column: str,
               purpose: legacy_crypto.Purpose) -> Any:
        if isinstance(raw, str) and raw.startswith(legacy_crypto.PREFIX):
            if self.opts.root_secret is None:
                raise legacy_crypto.LegacyDecryptError("p1: value but no --root-secret")
            raw = legacy_crypto.decrypt(self.opts.root_secret, self.opts.key_handles.get(person),
                                        purpose, raw).decode()
        return json_cell(raw, column)

    async def run(self, source: Source, progress: Progress = no_progress) -> ImportReport:
        report = ImportReport()
        for table in TABLES:
            progress(table, source.count(table))
            rep = report.table(table)
            for row in source.rows(table):
                await self._row(table, row, rep)
                progress(table, None)
        return report

    async def _row(self, table: str, row: dict[str, Any], rep: TableReport) -> None:
        person = row.get("person_id")
        label = f"row {row['_rowid']}"
        if not isinstance(person, str) or not person:
            rep.fail(label, "person_id is missing")
            return
        label = f"person {person}" + (f" session {row.get('session_id')}"
                                      if table == "conversation_sessions" else "")
        ctx = context_for(self.opts.households.get(person, self.opts.tenant), person)
        try:
            async with self.db.transaction(ctx) as pg:
                if table == "person_profiles":
                    if await self.svc.profiles.get(pg, ctx) is not None:
                        rep.skip("profile already present")
                        return
                    value = self._value(person, row.get("profile_json"), "profile_json",
                                        "profile")
                    await self.svc.profiles.replace(pg, ctx, value,
                                                    at=legacy_time(row.get("updated_at")))
                elif table == "dashboard_state":
                    if await self.svc.dashboards.get(pg, ctx) is not None:
                        rep.skip("dashboard already present")
                        return
                    value = self._value(person, row.get("state_json"), "state_json",
                                        "dashboard")
                    await self.svc.dashboards.replace(pg, ctx, value,
                                                      at=legacy_time(row.get("updated_at")))
                else:
                    await self._session(pg, ctx, row, rep)
                    return
        except legacy_crypto.LegacyDecryptError as exc:
            rep.fail(f"{label} ({table})", str(exc))
            return
        except CellError as exc:
            rep.fail(label, str(exc))
            return
        except UnisonError as exc:
            rep.fail(label, exc.detail)
            return
        rep.imported += 1

    async def _session(self, pg: Any, ctx: Any, row: dict[str, Any], rep: TableReport) -> None:
        sid = row.get("session_id")
        if not isinstance(sid, str) or not sid:
            raise CellError("session_id is missing")
        if await self.svc.conversations.session(pg, ctx, sid) is not None:
            rep.skip("session already present")
            return
        messages = json_cell(row.get("messages_json"), "messages_json", [])
        response = json_cell(row.get("response_json"), "response_json")
        summary = row.get("summary")
        if not isinstance(messages, list):
            raise CellError("messages_json is not a list")
        if response is not None and not isinstance(response, dict):
            raise CellError("response_json is not an object")
        if summary is not None and not isinstance(summary, str):
            raise CellError("summary is not text")
        await self.svc.conversations.replace(pg, ctx, sid, messages, response, summary,
                                             at=legacy_time(row.get("updated_at")))
        rep.imported += 1
