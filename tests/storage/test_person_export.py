"""Person export: GET /v1/admin/persons/{person_id}/export streams everything storage
holds about the person as NDJSON, payloads in base64 with their SHA-256, secrets only to
the person's own token when asked."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from typing import Any

from unison_devstack.tokens import mint_token
from unison_shared.testing import TEST_SECRET, operator_headers

from .test_person_data import BIG, populate, sha

EXPORTED = {"memory", "vault", "kv", "objects", "threads", "messages", "state", "artifacts",
            "metrics", "traces", "workflows", "vector_collections", "vector_documents",
            "files", "eval_datasets", "eval_runs", "audit", "cache", "export"}


def export(person_id: str, include_secrets: bool = False) -> str:
    flag = "true" if include_secrets else "false"
    return f"/v1/admin/persons/{person_id}/export?include_secrets={flag}"


async def lines_of(client: Any, url: str, headers: dict[str, str]
                   ) -> dict[str, list[dict[str, Any]]]:
    """The export's lines by domain (each line checked to be one JSON object)."""
    r = await client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    by_domain: dict[str, list[dict[str, Any]]] = defaultdict(list)
    raw = r.content.split(b"\n")
    assert raw[-1] == b""  # every line ends with a newline
    for line in raw[:-1]:
        obj = json.loads(line)
        assert set(obj) <= {"domain", "record", "payload_b64", "sha256"}
        by_domain[obj["domain"]].append(obj)
    assert by_domain["export"] == [{"domain": "export", "record": {
        "complete": True, "lines": len(raw) - 2}}]
    return by_domain


def payload(line: dict[str, Any]) -> bytes:
    data = base64.b64decode(line["payload_b64"], validate=True)
    assert line["sha256"] == sha(data)
    return data


async def test_export_round_trips_every_domain(client, make_caller):
    alice = make_caller()
    carol = make_caller(household_id=alice.household_id)
    w = await populate(client, alice)
    await populate(client, carol)
    m = w.marker
    got = await lines_of(client, export(alice.person_id), operator_headers(alice.household_id))
    assert set(got) == EXPORTED, set(got) ^ EXPORTED
    # Nothing of Carol's (the same household) is in Alice's export.
    assert carol.person_id not in json.dumps(got)
    rec = {d: [line["record"] for line in lines] for d, lines in got.items()}

    assert [e["payload"] for e in rec["memory"]] == [{"note": m}, [m, 1]]
    # Secrets redacted for the operator: listed by name and version, no value.
    assert [(s["name"], s["version"], s["value"], s["redacted"]) for s in rec["vault"]] == [
        ("token", 1, None, True), ("token", 2, None, True)]
    kv = {(r["namespace"], r["key"]): r for r in rec["kv"]}
    assert kv[("prefs", "color")]["value"] == {"v": m}
    assert kv[("vault", "card")]["value"] is None and kv[("vault", "card")]["redacted"]
    # Objects: the upload, and the payloads records keep as objects (the big message,
    # the artifact, the trace's big attribute, the file); never a sealed state/context.
    objects = {payload(o): o for o in got["objects"]}
    assert all(o["record"]["sha256"] == o["sha256"] for o in got["objects"])
    assert len(objects) == 5 and (m + "x" * BIG).encode() in objects
    for name in ("objects:upload", "artifacts:a.bin", "files:docs/note.txt"):
        assert w.payloads[name] in objects
    [thread] = rec["threads"]
    assert thread["id"] == w.thread_id and thread["title"] == f"title {m}"
    assert [x["content"] for x in rec["messages"]] == [f"hello {m}", m + "x" * BIG]
    assert [s["data"] for s in rec["state"]] == [{"small": m}, w.state]
    [artifact] = got["artifacts"]
    assert artifact["record"]["name"] == "a.bin"
    assert payload(artifact) == w.payloads["artifacts:a.bin"]
    assert [x["labels"] for x in rec["metrics"]] == [{"m": m}]
    [span] = rec["traces"]
    assert span["attributes"]["m"] == m and span["component"] == "inference"
    contexts = {x["id"]: x["context_state"] for x in rec["workflows"]}
    assert contexts == {"wf-small": {"token": f"ctx {m}"}, "wf-big": w.context}
    assert [x["name"] for x in rec["vector_collections"]] == ["notes"]
    [doc] = rec["vector_documents"]
    assert doc["embedding"] == [0.25, 0.5, 1.0] and doc["text"] == f"doc {m}"
    [file] = got["files"]
    assert file["record"]["path"] == "docs/note.txt"
    assert payload(file) == w.payloads["files:docs/note.txt"]
    assert [d["id"] for d in rec["eval_datasets"]] == [w.dataset_id]
    assert [r["model_name"] for r in rec["eval_runs"]] == ["m1"]
    assert [(c["key"], c["value"]) for c in rec["cache"]] == [("c1", {"m": m})]
    notes = [e for e in rec["audit"] if e["action"] == "note.added"]
    assert [e["payload"] for e in notes] == [{"note": m}]
    assert any(e["action"] == "person.exported" for e in rec["audit"])
    # The operator's export holds no secret.
    assert w.secret not in json.dumps(got) and w.kv_secret not in json.dumps(got)


async def test_secrets_go_only_to_the_person_themselves(client, make_caller):
    alice = make_caller()
    w = await populate(client, alice)
    own = await lines_of(client, export(alice.person_id, include_secrets=True), alice.headers)
    assert [s["record"]["value"] for s in own["vault"]] == [w.secret + "-v1", w.secret]
    kv = {r["record"]["key"]: r["record"] for r in own["kv"]}
    assert kv["card"]["value"] == w.kv_secret and not kv["card"].get("redacted")
    # Without the flag the person's own export is redacted too.
    plain = await lines_of(client, export(alice.person_id), alice.headers)
    assert all(s["record"]["redacted"] for s in plain["vault"])

    op = operator_headers(alice.household_id)
    r = await client.get(export(alice.person_id, include_secrets=True), headers=op)
    assert r.status_code == 403 and "person's own token" in r.json()["detail"]


async def test_export_is_for_operators_and_the_person(client, make_caller):
    alice = make_caller()
    bob = make_caller()
    carol = make_caller(household_id=alice.household_id)
    await client.put("/v1/kv/prefs/x", headers=alice.headers, json={"value": 1})
    acting = {"Authorization": "Bearer " + mint_token(
        TEST_SECRET, person_id=None, household_id=alice.household_id, sub="svc-worker",
        type="service", roles=["service"], audience=["storage"], scopes=["persons:act"])}
    for headers in (bob.headers, carol.headers, acting):
        for flag in (False, True):
            r = await client.get(export(alice.person_id, flag), headers=headers)
            assert r.status_code == 403, r.text
    # An operator of another household sees nothing of Alice's.
    other = await lines_of(client, export(alice.person_id), operator_headers(bob.household_id))
    assert "kv" not in other and [line["domain"] for line in other["audit"]] == ["audit"]
