"""`unison-admin erase-person` and `export-person`: one person's data across all four
services, through each service's operator API (`/v1/admin/persons/{person_id}/...`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from . import receipts, shred
from .export_archive import write_archive
from .manifest import ManifestError
from .platform import (
    SERVICES,
    ContextGraphUrl,
    ContextUrl,
    DevSecret,
    Household,
    IntentGraphUrl,
    Platform,
    StorageUrl,
    Token,
    resolve,
)

console = Console(stderr=True)
TIMEOUT = httpx.Timeout(300.0, connect=10.0)


class ServiceFailed(Exception):
    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service


def _problem(resp: httpx.Response) -> str:
    """The service's own reason (problem+json detail, or the legacy error)."""
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    if isinstance(body, dict):
        reason = body.get("detail") or body.get("error") or body.get("title")
        if reason:
            return f"HTTP {resp.status_code}: {reason}"
    return f"HTTP {resp.status_code}"


def erase(platform: Platform, household: str, person_id: str,
          progress: Progress | None = None) -> dict[str, Any]:
    """Erase the person in every service; the unsigned receipt body. Stops at the first
    service that fails (raising ServiceFailed); running it again finishes the job."""
    requested_at = datetime.now(UTC).isoformat()
    stores: dict[str, Any] = {}
    with httpx.Client(timeout=TIMEOUT, headers=platform.headers) as client:
        for service in SERVICES:
            task = progress.add_task(f"erase in {service}", total=None) if progress else None
            url = f"{platform.urls[service]}/v1/admin/persons/{person_id}/erasure"
            try:
                resp = client.post(url)
            except httpx.HTTPError as exc:
                raise ServiceFailed(service, f"unreachable ({type(exc).__name__})") from exc
            if resp.status_code != 200:
                raise ServiceFailed(service, _problem(resp))
            part = resp.json()
            if part.get("person_id") != person_id or part.get("tenant_id") != household:
                raise ServiceFailed(service, "answered for another person or household")
            stores[service] = {key: part.get(key) for key in
                               ("removed", "keys_destroyed", "caches_purged", "completed_at")}
            if progress is not None and task is not None:
                progress.update(task, total=1, completed=1)
    return {
        "receipt_version": receipts.RECEIPT_VERSION,
        "kind": "person-erasure",
        "tenant_id": household,
        "person_id": person_id,
        "requested_at": requested_at,
        "completed_at": datetime.now(UTC).isoformat(),
        "stores": stores,
        "totals": {
            "removed": sum(sum(s["removed"].values()) for s in stores.values()),
            "keys_destroyed": sum(s["keys_destroyed"] or 0 for s in stores.values()),
            "caches_purged": sum(s["caches_purged"] or 0 for s in stores.values()),
        },
    }


def export_lines(platform: Platform, person_id: str, include_secrets: bool,
                 progress: Progress | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every service's export stream, as its parsed lines per service."""
    out: dict[str, list[dict[str, Any]]] = {}
    params = {"include_secrets": "true" if include_secrets else "false"}
    with httpx.Client(timeout=TIMEOUT, headers=platform.headers) as client:
        for service in SERVICES:
            task = progress.add_task(f"export from {service}", total=None) if progress else None
            url = f"{platform.urls[service]}/v1/admin/persons/{person_id}/export"
            lines: list[dict[str, Any]] = []
            try:
                with client.stream("GET", url, params=params) as resp:
                    if resp.status_code != 200:
                        resp.read()
                        raise ServiceFailed(service, _problem(resp))
                    for raw in resp.iter_lines():
                        if raw.strip():
                            lines.append(json.loads(raw))
                            if progress is not None and task is not None:
                                progress.advance(task)
            except httpx.HTTPError as exc:
                raise ServiceFailed(service, f"export stream broke ({type(exc).__name__})"
                                    ) from exc
            out[service] = lines
    return out


def _print_receipt(body: dict[str, Any]) -> None:
    table = Table(title=f"erased {body['person_id']} in {body['tenant_id']}")
    for column in ("store", "removed", "keys destroyed", "caches purged"):
        table.add_column(column)
    for service, part in body["stores"].items():
        removed = ", ".join(f"{k} {v}" for k, v in sorted(part["removed"].items()) if v)
        table.add_row(service, removed or "nothing", str(part["keys_destroyed"]),
                      str(part["caches_purged"]))
    console.print(table)


def register(app: typer.Typer) -> None:
    @app.command("erase-person")
    def erase_person(
        person_id: Annotated[str, typer.Argument(help="the person to erase")],
        household: Household,
        receipt: Annotated[Path, typer.Option(help="where to write the signed receipt")],
        storage_url: StorageUrl = "http://127.0.0.1:8082",
        context_url: ContextUrl = "http://127.0.0.1:8081",
        context_graph_url: ContextGraphUrl = "http://127.0.0.1:8091",
        intent_graph_url: IntentGraphUrl = "http://127.0.0.1:8089",
        token: Token = None,
        hs256_secret_file: DevSecret = None,
        signing_key: Annotated[Path | None, typer.Option(
            help=f"the platform's Ed25519 PEM key (else ${receipts.SIGNING_KEY_ENV})",
            show_default=False)] = None,
        backups: Annotated[list[Path] | None, typer.Option(
            "--backups", help="a backup directory to shred the person's keys from after "
                              "the erasure (repeatable)", show_default=False)] = None,
    ) -> None:
        """Remove everything held about a person in every store, destroy their data keys,
        and write a receipt signed with the platform key."""
        key = receipts.load_signing_key(signing_key)  # fail before erasing anything
        for backup in backups or []:
            try:
                shred.check_shreddable(backup)
            except (shred.ShredError, ManifestError) as exc:
                console.print(f"[red]refused (nothing erased):[/red] {exc}")
                raise typer.Exit(1) from exc
        platform = resolve(storage_url, context_url, context_graph_url, intent_graph_url,
                           token, hs256_secret_file, household)
        try:
            with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                          console=console) as bar:
                body = erase(platform, household, person_id, bar)
        except ServiceFailed as exc:
            console.print(f"[red]erasure stopped at {exc}[/red]; the stores before it are "
                          "erased; run the command again to finish")
            raise typer.Exit(1) from exc
        if backups:
            body["backups"] = shred.shred_many(backups, household, person_id)
        signed = receipts.sign(body, key)
        receipt.write_text(json.dumps(signed, indent=2, sort_keys=True) + "\n")
        _print_receipt(body)
        typer.echo(f"signed receipt: {receipt} (key {signed['signature']['key_id']})")
        failed = [b for b in body.get("backups", []) if "error" in b]
        for done in body.get("backups", []):
            typer.echo(f"backup {done['backup']}: " + (
                f"[not shredded] {done['error']}" if "error" in done else
                f"key rows removed {done['keys_removed']}"))
        if failed:
            raise typer.Exit(1)

    @app.command("new-signing-key")
    def new_signing_key(
        path: Annotated[Path, typer.Argument(help="where to write the PEM key (mode 0600)")],
    ) -> None:
        """Create the platform's Ed25519 receipt signing key; prints its public key."""
        if path.exists():
            console.print(f"[red]{path} exists; not overwriting a signing key[/red]")
            raise typer.Exit(1)
        typer.echo(receipts.create_signing_key(path))

    @app.command("verify-receipt")
    def verify_receipt(
        receipt: Annotated[Path, typer.Argument(help="a receipt written by erase-person")],
        public_key: Annotated[str | None, typer.Option(
            help="the platform's public key (base64); pin it rather than trusting the "
                 "key the receipt carries", show_default=False)] = None,
    ) -> None:
        """Check a receipt's signature."""
        try:
            body = receipts.verify(json.loads(receipt.read_text()), public_key)
        except (receipts.ReceiptError, ValueError) as exc:
            console.print(f"[red]invalid receipt: {exc}[/red]")
            raise typer.Exit(1) from exc
        typer.echo(f"valid: {body['kind']} of {body['person_id']} in {body['tenant_id']} "
                   f"at {body['completed_at']}")

    @app.command("export-person")
    def export_person(
        person_id: Annotated[str, typer.Argument(help="the person to export")],
        household: Household,
        out: Annotated[Path, typer.Option(help="the archive to write (.tar.gz)")],
        include_secrets: Annotated[bool, typer.Option(
            help="include secrets (vault values, PIN hashes): only with the person's "
                 "own token")] = False,
        storage_url: StorageUrl = "http://127.0.0.1:8082",
        context_url: ContextUrl = "http://127.0.0.1:8081",
        context_graph_url: ContextGraphUrl = "http://127.0.0.1:8091",
        intent_graph_url: IntentGraphUrl = "http://127.0.0.1:8089",
        token: Token = None,
        hs256_secret_file: DevSecret = None,
    ) -> None:
        """Everything held about a person, as one archive: JSON lines per service and
        domain, object payloads, and a manifest of SHA-256 checksums."""
        platform = resolve(storage_url, context_url, context_graph_url, intent_graph_url,
                           token, hs256_secret_file, household)
        try:
            with Progress(SpinnerColumn(), TextColumn("{task.description}"),
                          TextColumn("{task.completed} lines"), console=console) as bar:
                lines = export_lines(platform, person_id, include_secrets, bar)
        except ServiceFailed as exc:
            console.print(f"[red]export failed at {exc}[/red]")
            raise typer.Exit(1) from exc
        manifest = write_archive(out, household, person_id, include_secrets, lines)
        counts = ", ".join(f"{svc} {sum(d.values())}" for svc, d in manifest["records"].items())
        typer.echo(f"wrote {out}: {counts} records, {len(manifest['files'])} files")
