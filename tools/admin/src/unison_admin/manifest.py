"""A backup's manifest: what it holds, where it came from, and the SHA-256 of every file.

`manifest.json` is written last, so a directory without one is an unfinished backup.
Restore checks every file against it before touching anything: a file missing, changed
(size or digest) or not listed refuses the backup and names the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FORMAT = "unison-backup"
FORMAT_VERSION = 2
# Version 1 kept the person data keys inside the dumps (nothing to shred); still read.
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024


class ManifestError(Exception):
    """The backup is not one this tool wrote, or not as it wrote it."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Artifact:
    path: str  # relative to the backup directory, POSIX separators
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass
class Manifest:
    created_at: str = field(default_factory=now_iso)
    finished_at: str | None = None
    # What was taken, in the order it was taken (see docs/backup.md, Consistency).
    order: list[str] = field(default_factory=list)
    postgres: dict[str, Any] = field(default_factory=dict)
    graph: dict[str, Any] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    # The person data keys, out of the dumps: {"separate": true, "table": ...,
    # "databases": {db: {"file", "columns", "rows"}}} (version 1: {"separate": false}).
    person_keys: dict[str, Any] = field(default_factory=lambda: {"separate": True,
                                                                 "databases": {}})
    # Persons whose keys were removed (`shred-backup`): [{"tenant_id", "person_id",
    # "at", "keys_removed": {db: n}}].
    shredded: list[dict[str, Any]] = field(default_factory=list)

    def add(self, root: Path, path: Path, sha256: str | None = None) -> Artifact:
        """Record a file of the backup (its digest computed unless given)."""
        rel = path.relative_to(root).as_posix()
        art = Artifact(rel, path.stat().st_size, sha256 or sha256_file(path))
        self.artifacts[rel] = art
        return art

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": self.format_version,
                "created_at": self.created_at, "finished_at": self.finished_at,
                "order": self.order, "postgres": self.postgres, "graph": self.graph,
                "objects": self.objects, "person_keys": self.person_keys,
                "shredded": self.shredded,
                "artifacts": [a.to_json() for a in sorted(self.artifacts.values(),
                                                          key=lambda a: a.path)]}

    def write(self, root: Path, *, finish: bool = True) -> Path:
        """Atomically, as the backup's last file (`finish=False`: rewritten later,
        keeping `finished_at`)."""
        if finish:
            self.finished_at = now_iso()
        final = root / MANIFEST
        tmp = root / f".{MANIFEST}.tmp"
        with tmp.open("w") as fh:
            json.dump(self.to_json(), fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        return final

    @classmethod
    def read(cls, root: Path) -> Manifest:
        path = root / MANIFEST
        if not path.exists():
            raise ManifestError(f"{root} has no {MANIFEST}: not a backup, or an unfinished "
                                "one")
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            raise ManifestError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ManifestError(f"{path} is not a {FORMAT} manifest")
        version = data.get("format_version")
        if version not in READABLE_VERSIONS:
            raise ManifestError(f"{path}: format version {version!r}, this tool reads "
                                f"{', '.join(map(str, READABLE_VERSIONS))}")
        try:
            artifacts = {a["path"]: Artifact(str(a["path"]), int(a["size"]), str(a["sha256"]))
                         for a in data["artifacts"]}
            return cls(created_at=data["created_at"], finished_at=data.get("finished_at"),
                       order=list(data["order"]), postgres=dict(data["postgres"]),
                       graph=dict(data["graph"]), objects=dict(data["objects"]),
                       artifacts=artifacts, format_version=int(version),
                       person_keys=dict(data["person_keys"]) if version >= 2
                       else {"separate": False},
                       shredded=list(data["shredded"]) if version >= 2 else [])
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"{path} misses or mangles a field: {exc}") from exc

    def unlisted(self, root: Path) -> list[str]:
        """Files in the backup directory the manifest does not name."""
        found = []
        for path in root.rglob("*"):
            if path.is_file() and path.name != MANIFEST:
                rel = path.relative_to(root).as_posix()
                if rel not in self.artifacts:
                    found.append(rel)
        return sorted(found)


def verify_file(root: Path, art: Artifact) -> str | None:
    """Why the file fails its manifest entry, or None when it matches."""
    rel = Path(art.path)
    if rel.is_absolute() or ".." in rel.parts:
        return f"{art.path}: not a path inside the backup"
    path = root / rel
    if not path.is_file():
        return f"{art.path}: missing"
    size = path.stat().st_size
    if size != art.size:
        return f"{art.path}: size {size}, the manifest says {art.size}"
    digest = sha256_file(path)
    if digest != art.sha256:
        return f"{art.path}: SHA-256 mismatch ({digest}, the manifest says {art.sha256})"
    return None
