"""The person data keys of a backup, kept out of the dumps, and `unison-admin
shred-backup`: a person's keys removed from a backup, so that their encrypted records in
it can no longer be decrypted (crypto-shredding reaches backups taken before an erasure).

The dumps hold `person_data_keys` without rows (definition, grants and policies only);
`backup` writes the rows of each database to `keys/<db>.person_data_keys.jsonl`, one JSON
object per row, bytea as base64, and `restore` loads them back after the dump. Shredding
rewrites those files without the person's rows and updates their checksums in the
manifest, with a record of what was removed; the dumps are never touched, so every other
checksum still verifies. Running it again removes nothing and changes nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from .manifest import Manifest, ManifestError, now_iso, verify_file
from .progress import console

KEYS_DIR = "keys"
EXIT_FAILED, EXIT_CORRUPT = 1, 3


class ShredError(Exception):
    """The backup cannot be shredded (not one with separate keys, or damaged)."""


def key_file(database: str) -> str:
    """A database's key file, relative to the backup directory."""
    return f"{KEYS_DIR}/{database}.person_data_keys.jsonl"


def write_rows(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    """The rows as JSON lines, written atomically (fsynced, then renamed); their count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    count = 0
    with tmp.open("w") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True, separators=(",", ":")) + "\n")
            count += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return count


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open() as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ShredError(f"{path}: a line that is not a JSON object")
                yield row


def check_shreddable(root: Path) -> Manifest:
    """The backup's manifest, once its key files verify; ShredError (or ManifestError)
    for a backup whose keys cannot be removed."""
    manifest = Manifest.read(root)
    if not manifest.person_keys.get("separate"):
        raise ShredError(f"{root} keeps the person data keys inside its dumps (manifest "
                         f"format {manifest.format_version}): they cannot be removed from "
                         "it; delete the backup or keep it out of reach")
    for info in manifest.person_keys.get("databases", {}).values():
        art = manifest.artifacts.get(info["file"])
        why = "not in the manifest" if art is None else verify_file(root, art)
        if why:
            raise ShredError(f"{root}: {info['file']}: {why}; not shredding a damaged "
                             "backup")
    return manifest


def shred(root: Path, tenant_id: str, person_id: str) -> dict[str, int]:
    """Remove the person's rows from the backup's key files: {database: rows removed}.
    The manifest records it (once: a second run removes nothing and writes nothing)."""
    manifest = check_shreddable(root)
    removed: dict[str, int] = {}
    for database, info in sorted(manifest.person_keys.get("databases", {}).items()):
        path = root / info["file"]
        rows = list(read_rows(path))
        kept = [r for r in rows
                if not (r.get("tenant_id") == tenant_id and r.get("person_id") == person_id)]
        removed[database] = len(rows) - len(kept)
        if removed[database]:
            write_rows(path, kept)
            manifest.add(root, path)
            info["rows"] = len(kept)
    already = any(s.get("tenant_id") == tenant_id and s.get("person_id") == person_id
                  for s in manifest.shredded)
    if any(removed.values()) or not already:
        manifest.shredded.append({"tenant_id": tenant_id, "person_id": person_id,
                                  "at": now_iso(), "keys_removed": removed})
        manifest.write(root, finish=False)
    return removed


def shred_many(backups: Iterable[Path], tenant_id: str,
               person_id: str) -> list[dict[str, Any]]:
    """Each backup shredded in turn: [{"backup", "keys_removed"} or {"backup", "error"}]."""
    done: list[dict[str, Any]] = []
    for backup in backups:
        try:
            done.append({"backup": str(backup),
                         "keys_removed": shred(backup, tenant_id, person_id)})
        except (ShredError, ManifestError, OSError, ValueError) as exc:
            done.append({"backup": str(backup), "error": str(exc)})
    return done


Backup = Annotated[Path, typer.Argument(help="the backup directory (`unison-admin backup --out`)")]
Household = Annotated[str, typer.Option("--household", help="the person's household (tenant)")]
Person = Annotated[str, typer.Option("--person", help="the person whose keys to remove")]


def shred_backup_cmd(backup: Backup, household: Household, person: Person) -> None:
    """Remove a person's data keys from a backup, so their encrypted records in it can no
    longer be decrypted; the manifest records it. Safe to run again."""
    try:
        removed = shred(backup, household, person)
    except ManifestError as exc:
        console.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(EXIT_CORRUPT) from exc
    except ShredError as exc:
        console.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(EXIT_FAILED) from exc
    counts = ", ".join(f"{db} {n}" for db, n in removed.items()) or "no key files"
    typer.echo(f"shredded {person} of {household} in {backup}: key rows removed: {counts}")
    typer.echo("plaintext records of the person are still in the dumps: after restoring "
               "this backup, run `unison-admin erase-person` for them again")
