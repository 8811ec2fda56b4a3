"""A person's export as one archive (.tar.gz):

    manifest.json                      what is inside, with a SHA-256 and size per file
    <service>/<domain>.jsonl           one record per line
    <service>/payloads/<sha256>        object, artifact and file payloads, by checksum

A line of an export stream that carries a payload (`payload_b64` + `sha256`) becomes a
record whose `payload` names the payload file; the checksum is verified on the way.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ARCHIVE_FORMAT = "unison-person-export"
ARCHIVE_VERSION = 1
# A service may end its stream with {"domain": "export", "record": {"complete": true,
# "lines": n}}: n lines came before it. Checked, not archived.
END_DOMAIN = "export"


class ExportError(Exception):
    """A service's export stream was malformed or a payload failed its checksum."""


def _add(tar: tarfile.TarFile, name: str, data: bytes, files: dict[str, Any]) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))
    files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def _split(service: str, lines: list[dict[str, Any]]
           ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, bytes]]:
    """Records per domain, and payloads by checksum."""
    domains: dict[str, list[dict[str, Any]]] = {}
    payloads: dict[str, bytes] = {}
    for index, line in enumerate(lines):
        domain = line.get("domain")
        if domain == END_DOMAIN:
            # A stream that says how long it is: a cut-off stream is caught here.
            if (line.get("record") or {}).get("lines") != index:
                raise ExportError(f"{service}: the export stream is incomplete")
            continue
        if not isinstance(domain, str) or not domain.replace("_", "").replace("-", "").isalnum():
            raise ExportError(f"{service}: a line without a valid domain")
        record = dict(line.get("record") or {})
        if "payload_b64" in line:
            data = base64.b64decode(line["payload_b64"])
            digest = hashlib.sha256(data).hexdigest()
            if digest != line.get("sha256"):
                raise ExportError(f"{service}/{domain}: a payload failed its SHA-256 check")
            payloads[digest] = data
            record["payload"] = f"{service}/payloads/{digest}"
        domains.setdefault(domain, []).append(record)
    return domains, payloads


def write_archive(out: Path, tenant_id: str, person_id: str, include_secrets: bool,
                  lines: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Write the archive; returns its manifest."""
    files: dict[str, Any] = {}
    records: dict[str, dict[str, int]] = {}
    with tarfile.open(out, "w:gz") as tar:
        for service, service_lines in lines.items():
            domains, payloads = _split(service, service_lines)
            records[service] = {domain: len(rows) for domain, rows in domains.items()}
            for domain, rows in sorted(domains.items()):
                body = "".join(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n"
                               for row in rows).encode()
                _add(tar, f"{service}/{domain}.jsonl", body, files)
            for digest, data in sorted(payloads.items()):
                _add(tar, f"{service}/payloads/{digest}", data, files)
        manifest = {
            "format": ARCHIVE_FORMAT, "version": ARCHIVE_VERSION,
            "tenant_id": tenant_id, "person_id": person_id,
            "created_at": datetime.now(UTC).isoformat(),
            "include_secrets": include_secrets,
            "records": records, "files": files,
        }
        _add(tar, "manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode(), {})
    out.chmod(0o600)
    return manifest


def read_archive(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and every file, after checking each file against the manifest."""
    with tarfile.open(path, "r:gz") as tar:
        contents: dict[str, bytes] = {}
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            if handle is not None:
                contents[member.name] = handle.read()
    manifest: dict[str, Any] = json.loads(contents.pop("manifest.json"))
    if set(contents) != set(manifest["files"]):
        raise ExportError("the archive's files differ from its manifest")
    for name, meta in manifest["files"].items():
        if hashlib.sha256(contents[name]).hexdigest() != meta["sha256"]:
            raise ExportError(f"{name} failed its SHA-256 check")
    return manifest, contents
