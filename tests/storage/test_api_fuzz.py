"""Property-based requests against every route of the OpenAPI document.

Schemathesis generates valid and invalid requests for each operation; whatever it sends,
the live service must answer without a server error (bad input is a 4xx with a reason).
"""

from __future__ import annotations

import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from unison_devstack.tokens import mint_token
from unison_shared.testing import TEST_SECRET

# Examples per operation; raise it (UNISON_FUZZ_EXAMPLES=200) for a deeper hunt.
EXAMPLES = int(os.environ.get("UNISON_FUZZ_EXAMPLES", "20"))


@pytest.mark.slow
def test_no_route_answers_a_server_error(live_storage):
    schema = schemathesis.openapi.from_url(f"{live_storage}/openapi.json")
    token = mint_token(TEST_SECRET, person_id="fuzz-person", household_id="fuzz-household")
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def exercise(case) -> None:
            response = case.call(base_url=live_storage, headers=headers, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> "
                                f"{response.status_code}: {response.text[:200]}")
            elif response.status_code >= 400 and case.method != "HEAD":
                # A JSON error names its reason; uvicorn's own protocol-level rejections
                # of malformed requests are plain text, which also states it.
                try:
                    body = response.json()
                    reason = body.get("detail") or body.get("error")
                except ValueError:
                    reason = response.text.strip()
                if not reason:
                    failures.append(f"{case.method} {case.formatted_path} -> "
                                    f"{response.status_code} without a reason")

        exercise()
    assert operations >= 10
    assert not failures, "\n".join(failures[:20])


def test_openapi_document_lists_every_domain(live_storage):
    paths = httpx.get(f"{live_storage}/openapi.json").json()["paths"]
    for prefix in ("/v1/kv", "/v1/memory", "/v1/vault", "/v1/audit", "/v1/objects"):
        assert any(p.startswith(prefix) for p in paths), prefix
