"""Fuzzing the OpenAPI document with schemathesis: no server error, no answer the
document does not describe (status, content type, headers, body)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from polyaxon_core.api.app import create_app
from polyaxon_core.config import Settings
from polyaxon_core.db.session import migrate
from tests.api.conftest import Account, MakeUser, create_run, finish

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 25


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: this test is about answers, not about the database."""
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    migrate(url)
    return url


def test_fuzzing_finds_no_server_error_and_no_answer_outside_the_document(
    settings: Settings, make_user: MakeUser, new_token: Callable[[str], Account], project: str
) -> None:
    app = create_app(settings, max_upload_bytes=4096)
    client = app.test_client()
    owner = make_user("olivia", organization_role="owner")
    create_run(client, owner)
    finished = create_run(client, owner)
    finish(settings, finished["uuid"])
    known = {"owner": "default", "project": "p", "uuid": finished["uuid"], "namespace": "local",
             "user": "olivia"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = 0
    answered: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                                 derandomize=True, suppress_health_check=list(HealthCheck),
                                 phases=[hypothesis.Phase.generate])
            @given(case=operation.as_strategy(generation_mode=mode), use_known=st.booleans())
            def call(case: schemathesis.Case, use_known: bool) -> None:
                if use_known:  # half of the cases aim at resources that exist
                    case.path_parameters = {
                        name: known.get(name, value)
                        for name, value in (case.path_parameters or {}).items()}
                # a fresh token each time: a fuzzed DELETE /users/token revokes the one used
                response = case.call_and_validate(headers=new_token("olivia").headers, checks=CHECKS)
                answered[response.status_code] += 1

            try:
                call()
            except hypothesis.errors.Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters
            except Exception as failure:  # collect every operation's failure, then report
                failures.append(f"{operation.label} ({mode}): {failure}")
    assert failures == [], "\n\n".join(failures)
    assert operations >= 30
    # the requests reached the views, not only the input checks
    assert {200, 201, 204, 400, 404, 409} <= set(answered), answered
