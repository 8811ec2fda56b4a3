"""Property-based requests against every operation of the context OpenAPI document:
whatever schemathesis sends, the live service answers without a server error, and a
4xx states its reason."""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings

from unison_devstack.tokens import mint_token
from unison_shared.testing import AUDIENCES, TEST_SECRET

EXAMPLES = int(os.environ.get("UNISON_FUZZ_EXAMPLES", "15"))
PERSON = "fuzz-person"


def test_no_route_answers_a_server_error(live_context):
    schema = schemathesis.openapi.from_url(f"{live_context}/openapi.json")
    token = mint_token(TEST_SECRET, person_id=PERSON, household_id="fuzz-household",
                       audience=AUDIENCES)
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
            if case.path_parameters and "person_id" in case.path_parameters:
                # Mostly the caller's own person, so requests get past the identity rule.
                case.path_parameters["person_id"] = PERSON
            response = case.call(base_url=live_context, headers=headers, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> "
                                f"{response.status_code}: {response.text[:200]}")
            elif response.status_code >= 400:
                try:
                    body = response.json()
                    reason = body.get("detail") or body.get("error")
                except ValueError:
                    reason = response.text.strip()
                if not reason:
                    failures.append(f"{case.method} {case.formatted_path} -> "
                                    f"{response.status_code} without a reason")

        exercise()
    assert operations >= 20
    assert not failures, "\n".join(failures[:20])
