"""Where the four services are and how the operator authenticates to them."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import jwt
import typer

# Erasure order: the graphs and context first, storage last, so storage's audit chain
# records the erasure after everything else is gone. Every call is idempotent, so a run
# that stopped half-way is finished by running it again.
SERVICES = ("context-graph", "intent-graph", "context", "storage")

StorageUrl = Annotated[str, typer.Option(envvar="UNISON_STORAGE_URL", help="storage base URL")]
ContextUrl = Annotated[str, typer.Option(envvar="UNISON_CONTEXT_URL", help="context base URL")]
ContextGraphUrl = Annotated[str, typer.Option(envvar="UNISON_CONTEXT_GRAPH_URL",
                                              help="context-graph base URL")]
IntentGraphUrl = Annotated[str, typer.Option(envvar="UNISON_INTENT_GRAPH_URL",
                                             help="intent-graph base URL")]
Token = Annotated[str | None, typer.Option(
    envvar="UNISON_ADMIN_TOKEN", show_default=False,
    help="bearer token: an operator token (scopes persons:act persons:admin), or for "
         "export-person the person's own token")]
DevSecret = Annotated[Path | None, typer.Option(
    "--hs256-secret-file", show_default=False,
    help="development stacks only: mint a short-lived operator token for the household "
         "with the stack's HS256 secret (e.g. .devstack/secrets/hs256)")]
Household = Annotated[str, typer.Option(help="the household (tenant) the person belongs to")]


@dataclass(frozen=True)
class Platform:
    urls: dict[str, str]
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def operator_token(secret_file: Path, household: str, ttl_seconds: int = 600) -> str:
    """An HS256 operator token, as a development stack's identity service would issue."""
    now = int(time.time())
    claims = {
        "sub": f"service-unison-admin-{uuid.uuid4().hex[:8]}",
        "type": "service", "roles": ["service"], "household_id": household,
        "scopes": ["persons:act", "persons:admin"],
        "aud": ["storage", "context", "context-graph", "intent-graph"],
        "iat": now, "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret_file.read_text().strip(), algorithm="HS256")


def resolve(storage: str, context: str, context_graph: str, intent_graph: str,
            token: str | None, dev_secret: Path | None, household: str) -> Platform:
    if token is None:
        if dev_secret is None:
            raise typer.BadParameter("pass --token (or UNISON_ADMIN_TOKEN), or "
                                     "--hs256-secret-file on a development stack")
        token = operator_token(dev_secret, household)
    urls = {"storage": storage, "context": context, "context-graph": context_graph,
            "intent-graph": intent_graph}
    return Platform({name: url.rstrip("/") for name, url in urls.items()}, token)
